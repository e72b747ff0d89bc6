/**
 * `npm run bench [-- options]`: masq vs ws (+ bufferutil), undici's WebSocket, wreq-js and a raw
 * socket, side by side against the shared C peer (and nginx TLS in front of it for wss).
 *
 *   --quick                 smaller sizes, 3 runs (under 2 minutes)
 *   --runs N                runs per case and client (default 5, quick 3)
 *   --cases a,b             subset of: send-1m send-16 recv-1m recv-16 echo-32 idle wss-send-1m wss-recv-1m
 *   --clients a,b           subset of: masq masqtls ws undici wreq raw
 *   --timeout S             per-run timeout in seconds (default per case: 30 s quick, 60-120 s full)
 *   --render                re-render latest.md from latest.json (no runs)
 *   --out NAME              write bench/results/NAME.{json,md} instead of latest.* (partial runs)
 *   --profile CASE --client C   one run under the CPU profiler (timed part only; add --whole for the
 *                           whole process via `node --cpu-prof`); .cpuprofile + summary in bench/results/
 *
 * Diagnostics (environment): CHILD_FLAGS="--trace-gc ..." adds node flags to every client process;
 * DUMP_CHILD=1 keeps each client's stdout (where V8 traces go) in /tmp/child-out-<pid>.
 *
 * Every run is a fresh `node` process pinned to core 0 (peers on core 1) that does the same
 * warm-up, then the timed part; the table shows medians, ranges and ratios vs ws, and is written
 * to bench/results/latest.md (+ latest.json with every run).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { spawnSync } from "node:child_process";
import {
  CASES, CLIENT_IDS, CLIENT_TITLES, H2_CLIENTS, HANDSHAKE_ONLY_CLIENTS, RESULT_PREFIX, caseById,
  type CaseDef, type ClientId, type RunResult, type RunSpec,
} from "./cases.js";
import { startH2Terminator } from "./h2-peer.js";
import { BENCH_DIR, REPO_DIR, buildPeer, have, launcher, startPeer, startTlsTerminator, tlsUnavailable, type Server } from "./peers.js";
import { render, fmt, type CaseRuns } from "./report.js";
import { busyMs, summariseFile } from "./cpuprofile.js";

const { values: opts } = parseArgs({
  args: process.argv.slice(2),
  options: {
    quick: { type: "boolean", default: false },
    runs: { type: "string" },
    cases: { type: "string" },
    clients: { type: "string" },
    profile: { type: "string" },
    client: { type: "string" },
    whole: { type: "boolean", default: false },
    render: { type: "boolean", default: false },
    timeout: { type: "string" },
    out: { type: "string" },
  },
});

const RESULTS_DIR = join(BENCH_DIR, "results");
/** Base name of the results files: a partial run (`--out`) must not replace the full table. */
const OUT_NAME = opts.out ?? "latest";
const CHILD_SOURCE = join(BENCH_DIR, "child.ts");
const CHILD = join(BENCH_DIR, ".build", "child.mjs");

/**
 * Compiles the child (and the client modules it imports on demand, one chunk each) to plain JS,
 * so that every client runs the way users run it: `node`, no loader. Under `--import tsx` each
 * child carried tsx's modules in its heap (about 3 MiB), which pushed it past V8's 8 MiB
 * threshold for incremental marking; receiving 1 MiB messages then ran ~30 full GCs per GiB
 * and halved the throughput of whichever client had the bigger heap.
 */
async function buildChild(): Promise<void> {
  const { build } = await import("esbuild");
  await build({
    entryPoints: [CHILD_SOURCE],
    outdir: dirname(CHILD),
    outExtension: { ".js": ".mjs" },
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    logLevel: "error",
  });
}
const quick = opts.quick!;
const runs = opts.runs ? Number(opts.runs) : quick ? 3 : 5;
/** Processes we started and must not leave behind. */
const live = new Set<ChildProcess>();
const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

function pick<T extends string>(list: string | undefined, all: readonly T[], what: string): T[] {
  if (!list) return [...all];
  const want = list.split(",").map((s) => s.trim()).filter(Boolean);
  for (const w of want) if (!all.includes(w as T)) throw new Error(`unknown ${what} "${w}" (have: ${all.join(", ")})`);
  return all.filter((a) => want.includes(a));
}

