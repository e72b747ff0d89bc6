import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { FrameParser, type FrameEvent } from "../../src/protocol/parser.js";
import { encodeFrame } from "../../src/protocol/frame.js";
import { encodeClosePayload } from "../../src/protocol/close.js";
import { Opcode } from "../../src/protocol/opcodes.js";
import { ProtocolError } from "../../src/errors.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

/** An unmasked server frame. */
function frame(opcode: number, payload: Uint8Array | string = "", o: { fin?: boolean; rsv1?: boolean } = {}): Buffer {
  const p = typeof payload === "string" ? Buffer.from(payload) : payload;
  if (opcode >= 8 && (p.length > 125 || o.fin === false)) {
    // encodeFrame refuses invalid control frames; build them by hand for violation tests.
    const f = encodeFrame({ opcode: Opcode.BINARY, payload: p, fin: o.fin, rsv1: o.rsv1, maskKey: null });
    f[0] = (f[0]! & 0xf0) | opcode;
    return f;
  }
  return encodeFrame({ opcode, payload: p, fin: o.fin, rsv1: o.rsv1, maskKey: null });
}

/** Events in a comparable form (Buffers copied to hex). */
type Plain = { kind: string; opcode?: number; data: string; compressed?: boolean; code?: number; reason?: string };
function plain(e: FrameEvent): Plain {
  const data = e.data.toString("hex");
  switch (e.kind) {
    case "message":
      return { kind: e.kind, opcode: e.opcode, data, compressed: e.compressed };
    case "close":
      return { kind: e.kind, code: e.code, reason: e.reason, data };
    default:
      return { kind: e.kind, data };
  }
}

/** Pushes `chunks` one at a time, draining events after each. Returns events, or the error code. */
function run(chunks: Buffer[], opts = { maxMessageSize: 1 << 24 } as { maxMessageSize: number; rsv1Allowed?: boolean }): {
  events: Plain[];
  error?: number;
} {
  const p = new FrameParser(opts);
  const events: Plain[] = [];
  try {
    for (const c of chunks) {
      p.push(c);
      for (let e = p.next(); e !== null; e = p.next()) events.push(plain(e));
    }
  } catch (err) {
    assert.ok(err instanceof ProtocolError, String(err));
    assert.throws(() => p.next(), (again: unknown) => again === err, "stays failed with the same error");
    return { events, error: err.code };
  }
  return { events };
}

/** Every way of cutting `buf` in two, plus one byte at a time. */
function splits(buf: Buffer): Buffer[][] {
  const out: Buffer[][] = [];
  for (let i = 0; i <= buf.length; i++) out.push([buf.subarray(0, i), buf.subarray(i)].filter((b) => b.length > 0));
  const bytes: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) bytes.push(buf.subarray(i, i + 1));
  out.push(bytes);
  return out;
}

const msg = (opcode: 1 | 2, data: string | Buffer, compressed = false): Plain => ({
  kind: "message",
  opcode,
  data: (typeof data === "string" ? Buffer.from(data) : data).toString("hex"),
  compressed,
});

test("RFC 6455 §5.7 examples", () => {
  assert.deepEqual(run([hex("81 05 48656c6c6f")]).events, [msg(1, "Hello")]);
  assert.deepEqual(run([hex("01 03 48656c 80 02 6c6f")]).events, [msg(1, "Hello")]);
  assert.deepEqual(run([hex("89 05 48656c6c6f")]).events, [{ kind: "ping", data: Buffer.from("Hello").toString("hex") }]);
  assert.deepEqual(run([hex("8a 05 48656c6c6f")]).events, [{ kind: "pong", data: Buffer.from("Hello").toString("hex") }]);
  const b256 = Buffer.alloc(256, 9);
  assert.deepEqual(run([Buffer.concat([hex("82 7e 0100"), b256])]).events, [msg(2, b256)]);
  const b64k = Buffer.alloc(65536, 9);
  assert.deepEqual(run([Buffer.concat([hex("82 7f 0000000000010000"), b64k])]).events, [msg(2, b64k)]);
  // The masked example is a client frame: a server must not send it.
  assert.equal(run([hex("81 85 37fa213d 7f9f4d5158")]).error, 1002);
});

