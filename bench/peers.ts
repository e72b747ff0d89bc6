/**
 * The servers every client talks to: the C WebSocket peer (bench/peer/cserver.c, built here with
 * gcc) and, for wss cases, nginx's `stream {}` module terminating TLS in front of it with a
 * self-signed certificate made at bench time. Both are pinned to the peer core.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_DIR = resolve(BENCH_DIR, "..");
export const BIN_DIR = join(BENCH_DIR, "bin");
const PEER_SRC = join(BENCH_DIR, "peer", "cserver.c");
const NGINX_STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";

/** The hard open-files limit (raising the soft one to it needs no privilege), or null if unknown. */
function hardNofile(): number | null {
  const r = spawnSync("sh", ["-c", "ulimit -Hn"], { encoding: "utf8" });
  const v = r.stdout.trim();
  return v === "unlimited" ? 1 << 20 : /^\d+$/.test(v) ? Math.min(Number(v), 1 << 20) : null;
}
/** Open-files limit for the peers and clients: 10,000 idle connections need more than the usual 1024. */
export const NOFILE = hardNofile();

export function have(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** Command prefix pinning to `core` (empty when pinning is unavailable) and raising the fd limit. */
export function launcher(core: number | null): string[] {
  const pre: string[] = [];
  if (NOFILE !== null && have("prlimit")) pre.push("prlimit", `--nofile=${NOFILE}:${NOFILE}`);
  if (core !== null) pre.push("taskset", "-c", String(core));
  return pre;
}

/** Builds bench/bin/cserver unless it is newer than its source. */
export function buildPeer(): string {
  const out = join(BIN_DIR, "cserver");
  if (!existsSync(PEER_SRC)) throw new Error(`C peer source not found at ${PEER_SRC}`);
  if (existsSync(out) && statSync(out).mtimeMs > statSync(PEER_SRC).mtimeMs) return out;
  mkdirSync(BIN_DIR, { recursive: true });
  const r = spawnSync("gcc", ["-O2", "-o", out, PEER_SRC, "-lcrypto"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`gcc failed (needs gcc and libssl-dev):\n${r.stderr}`);
  return out;
}

export interface Server {
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

function stopper(proc: ChildProcess): () => Promise<void> {
  return async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill("SIGTERM");
    await Promise.race([new Promise((r) => proc.once("exit", r)), sleep(2000)]);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  };
}

export async function startPeer(bin: string, core: number | null): Promise<Server> {
  const [cmd, ...args] = [...launcher(core), bin, "0"];
  const proc = spawn(cmd!, args, { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((ok, fail) => {
    let buf = "";
    const timer = setTimeout(() => fail(new Error("C peer did not start")), 5000);
    proc.stdout!.on("data", (c: Buffer) => {
      buf += c.toString();
      const m = /listening (\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        ok(Number(m[1]));
      }
    });
    proc.once("exit", (code) => fail(new Error(`C peer exited (${code})`)));
  });
  return { port, proc, stop: stopper(proc) };
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function waitListening(port: number, proc: ChildProcess, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`nginx exited (${proc.exitCode})`);
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), r(true)));
      s.once("error", () => r(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error("nginx did not start listening");
}

/** Why wss cases cannot run here, or null when nginx with the stream module and openssl exist. */
export function tlsUnavailable(): string | null {
  if (!have("nginx")) return "nginx not installed";
  if (!existsSync(NGINX_STREAM_MODULE)) return "nginx stream module missing (apt-get install libnginx-mod-stream)";
  if (!have("openssl")) return "openssl not installed";
  return null;
}

/**
 * nginx as a TLS terminator (`stream { server { listen ... ssl; proxy_pass peer; } }`), one
 * process (`master_process off`) so the whole proxy sits on the pinned core. TLS 1.3 with the
 * default cipher choice (AES-GCM with AES-NI on both ends).
 */
export async function startTlsTerminator(peerPort: number, core: number | null): Promise<Server> {
  const dir = join(BIN_DIR, "tls");
  mkdirSync(dir, { recursive: true });
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  const r = spawnSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
      "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  const port = await freePort();
  const conf = join(dir, "nginx.conf");
  writeFileSync(
    conf,
    `load_module ${NGINX_STREAM_MODULE};
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile ${NOFILE ?? 1024};
pid ${join(dir, "nginx.pid")};
error_log stderr warn;
events { worker_connections 16384; }
stream {
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    ssl_protocols TLSv1.2 TLSv1.3;
    tcp_nodelay on;
    proxy_buffer_size 256k;
    proxy_pass 127.0.0.1:${peerPort};
  }
}
`,
  );
  const [cmd, ...args] = [...launcher(core), "nginx", "-p", dir, "-c", conf, "-e", "stderr"];
  const proc = spawn(cmd!, args, { stdio: ["ignore", "inherit", "inherit"] });
  await waitListening(port, proc, 5000);
  return { port, proc, stop: stopper(proc) };
}
