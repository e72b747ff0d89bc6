import { test } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { randomBytes } from "node:crypto";
import { PerMessageDeflate, setZlibConcurrency, zlibJobStats } from "../../src/websocket/deflate.js";
import type { DeflateParams } from "../../src/protocol/extensions.js";
import { ProtocolError, WebSocketError } from "../../src/errors.js";

const TAIL = Buffer.from([0, 0, 0xff, 0xff]);
const MiB = 1024 * 1024;

const params = (p: Partial<DeflateParams> = {}): DeflateParams => ({
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
  ...p,
});

/** Reference peer: what a server does with node:zlib directly (persistent streams = context takeover). */
class RefPeer {
  #deflate: zlib.DeflateRaw | null = null;
  #inflate: zlib.InflateRaw | null = null;
  constructor(
    readonly takeoverOut: boolean,
    readonly takeoverIn: boolean,
    readonly outBits = 15,
    readonly inBits = 15,
  ) {}

  /** Server -> client message payload (RFC 7692 §7.2.1). */
  async compress(data: Buffer): Promise<Buffer> {
    const d = (this.#deflate ??= zlib.createDeflateRaw({ windowBits: this.outBits }));
    const out = await run(d, data);
    assert.deepEqual(out.subarray(-4), TAIL);
    if (!this.takeoverOut) {
      d.close();
      this.#deflate = null;
    }
    return out.subarray(0, out.length - 4);
  }

  async decompress(payload: Buffer): Promise<Buffer> {
    const inf = (this.#inflate ??= zlib.createInflateRaw({ windowBits: this.inBits }));
    const out = await run(inf, Buffer.concat([payload, TAIL]));
    if (!this.takeoverIn) {
      inf.close();
      this.#inflate = null;
    }
    return out;
  }

  close(): void {
    this.#deflate?.close();
    this.#inflate?.close();
  }
}

function run(stream: zlib.DeflateRaw | zlib.InflateRaw, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (c: Buffer) => chunks.push(c);
    stream.on("data", onData);
    stream.once("error", reject);
    stream.write(input);
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      stream.removeListener("data", onData);
      stream.removeListener("error", reject);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** Text-like data that compresses well and repeats across messages. */
function sample(i: number, size = 4000): Buffer {
  const line = `{"id":${i},"event":"trade","price":"1234.5${i % 10}","qty":"0.0${i % 7}","side":"${i % 2 ? "buy" : "sell"}"}\n`;
  return Buffer.from(line.repeat(Math.ceil(size / line.length)).slice(0, size));
}

const isProtocolError = (code: number, re?: RegExp) => (e: unknown) =>
  e instanceof ProtocolError && e.code === code && (re === undefined || re.test(e.message));

// ------------------------------------------------------------------ basics

test("shouldCompress: threshold default 1024, configurable, false once closed", () => {
  const c = new PerMessageDeflate(params(), { maxMessageSize: MiB });
  assert.equal(c.shouldCompress(1023), false);
  assert.equal(c.shouldCompress(1024), true);
  const c2 = new PerMessageDeflate(params(), { maxMessageSize: MiB, threshold: 0 });
  assert.equal(c2.shouldCompress(0), true);
  c.close();
  assert.equal(c.shouldCompress(1 << 20), false);
  c2.close();
});

test("round trip against node:zlib reference data, both directions", async () => {
  const c = new PerMessageDeflate(params(), { maxMessageSize: 16 * MiB });
  const inputs = [Buffer.from("Hello"), sample(1, 100_000), randomBytes(70_000), Buffer.alloc(3 * MiB, 0x61)];
  for (const data of inputs) {
    // ours -> reference inflater (fresh each time is fine for the first message only; use raw sync with tail)
    const payload = await c.compress(data);
    assert.notDeepEqual(payload.subarray(-4), TAIL);
    // reference -> ours: one-shot sync-flush DEFLATE, tail stripped
    const ref = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    assert.deepEqual(ref.subarray(-4), TAIL);
    const c2 = new PerMessageDeflate(params(), { maxMessageSize: 16 * MiB });
    assert.deepEqual(await c2.decompress(ref.subarray(0, ref.length - 4)), data);
    c2.close();
  }
  // Our whole output stream decodes with one reference inflater (context takeover).
  const peer = new RefPeer(true, true);
  const c3 = new PerMessageDeflate(params(), { maxMessageSize: 16 * MiB });
  for (const data of inputs) assert.deepEqual(await peer.decompress(await c3.compress(data)), data);
  peer.close();
  c.close();
  c3.close();
});

test("known vector: RFC 7692 §7.2.3.1 'Hello' compresses to f2 48 cd c9 c9 07 00", async () => {
  const c = new PerMessageDeflate(params(), { maxMessageSize: MiB });
  assert.deepEqual(await c.decompress(Buffer.from("f248cdc9c90700", "hex")), Buffer.from("Hello"));
  // §7.2.3.2: the same message again with context takeover
  assert.deepEqual(await c.decompress(Buffer.from("f200110000", "hex")), Buffer.from("Hello"));
  // §7.2.3.3: uncompressed DEFLATE block
  const c2 = new PerMessageDeflate(params(), { maxMessageSize: MiB });
  assert.deepEqual(await c2.decompress(Buffer.from("0005 00fa ff48 656c 6c6f 00".replace(/ /g, ""), "hex")), Buffer.from("Hello"));
  c.close();
  c2.close();
});

test("empty messages, both directions", async () => {
  const c = new PerMessageDeflate(params(), { maxMessageSize: MiB });
  const peer = new RefPeer(true, true);
  const first = await c.compress(Buffer.alloc(0));
  assert.deepEqual(first, Buffer.from([0x00])); // RFC 7692 §7.2.3.6
  assert.deepEqual(await peer.decompress(first), Buffer.alloc(0));
  // a non-empty message in between, then another empty one (zlib emits nothing for it)
  assert.deepEqual(await peer.decompress(await c.compress(sample(2))), sample(2));
  const again = await c.compress(Buffer.alloc(0));
  assert.deepEqual(again, Buffer.from([0x00]));
  assert.deepEqual(await peer.decompress(again), Buffer.alloc(0));
  assert.deepEqual(await peer.decompress(await c.compress(sample(3))), sample(3));
  // incoming: the single-byte empty message and the reference's own empty message
  assert.deepEqual(await c.decompress(Buffer.from([0x00])), Buffer.alloc(0));
  assert.deepEqual(await c.decompress(await peer.compress(Buffer.alloc(0))), Buffer.alloc(0));
  assert.deepEqual(await c.decompress(await peer.compress(sample(4))), sample(4));
  peer.close();
  c.close();
});

// ------------------------------------------------------------------ context takeover

for (const clientNct of [false, true]) {
  for (const serverNct of [false, true]) {
    test(`context takeover: client_no_context_takeover=${clientNct} server_no_context_takeover=${serverNct}, several messages`, async () => {
      const p = params({ clientNoContextTakeover: clientNct, serverNoContextTakeover: serverNct });
      const c = new PerMessageDeflate(p, { maxMessageSize: MiB });
      // The peer inflates our messages with context takeover unless we announced we would not use it; to
      // prove we really reset, in that case decode each message with a *fresh* inflater.
      const peer = new RefPeer(!serverNct, !clientNct);
      const sizes: number[] = [];
      // Two incompressible messages that repeat: context takeover shows as a much smaller payload.
      const variants = [randomBytes(3000), randomBytes(3000)];
      for (let i = 0; i < 6; i++) {
        const msg = variants[i % 2]!;
        const payload = await c.compress(msg);
        sizes.push(payload.length);
        assert.deepEqual(await peer.decompress(payload), msg, `client message ${i}`);
        assert.equal(c.streams.deflate, !clientNct, "deflater kept only with context takeover");

        const incoming = await peer.compress(msg);
        assert.deepEqual(await c.decompress(incoming), msg, `server message ${i}`);
        assert.equal(c.streams.inflate, !serverNct, "inflater kept only with context takeover");
      }
      if (clientNct) {
        // every message compressed from scratch: same size each time for the same input
        assert.equal(sizes[2], sizes[0]);
        assert.equal(sizes[3], sizes[1]);
      } else {
        assert.ok(sizes[2]! < sizes[0]! / 4, `takeover should shrink repeats: ${sizes.join(",")}`);
      }
      peer.close();
      c.close();
    });
  }
}

test("server context takeover is really used: messages referencing the previous one decode", async () => {
  const c = new PerMessageDeflate(params(), { maxMessageSize: MiB });
  const peer = new RefPeer(true, true);
  const msg = randomBytes(5000); // incompressible on its own; the repeat is a pure back-reference
  await c.decompress(await peer.compress(msg));
  const second = await peer.compress(msg);
  assert.ok(second.length < 100, `second payload ${second.length} bytes`);
  assert.deepEqual(await c.decompress(second), msg);
  // ...and a fresh codec cannot decode that second payload on its own
  const fresh = new PerMessageDeflate(params(), { maxMessageSize: MiB });
  await assert.rejects(fresh.decompress(second), isProtocolError(1007));
  peer.close();
  c.close();
  fresh.close();
});

test("window bits: every client/server value 8..15 round-trips with a peer using exactly that window", async () => {
  for (let bits = 8; bits <= 15; bits++) {
    const c = new PerMessageDeflate(params({ clientMaxWindowBits: bits, serverMaxWindowBits: bits }), { maxMessageSize: MiB });
    // A peer inflating with exactly 2^bits (zlib allows inflate windowBits 8) must decode what we send:
    // with bits 8 we deflate with a 512-byte window whose matches never reach farther than 250 bytes.
    const inflater = new RefPeer(true, true, Math.max(bits, 9), bits);
    const data = Buffer.concat([randomBytes(300), randomBytes(200), sample(bits, 20_000)]);
    const rep = Buffer.concat([data.subarray(0, 300), data]); // repeats at distance 300 (> 256)
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await inflater.decompress(await c.compress(rep)), rep, `bits ${bits} message ${i}`);
      assert.deepEqual(await c.decompress(await inflater.compress(rep)), rep, `bits ${bits} incoming ${i}`);
    }
    inflater.close();
    c.close();
  }
});

test("a peer ending a message with BFINAL (RFC 7692 §7.2.3.3): next message starts a new stream", async () => {
  const c = new PerMessageDeflate(params(), { maxMessageSize: MiB });
  const final = zlib.deflateRawSync(Buffer.from("first message")); // Z_FINISH: last block has BFINAL=1
  assert.deepEqual(await c.decompress(final), Buffer.from("first message"));
  assert.equal(c.streams.inflate, false);
  const next = zlib.deflateRawSync(Buffer.from("second"), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  assert.deepEqual(await c.decompress(next.subarray(0, next.length - 4)), Buffer.from("second"));
  c.close();
});

// ------------------------------------------------------------------ limits and errors

test("maxMessageSize on the inflated size: exactly the limit passes, limit+1 fails with 1009", async () => {
  for (const limit of [1, 1000, 16 * 1024, 16 * 1024 + 1, 100_000]) {
    const exact = Buffer.alloc(limit, 0x62);
    const over = Buffer.alloc(limit + 1, 0x62);
    const c = new PerMessageDeflate(params(), { maxMessageSize: limit });
    const peer = new RefPeer(true, true);
    assert.deepEqual(await c.decompress(await peer.compress(exact)), exact);
    await assert.rejects(c.decompress(await peer.compress(over)), isProtocolError(1009, new RegExp(`maxMessageSize \\(${limit} bytes\\)`)));
    // the codec is usable afterwards with a fresh stream (the connection fails anyway, but no leak/crash)
    assert.equal(c.streams.inflate, false);
    peer.close();
    c.close();
  }
});

/** 100 MiB of zeros compressed without ever holding 100 MiB: about 100 KiB. */
async function bomb(total = 100 * MiB): Promise<Buffer> {
  const d = zlib.createDeflateRaw({ level: 9 });
  const chunks: Buffer[] = [];
  d.on("data", (c: Buffer) => chunks.push(c));
  const zeros = Buffer.alloc(MiB);
  for (let i = 0; i < total / MiB; i++) {
    if (!d.write(zeros)) await new Promise((r) => d.once("drain", r));
  }
  await new Promise<void>((r) => d.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
  d.close();
  const out = Buffer.concat(chunks);
  return out.subarray(0, out.length - 4);
}

test("decompression bomb: 100 MiB of zeros fails with 1009 and memory stays bounded", async () => {
  const payload = await bomb();
  assert.ok(payload.length < 200 * 1024, `bomb is ${payload.length} bytes`);
  const limit = 4 * MiB;
  const before = process.memoryUsage();
  let peakRss = before.rss;
  let peakAb = before.arrayBuffers;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakAb = Math.max(peakAb, m.arrayBuffers);
  }, 1);
  const c = new PerMessageDeflate(params(), { maxMessageSize: limit });
  let seen = 0;
  try {
    await assert.rejects(c.decompress(payload), isProtocolError(1009));
    seen++;
    // twice in a row, on a fresh stream
    await assert.rejects(c.decompress(payload), isProtocolError(1009));
    seen++;
  } finally {
    clearInterval(sampler);
    c.close();
  }
  const after = process.memoryUsage();
  peakRss = Math.max(peakRss, after.rss);
  peakAb = Math.max(peakAb, after.arrayBuffers);
  assert.equal(seen, 2);
  // Bounded by the limit plus a chunk, far below the 100 MiB the bomb expands to.
  assert.ok(peakAb - before.arrayBuffers < 3 * limit + 4 * MiB, `arrayBuffers grew by ${(peakAb - before.arrayBuffers) / MiB} MiB`);
  assert.ok(peakRss - before.rss < 48 * MiB, `rss grew by ${(peakRss - before.rss) / MiB} MiB`);
});

test("decompression bomb: the inflater stops within one output chunk of the limit", async () => {
  const payload = await bomb(16 * MiB);
  const c = new PerMessageDeflate(params(), { maxMessageSize: 100_000 });
  const { Transform } = await import("node:stream");
  // Count bytes zlib produced by observing push() on InflateRaw instances created meanwhile.
  let produced = 0;
  const origPush = Transform.prototype.push;
  Transform.prototype.push = function (this: unknown, chunk: unknown, enc?: BufferEncoding) {
    if (this instanceof zlib.InflateRaw && Buffer.isBuffer(chunk)) produced += chunk.length;
    return origPush.call(this as InstanceType<typeof Transform>, chunk, enc);
  };
  try {
    await assert.rejects(c.decompress(payload), isProtocolError(1009));
    // give any stray zlib callback a chance to run
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    Transform.prototype.push = origPush;
    c.close();
  }
  assert.ok(produced > 100_000 && produced <= 100_000 + 16 * 1024, `zlib produced ${produced} bytes`);
});

test("corrupt compressed data fails with 1007 and a clear message", async () => {
  const c = new PerMessageDeflate(params(), { maxMessageSize: MiB });
  // BTYPE=11 is reserved: "invalid block type"
  await assert.rejects(c.decompress(Buffer.from([0xff, 0xff, 0xff])), isProtocolError(1007, /permessage-deflate: invalid compressed data \(.+\)/));
  // a valid message afterwards decodes (new stream)
  const ok = zlib.deflateRawSync(Buffer.from("fine"), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  assert.deepEqual(await c.decompress(ok.subarray(0, ok.length - 4)), Buffer.from("fine"));
  // a back-reference into history this inflater never saw
  const c2 = new PerMessageDeflate(params(), { maxMessageSize: MiB });
  const peer = new RefPeer(true, true);
  const msg = randomBytes(3000);
  await peer.compress(msg);
  const back = await peer.compress(msg);
  await assert.rejects(c2.decompress(back), isProtocolError(1007, /invalid distance too far back/));
  peer.close();
  c.close();
  c2.close();
});

// ------------------------------------------------------------------ ordering, limiter, close

test("concurrent calls on one instance are processed strictly in call order", async () => {
  const c = new PerMessageDeflate(params(), { maxMessageSize: 8 * MiB });
  const msgs = Array.from({ length: 60 }, (_, i) => (i % 5 === 0 ? Buffer.alloc(200_000 + i, i) : sample(i, 1000 + i * 37)));
  // fire all compress calls without awaiting, mixed with decompress calls
  const peer = new RefPeer(true, true);
  const incoming: Buffer[] = [];
  for (const m of msgs) incoming.push(await peer.compress(m));
  const outs = msgs.map((m) => c.compress(m));
  const ins = incoming.map((p) => c.decompress(p));
  const payloads = await Promise.all(outs);
  // with context takeover, only the exact call order decodes
  for (let i = 0; i < msgs.length; i++) assert.deepEqual(await peer.decompress(payloads[i]!), msgs[i], `out ${i}`);
  const decoded = await Promise.all(ins);
  for (let i = 0; i < msgs.length; i++) assert.deepEqual(decoded[i], msgs[i], `in ${i}`);
  peer.close();
  c.close();
});

test("limiter: at most N zlib jobs run at once across instances, FIFO, and all complete", async () => {
  setZlibConcurrency(2);
  try {
    const payload = (await new RefPeer(true, true).compress(Buffer.alloc(2 * MiB, 7)));
    const codecs = Array.from({ length: 12 }, () => new PerMessageDeflate(params(), { maxMessageSize: 4 * MiB }));
    let maxRunning = 0;
    let sawQueue = 0;
    const finished: number[] = [];
    const all = codecs.map((c, i) =>
      c.decompress(payload).then((out) => {
        const s = zlibJobStats();
        maxRunning = Math.max(maxRunning, s.running);
        sawQueue = Math.max(sawQueue, s.queued);
        assert.equal(out.length, 2 * MiB);
        finished.push(i);
      }),
    );
    const s0 = zlibJobStats();
    assert.equal(s0.running, 2);
    assert.equal(s0.queued, 10);
    await Promise.all(all);
    assert.equal(zlibJobStats().peak, 2);
    assert.ok(maxRunning <= 2);
    assert.ok(sawQueue > 0);
    assert.equal(finished.length, 12);
    assert.deepEqual({ running: zlibJobStats().running, queued: zlibJobStats().queued }, { running: 0, queued: 0 });
    for (const c of codecs) c.close();

    // FIFO: with one slot, jobs of different instances complete in call order
    setZlibConcurrency(1);
    const order: number[] = [];
    const fifo = Array.from({ length: 8 }, () => new PerMessageDeflate(params(), { maxMessageSize: 4 * MiB }));
    await Promise.all(fifo.map((c, i) => c.decompress(i % 2 ? payload : Buffer.from([0])).then(() => order.push(i))));
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7]);
    for (const c of fifo) c.close();

    // raising the limit starts waiting jobs at once
    const more = Array.from({ length: 5 }, () => new PerMessageDeflate(params(), { maxMessageSize: 4 * MiB }));
    const ps = more.map((c) => c.decompress(payload));
    assert.deepEqual([zlibJobStats().running, zlibJobStats().queued], [1, 4]);
    setZlibConcurrency(4);
    assert.deepEqual([zlibJobStats().running, zlibJobStats().queued], [4, 1]);
    await Promise.all(ps);
    for (const c of more) c.close();
  } finally {
    setZlibConcurrency(10);
  }
  assert.throws(() => setZlibConcurrency(0), (e: unknown) => e instanceof WebSocketError && e.code === 0);
  assert.throws(() => setZlibConcurrency(1.5), WebSocketError);
});