test("length boundaries 0/125/126/65535/65536, single chunk and split", () => {
  for (const len of [0, 1, 125, 126, 127, 65535, 65536, 65537]) {
    const payload = Buffer.alloc(len);
    for (let i = 0; i < len; i++) payload[i] = i & 0xff;
    const f = frame(Opcode.BINARY, payload);
    assert.deepEqual(run([f]).events, [msg(2, payload)], `len ${len}`);
    for (const cut of [1, 2, 3, 4, 9, 10, 11, f.length - 1]) {
      if (cut <= 0 || cut >= f.length) continue;
      assert.deepEqual(run([f.subarray(0, cut), f.subarray(cut)]).events, [msg(2, payload)], `len ${len} cut ${cut}`);
    }
  }
});

test("every violation yields its close code and the parser stays failed", () => {
  const cases: Array<[string, Buffer[], number, { maxMessageSize: number; rsv1Allowed?: boolean }?]> = [
    ["masked server frame", [hex("82 81 00000000 00")], 1002],
    ["RSV1 without extension", [frame(Opcode.BINARY, "x", { rsv1: true })], 1002],
    ["RSV2", [hex("a2 00")], 1002],
    ["RSV3", [hex("92 00")], 1002],
    ["RSV1 on a control frame", [hex("c9 00")], 1002, { maxMessageSize: 100, rsv1Allowed: true }],
    ["RSV1 on a continuation", [frame(1, "a", { fin: false }), frame(0, "b", { rsv1: true })], 1002, { maxMessageSize: 100, rsv1Allowed: true }],
    ...[3, 4, 5, 6, 7].map((op): [string, Buffer[], number] => [`reserved data opcode ${op}`, [hex(`8${op} 00`)], 1002]),
    ...[0xb, 0xc, 0xd, 0xe, 0xf].map((op): [string, Buffer[], number] => [`reserved control opcode ${op}`, [hex(`8${op.toString(16)} 00`)], 1002]),
    ["fragmented ping", [frame(Opcode.PING, "x", { fin: false })], 1002],
    ["fragmented close", [frame(Opcode.CLOSE, "", { fin: false })], 1002],
    ["ping > 125 bytes", [frame(Opcode.PING, Buffer.alloc(126))], 1002],
    ["pong > 125 bytes (64-bit length)", [hex("8a 7f 0000000000000010")], 1002],
    ["continuation without start", [frame(0, "x")], 1002],
    ["new data frame inside a fragmented message", [frame(1, "a", { fin: false }), frame(2, "b")], 1002],
    ["new text frame inside a fragmented message", [frame(2, "a", { fin: false }), frame(1, "b", { fin: false })], 1002],
    ["64-bit length with MSB set", [hex("82 7f 8000000000000000")], 1002],
    ["close with 1-byte payload", [frame(Opcode.CLOSE, Buffer.from([3]))], 1002],
    ["close with code 1005", [frame(Opcode.CLOSE, Buffer.from([0x03, 0xed]))], 1002],
    ["close with code 999", [frame(Opcode.CLOSE, Buffer.from([0x03, 0xe7]))], 1002],
    ["close with code 5000", [frame(Opcode.CLOSE, Buffer.from([0x13, 0x88]))], 1002],
    ["close reason not UTF-8", [frame(Opcode.CLOSE, Buffer.from([0x03, 0xe8, 0xc3]))], 1007],
    ["text not UTF-8", [frame(1, Buffer.from([0x61, 0xff]))], 1007],
    ["short text not UTF-8", [frame(1, Buffer.from([0xc0, 0x80]))], 1007],
    ["long text not UTF-8", [frame(1, Buffer.concat([Buffer.alloc(300, 0x61), Buffer.from([0xed, 0xa0, 0x80])]))], 1007],
    ["fragmented text, bad fragment", [frame(1, "ok", { fin: false }), frame(0, Buffer.from([0xe0, 0x80]), { fin: false })], 1007],
    ["fragmented text ending mid code point", [frame(1, "ok", { fin: false }), frame(0, Buffer.from([0xe2, 0x82]))], 1007],
    ["message > maxMessageSize", [frame(2, Buffer.alloc(11))], 1009, { maxMessageSize: 10 }],
    ["text > maxMessageSize", [frame(1, "x".repeat(11))], 1009, { maxMessageSize: 10 }],
    ["fragments > maxMessageSize", [frame(2, Buffer.alloc(6), { fin: false }), frame(0, Buffer.alloc(5))], 1009, { maxMessageSize: 10 }],
  ];
  for (const [name, chunks, code, opts] of cases) {
    const whole = Buffer.concat(chunks);
    for (const split of splits(whole)) {
      const r = run(split, opts ?? { maxMessageSize: 1 << 20 });
      assert.equal(r.error, code, `${name}: split ${split.map((b) => b.length).join("+")}`);
    }
  }
});

