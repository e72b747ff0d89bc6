import { test } from "node:test";
import assert from "node:assert/strict";
import { bufferView, bufferViewIsFast } from "../../src/protocol/buffer-view.js";

test("bufferView makes a Buffer indistinguishable from Buffer.from(ab, offset, length)", () => {
  // Node 20+ exposes FastBuffer as Buffer[Symbol.species]; the fast path must be the one in use.
  assert.equal(bufferViewIsFast, true);
  const ab = new ArrayBuffer(64);
  new Uint8Array(ab).forEach((_, i, a) => (a[i] = i));
  for (const [off, len] of [[0, 0], [0, 64], [3, 5], [63, 1], [64, 0], [17, 16]] as const) {
    const v = bufferView(ab, off, len);
    const ref = Buffer.from(ab, off, len);
    assert.equal(Object.getPrototypeOf(v), Buffer.prototype);
    assert.ok(Buffer.isBuffer(v));
    assert.ok(v instanceof Buffer);
    assert.equal(v.buffer, ab, "a view, not a copy");
    assert.equal(v.byteOffset, off);
    assert.equal(v.length, len);
    assert.deepStrictEqual(v, ref);
    assert.equal(v.toString("hex"), ref.toString("hex"));
    // Buffer methods that go through the species constructor keep working.
    assert.deepStrictEqual(v.subarray(1), ref.subarray(1));
    assert.equal(v.equals(ref), true);
  }
  // Out-of-range arguments still throw (the typed-array constructor checks them).
  assert.throws(() => bufferView(ab, 60, 8), RangeError);
  // A view shares memory with its ArrayBuffer.
  const v = bufferView(ab, 8, 4);
  new Uint8Array(ab)[8] = 0xee;
  assert.equal(v[0], 0xee);
});
