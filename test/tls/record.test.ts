import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { TlsError } from "../../src/errors.js";
import { RecordDecryptor, RecordEncryptor, RecordReader } from "../../src/tls/record.js";
import { suiteInfo } from "../../src/tls/key-schedule.js";
import { RFC8448, hex } from "./helpers/rfc8448.js";

const suite128 = suiteInfo(0x1301)!;

test("record: RFC 8448 client application record (seq 0, AES-128-GCM)", () => {
  const enc = new RecordEncryptor(suite128, hex(RFC8448.clientApTrafficSecret));
  assert.equal(enc.seal(23, hex(RFC8448.appPayload)).toString("hex"), RFC8448.clientAppRecord);
  const dec = new RecordDecryptor(suite128, hex(RFC8448.clientApTrafficSecret));
  const rec = hex(RFC8448.clientAppRecord);
  const out = dec.open(rec.subarray(0, 5), rec.subarray(5));
  assert.equal(out.type, 23);
  assert.equal(out.data.toString("hex"), RFC8448.appPayload);
});

test("record: every suite round-trips, with padding, across sequence numbers", () => {
  for (const id of [0x1301, 0x1302, 0x1303]) {
    const s = suiteInfo(id)!;
    const secret = randomBytes(s.hashLength);
    const enc = new RecordEncryptor(s, secret);
    const dec = new RecordDecryptor(s, secret);
    for (let i = 0; i < 50; i++) {
      const data = randomBytes(i * 37);
      const rec = enc.seal(i % 2 ? 23 : 22, data, i % 5);
      const { type, data: got } = dec.open(rec.subarray(0, 5), rec.subarray(5));
      assert.equal(type, i % 2 ? 23 : 22);
      assert.deepEqual(got, data);
    }
  }
});

test("record: a flipped bit anywhere fails with bad_record_mac", () => {
  const secret = randomBytes(32);
  const rec = new RecordEncryptor(suite128, secret).seal(23, Buffer.from("hello"));
  for (let i = 0; i < rec.length; i++) {
    if (i >= 3 && i < 5) continue; // the length field changes framing, not content
    const bad = Buffer.from(rec);
    bad[i]! ^= 0x40;
    const dec = new RecordDecryptor(suite128, secret);
    assert.throws(() => dec.open(bad.subarray(0, 5), bad.subarray(5)), (e: unknown) => e instanceof TlsError && e.alert === "bad_record_mac");
  }
});

test("record: replayed (wrong sequence) record fails", () => {
  const secret = randomBytes(32);
  const enc = new RecordEncryptor(suite128, secret);
  const dec = new RecordDecryptor(suite128, secret);
  const r0 = enc.seal(23, Buffer.from("a"));
  dec.open(r0.subarray(0, 5), r0.subarray(5));
  assert.throws(() => dec.open(r0.subarray(0, 5), r0.subarray(5)), TlsError);
});

test("record: all-zero inner plaintext is unexpected_message; > 2^14 plaintext is record_overflow", () => {
  const secret = randomBytes(32);
  const enc = new RecordEncryptor(suite128, secret);
  // A record whose content type byte is 0 and the rest padding: seal type 0.
  const zero = enc.seal(0, Buffer.alloc(0), 3);
  const dec = new RecordDecryptor(suite128, secret);
  assert.throws(() => dec.open(zero.subarray(0, 5), zero.subarray(5)), (e: unknown) => e instanceof TlsError && e.alert === "unexpected_message");
  // 2^14 + 1 bytes of content: build with sealInto bypassing the guard via padding trick is not
  // possible, so seal 2^14 content + type and check the decryptor accepts exactly the limit.
  const enc2 = new RecordEncryptor(suite128, secret);
  const dec2 = new RecordDecryptor(suite128, secret);
  const max = enc2.seal(23, Buffer.alloc(1 << 14, 1));
  assert.equal(dec2.open(max.subarray(0, 5), max.subarray(5)).data.length, 1 << 14);
});