test("1009 is raised at the frame header, before the payload arrives", () => {
  const p = new FrameParser({ maxMessageSize: 1000 });
  p.push(hex("82 7f 0000000100000000")); // 4 GiB announced, nothing sent
  assert.throws(() => p.next(), (e: unknown) => e instanceof ProtocolError && e.code === 1009);
  const q = new FrameParser({ maxMessageSize: 1000 });
  q.push(frame(2, Buffer.alloc(600), { fin: false }));
  assert.equal(q.next(), null);
  q.push(hex("00 7e 0190")); // continuation of 400 more: 1000 total, allowed
  assert.equal(q.next(), null);
  q.push(Buffer.alloc(400));
  assert.equal(q.next(), null);
  q.push(hex("80 01")); // one more byte: 1001
  assert.throws(() => q.next(), (e: unknown) => e instanceof ProtocolError && e.code === 1009);
  assert.throws(() => q.next(), (e: unknown) => e instanceof ProtocolError && e.code === 1009);
  assert.equal(q.bufferedBytes, 0, "buffers released after failure");
});

test("compressed messages (RSV1 with rsv1Allowed): flag set, UTF-8 left to the inflater", () => {
  const opts = { maxMessageSize: 1000, rsv1Allowed: true };
  assert.deepEqual(run([frame(1, Buffer.from([0xff, 0xfe]), { rsv1: true })], opts).events, [msg(1, Buffer.from([0xff, 0xfe]), true)]);
  assert.deepEqual(
    run([frame(2, "ab", { rsv1: true, fin: false }), frame(9, "p"), frame(0, "cd")], opts).events,
    [{ kind: "ping", data: "70" }, msg(2, "abcd", true)],
  );
  const p = new FrameParser({ maxMessageSize: 10 });
  p.rsv1Allowed = true;
  assert.equal(p.rsv1Allowed, true);
  p.push(frame(2, "z", { rsv1: true }));
  assert.equal((p.next() as { compressed: boolean }).compressed, true);
});

