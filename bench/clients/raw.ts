/**
 * The ceiling: a bare node:net (or node:tls) socket that writes prebuilt, pre-masked frames with
 * `write()`/`drain` backpressure and counts incoming frames by walking their headers (RFC 6455
 * §5.2) without assembling or copying payloads. No WebSocket client can do less work per byte.
 * For the 16 B send case it writes frames in ~64 KiB batches: that is the wire's ceiling, not a
 * per-message API, and the table footnotes it.
 */
import net from "node:net";
import tls from "node:tls";
import { once } from "node:events";
import { idleCase, latency, now, profiled, throughput } from "./common.js";
import { wireBytes, type RunResult, type RunSpec } from "../cases.js";

const KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** One client frame: FIN + BINARY, masked with a fixed key (the peer only counts or echoes). */
function frame(size: number): Buffer {
  const hl = size < 126 ? 2 : size < 65536 ? 4 : 10;
  const f = Buffer.alloc(hl + 4 + size, 0x61);
  f[0] = 0x82;
  if (hl === 2) f[1] = 0x80 | size;
  else if (hl === 4) {
    f[1] = 0x80 | 126;
    f.writeUInt16BE(size, 2);
  } else {
    f[1] = 0x80 | 127;
    f.writeBigUInt64BE(BigInt(size), 2);
  }
  KEY.copy(f, hl);
  for (let i = 0; i < size; i++) f[hl + 4 + i]! ^= KEY[i & 3]!;
  return f;
}

async function open(spec: RunSpec, path: string): Promise<{ sock: net.Socket; rest: Buffer }> {
  const url = new URL(spec.origin);
  const port = Number(url.port);
  const sock =
    url.protocol === "wss:"
      ? tls.connect({ host: url.hostname, port, rejectUnauthorized: false, servername: "localhost" })
      : net.connect({ host: url.hostname, port });
  sock.setNoDelay(true);
  await once(sock, url.protocol === "wss:" ? "secureConnect" : "connect");
  sock.write(
    `GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let head = Buffer.alloc(0);
  for (;;) {
    const [chunk] = (await once(sock, "data")) as [Buffer];
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end < 0) continue;
    if (!head.subarray(0, 12).toString("latin1").includes(" 101")) throw new Error("handshake refused");
    sock.pause();
    return { sock, rest: head.subarray(end + 4) };
  }
}

async function writeAll(sock: net.Socket, chunks: Iterable<Buffer>): Promise<void> {
  for (const c of chunks) if (!sock.write(c)) await once(sock, "drain");
}

function* batches(spec: RunSpec, count: number): Generator<Buffer> {
  const f = frame(spec.size);
  if (spec.size >= 65536) {
    for (let i = 0; i < count; i++) yield f;
    return;
  }
  const per = Math.max(1, Math.floor(65536 / f.length));
  const batch = Buffer.concat(Array.from({ length: per }, () => f));
  for (let left = count; left > 0; left -= per) yield left >= per ? batch : batch.subarray(0, left * f.length);
}

async function sendCase(spec: RunSpec, count: number): Promise<number> {
  const { sock } = await open(spec, `/discard?bytes=${wireBytes(count, spec.size)}`);
  sock.resume();
  const done = once(sock, "data");
  const t0 = now();
  await writeAll(sock, batches(spec, count));
  await done;
  const ms = now() - t0;
  sock.destroy();
  return ms;
}

/** Counts complete frames and payload bytes, carrying a split header over to the next chunk. */
class FrameCounter {
  frames = 0;
  bytes = 0;
  #remaining = 0;
  #inPayload = false;
  #carry: Buffer | null = null;

  push(input: Buffer): void {
    let chunk = input;
    if (this.#carry) {
      chunk = Buffer.concat([this.#carry, input]);
      this.#carry = null;
    }
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.#inPayload) {
        const take = Math.min(this.#remaining, n - i);
        this.#remaining -= take;
        this.bytes += take;
        i += take;
        if (this.#remaining === 0) {
          this.#inPayload = false;
          this.frames++;
        }
        continue;
      }
      if (n - i < 2) break;
      let len = chunk[i + 1]! & 127;
      let hl = 2;
      if (len === 126) {
        if (n - i < 4) break;
        len = chunk.readUInt16BE(i + 2);
        hl = 4;
      } else if (len === 127) {
        if (n - i < 10) break;
        len = Number(chunk.readBigUInt64BE(i + 2));
        hl = 10;
      }
      i += hl;
      if (len === 0) this.frames++;
      else {
        this.#remaining = len;
        this.#inPayload = true;
      }
    }
    if (i < n) this.#carry = chunk.subarray(i);
  }
}

async function recvCase(spec: RunSpec, count: number): Promise<number> {
  const { sock, rest } = await open(spec, `/send?size=${spec.size}&count=${count}`);
  const counter = new FrameCounter();
  const done = new Promise<void>((resolve) => {
    const onData = (c: Buffer): void => {
      counter.push(c);
      if (counter.frames >= count) resolve();
    };
    if (rest.length) onData(rest);
    sock.on("data", onData);
  });
  const t0 = now();
  sock.write(frame(1));
  sock.resume();
  await done;
  const ms = now() - t0;
  if (counter.bytes !== count * spec.size) throw new Error(`received ${counter.bytes} bytes`);
  sock.destroy();
  return ms;
}

async function echoCase(spec: RunSpec): Promise<RunResult> {
  const { sock } = await open(spec, "/echo");
  const f = frame(spec.size);
  const expect = 2 + spec.size;
  let got = 0;
  let resolve: () => void = () => {};
  sock.on("data", (c: Buffer) => {
    got += c.length;
    if (got >= expect) {
      got -= expect;
      resolve();
    }
  });
  sock.resume();
  const samples = new Float64Array(spec.count);
  for (let i = -spec.warmup; i < spec.count; i++) {
    const reply = new Promise<void>((r) => (resolve = r));
    const t0 = now();
    sock.write(f);
    await reply;
    if (i >= 0) samples[i] = now() - t0;
  }
  sock.destroy();
  return latency(samples);
}

/** Runs one case on a raw socket. */
export async function run(spec: RunSpec): Promise<RunResult> {
  const info = { version: `node ${process.version}` };
  switch (spec.kind) {
    case "send":
      await sendCase(spec, spec.warmup);
      return { ...throughput(spec, await profiled(() => sendCase(spec, spec.count))), info };
    case "recv":
      await recvCase(spec, spec.warmup);
      return { ...throughput(spec, await profiled(() => recvCase(spec, spec.count))), info };
    case "echo":
      return { ...(await profiled(() => echoCase(spec))), info };
    case "idle":
      return {
        ...(await idleCase(
          spec,
          async () => {
            const { sock } = await open(spec, "/idle");
            sock.resume();
            return sock;
          },
          (s) => void s.destroy(),
        )),
        info,
      };
    case "connect":
      return { ok: false, error: "raw node:net has no TLS handshake to measure", unsupported: true, info };
  }
}
