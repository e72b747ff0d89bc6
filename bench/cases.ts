/**
 * The benchmark catalogue: every case of issue 5's targets table (plus wss), with the sizes used by
 * a full run and by `--quick`. Shared by the orchestrator (bench/run.ts) and the per-run child
 * (bench/child.ts), so both agree on what a case means.
 */

/** Case identifiers, in table order. */
export const CASE_IDS = ["send-1m", "send-16", "recv-1m", "recv-16", "echo-32", "idle", "wss-send-1m", "wss-recv-1m", "connect", "wss-idle", "h2-send-1m", "h2-send-16", "h2-recv-1m", "h2-recv-16"] as const;
export type CaseId = (typeof CASE_IDS)[number];

/** Client identifiers, in table column order. `ws` is the baseline for ratios. */
export const CLIENT_IDS = ["masq", "masqtls", "masqchrome", "masqresumed", "masqnr", "masqh2", "ws", "undici", "wreq", "raw"] as const;
export type ClientId = (typeof CLIENT_IDS)[number];

export const CLIENT_TITLES: Record<ClientId, string> = {
  masq: "masq",
  masqtls: "masq, own TLS engine",
  masqchrome: "masq, impersonate chrome",
  masqresumed: "masq, chrome, resumed",
  masqnr: "masq, Node's TLS, resumed",
  masqh2: "masq, own TLS, HTTP/2 (RFC 8441)",
  ws: "ws + bufferutil",
  undici: "undici WebSocket",
  wreq: "wreq-js",
  raw: "raw node:net (ceiling)",
};

export type CaseKind = "send" | "recv" | "echo" | "idle" | "connect";

/**
 * Clients that only make sense in the handshake cases (`connect`, `wss-idle`): masq impersonating
 * Chrome, with full handshakes (`tlsSessionCache: false`) or resuming from its session cache, and
 * masq over Node's TLS resuming from its cache (`masqnr`).
 */
export const HANDSHAKE_ONLY_CLIENTS: readonly ClientId[] = ["masqchrome", "masqresumed", "masqnr"];

/** The clients of the h2 cases (issue 12): masq's TLS engine over HTTP/2 and over HTTP/1.1. */
export const H2_CLIENTS: readonly ClientId[] = ["masqtls", "masqh2"];

/** How much work one run does: `count` timed messages (or connections) after `warmup` untimed ones. */
export interface CaseSize {
  count: number;
  warmup: number;
  timeoutMs: number;
}

export interface CaseDef {
  id: CaseId;
  title: (s: CaseSize, size: number) => string;
  kind: CaseKind;
  /** Through the TLS terminator (nginx `stream` + `ssl`) in front of the C peer. */
  secure: boolean;
  /**
   * Through bench/h2-peer.ts (Node's http2 server, ALPN h2 + http/1.1, RFC 8441) in front of the
   * C peer instead of nginx: masq's engine over HTTP/2 (`masqh2`) against HTTP/1.1 (`masqtls`).
   */
  h2?: boolean;
  /** Payload bytes per message (unused for idle). */
  size: number;
  full: CaseSize;
  quick: CaseSize;
  /** Unit the table prints; the child reports bytes/s, msg/s, µs or bytes (connect: CPU µs, extra.wall µs). */
  unit: "GB/s" | "msg/s" | "µs" | "KiB";
  higherIsBetter: boolean;
}

const MiB = 1 << 20;

function volume(count: number, size: number): string {
  const bytes = count * size;
  return bytes >= 1 << 30 ? `${bytes / (1 << 30)} GiB` : `${bytes / MiB} MiB`;
}
function many(n: number): string {
  return n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : String(n);
}