/** Frames and the events they must produce, covering fragmentation and interleaved control frames. */
const CORPUS: Array<{ bytes: Buffer; events: Plain[] }> = (() => {
  const big = Buffer.alloc(70000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  const euro = Buffer.from("a€😀b");
  const items: Array<[Buffer[], Plain[]]> = [
    [[frame(1, "hello")], [msg(1, "hello")]],
    [[frame(2, Buffer.alloc(0))], [msg(2, Buffer.alloc(0))]],
    [[frame(1, "")], [msg(1, "")]],
    [[frame(2, big.subarray(0, 300))], [msg(2, big.subarray(0, 300))]],
    [[frame(2, big)], [msg(2, big)]],
    [[frame(9, "")], [{ kind: "ping", data: "" }]],
    [[frame(10, "pong!")], [{ kind: "pong", data: Buffer.from("pong!").toString("hex") }]],
    // Text split inside multi-byte code points, with control frames between the fragments.
    [
      [
        frame(1, euro.subarray(0, 2), { fin: false }),
        frame(9, "p1"),
        frame(0, euro.subarray(2, 5), { fin: false }),
        frame(0, Buffer.alloc(0), { fin: false }),
        frame(10, "p2"),
        frame(0, euro.subarray(5)),
      ],
      [{ kind: "ping", data: Buffer.from("p1").toString("hex") }, { kind: "pong", data: Buffer.from("p2").toString("hex") }, msg(1, euro)],
    ],
    [
      [frame(2, big.subarray(0, 1000), { fin: false }), frame(0, big.subarray(1000, 1001), { fin: false }), frame(0, big.subarray(1001, 66000))],
      [msg(2, big.subarray(0, 66000))],
    ],
    [[frame(1, "x".repeat(125))], [msg(1, "x".repeat(125))]],
    [[frame(8, encodeClosePayload(1000, "bye €"))], [{ kind: "close", code: 1000, reason: "bye €", data: encodeClosePayload(1000, "bye €").toString("hex") }]],
    [[frame(8, "")], [{ kind: "close", code: 1005, reason: "", data: "" }]],
  ];
  return items.map(([frames, events]) => ({ bytes: Buffer.concat(frames), events }));
})();

test("corpus: input split at every byte position gives identical events", () => {
  const all = Buffer.concat(CORPUS.filter((c) => c.bytes.length < 2000).map((c) => c.bytes));
  const allEvents = CORPUS.filter((c) => c.bytes.length < 2000).flatMap((c) => c.events);
  for (const split of splits(all)) assert.deepEqual(run(split), { events: allEvents });
  // Large items: every cut near the header and the end, and a range of cuts inside.
  for (const c of CORPUS.filter((x) => x.bytes.length >= 2000)) {
    const cuts = new Set<number>();
    for (let i = 0; i < 40; i++) {
      cuts.add(i);
      cuts.add(c.bytes.length - i);
    }
    for (let i = 0; i < c.bytes.length; i += 997) cuts.add(i);
    for (const cut of cuts) {
      if (cut < 0 || cut > c.bytes.length) continue;
      const parts = [c.bytes.subarray(0, cut), c.bytes.subarray(cut)].filter((b) => b.length > 0);
      assert.deepEqual(run(parts), { events: c.events }, `cut ${cut}`);
    }
    // Three-way cuts.
    for (let i = 1; i < 30; i += 3) {
      const j = Math.floor(c.bytes.length / 2) + i;
      assert.deepEqual(run([c.bytes.subarray(0, i), c.bytes.subarray(i, j), c.bytes.subarray(j)]), { events: c.events });
    }
  }
});

test("zero-copy: payloads inside one chunk are views of it; spanning frames get one exact buffer", () => {
  const frames = [frame(2, "one"), frame(1, "two"), frame(2, Buffer.alloc(300, 1)), frame(9, "p")];
  const chunk = Buffer.concat(frames);
  const p = new FrameParser({ maxMessageSize: 1 << 20 });
  p.push(chunk);
  let off = 0;
  for (const f of frames) {
    const e = p.next()!;
    const hdr = f.length - e.data.length;
    assert.equal(e.data.buffer, chunk.buffer, "same memory as the chunk");
    assert.equal(e.data.byteOffset, chunk.byteOffset + off + hdr);
    off += f.length;
  }
  assert.equal(p.next(), null);
  assert.equal(p.bufferedBytes, 0);

  const big = Buffer.alloc(100000, 3);
  const f = frame(2, big);
  const q = new FrameParser({ maxMessageSize: 1 << 20 });
  const parts = [f.subarray(0, 5000), f.subarray(5000, 50000), f.subarray(50000)].map((b) => Buffer.from(b));
  q.push(parts[0]!);
  assert.equal(q.next(), null);
  assert.equal(q.bufferedBytes, 4990, "payload bytes held (the header is consumed)");
  q.push(parts[1]!);
  assert.equal(q.next(), null);
  assert.equal(q.bufferedBytes, 49990);
  q.push(parts[2]!);
  const e = q.next()!;
  assert.equal(e.data.length, 100000);
  assert.equal(e.data.buffer.byteLength, 100000, "one buffer allocated at the frame's length");
  assert.ok(e.data.equals(big));
  assert.equal(q.bufferedBytes, 0);
});

test("zero-copy slices are never aliased by later parsing", () => {
  // Many frames, some split across chunks (header and payload), parsed in one go; every event's
  // data must still hold its bytes after everything else has been parsed.
  const frames: Buffer[] = [];
  const expected: Buffer[] = [];
  for (let i = 0; i < 200; i++) {
    const len = (i * 37) % 400;
    const payload = Buffer.alloc(len, i & 0xff);
    expected.push(payload);
    frames.push(frame(2, payload));
  }
  const all = Buffer.concat(frames);
  const p = new FrameParser({ maxMessageSize: 1 << 20 });
  const got: Buffer[] = [];
  for (let off = 0; off < all.length; off += 173) {
    p.push(Buffer.from(all.subarray(off, off + 173)));
    for (let e = p.next(); e !== null; e = p.next()) got.push(e.data);
  }
  assert.equal(got.length, expected.length);
  for (let i = 0; i < got.length; i++) assert.ok(got[i]!.equals(expected[i]!), `event ${i}`);
});

test("bufferedBytes counts queued input and partial messages", () => {
  const p = new FrameParser({ maxMessageSize: 1 << 20 });
  assert.equal(p.bufferedBytes, 0);
  p.push(frame(2, "abc", { fin: false }));
  assert.equal(p.bufferedBytes, 5);
  assert.equal(p.next(), null);
  assert.equal(p.bufferedBytes, 3);
  p.push(frame(0, "de").subarray(0, 3));
  assert.equal(p.next(), null);
  assert.equal(p.bufferedBytes, 3 + 1);
  p.push(Buffer.from("e"));
  assert.deepEqual(plain(p.next()!), msg(2, "abcde"));
  assert.equal(p.bufferedBytes, 0);
  p.push(Buffer.alloc(0));
  assert.equal(p.next(), null);
});

test("property: random valid frame sequences, random chunking -> identical events", () => {
  type Msg = { kind: "data"; opcode: 1 | 2; fragments: Buffer[] } | { kind: "ctl"; opcode: 9 | 10; data: Buffer };
  const payload = fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 120, maxLength: 70000 }) },
  );
  const text = fc.string({ unit: "grapheme", maxLength: 30 });
  const dataMsg = fc.oneof(
    fc.record({ opcode: fc.constant(2 as const), body: payload }),
    fc.record({ opcode: fc.constant(1 as const), body: text.map((s) => new Uint8Array(Buffer.from(s))) }),
  );
  const item = fc.oneof(
    { weight: 3, arbitrary: fc.tuple(dataMsg, fc.array(fc.nat(), { maxLength: 4 })) },
    { weight: 1, arbitrary: fc.record({ opcode: fc.constantFrom(9 as const, 10 as const), data: fc.uint8Array({ maxLength: 125 }) }) },
  );
  fc.assert(
    fc.property(fc.array(item, { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 20 }), fc.array(fc.integer({ min: 0, max: 125 }), { maxLength: 3 }), (items, sizes, ctlSizes) => {
      const msgs: Msg[] = items.map((it) => {
        if (Array.isArray(it)) {
          const [{ opcode, body }, rawCuts] = it;
          const b = Buffer.from(body);
          const cuts = [...new Set(rawCuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
          const fragments: Buffer[] = [];
          let prev = 0;
          for (const c of [...cuts, b.length]) {
            fragments.push(b.subarray(prev, c));
            prev = c;
          }
          return { kind: "data", opcode, fragments };
        }
        return { kind: "ctl", opcode: it.opcode, data: Buffer.from(it.data) };
      });
      const wire: Buffer[] = [];
      const want: Plain[] = [];
      for (const m of msgs) {
        if (m.kind === "ctl") {
          wire.push(frame(m.opcode, m.data));
          want.push({ kind: m.opcode === 9 ? "ping" : "pong", data: m.data.toString("hex") });
          continue;
        }
        m.fragments.forEach((f, i) => {
          wire.push(frame(i === 0 ? m.opcode : 0, f, { fin: i === m.fragments.length - 1 }));
          // A ping between fragments must come out before the message.
          if (i < m.fragments.length - 1 && ctlSizes.length > 0) {
            const ping = Buffer.alloc(ctlSizes[i % ctlSizes.length]!, i);
            wire.push(frame(9, ping));
            want.push({ kind: "ping", data: ping.toString("hex") });
          }
        });
        want.push(msg(m.opcode, Buffer.concat(m.fragments)));
      }
      const all = Buffer.concat(wire);
      const chunks: Buffer[] = [];
      let off = 0;
      for (let i = 0; off < all.length; i++) {
        const n = sizes[i % sizes.length]!;
        chunks.push(Buffer.from(all.subarray(off, off + n)));
        off += n;
      }
      assert.deepEqual(run(chunks), { events: want });
      assert.deepEqual(run([all]), { events: want });
    }),
    { numRuns: 300 },
  );
});