test("record reader: splits streams at any boundary, zero-copy inside a chunk", () => {
  const records = [Buffer.concat([Buffer.from([23, 3, 3, 0, 3]), Buffer.from("abc")]), Buffer.concat([Buffer.from([22, 3, 3, 0, 0])]), Buffer.concat([Buffer.from([21, 3, 3, 0, 2]), Buffer.from([1, 0])])];
  const all = Buffer.concat(records);
  for (let step = 1; step <= all.length; step++) {
    const r = new RecordReader();
    const got: string[] = [];
    for (let o = 0; o < all.length; o += step) {
      r.push(all.subarray(o, o + step));
      for (let rec = r.next(); rec; rec = r.next()) got.push(`${rec.type}:${rec.fragment.toString("hex")}`);
    }
    assert.deepEqual(got, ["23:616263", "22:", "21:0100"]);
    assert.equal(r.bufferedBytes, 0);
  }
  const r = new RecordReader();
  r.push(all);
  assert.equal(r.next()!.fragment.buffer, all.buffer); // a view, not a copy
});

test("record reader: oversized or malformed headers", () => {
  const r = new RecordReader();
  r.push(Buffer.from([23, 3, 3, 0x41, 0x01])); // 2^14 + 257
  assert.throws(() => r.next(), (e: unknown) => e instanceof TlsError && e.alert === "record_overflow");
  const r2 = new RecordReader();
  r2.push(Buffer.from([99, 3, 3, 0, 1, 0]));
  assert.throws(() => r2.next(), (e: unknown) => e instanceof TlsError && e.alert === "unexpected_message");
  const r3 = new RecordReader();
  r3.push(Buffer.from([23, 2, 0, 0, 1, 0]));
  assert.throws(() => r3.next(), (e: unknown) => e instanceof TlsError && e.alert === "protocol_version");
});

test("record: decrypted content is a fresh buffer per record (callers keep slices)", () => {
  const secret = randomBytes(32);
  const enc = new RecordEncryptor(suite128, secret);
  const dec = new RecordDecryptor(suite128, secret);
  const outs: Buffer[] = [];
  for (let i = 0; i < 20; i++) {
    const rec = enc.seal(23, Buffer.from([i, i, i]));
    outs.push(dec.open(rec.subarray(0, 5), rec.subarray(5)).data);
  }
  const buffers = new Set(outs.map((b) => b.buffer));
  assert.equal(buffers.size, outs.length);
  outs.forEach((b, i) => assert.deepEqual(b, Buffer.from([i, i, i])));
});

test("RecordReader: transient chunks — straddling records gathered into the scratch, the unread tail copied by settle()", () => {
  const secret = randomBytes(32);
  const enc = new RecordEncryptor(suite128, secret);
  const dec = new RecordDecryptor(suite128, secret);
  const payloads = Array.from({ length: 40 }, (_, i) => randomBytes(i % 7 === 0 ? 16384 : 1 + ((i * 977) % 9000)));
  const wire = Buffer.concat(payloads.map((p) => enc.seal(23, p)));
  const r = new RecordReader();
  const out: Buffer[] = [];
  // One reusable "read buffer", overwritten after every push like a shared bounce buffer.
  const bounce = Buffer.alloc(6000);
  for (let off = 0; off < wire.length; ) {
    const n = Math.min(bounce.length, wire.length - off, 1 + ((off * 31) % bounce.length));
    wire.copy(bounce, 0, off, off + n);
    off += n;
    r.push(bounce.subarray(0, n));
    for (let rec = r.next(true); rec; rec = r.next(true)) out.push(dec.open(rec.header, rec.fragment).data);
    r.settle();
    bounce.fill(0xee); // the next read overwrites it
  }
  assert.equal(r.bufferedBytes, 0);
  assert.equal(out.length, payloads.length);
  for (let i = 0; i < payloads.length; i++) assert.ok(out[i]!.equals(payloads[i]!), `record ${i}`);
});

test("RecordReader: settle() keeps a partial record across an overwritten chunk", () => {
  const r = new RecordReader();
  const rec = Buffer.concat([Buffer.from([23, 3, 3, 0, 20]), randomBytes(20)]);
  const chunk = Buffer.from(rec.subarray(0, 12));
  r.push(chunk);
  assert.equal(r.next(true), null);
  r.settle();
  chunk.fill(0);
  r.push(Buffer.from(rec.subarray(12)));
  const got = r.next(true)!;
  assert.deepEqual(Buffer.concat([got.header, got.fragment]), rec);
});