/** Core layout: client on 0, peers on 1, when taskset and two cores exist. */
function cores(): { client: number | null; peer: number | null; text: string } {
  const n = os.availableParallelism();
  if (!have("taskset")) return { client: null, peer: null, text: "not pinned (taskset missing)" };
  if (n < 2) return { client: null, peer: null, text: `not pinned (${n} core)` };
  return { client: 0, peer: 1, text: `client on core 0 (taskset -c 0), C peer and nginx on core 1 (taskset -c 1); ${n} cores` };
}

interface Env {
  peer: Server;
  tls: Server | null;
  tlsError: string | null;
  /** bench/h2-peer.ts for the h2 cases (null when none runs). */
  h2: Server | null;
  clientCore: number | null;
}

function specFor(env: Env, def: CaseDef, client: ClientId): RunSpec | string {
  const size = quick ? def.quick : def.full;
  // masq's own TLS 1.3 engine (issue 6) is only meaningful over TLS.
  if (client === "masqtls" && !def.secure) return "masq's own TLS engine: wss cases only";
  if (HANDSHAKE_ONLY_CLIENTS.includes(client) && def.id !== "connect" && def.id !== "wss-idle") return "impersonated rows: connect and wss-idle cases only";
  if (def.kind === "connect" && (client === "raw" || client === "wreq")) return "connect case: masq, ws and undici only";
  if (client === "masqh2" && !def.h2) return "HTTP/2 row: h2 cases only";
  if (def.h2) {
    if (!H2_CLIENTS.includes(client)) return "h2 cases: masq's engine over HTTP/2 vs HTTP/1.1 only";
    if (!env.h2) return "h2 cases skipped: the h2 terminator did not start";
    const size2 = quick ? def.quick : def.full;
    return { client, caseId: def.id, kind: def.kind, origin: `wss://127.0.0.1:${env.h2.port}`, size: def.size, count: size2.count, warmup: size2.warmup };
  }
  let origin = `ws://127.0.0.1:${env.peer.port}`;
  if (def.secure) {
    if (!env.tls) return `wss cases skipped: ${env.tlsError}`;
    origin = `wss://127.0.0.1:${env.tls.port}`;
  }
  return { client, caseId: def.id, kind: def.kind, origin, size: def.size, count: size.count, warmup: size.warmup };
}

/** One child process; never throws, a timeout or crash becomes a failed RunResult. */
function runChild(env: Env, spec: RunSpec, timeoutMs: number, nodeFlags: string[] = [], extraEnv: Record<string, string> = {}): Promise<RunResult> {
  const [cmd, ...args] = [...launcher(env.clientCore), process.execPath, "--expose-gc", ...(process.env.CHILD_FLAGS ?? "").split(" ").filter(Boolean), ...nodeFlags, CHILD, JSON.stringify(spec)];
  return new Promise((resolve) => {
    const proc = spawn(cmd!, args, { cwd: REPO_DIR, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...extraEnv } });
    live.add(proc);
    let out = "";
    let err = "";
    let timedOut = false;
    proc.stdout.on("data", (c: Buffer) => (out += c.toString()));
    proc.stderr.on("data", (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill("SIGKILL");
    }, timeoutMs);
    proc.on("close", (code, signal) => {
      live.delete(proc);
      clearTimeout(timer);
      if (process.env.DUMP_CHILD) writeFileSync(`/tmp/child-out-${proc.pid}`, out);
      const line = out.split("\n").find((l) => l.startsWith(RESULT_PREFIX));
      if (timedOut) return resolve({ ok: false, error: `timed out after ${timeoutMs / 1000} s` });
      if (line) return resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as RunResult);
      const tail = err.trim().split("\n").slice(-3).join(" | ");
      resolve({ ok: false, error: `exited ${code ?? signal} without a result: ${tail}`.slice(0, 300) });
    });
  });
}