test("property: arbitrary bytes never crash the parser and the outcome does not depend on chunking", () => {
  // Biased towards plausible headers so that parsing gets past the first frame often.
  const header = fc.tuple(fc.constantFrom(0x00, 0x01, 0x02, 0x80, 0x81, 0x82, 0x88, 0x89, 0x8a, 0xc1, 0x03, 0x8b), fc.integer({ min: 0, max: 130 }));
  const piece = fc.oneof(
    header.map(([b0, b1]) => new Uint8Array([b0, b1])),
    fc.uint8Array({ maxLength: 20 }),
    fc.constantFrom(new Uint8Array([0x7e, 0x00, 0x80]), new Uint8Array([0x7f, 0, 0, 0, 0, 0, 1, 0, 0])),
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 8 }), (pieces, sizes) => {
      const all = Buffer.concat(pieces);
      const opts = { maxMessageSize: 200 };
      const whole = run([all], opts);
      const chunks: Buffer[] = [];
      for (let off = 0, i = 0; off < all.length; i++) {
        const n = sizes[i % sizes.length]!;
        chunks.push(all.subarray(off, off + n));
        off += n;
      }
      assert.deepEqual(run(chunks, opts), whole);
    }),
    { numRuns: 2000 },
  );
});

test("a large text frame is validated as its chunks arrive: bad UTF-8 fails before the rest is buffered", () => {
  const body = Buffer.concat([Buffer.from("ok ".repeat(100)), Buffer.from([0xff]), Buffer.alloc(100000, 0x61)]);
  const f = frame(1, body);
  const p = new FrameParser({ maxMessageSize: 1 << 20 });
  p.push(f.subarray(0, 200));
  assert.equal(p.next(), null);
  p.push(f.subarray(200, 1000)); // contains the 0xff; 99 KB still missing
  assert.throws(() => p.next(), (e: unknown) => e instanceof ProtocolError && e.code === 1007);
});