test("limiter: one instance holds at most one slot per direction", async () => {
  setZlibConcurrency(10);
  const c = new PerMessageDeflate(params(), { maxMessageSize: MiB });
  const ps = Array.from({ length: 20 }, (_, i) => c.compress(sample(i)));
  const qs = Array.from({ length: 20 }, () => c.decompress(Buffer.from("f248cdc9c90700", "hex")));
  assert.equal(zlibJobStats().running, 2);
  await Promise.all([...ps, ...qs.map((q) => q.catch(() => null))]);
  assert.equal(zlibJobStats().running, 0);
  c.close();
});

test("close() rejects pending calls, releases limiter slots and refuses new calls", async () => {
  setZlibConcurrency(1);
  try {
    const blocker = new PerMessageDeflate(params(), { maxMessageSize: 8 * MiB });
    const big = blocker.compress(randomBytes(4 * MiB));
    const c = new PerMessageDeflate(params(), { maxMessageSize: MiB });
    const waiting = [c.compress(sample(1)), c.compress(sample(2)), c.decompress(Buffer.from([0]))];
    assert.equal(zlibJobStats().queued, 2); // one per direction reached the limiter; the rest wait in the instance
    c.close();
    for (const p of waiting) await assert.rejects(p, (e: unknown) => e instanceof WebSocketError && /codec was closed/.test((e as Error).message));
    await assert.rejects(c.compress(sample(3)), WebSocketError);
    await big;
    // the closed instance's queued limiter entries were skipped without leaking slots
    await new Promise((r) => setImmediate(r));
    assert.deepEqual([zlibJobStats().running, zlibJobStats().queued], [0, 0]);
    // closing while a job runs inside zlib
    const d = new PerMessageDeflate(params(), { maxMessageSize: 8 * MiB });
    const running = d.compress(randomBytes(4 * MiB));
    d.close();
    await assert.rejects(running, WebSocketError);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(zlibJobStats().running, 0);
    assert.deepEqual(d.streams, { deflate: false, inflate: false });
    blocker.close();
  } finally {
    setZlibConcurrency(10);
  }
});

test("streams are created lazily and freed after each message without context takeover", async () => {
  const lazy = new PerMessageDeflate(params(), { maxMessageSize: MiB });
  assert.deepEqual(lazy.streams, { deflate: false, inflate: false });
  await lazy.compress(sample(1));
  assert.deepEqual(lazy.streams, { deflate: true, inflate: false });
  lazy.close();
  assert.deepEqual(lazy.streams, { deflate: false, inflate: false });

  const off = new PerMessageDeflate(params({ clientNoContextTakeover: true, serverNoContextTakeover: true }), { maxMessageSize: MiB });
  await off.compress(sample(1));
  await off.decompress(Buffer.from("f248cdc9c90700", "hex"));
  assert.deepEqual(off.streams, { deflate: false, inflate: false });
  off.close();
});
