/**
 * Floors that bound masq's per-message and per-record costs, measured without masq:
 *
 *   taskset -c 0 npx tsx bench/micro.ts
 *
 * - `await` of an already-resolved promise and one `for await` step: the least an awaited
 *   `send()` or a `for await` receive can cost per message;
 * - `Buffer.from(arrayBuffer, offset, length)`: the zero-copy view each small received message is;
 * - one 16 KiB AES-128-GCM TLS record through node:crypto (cipher object, AAD, update, final,
 *   tag) and the cipher object alone: what masq's own TLS engine pays per record
 *   (compare `openssl speed -evp aes-128-gcm -bytes 16384`).
 *
 * Then masq's own small-message paths with no socket (from dist/ when built, as users run them):
 * framing + masking + queueing one 16 B message and awaiting it, over a stream that discards; and
 * parsing + queueing + one `for await` step per 16 B message from prebuilt chunks. The gap between
 * these and the `npm run bench` figures is the socket, the event loop and the reader/writer
 * hand-offs; the gap between them and the first two floors is masq's own per-message work.
 */
import { createCipheriv, createSecretKey, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { Duplex } from "node:stream";

function report(name: string, ns: number): void {
  console.log(`${name.padEnd(44)} ${ns.toFixed(1).padStart(8)} ns`);
}

async function timeAsync(name: string, n: number, body: (n: number) => Promise<void>): Promise<void> {
  await body(n / 10); // warm-up
  const t = process.hrtime.bigint();
  await body(n);
  report(name, Number(process.hrtime.bigint() - t) / n);
}

function timeSync(name: string, n: number, body: (i: number) => unknown): void {
  let sink = 0;
  for (let i = 0; i < n / 10; i++) sink += body(i) ? 1 : 0;
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sink += body(i) ? 1 : 0;
  report(name, Number(process.hrtime.bigint() - t) / n);
  if (sink < 0) console.log(sink);
}

const resolved = Promise.resolve();
await timeAsync("await of a resolved promise", 5e6, async (n) => {
  for (let i = 0; i < n; i++) await resolved;
});
const value = Buffer.alloc(16);
await timeAsync("for await step (next() = Promise.resolve)", 5e6, async (n) => {
  const it = { [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve({ value, done: false as const }) }) };
  let i = 0;
  for await (const v of it) if (++i >= n || v.length === 0) break;
});

const chunk = Buffer.allocUnsafe(65536);
timeSync("Buffer.from(arrayBuffer, offset, 16)", 5e6, (i) => Buffer.from(chunk.buffer, chunk.byteOffset + ((i * 16) & 0xffef), 16));
const FastBuffer = (Buffer as unknown as Record<symbol, new (ab: ArrayBufferLike, o: number, n: number) => Buffer>)[Symbol.species]!;
timeSync("new Buffer[Symbol.species](ab, offset, 16)", 5e6, (i) => new FastBuffer(chunk.buffer, chunk.byteOffset + ((i * 16) & 0xffef), 16));

const key = createSecretKey(randomBytes(16));
const iv = randomBytes(12);
const record = randomBytes(16384);
const aad = Buffer.alloc(5);
timeSync("AES-128-GCM record of 16 KiB (node:crypto)", 2e4, () => {
  const c = createCipheriv("aes-128-gcm", key, iv);
  c.setAAD(aad);
  c.update(record);
  c.final();
  return c.getAuthTag();
});
timeSync("createCipheriv alone", 2e4, () => createCipheriv("aes-128-gcm", key, iv));

// ---- masq's own paths, no socket -------------------------------------------------------------
const built = existsSync(new URL("../dist/index.js", import.meta.url));
const from = (m: string): string => new URL(`../${built ? "dist" : "src"}/${m}.js`, import.meta.url).href;
const { FrameWriter } = (await import(from("websocket/writer"))) as typeof import("../src/websocket/writer.js");
const { FrameParser } = (await import(from("protocol/parser"))) as typeof import("../src/protocol/parser.js");
const { RecvQueue } = (await import(from("websocket/recv-queue"))) as typeof import("../src/websocket/recv-queue.js");

const discard = new Duplex({ read() {}, write: (_c, _e, cb) => cb(), writev: (_c, cb) => cb() });
const writer = new FrameWriter(discard, { sendQueueSize: 128, maxSendQueueBytes: 16 << 20, coalesceFrames: false, maxSendBatchSize: 64, sendTimeSlice: 5 });
const small = Buffer.alloc(16, 7);
await timeAsync(`masq: frame+mask+queue 16 B, awaited (${built ? "dist" : "src"})`, 2e6, async (n) => {
  for (let i = 0; i < n; i++) {
    if (!writer.hasSpace()) await writer.waitForSpace();
    writer.enqueue(2, small, true);
    await resolved;
  }
});

const frames = Buffer.allocUnsafe(65536 - (65536 % 18));
for (let o = 0; o < frames.length; o += 18) {
  frames[o] = 0x82;
  frames[o + 1] = 16;
}
await timeAsync("masq: parse+queue+for-await step, 16 B", 2e6, async (n) => {
  const parser = new FrameParser({ maxMessageSize: 1 << 26 });
  const queue = new RecvQueue(128);
  const refill = (): void => {
    while (!queue.isFull) {
      const ev = parser.next();
      if (ev === null) parser.push(Buffer.from(frames));
      else if (ev.kind === "message") queue.push(ev.data, 2, true);
    }
  };
  queue.onSpace = refill;
  const it = {
    [Symbol.asyncIterator]: () => ({
      next: () => {
        if (queue.length === 0) refill();
        return Promise.resolve({ value: queue.shift(), done: false as const });
      },
    }),
  };
  let i = 0;
  for await (const v of it) if (++i >= n || v.length !== 16) break;
});

// ---- JIT warm-up of the send path ---------------------------------------------------------------
// A fresh process's first 1M small sends, timed per 100K on a new FrameWriter: the per-batch path
// (#pump etc., once per 128 messages) is optimized only some 100K–400K messages in, so the first
// slices run at a fraction of the steady rate. `npm run bench` times 1M messages after a 50K
// warm-up on another connection, which is inside this window.
{
  const fresh = new FrameWriter(new Duplex({ read() {}, write: (_c, _e, cb) => cb(), writev: (_c, cb) => cb() }), {
    sendQueueSize: 128,
    maxSendQueueBytes: 16 << 20,
    coalesceFrames: false,
    maxSendBatchSize: 64,
    sendTimeSlice: 5,
  });
  const slices: string[] = [];
  let t = process.hrtime.bigint();
  for (let i = 1; i <= 1_000_000; i++) {
    if (!fresh.hasSpace()) await fresh.waitForSpace();
    fresh.enqueue(2, small, true);
    await resolved;
    if (i % 100_000 === 0) {
      const now = process.hrtime.bigint();
      slices.push((1e5 / (Number(now - t) / 1e9) / 1e6).toFixed(1));
      t = now;
    }
  }
  console.log(`${"masq: a new FrameWriter's first 1M sends, M msg/s per 100K".padEnd(44)} ${slices.join(" ")}`);
}