test("large multi-byte text frames and fragments split at every chunk offset inside code points", () => {
  const text = "ascii é € 😀 ".repeat(3000); // > 64 KiB, code points of 1-4 bytes
  const body = Buffer.from(text);
  const whole = frame(1, body);
  const fragmented = Buffer.concat([
    frame(1, body.subarray(0, 40001), { fin: false }),
    frame(9, "x"),
    frame(0, body.subarray(40001, 40003), { fin: false }),
    frame(0, body.subarray(40003)),
  ]);
  for (const [wire, events] of [
    [whole, [msg(1, body)]],
    [fragmented, [{ kind: "ping", data: "78" }, msg(1, body)]],
  ] as const) {
    for (const size of [1000, 1001, 1002, 1003, 4096, 65535]) {
      const chunks: Buffer[] = [];
      for (let off = 0; off < wire.length; off += size) chunks.push(wire.subarray(off, off + size));
      assert.deepEqual(run(chunks), { events }, `chunk size ${size}`);
    }
  }
  // Ending inside a code point is caught at the end of a single assembled frame too.
  const cut = Buffer.concat([Buffer.alloc(5000, 0x61), Buffer.from([0xe2, 0x82])]);
  const bad = frame(1, cut);
  assert.equal(run([bad.subarray(0, 3000), bad.subarray(3000)]).error, 1007);
});