export const CASES: readonly CaseDef[] = [
  // (the h2 cases, H2_CASES below, run only when named: `--cases h2-send-1m,...`)
  {
    id: "send-1m", kind: "send", secure: false, size: MiB, unit: "GB/s", higherIsBetter: true,
    title: (s, z) => `send ${volume(s.count, z)} as 1 MiB binary messages`,
    full: { count: 1024, warmup: 64, timeoutMs: 90_000 },
    quick: { count: 256, warmup: 16, timeoutMs: 30_000 },
  },
  {
    id: "send-16", kind: "send", secure: false, size: 16, unit: "msg/s", higherIsBetter: true,
    title: (s) => `send ${many(s.count)} x 16 B messages`,
    full: { count: 1_000_000, warmup: 50_000, timeoutMs: 120_000 },
    quick: { count: 100_000, warmup: 10_000, timeoutMs: 30_000 },
  },
  {
    id: "recv-1m", kind: "recv", secure: false, size: MiB, unit: "GB/s", higherIsBetter: true,
    title: (s, z) => `receive ${volume(s.count, z)} as 1 MiB messages`,
    full: { count: 1024, warmup: 64, timeoutMs: 90_000 },
    quick: { count: 256, warmup: 16, timeoutMs: 30_000 },
  },
  {
    id: "recv-16", kind: "recv", secure: false, size: 16, unit: "msg/s", higherIsBetter: true,
    title: (s) => `receive ${many(s.count)} x 16 B messages`,
    full: { count: 1_000_000, warmup: 50_000, timeoutMs: 120_000 },
    quick: { count: 200_000, warmup: 20_000, timeoutMs: 30_000 },
  },
  {
    id: "echo-32", kind: "echo", secure: false, size: 32, unit: "µs", higherIsBetter: false,
    title: (s) => `echo round trip 32 B, p50 / p99 (${many(s.count)} sequential)`,
    full: { count: 20_000, warmup: 2_000, timeoutMs: 60_000 },
    quick: { count: 2_000, warmup: 300, timeoutMs: 30_000 },
  },
  {
    id: "idle", kind: "idle", secure: false, size: 0, unit: "KiB", higherIsBetter: false,
    title: (s) => `RSS per idle connection at ${many(s.count)}`,
    full: { count: 10_000, warmup: 1, timeoutMs: 120_000 },
    quick: { count: 2_000, warmup: 1, timeoutMs: 30_000 },
  },
  {
    id: "wss-send-1m", kind: "send", secure: true, size: MiB, unit: "GB/s", higherIsBetter: true,
    title: (s, z) => `wss: send ${volume(s.count, z)} as 1 MiB messages`,
    full: { count: 512, warmup: 32, timeoutMs: 90_000 },
    quick: { count: 128, warmup: 8, timeoutMs: 30_000 },
  },
  {
    id: "wss-recv-1m", kind: "recv", secure: true, size: MiB, unit: "GB/s", higherIsBetter: true,
    title: (s, z) => `wss: receive ${volume(s.count, z)} as 1 MiB messages`,
    full: { count: 512, warmup: 32, timeoutMs: 90_000 },
    quick: { count: 128, warmup: 8, timeoutMs: 30_000 },
  },
  {
    // Issue 11: sequential wss connects, each with one echo and a close. Value = client CPU per
    // connection (process.cpuUsage of the child), extra.wall = wall time per connection.
    id: "connect", kind: "connect", secure: true, size: 32, unit: "µs", higherIsBetter: false,
    title: (s) => `wss connect + 32 B echo + close, CPU / wall per connection (${many(s.count)} sequential)`,
    full: { count: 200, warmup: 20, timeoutMs: 60_000 },
    quick: { count: 100, warmup: 20, timeoutMs: 30_000 },
  },
  {
    id: "wss-idle", kind: "idle", secure: true, size: 0, unit: "KiB", higherIsBetter: false,
    title: (s) => `wss: RSS per idle connection at ${many(s.count)}`,
    full: { count: 1000, warmup: 1, timeoutMs: 60_000 },
    quick: { count: 500, warmup: 1, timeoutMs: 30_000 },
  },
];

/** Issue 12: WebSockets over HTTP/2 vs HTTP/1.1 on masq's engine, same terminator, same C peer. */
const H2_CASES: readonly CaseDef[] = [
  {
    id: "h2-send-1m", kind: "send", secure: true, h2: true, size: MiB, unit: "GB/s", higherIsBetter: true,
    title: (s, z) => `h2 vs 1.1: send ${volume(s.count, z)} as 1 MiB messages`,
    full: { count: 512, warmup: 32, timeoutMs: 90_000 },
    quick: { count: 128, warmup: 8, timeoutMs: 30_000 },
  },
  {
    id: "h2-send-16", kind: "send", secure: true, h2: true, size: 16, unit: "msg/s", higherIsBetter: true,
    title: (s) => `h2 vs 1.1: send ${many(s.count)} x 16 B messages`,
    full: { count: 1_000_000, warmup: 50_000, timeoutMs: 120_000 },
    quick: { count: 100_000, warmup: 10_000, timeoutMs: 30_000 },
  },
  {
    id: "h2-recv-1m", kind: "recv", secure: true, h2: true, size: MiB, unit: "GB/s", higherIsBetter: true,
    title: (s, z) => `h2 vs 1.1: receive ${volume(s.count, z)} as 1 MiB messages`,
    full: { count: 512, warmup: 32, timeoutMs: 90_000 },
    quick: { count: 128, warmup: 8, timeoutMs: 30_000 },
  },
  {
    id: "h2-recv-16", kind: "recv", secure: true, h2: true, size: 16, unit: "msg/s", higherIsBetter: true,
    title: (s) => `h2 vs 1.1: receive ${many(s.count)} x 16 B messages`,
    full: { count: 1_000_000, warmup: 50_000, timeoutMs: 120_000 },
    quick: { count: 200_000, warmup: 20_000, timeoutMs: 30_000 },
  },
];

export function caseById(id: string): CaseDef | undefined {
  return CASES.find((c) => c.id === id) ?? H2_CASES.find((c) => c.id === id);
}

/** What the orchestrator hands one child process (JSON on argv). */
export interface RunSpec {
  client: ClientId;
  caseId: CaseId;
  kind: CaseKind;
  /** ws:// or wss:// origin of the peer (or of the TLS terminator), e.g. ws://127.0.0.1:4000 */
  origin: string;
  size: number;
  count: number;
  warmup: number;
}

/** What one child prints (one line, prefixed by RESULT_PREFIX). */
export type RunResult =
  | { ok: true; value: number; extra?: Record<string, number>; info?: Record<string, string> }
  | { ok: false; error: string; unsupported?: boolean; info?: Record<string, string> };

export const RESULT_PREFIX = "@@bench-result ";

/**
 * Bytes the C peer's `/discard` mode counts for `count` client frames of `size` payload bytes:
 * it counts everything after the handshake, so header + 4-byte mask key (RFC 6455 §5.2) + payload.
 * Asking for exactly this makes `done` arrive only after the last frame, for every client.
 */
export function wireBytes(count: number, size: number): number {
  const header = size < 126 ? 2 : size < 65536 ? 4 : 10;
  return count * (header + 4 + size);
}
