import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { isUtf8 } from "node:buffer";
import { Utf8Validator, isValidUtf8 } from "../../src/protocol/utf8.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

const VALID = ["", "hello", "héllo wörld", "€uro", "😀 emoji 😀", "\u{10ffff}", "\u0080\u07ff\u0800\uffff\u{10000}"].map(
  (s) => Buffer.from(s),
);
const INVALID = [
  "ff", "c0 80", "c1 bf", "e0 80 80", "e0 9f bf", "ed a0 80", "ed bf bf", "f0 80 80 80", "f0 8f bf bf",
  "f4 90 80 80", "f5 80 80 80", "80", "bf", "c2", "e2 82", "f0 9f 98", "c2 41", "e2 28 a1", "61 62 ff 63",
].map(hex);

test("isValidUtf8 agrees with the RFC 3629 reference cases", () => {
  for (const v of VALID) assert.equal(isValidUtf8(v), true, v.toString("hex"));
  for (const v of INVALID) assert.equal(isValidUtf8(v), false, v.toString("hex"));
});

/** Feeds `buf` split at `cuts` and returns the validator's verdict. */
function incremental(buf: Buffer, cuts: number[]): boolean {
  const v = new Utf8Validator();
  let prev = 0;
  for (const c of [...cuts, buf.length]) {
    if (!v.push(buf.subarray(prev, c))) return false;
    prev = c;
  }
  return v.end();
}

test("incremental validation: every split point of every reference case", () => {
  for (const v of [...VALID, ...INVALID, Buffer.from("a😀b€c\u00e9d")]) {
    for (let i = 0; i <= v.length; i++) {
      for (let j = i; j <= v.length; j++) {
        assert.equal(incremental(v, [i, j]), isUtf8(v), `${v.toString("hex")} split at ${i},${j}`);
      }
    }
  }
});

test("an invalid fragment fails at once; a failed validator stays failed until reset", () => {
  const v = new Utf8Validator();
  assert.equal(v.push(Buffer.from("ok")), true);
  assert.equal(v.push(hex("e0 80")), false); // E0 80 can never start a valid sequence
  assert.equal(v.push(Buffer.from("fine")), false);
  assert.equal(v.end(), false);
  v.reset();
  assert.equal(v.push(hex("f0 9f")), true);
  assert.equal(v.push(hex("98")), true);
  assert.equal(v.end(), false); // ended inside a code point
  v.reset();
  assert.equal(v.push(hex("f0 9f")), true);
  assert.equal(v.push(hex("98 80 41")), true);
  assert.equal(v.end(), true);
  assert.equal(new Utf8Validator().push(hex("ed a0")), false); // surrogate prefix
  assert.equal(new Utf8Validator().push(hex("f4 90")), false); // > U+10FFFF prefix
});

test("property: random bytes, random splits -> same verdict as isUtf8", () => {
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc.string({ unit: "binary", maxLength: 20 }).map((s) => new Uint8Array(Buffer.from(s))),
    fc.array(fc.constantFrom(...[...VALID, ...INVALID].map((b) => [...b])), { maxLength: 6 }).map((a) => new Uint8Array(a.flat())),
  );
  fc.assert(
    fc.property(bytes, fc.array(fc.nat(), { maxLength: 6 }), (u, raw) => {
      const buf = Buffer.from(u);
      const cuts = raw.map((c) => c % (buf.length + 1)).sort((a, b) => a - b);
      assert.equal(incremental(buf, cuts), isUtf8(buf));
    }),
    { numRuns: 3000 },
  );
});
