/**
 * masq, default options, written the way its API is meant to be used: `await ws.send()` (resolves
 * once queued in the bounded send queue, so memory stays bounded unlike the event-style clients'
 * fire-and-forget loops), a `recv()` loop for large messages and `for await` for small ones.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import type { AsyncSession as AsyncSessionType } from "../../src/index.js";

// Measure masq as users run it: the compiled dist/ (plain ES2022 from tsc). Through tsx every
// closure would pay esbuild's keepNames `__name` wrapper, which users never run. `npm run bench`
// builds dist/ first; without it we fall back to the sources.
const dist = new URL("../../dist/index.js", import.meta.url);
const { AsyncSession } = (await import(existsSync(dist) ? dist.href : "../../src/index.js")) as typeof import("../../src/index.js");
type AsyncSession = AsyncSessionType;
import { connectCase, idleCase, latency, now, payload, profiled, throughput, TRIGGER } from "./common.js";
import { wireBytes, type RunResult, type RunSpec } from "../cases.js";

type Conn = Awaited<ReturnType<AsyncSession["wsConnect"]>>;

/** Payload length of whatever a receive yields (a message object, raw bytes or text). */
function sizeOf(msg: unknown): number {
  const d = msg !== null && typeof msg === "object" && "data" in msg ? (msg as { data: unknown }).data : msg;
  if (typeof d === "string") return d.length;
  if (d instanceof Uint8Array) return d.length;
  if (d instanceof ArrayBuffer) return d.byteLength;
  throw new Error(`unexpected message type ${Object.prototype.toString.call(d)}`);
}

async function sendCase(session: AsyncSession, spec: RunSpec, count: number, buf: Uint8Array): Promise<number> {
  const ws = await session.wsConnect(`${spec.origin}/discard?bytes=${wireBytes(count, spec.size)}`);
  const t0 = now();
  for (let i = 0; i < count; i++) await ws.send(buf);
  await ws.recv(); // the peer's "done"
  const ms = now() - t0;
  void ws.close().catch(() => {});
  return ms;
}

async function recvLoop(session: AsyncSession, spec: RunSpec, count: number): Promise<number> {
  const ws = await session.wsConnect(`${spec.origin}/send?size=${spec.size}&count=${count}`);
  let bytes = 0;
  const t0 = now();
  await ws.send(TRIGGER);
  for (let i = 0; i < count; i++) bytes += sizeOf(await ws.recv());
  const ms = now() - t0;
  if (bytes !== count * spec.size) throw new Error(`received ${bytes} bytes, expected ${count * spec.size}`);
  void ws.close().catch(() => {});
  return ms;
}

async function recvIter(session: AsyncSession, spec: RunSpec, count: number): Promise<number> {
  const ws = await session.wsConnect(`${spec.origin}/send?size=${spec.size}&count=${count}`);
  let bytes = 0;
  let got = 0;
  let ms = 0;
  const t0 = now();
  await ws.send(TRIGGER);
  for await (const msg of ws) {
    bytes += sizeOf(msg);
    if (++got === count) {
      ms = now() - t0;
      break;
    }
  }
  if (got !== count || bytes !== count * spec.size) throw new Error(`received ${got} messages / ${bytes} bytes`);
  void ws.close().catch(() => {});
  return ms;
}

async function echoCase(session: AsyncSession, spec: RunSpec): Promise<RunResult> {
  const ws = await session.wsConnect(`${spec.origin}/echo`);
  const buf = payload(spec.size);
  const samples = new Float64Array(spec.count);
  for (let i = -spec.warmup; i < spec.count; i++) {
    const t0 = now();
    await ws.send(buf);
    const len = sizeOf(await ws.recv());
    const dt = now() - t0;
    if (len !== spec.size) throw new Error(`echo returned ${len} bytes`);
    if (i >= 0) samples[i] = dt;
  }
  void ws.close().catch(() => {});
  return latency(samples);
}

function gitCommit(): string {
  try {
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { encoding: "utf8" }).trim() ? "+dirty" : "";
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim() + dirty;
  } catch {
    return "unknown";
  }
}

/** One connect of the connect case: connect, one echo, close (awaited, the peer answers it). */
async function connectOnce(session: AsyncSession, url: string, buf: Buffer): Promise<void> {
  const ws = await session.wsConnect(url);
  await ws.send(buf);
  const len = sizeOf(await ws.recv());
  if (len !== buf.length) throw new Error(`echo returned ${len} bytes`);
  await ws.close();
}

/**
 * Session options per client: "masqtls" runs over masq's own TLS 1.3 engine instead of Node's,
 * "masqchrome" / "masqresumed" impersonate Chrome. Only "masqresumed" and "masqnr" (Node's TLS)
 * keep their TLS session cache on, so the other rows measure full handshakes.
 */
function sessionOptions(spec: RunSpec): ConstructorParameters<typeof AsyncSession>[0] {
  switch (spec.client) {
    case "masqtls":
      return { verify: false, tls: "masq", tlsSessionCache: false };
    case "masqchrome":
      return { verify: false, impersonate: "chrome", tlsSessionCache: false };
    case "masqh2":
      // Issue 12: WebSockets as RFC 8441 streams over HTTP/2 on masq's engine (compare masqtls).
      return { verify: false, tls: "masq", http2: true, tlsSessionCache: false };
    case "masqresumed":
      return { verify: false, impersonate: "chrome" };
    case "masqnr":
      return { verify: false, tls: "native" };
    default:
      return { verify: false, tls: "native", tlsSessionCache: false };
  }
}

/** Runs one case with masq. */
export async function run(spec: RunSpec): Promise<RunResult> {
  const session = new AsyncSession(sessionOptions(spec));
  let result: RunResult;
  switch (spec.kind) {
    case "send": {
      const buf = payload(spec.size);
      await sendCase(session, spec, spec.warmup, buf);
      result = throughput(spec, await profiled(() => sendCase(session, spec, spec.count, buf)));
      break;
    }
    case "recv": {
      // Issue 5: large messages through a recv() loop, small ones through `for await`.
      const recv = spec.size >= 1024 ? recvLoop : recvIter;
      await recv(session, spec, spec.warmup);
      result = throughput(spec, await profiled(() => recv(session, spec, spec.count)));
      break;
    }
    case "echo":
      result = await profiled(() => echoCase(session, spec));
      break;
    case "idle":
      result = await profiled(() => idleCase(spec, () => session.wsConnect(`${spec.origin}/idle`), (ws: Conn) => ws.terminate()));
      break;
    case "connect": {
      const buf = payload(spec.size);
      result = await connectCase(spec, () => connectOnce(session, `${spec.origin}/echo`, buf));
      break;
    }
  }
  return { ...result, info: { version: `git ${gitCommit()}` } };
}
