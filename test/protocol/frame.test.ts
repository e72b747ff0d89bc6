import { test } from "node:test";
import assert from "node:assert/strict";
import {
  encodeFrame,
  frameHeaderLength,
  writeClientFrame,
  writeFrameHeader,
  writeSmallClientFrame,
} from "../../src/protocol/frame.js";
import { Opcode } from "../../src/protocol/opcodes.js";
import { WebSocketError } from "../../src/errors.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");
const KEY = hex("37fa213d");

test("RFC 6455 §5.7 examples, byte for byte", () => {
  const hello = Buffer.from("Hello");
  assert.deepEqual(encodeFrame({ opcode: Opcode.TEXT, payload: hello, maskKey: null }), hex("81 05 48656c6c6f"));
  assert.deepEqual(encodeFrame({ opcode: Opcode.TEXT, payload: hello, maskKey: KEY }), hex("81 85 37fa213d 7f9f4d5158"));
  assert.deepEqual(
    encodeFrame({ opcode: Opcode.TEXT, payload: Buffer.from("Hel"), fin: false, maskKey: null }),
    hex("01 03 48656c"),
  );
  assert.deepEqual(encodeFrame({ opcode: Opcode.CONT, payload: Buffer.from("lo"), maskKey: null }), hex("80 02 6c6f"));
  assert.deepEqual(encodeFrame({ opcode: Opcode.PING, payload: hello, maskKey: null }), hex("89 05 48656c6c6f"));
  assert.deepEqual(encodeFrame({ opcode: Opcode.PONG, payload: hello, maskKey: KEY }), hex("8a 85 37fa213d 7f9f4d5158"));
  const b256 = Buffer.alloc(256, 7);
  assert.deepEqual(encodeFrame({ opcode: Opcode.BINARY, payload: b256, maskKey: null }).subarray(0, 4), hex("82 7e 0100"));
  const b64k = Buffer.alloc(65536, 7);
  assert.deepEqual(
    encodeFrame({ opcode: Opcode.BINARY, payload: b64k, maskKey: null }).subarray(0, 10),
    hex("82 7f 0000000000010000"),
  );
});

test("header length boundaries 125/126/65535/65536", () => {
  const cases: Array<[number, string]> = [
    [0, "82 80"],
    [125, "82 fd"],
    [126, "82 fe 007e"],
    [65535, "82 fe ffff"],
    [65536, "82 ff 0000000000010000"],
    [2 ** 32 + 5, "82 ff 0000000100000005"],
    [Number.MAX_SAFE_INTEGER, "82 ff 001fffffffffffff"],
  ];
  for (const [len, want] of cases) {
    const expected = Buffer.concat([hex(want), KEY]);
    assert.equal(frameHeaderLength(len, true), expected.length, `length ${len}`);
    assert.equal(frameHeaderLength(len, false), expected.length - 4, `length ${len}`);
    const out = Buffer.alloc(20, 0xee);
    const end = writeFrameHeader(out, 3, true, false, Opcode.BINARY, len, KEY.readUInt32LE(0));
    assert.equal(end, 3 + expected.length);
    assert.deepEqual(out.subarray(3, end), expected, `length ${len}`);
    assert.equal(out[2], 0xee);
    assert.equal(out[end], 0xee);
  }
});

test("FIN/RSV1/opcode bits", () => {
  const out = Buffer.alloc(2);
  writeFrameHeader(out, 0, false, true, Opcode.TEXT, 3, null);
  assert.deepEqual(out, hex("41 03"));
  writeFrameHeader(out, 0, true, true, Opcode.BINARY, 3, null);
  assert.deepEqual(out, hex("c2 03"));
  writeFrameHeader(out, 0, true, false, Opcode.CLOSE, 0, null);
  assert.deepEqual(out, hex("88 00"));
});

test("encodeFrame masks with a fresh random key by default", () => {
  const payload = Buffer.from("some payload bytes");
  const a = encodeFrame({ opcode: Opcode.BINARY, payload });
  const b = encodeFrame({ opcode: Opcode.BINARY, payload });
  assert.equal(a[1]! & 0x80, 0x80);
  assert.notDeepEqual(a.subarray(2, 6), b.subarray(2, 6));
  const key = a.subarray(2, 6);
  const unmasked = Buffer.from(a.subarray(6).map((x, i) => x ^ key[i % 4]!));
  assert.deepEqual(unmasked, payload);
});

test("encodeFrame rejects invalid control frames and opcodes", () => {
  assert.throws(() => encodeFrame({ opcode: Opcode.PING, payload: Buffer.alloc(126) }), WebSocketError);
  assert.throws(() => encodeFrame({ opcode: Opcode.CLOSE, fin: false }), WebSocketError);
  assert.throws(() => encodeFrame({ opcode: 16 }), WebSocketError);
  assert.doesNotThrow(() => encodeFrame({ opcode: Opcode.PING, payload: Buffer.alloc(125) }));
});

test("writeClientFrame and writeSmallClientFrame (the writer's framers) equal encodeFrame byte for byte", () => {
  const keyBytes = [KEY, hex("00000000"), hex("ffffffff"), hex("80010203")];
  for (const kb of keyBytes) {
    const key = kb.readInt32LE(0); // wire order is little-endian; signed like nextMaskKey()
    for (const len of [0, 1, 3, 4, 5, 125, 126, 300, 65535, 65536, 70000]) {
      const payload = Buffer.alloc(len);
      for (let i = 0; i < len; i++) payload[i] = (i * 13) & 0xff;
      for (const [fin, rsv1, opcode] of [[true, false, Opcode.BINARY], [false, true, Opcode.TEXT], [true, false, Opcode.CONT]] as const) {
        const want = encodeFrame({ opcode, payload, fin, rsv1, maskKey: kb });
        const target = Buffer.alloc(len + 20, 0xaa);
        const end = writeClientFrame(target, 1, fin, rsv1, opcode, payload, 0, len, key);
        assert.equal(end, 1 + want.length);
        assert.deepEqual(target.subarray(1, end), want, `len ${len}`);
        assert.equal(target[0], 0xaa);
        assert.equal(target[end], 0xaa);
        if (len < 126 && !rsv1) {
          const small = Buffer.alloc(len + 9, 0xaa);
          assert.equal(writeSmallClientFrame(small, 2, fin, opcode, payload, key), 2 + want.length);
          assert.deepEqual(small.subarray(2, 2 + want.length), want, `small len ${len}`);
          assert.equal(small[1], 0xaa);
          assert.equal(small[2 + want.length], 0xaa);
        }
      }
    }
  }
  // A slice of a larger source: the writer's fragments.
  const src = Buffer.from("0123456789abcdef");
  const out = Buffer.alloc(32);
  const end = writeClientFrame(out, 0, false, false, Opcode.CONT, src, 5, 7, KEY.readInt32LE(0));
  assert.deepEqual(out.subarray(0, end), encodeFrame({ opcode: Opcode.CONT, payload: src.subarray(5, 12), fin: false, maskKey: KEY }));
});
