import { test } from "node:test";
import assert from "node:assert/strict";
import {
  decodeClosePayload,
  encodeClosePayload,
  isValidWireCloseCode,
  truncateUtf8,
} from "../../src/protocol/close.js";
import { ProtocolError, WebSocketError } from "../../src/errors.js";

test("valid wire close codes: exactly 1000-1003, 1007-1014, 3000-4999", () => {
  for (let c = 0; c < 6000; c++) {
    const want = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
    assert.equal(isValidWireCloseCode(c), want, `code ${c}`);
  }
  assert.equal(isValidWireCloseCode(1000.5), false);
  assert.equal(isValidWireCloseCode(NaN), false);
});

test("encodeClosePayload", () => {
  assert.deepEqual(encodeClosePayload(), Buffer.alloc(0));
  assert.deepEqual(encodeClosePayload(1000), Buffer.from([0x03, 0xe8]));
  assert.deepEqual(encodeClosePayload(4999, "bye"), Buffer.from([0x13, 0x87, 0x62, 0x79, 0x65]));
  for (const bad of [999, 1004, 1005, 1006, 1015, 2000, 5000, -1]) {
    assert.throws(
      () => encodeClosePayload(bad),
      (e: unknown) => e instanceof WebSocketError && e.code === 0,
    );
  }
  assert.throws(() => encodeClosePayload(undefined, "reason"), WebSocketError);
});

test("reasons over 123 UTF-8 bytes are rejected, not cut (issue 14; they used to be truncated)", () => {
  const rejected = (e: unknown): boolean => e instanceof WebSocketError && e.code === 0 && /at most 123 UTF-8 bytes, got \d+ bytes/.test(e.message);
  assert.equal(encodeClosePayload(1000, "a".repeat(123)).length, 125);
  assert.throws(() => encodeClosePayload(1000, "a".repeat(124)), rejected);
  // "€" is 3 bytes: 41 of them = 123 bytes exactly; one more byte in front is too many.
  const euro = "€".repeat(41);
  const p = encodeClosePayload(1000, euro);
  assert.equal(p.length, 2 + 123);
  assert.equal(p.subarray(2).toString(), euro);
  assert.throws(() => encodeClosePayload(1000, "a" + euro), rejected);
  assert.throws(() => encodeClosePayload(1000, "€".repeat(50)), rejected);
});

test("truncateUtf8 cuts on a UTF-8 boundary", () => {
  // 4-byte code points at every offset
  for (let pre = 0; pre < 4; pre++) {
    const t = truncateUtf8("x".repeat(pre) + "😀".repeat(40), 123);
    assert.ok(t.length <= 123 && t.length > 119);
    assert.equal(Buffer.from(t.toString()).length, t.length); // decodes cleanly
    assert.ok(!t.toString().includes("\ufffd"));
  }
  assert.equal(truncateUtf8("héllo", 2).toString(), "h");
  assert.equal(truncateUtf8("héllo", 3).toString(), "hé");
});

test("decodeClosePayload", () => {
  assert.deepEqual(decodeClosePayload(Buffer.alloc(0)), { code: 1005, reason: "" });
  assert.deepEqual(decodeClosePayload(Buffer.from([0x03, 0xe8])), { code: 1000, reason: "" });
  assert.deepEqual(decodeClosePayload(Buffer.from([0x0f, 0xa0, 0xc3, 0xa9])), { code: 4000, reason: "é" });
  const code = (f: () => unknown): number => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof ProtocolError);
      return e.code;
    }
    return -1;
  };
  assert.equal(code(() => decodeClosePayload(Buffer.from([0x03]))), 1002);
  for (const bad of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
    assert.equal(code(() => decodeClosePayload(Buffer.from([bad >> 8, bad & 0xff]))), 1002, `code ${bad}`);
  }
  assert.equal(code(() => decodeClosePayload(Buffer.from([0x03, 0xe8, 0xff]))), 1007);
  assert.equal(code(() => decodeClosePayload(Buffer.from([0x03, 0xe8, 0xed, 0xa0, 0x80]))), 1007);
  assert.equal(code(() => decodeClosePayload(Buffer.from([0x03, 0xe8, 0xe2, 0x82]))), 1007);
});
