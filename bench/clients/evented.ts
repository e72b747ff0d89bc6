/**
 * One driver for the event-style clients (ws, undici, wreq-js). Each adapter only opens a
 * connection and normalises `send` / message events, so all three run exactly the same loops.
 *
 * Sending: none of these clients has an awaitable send, so small messages go out with plain
 * `send(buf)` in a loop, then the case waits for the peer's `done` frame (their fastest form, with
 * unbounded buffering in the client). For large messages ws also offers a write callback; keeping
 * at most WINDOW messages in flight with it was up to 3x faster than plain sends over TLS (plain
 * buffers hundreds of MiB of masked copies), so ws gets that form there: each client's best.
 * masq's `await ws.send()` is measured with its bounded default queue.
 */
import { connectCase, idleCase, latency, now, payload, profiled, throughput, TRIGGER } from "./common.js";
import { wireBytes, type RunResult, type RunSpec } from "../cases.js";

export interface EventConn {
  send(data: Uint8Array): void;
  /** Send with a completion callback (data handed to the socket), when the client has one. */
  sendWithCallback?(data: Uint8Array, cb: () => void): void;
  /** Replaces the message handler; it receives the payload length in bytes (characters for text). */
  onMessage(fn: (length: number) => void): void;
  /** Starts a close without waiting for it (the peer's discard mode never answers a close frame). */
  close(): void;
  /** Closes and resolves once the connection is closed (the echo mode answers the close frame). */
  closeAndWait(): Promise<void>;
}

export interface EventAdapter {
  connect(url: string): Promise<EventConn>;
  info(): Record<string, string>;
}

/** Messages at least this large use the callback window where the client has a callback. */
const LARGE = 64 * 1024;
const WINDOW = 4;

async function sendWindowed(conn: EventConn, send: (d: Uint8Array, cb: () => void) => void, buf: Uint8Array, count: number): Promise<void> {
  let inFlight = 0;
  let wake: (() => void) | null = null;
  const acked = (): void => {
    inFlight--;
    const w = wake;
    wake = null;
    w?.();
  };
  for (let i = 0; i < count; i++) {
    if (inFlight >= WINDOW) await new Promise<void>((r) => (wake = r));
    inFlight++;
    send.call(conn, buf, acked);
  }
}

async function sendCase(a: EventAdapter, spec: RunSpec, count: number, buf: Uint8Array): Promise<number> {
  const conn = await a.connect(`${spec.origin}/discard?bytes=${wireBytes(count, spec.size)}`);
  const done = new Promise<void>((resolve) => conn.onMessage(() => resolve()));
  const t0 = now();
  if (conn.sendWithCallback && buf.length >= LARGE) await sendWindowed(conn, conn.sendWithCallback, buf, count);
  else for (let i = 0; i < count; i++) conn.send(buf);
  await done;
  const ms = now() - t0;
  conn.close();
  return ms;
}

async function recvCase(a: EventAdapter, spec: RunSpec, count: number): Promise<number> {
  const conn = await a.connect(`${spec.origin}/send?size=${spec.size}&count=${count}`);
  let got = 0;
  let bytes = 0;
  const done = new Promise<void>((resolve) =>
    conn.onMessage((len) => {
      bytes += len;
      if (++got === count) resolve();
    }),
  );
  const t0 = now();
  conn.send(TRIGGER);
  await done;
  const ms = now() - t0;
  if (bytes !== count * spec.size) throw new Error(`received ${bytes} bytes, expected ${count * spec.size}`);
  conn.close();
  return ms;
}

async function echoCase(a: EventAdapter, spec: RunSpec): Promise<RunResult> {
  const conn = await a.connect(`${spec.origin}/echo`);
  const buf = payload(spec.size);
  let resolve: (len: number) => void = () => {};
  conn.onMessage((len) => resolve(len));
  const samples = new Float64Array(spec.count);
  for (let i = -spec.warmup; i < spec.count; i++) {
    const reply = new Promise<number>((r) => (resolve = r));
    const t0 = now();
    conn.send(buf);
    const len = await reply;
    const dt = now() - t0;
    if (len !== spec.size) throw new Error(`echo returned ${len} bytes`);
    if (i >= 0) samples[i] = dt;
  }
  conn.close();
  return latency(samples);
}

/** Runs one case with an event-style adapter. */
export async function runEvented(a: EventAdapter, spec: RunSpec): Promise<RunResult> {
  let result: RunResult;
  switch (spec.kind) {
    case "send": {
      const buf = payload(spec.size);
      await sendCase(a, spec, spec.warmup, buf);
      result = throughput(spec, await profiled(() => sendCase(a, spec, spec.count, buf)));
      break;
    }
    case "recv":
      await recvCase(a, spec, spec.warmup);
      result = throughput(spec, await profiled(() => recvCase(a, spec, spec.count)));
      break;
    case "echo":
      result = await profiled(() => echoCase(a, spec));
      break;
    case "idle":
      result = await profiled(() => idleCase(spec, () => a.connect(`${spec.origin}/idle`), (c) => c.close()));
      break;
    case "connect": {
      const buf = payload(spec.size);
      result = await connectCase(spec, async () => {
        const conn = await a.connect(`${spec.origin}/echo`);
        const len = await new Promise<number>((resolve) => {
          conn.onMessage(resolve);
          conn.send(buf);
        });
        if (len !== spec.size) throw new Error(`echo returned ${len} bytes`);
        await conn.closeAndWait();
      });
      break;
    }
  }
  return { ...result, info: a.info() };
}