// ---------------------------------------------------------------- direct targets (read in place)

test("directTarget: offered only mid-payload with nothing queued; commitDirect completes the frame", () => {
  const payload = Buffer.from(Array.from({ length: 5000 }, (_, i) => i & 0xff));
  const wire = encodeFrame({ opcode: Opcode.BINARY, payload, maskKey: null });
  const p = new FrameParser({ maxMessageSize: 1 << 20 });
  assert.equal(p.directTarget(1), null, "no frame open");
  p.push(wire.subarray(0, 1004)); // 4-byte header + 1000 payload bytes
  assert.equal(p.directTarget(1), null, "input still queued");
  assert.equal(p.next(), null);
  assert.equal(p.directTarget(4001), null, "less than min left");
  const t = p.directTarget(4000)!;
  assert.equal(t.length, 4000);
  wire.copy(t, 0, 1004, 3004); // a partial read in place
  p.commitDirect(2000);
  assert.equal(p.next(), null);
  assert.equal(p.directTarget(1)!.length, 2000);
  const t2 = p.directTarget(1)!;
  wire.copy(t2, 0, 3004);
  p.commitDirect(2000);
  const ev = p.next();
  assert.ok(ev && ev.kind === "message");
  assert.deepEqual(ev.data, payload);
  assert.equal(p.directTarget(1), null);
  assert.throws(() => p.commitDirect(1), RangeError);
});

test("commitDirect: UTF-8 is checked across in-place pieces; a bad byte fails the next call with 1007", () => {
  const good = Buffer.from("€".repeat(1000)); // 3000 bytes
  const wire = encodeFrame({ opcode: Opcode.TEXT, payload: good, maskKey: null });
  const p = new FrameParser({ maxMessageSize: 1 << 20 });
  p.push(wire.subarray(0, 5)); // header + 1 byte (splits the first code point)
  assert.equal(p.next(), null);
  for (let off = 5; off < wire.length; ) {
    const t = p.directTarget(1)!;
    const n = Math.min(7, t.length); // 7-byte pieces split code points everywhere
    wire.copy(t, 0, off, off + n);
    p.commitDirect(n);
    off += n;
  }
  const ev = p.next();
  assert.ok(ev && ev.kind === "message");
  assert.equal(ev.data.toString(), good.toString());

  const bad = Buffer.from(good);
  bad[1500] = 0xff;
  const wire2 = encodeFrame({ opcode: Opcode.TEXT, payload: bad, maskKey: null });
  const q = new FrameParser({ maxMessageSize: 1 << 20 });
  q.push(wire2.subarray(0, 10));
  assert.equal(q.next(), null);
  const t = q.directTarget(1)!;
  wire2.copy(t, 0, 10);
  q.commitDirect(t.length);
  assert.throws(() => q.next(), (e: unknown) => e instanceof ProtocolError && e.code === 1007);
  assert.equal(q.directTarget(1), null, "a failed parser offers nothing");
});