/** Where the masq runs load masq from (bench/clients/masq.ts prefers dist/) and whether it is current. */
function masqBuild(): string {
  const dist = join(REPO_DIR, "dist", "index.js");
  if (!existsSync(dist)) return "masq loaded from src/ through tsx (no dist/ build)";
  let newest = 0;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts")) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(join(REPO_DIR, "src"));
  const built = statSync(dist).mtimeMs;
  return built >= newest
    ? `masq loaded from dist/ (tsc build of ${new Date(built).toISOString()}, newer than every src/ file)`
    : "masq loaded from dist/, which is OLDER than src/: run `npm run build` (npm run bench does)";
}

function cpuModel(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? "unknown"} x ${cpus.length}`;
}

function nginxVersion(): string {
  const r = spawnSync("nginx", ["-v"], { encoding: "utf8" });
  return (r.stderr || r.stdout).trim().replace(/^nginx version: /, "");
}

async function startEnv(needTls: boolean, needH2 = false): Promise<Env> {
  const layout = cores();
  const bin = buildPeer();
  const peer = await startPeer(bin, layout.peer);
  live.add(peer.proc);
  let tls: Server | null = null;
  let tlsError: string | null = null;
  if (needTls) {
    tlsError = tlsUnavailable();
    if (!tlsError) {
      try {
        tls = await startTlsTerminator(peer.port, layout.peer);
        live.add(tls.proc);
      } catch (e) {
        tlsError = (e as Error).message;
      }
    }
  }
  const h2 = needH2 ? await startH2Terminator(peer.port, layout.peer) : null;
  if (h2) live.add(h2.proc);
  return { peer, tls, tlsError, h2, clientCore: layout.client };
}

/** CPU time (user + system, µs) the C peer and nginx have used so far, from /proc (0 where unreadable). */
function peerCpuMicros(env: Env): number {
  let total = 0;
  for (const p of [env.peer.proc, env.tls?.proc, env.h2?.proc]) {
    if (!p?.pid) continue;
    try {
      // taskset/prlimit exec the server in place, so the pid is the server's own.
      const stat = readFileSync(`/proc/${p.pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += (Number(fields[11]) + Number(fields[12])) * (1e6 / CLOCK_TICKS);
    } catch {
      // not on Linux: no figure
    }
  }
  return total;
}
const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

const PROFILE_REPEAT = 5;

async function profile(caseId: string, client: string): Promise<void> {
  const def = caseById(caseId);
  if (!def) throw new Error(`unknown case ${caseId}`);
  if (!CLIENT_IDS.includes(client as ClientId)) throw new Error(`unknown client ${client}`);
  const env = await startEnv(def.secure, def.h2 ?? false);
  try {
    const base = specFor(env, def, client as ClientId);
    if (typeof base === "string") throw new Error(base);
    // The sampler runs at V8's default 1 ms (finer intervals slowed 16 B sends 2-5x); 5x the
    // transfer gives the short throughput cases enough samples.
    const spec = def.kind === "send" || def.kind === "recv" ? { ...base, count: base.count * PROFILE_REPEAT } : base;
    mkdirSync(RESULTS_DIR, { recursive: true });
    const name = `${def.id}-${client}-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    const file = join(RESULTS_DIR, `${name}.cpuprofile`);
    const timeout = (quick ? def.quick : def.full).timeoutMs * PROFILE_REPEAT;
    log(`profiling ${def.id} with ${client} (${quick ? "quick" : "full"} size, ${opts.whole ? "whole process, node --cpu-prof" : "timed part only"}) ...`);
    let r: RunResult;
    if (opts.whole) {
      // Node writes one profile per thread (tsx's module-hooks worker is a second one), so profile
      // into a scratch directory and keep the busiest profile: the main thread's.
      const scratch = join(RESULTS_DIR, `${name}.tmp`);
      mkdirSync(scratch, { recursive: true });
      r = await runChild(env, spec, timeout, ["--cpu-prof", `--cpu-prof-dir=${scratch}`]);
      const busiest = readdirSync(scratch)
        .filter((f) => f.endsWith(".cpuprofile"))
        .map((f) => ({ f: join(scratch, f), busy: busyMs(join(scratch, f)) }))
        .sort((x, y) => y.busy - x.busy)[0];
      if (busiest) renameSync(busiest.f, file);
      rmSync(scratch, { recursive: true, force: true });
    } else {
      // The child profiles only the timed part through node:inspector and maps positions back to
      // the .ts sources (bench/clients/common.ts `profiled`).
      r = await runChild(env, spec, timeout, ["--enable-source-maps"], { BENCH_CPU_PROFILE: file });
    }
    const result = r.ok ? `result: ${fmt(def, r.value)}${r.extra?.p99 ? ` / p99 ${r.extra.p99.toFixed(0)} µs` : ""} (under the profiler)` : `run failed: ${r.error}`;
    let text = `${def.id} / ${client}: ${result}\nprofile: ${file}\n\n`;
    text += existsSync(file) ? summariseFile(file) : "no profile written (the process was killed before exit?)";
    writeFileSync(join(RESULTS_DIR, `${name}.profile.txt`), text + "\n");
    console.log(text);
  } finally {
    await env.peer.stop();
    await env.tls?.stop();
    await env.h2?.stop();
  }
}

/** Fairness notes printed under every table. */
const NOTES = [
  "Send cases: masq awaits every `send()` (resolves when queued; bounded default queue). ws, undici and wreq-js have no awaitable send, so they call plain `send(buf)` in a loop and wait for the peer's `done` (unbounded buffering in the client). Exception, to give ws its best form: for 1 MiB messages ws uses `send(buf, cb)` with at most 4 messages in flight, measured up to 3x faster than plain sends over TLS on this machine.",
  "Timed part: from the first send (or the 1-byte trigger for receive cases) until the peer's `done` frame (or the last message) arrives; connect time excluded. GB/s = 10^9 payload bytes per second.",
  "raw node:net: prebuilt, pre-masked frames written with `write`/`drain` backpressure (16 B frames in ~64 KiB batches, so its 16 B send figure is the wire/syscall ceiling, not a per-message API); receiving counts frames by walking headers without assembling payloads.",
  "Echo: sequential round trips of one 32 B binary message after untimed warm-up round trips; p50 / p99 per run, medians over runs. Ratios for echo and idle: client / ws (lower is better).",
  "Idle: RSS after a forced GC with N connections to `/idle` open, minus RSS before (after one connection was opened and closed), divided by N.",
  "undici: `binaryType = \"arraybuffer\"` (its default Blob adds a copy). wreq-js: `createSession({ insecure: true }).websocket(url, { binaryType: \"nodebuffer\" })`.",
];

async function bench(): Promise<void> {
  const started = Date.now();
  const build = masqBuild(); // before the runs: src/ may change while they go
  // The h2 cases (issue 12) run only when named: `--cases h2-send-1m,...` (they need their own terminator).
  const defs = pick(opts.cases, [...CASES.map((c) => c.id), "h2-send-1m", "h2-send-16", "h2-recv-1m", "h2-recv-16"], "case").map((id) => caseById(id)!).filter((d) => opts.cases || !d.h2);
  const clients = pick(opts.clients, CLIENT_IDS, "client");
  const layout = cores();
  const env = await startEnv(defs.some((d) => d.secure), defs.some((d) => d.h2 === true));
  const load0 = os.loadavg();
  const info: Partial<Record<ClientId, Record<string, string>>> = {};
  const cases: CaseRuns[] = [];
  /** Writes latest.json/.md; after every case too, so a killed run still leaves its results. */
  const finish = (partial: boolean): void => {
    const cmd = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
    const versions = clients.map((k) => `${CLIENT_TITLES[k]} ${Object.values(info[k] ?? {}).join(", ") || "(no successful run)"}`);
    const load1 = os.loadavg();
    const header = [
      `Date: ${new Date().toISOString()} (took ${((Date.now() - started) / 1000).toFixed(0)} s)${partial ? " — PARTIAL: run still going or interrupted" : ""}`,
      `Command: \`${cmd}\``,
      `Node ${process.version}, ${os.type()} ${os.release()}, CPU: ${cpuModel()}`,
      `Pinning: ${layout.text}`,
      `Runs: ${runs} per case and client, each a fresh process (same warm-up for all: a smaller untimed transfer on its own connection, or untimed round trips), interleaved across clients; medians shown`,
      `Clients: ${versions.join("; ")}; ${build}`,
      `Peer: bench/peer/cserver.c (gcc -O2); wss through nginx ${env.tls ? nginxVersion() : "(unavailable)"} \`stream\` + \`ssl\` (self-signed P-256, TLS 1.3) in front of it`,
      `Load average (1 min) at start / end: ${load0[0]!.toFixed(2)} / ${load1[0]!.toFixed(2)} — the machine is shared (other agents run on the same 2 cores), so absolute figures are noisy; compare ratios within one run`,
    ];
    const saved: Saved = { header, clients, cases: cases.map((c) => ({ id: c.def.id, title: c.title, runs: c.runs })) };
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, `${OUT_NAME}.json`), JSON.stringify(saved, null, 1));
    writeReport(saved, partial);
  };
  try {
    for (const def of defs) {
      const size = quick ? def.quick : def.full;
      const c: CaseRuns = { def, title: def.title(size, def.size), runs: {} };
      cases.push(c);
      // Runs interleave clients, so drifting machine load hits every client alike.
      for (let r = 0; r < runs; r++) {
        for (const client of clients) {
          const spec = specFor(env, def, client);
          const peerCpu0 = def.kind === "connect" ? peerCpuMicros(env) : 0;
          const res: RunResult = typeof spec === "string" ? { ok: false, error: spec, unsupported: true } : await runChild(env, spec, opts.timeout ? Number(opts.timeout) * 1000 : size.timeoutMs);
          // Connect case: the peers' CPU per timed connection (warm-up included in the delta, so
          // an upper bound), to show they are not the bottleneck.
          if (res.ok && def.kind === "connect" && typeof spec !== "string") {
            res.extra = { ...res.extra, peerCpu: (peerCpuMicros(env) - peerCpu0) / (spec.count + spec.warmup) };
          }
          (c.runs[client] ??= []).push(res);
          if (res.info) info[client] = res.info;
          const shown = res.ok ? fmt(def, res.value) + (res.extra?.p99 ? ` / p99 ${res.extra.p99.toFixed(0)} µs` : "") : `${res.unsupported ? "n/a" : "FAILED"} ${res.error}`;
          log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${def.id} run ${r + 1}/${runs} ${client.padEnd(6)} ${shown}`);
        }
      }
      if (def !== defs[defs.length - 1]) finish(true);
    }
  } finally {
    await env.peer.stop();
    await env.tls?.stop();
    await env.h2?.stop();
  }

  finish(false);
}


/** What latest.json holds: enough to re-render the table (`--render`) without rerunning. */
interface Saved {
  header: string[];
  clients?: ClientId[];
  cases: Array<{ id: string; title: string; runs: CaseRuns["runs"] }>;
}

function writeReport(saved: Saved, quiet = false): void {
  const cases: CaseRuns[] = saved.cases.map((c) => ({ def: caseById(c.id)!, title: c.title, runs: c.runs }));
  const clients = saved.clients ?? CLIENT_IDS.filter((k) => saved.cases.some((c) => c.runs[k]));
  const md = render({ header: saved.header, clients }, cases, NOTES);
  writeFileSync(join(RESULTS_DIR, `${OUT_NAME}.md`), md);
  if (quiet) return;
  console.log(md);
  log(`written to ${join(RESULTS_DIR, `${OUT_NAME}.md`)}`);
}

// On Ctrl-C / SIGTERM, stop what we started (peer, nginx, the running child) before exiting.
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    for (const p of live) p.kill("SIGKILL");
    process.exit(130);
  });
}
if (opts.render) {
  writeReport(JSON.parse(readFileSync(join(RESULTS_DIR, `${OUT_NAME}.json`), "utf8")) as Saved);
} else if (opts.profile) {
  if (!opts.client) throw new Error("--profile needs --client");
  await buildChild();
  await profile(opts.profile, opts.client);
} else {
  await buildChild();
  await bench();
}
