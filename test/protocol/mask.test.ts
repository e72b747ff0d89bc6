import { test } from "node:test";
import assert from "node:assert/strict";
import { MaskArena, WASM_MASK_MIN, mask, maskRange, nextMaskKey, unmask, wasmSimdAvailable } from "../../src/protocol/mask.js";
import { maskJs } from "../../src/protocol/mask-js.js";
import { writeClientFrame, encodeFrame } from "../../src/protocol/frame.js";

function naive(src: Uint8Array, key: Uint8Array): Buffer {
  const out = Buffer.alloc(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! ^ key[i & 3]!;
  return out;
}

function pattern(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len);
  let x = seed | 1;
  for (let i = 0; i < len; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const KEYS = [Buffer.from([0x37, 0xfa, 0x21, 0x3d]), Buffer.from([0, 0, 0, 0]), Buffer.from([0xff, 0x01, 0x80, 0x7f])];

/** A view of `len` bytes starting `off` bytes into a fresh ArrayBuffer (controls alignment). */
function at(off: number, len: number, fill = 0xcc): Uint8Array {
  const ab = new Uint8Array(off + len + 8).fill(fill);
  return ab.subarray(off, off + len);
}

test("mask: every length 0-300, every src and dst alignment 0-7, against a naive reference", () => {
  const key = KEYS[0]!;
  for (let len = 0; len <= 300; len++) {
    const data = pattern(len, len);
    const want = naive(data, key);
    for (let so = 0; so < 8; so++) {
      const src = at(so, len);
      src.set(data);
      for (let dOff = 0; dOff < 8; dOff++) {
        const dstBuf = new Uint8Array(len + 16).fill(0xcc);
        mask(src, key, dstBuf, dOff);
        assert.deepEqual(Buffer.from(dstBuf.subarray(dOff, dOff + len)), want, `len ${len} src ${so} dst ${dOff}`);
        assert.ok(dstBuf.subarray(0, dOff).every((b) => b === 0xcc), "no write before dstOffset");
        assert.ok(dstBuf.subarray(dOff + len).every((b) => b === 0xcc), "no write past the end");
      }
      assert.deepEqual(Buffer.from(src), data, "src untouched");
    }
  }
});

test("mask: 128 KiB + k (k 0..7) at every alignment, in place and copying", () => {
  for (const key of KEYS) {
    for (let k = 0; k < 8; k++) {
      const len = 128 * 1024 + k;
      const data = pattern(len, k + 99);
      const want = naive(data, key);
      for (let off = 0; off < 8; off++) {
        const dst = at(off, len + 8, 0xcc);
        mask(data, key, dst, off % 4);
        assert.ok(Buffer.from(dst.subarray(off % 4, (off % 4) + len)).equals(want), `len ${len} dst ${off}`);
        assert.equal(dst[(off % 4) + len], 0xcc);
        const inplace = at(off, len);
        inplace.set(data);
        unmask(inplace, key);
        assert.ok(Buffer.from(inplace).equals(want), `unmask len ${len} off ${off}`);
        mask(inplace, key, inplace, 0);
        assert.ok(Buffer.from(inplace).equals(data), `mask twice restores, off ${off}`);
      }
    }
  }
});

test("mask: explicit length masks a prefix only", () => {
  const data = pattern(100, 3);
  const dst = Buffer.alloc(100, 0xcc);
  mask(data, KEYS[2]!, dst, 0, 37);
  assert.deepEqual(dst.subarray(0, 37), naive(data.subarray(0, 37), KEYS[2]!));
  assert.ok(dst.subarray(37).every((b) => b === 0xcc));
});

test("maskRange: key read from inside the destination buffer", () => {
  for (const len of [0, 3, 16, 125, 1000, 70000]) {
    const data = pattern(len + 10, len);
    const out = Buffer.alloc(len + 20, 0xcc);
    out.set(KEYS[0]!, 5);
    maskRange(data, 10, 10 + len, out, 5, out, 9);
    assert.deepEqual(out.subarray(5, 9), KEYS[0]);
    assert.deepEqual(out.subarray(9, 9 + len), naive(data.subarray(10), KEYS[0]!));
  }
});

test("nextMaskKey: 32-bit keys from the shared CSPRNG pool, fresh across refills", () => {
  // 5000 draws cross at least one 16 KiB refill (4096 keys per fill).
  const seen = new Set<number>();
  for (let i = 0; i < 5000; i++) {
    const k = nextMaskKey();
    assert.ok(Number.isInteger(k) && k >= -(2 ** 31) && k < 2 ** 31);
    seen.add(k);
  }
  assert.ok(seen.size > 4990);
});

test("the JS kernel alone (the fallback without wasm SIMD): every length 0-300, alignments 0-7, and large", () => {
  const key = KEYS[2]!;
  for (let len = 0; len <= 300; len++) {
    const data = pattern(len, len + 7);
    const want = naive(data, key);
    for (let so = 0; so < 8; so++) {
      const src = at(so, len);
      src.set(data);
      for (let dOff = 0; dOff < 8; dOff++) {
        const dst = at(dOff, len + 4);
        maskJs(src, 0, len, key, 0, dst, 0);
        assert.deepEqual(Buffer.from(dst.subarray(0, len)), want, `len ${len} src ${so} dst ${dOff}`);
        assert.equal(dst[len], 0xcc);
      }
    }
  }
  for (let k = 0; k < 8; k++) {
    const data = pattern(128 * 1024 + k, k);
    const dst = at(k, data.length);
    maskJs(data, 0, data.length, key, 0, dst, 0);
    assert.ok(Buffer.from(dst).equals(naive(data, key)));
  }
});

test("wasm SIMD is available on this runtime (Node >= 20)", () => {
  assert.equal(wasmSimdAvailable, true);
  assert.ok(MaskArena.create(1) !== null);
});

test("MaskArena: masking into wasm memory at every offset 0-7, every length around the thresholds, 128 KiB + k", () => {
  const arena = MaskArena.create(512 * 1024)!;
  assert.equal(arena.buffer.length, 512 * 1024);
  assert.equal(MaskArena.of(arena.buffer.subarray(100)), arena);
  assert.equal(MaskArena.of(Buffer.alloc(10)), undefined);
  const key = KEYS[0]!;
  const lengths: number[] = [];
  for (let len = 0; len <= 300; len += 7) lengths.push(len);
  for (const base of [WASM_MASK_MIN, 16 * 1024, 32 * 1024]) for (let d = -5; d <= 5; d++) lengths.push(base + d);
  for (let k = 0; k < 8; k++) lengths.push(128 * 1024 + k);
  for (const len of lengths) {
    const data = pattern(len, len);
    const want = naive(data, key);
    for (let off = 0; off < 8; off++) {
      arena.buffer.fill(0xcc, 0, len + 64);
      const dst = arena.buffer.subarray(off + 8); // a view inside the arena, not at its start
      mask(data, key, dst, 3, len);
      assert.ok(arena.buffer.subarray(off + 11, off + 11 + len).equals(want), `len ${len} off ${off}`);
      assert.equal(arena.buffer[off + 10], 0xcc, "no write before");
      assert.equal(arena.buffer[off + 11 + len], 0xcc, "no write after");
      // In place inside the arena, and the low-level call.
      unmask(arena.buffer.subarray(off + 11, off + 11 + len), key);
      assert.ok(arena.buffer.subarray(off + 11, off + 11 + len).equals(data), `unmask in arena len ${len} off ${off}`);
      arena.maskInPlace(off + 11, len, key);
      assert.ok(arena.buffer.subarray(off + 11, off + 11 + len).equals(want));
    }
  }
  assert.throws(() => arena.maskInPlace(arena.buffer.length - 2, 4, key), RangeError);
});

test("MaskArena: frames built in wasm memory equal encodeFrame's", () => {
  const arena = MaskArena.create(1 << 20)!;
  for (const len of [0, 10, 600, 70000, 200000]) {
    const payload = pattern(len, 1);
    for (let off = 0; off < 4; off++) {
      const end = writeClientFrame(arena.buffer, off, true, false, 2, payload, 0, len, 0x5c5c5c5c);
      const want = encodeFrame({ opcode: 2, payload, maskKey: Buffer.from([0x5c, 0x5c, 0x5c, 0x5c]) });
      assert.ok(arena.buffer.subarray(off, end).equals(want), `len ${len} off ${off}`);
    }
  }
});

test("mask: large payloads between ordinary Buffers through the scratch block, at odd offsets", () => {
  const key = KEYS[2]!;
  for (const len of [WASM_MASK_MIN - 1, WASM_MASK_MIN, 16 * 1024 - 1, 16 * 1024 + 1, 100003]) {
    const data = pattern(len + 5, len);
    const want = naive(data.subarray(5), key);
    const dst = Buffer.alloc(len + 9, 0xcc);
    maskRange(data, 5, 5 + len, key, 0, dst, 7);
    assert.ok(dst.subarray(7, 7 + len).equals(want), `len ${len}`);
    assert.equal(dst[6], 0xcc);
    assert.equal(dst[7 + len], 0xcc);
  }
});

test("without WebAssembly (node --jitless) mask() falls back to the JS kernel and stays correct", async () => {
  const { spawnSync } = await import("node:child_process");
  const { fileURLToPath } = await import("node:url");
  const maskUrl = new URL("../../src/protocol/mask.ts", import.meta.url).href;
  const script = `
    const m = await import(${JSON.stringify(maskUrl)});
    const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
    let bad = 0;
    for (const len of [0, 5, 127, 128, 511, 512, 513, 70001]) {
      const src = Buffer.alloc(len); for (let i = 0; i < len; i++) src[i] = (i * 31) & 255;
      const dst = Buffer.alloc(len + 3);
      m.mask(src, key, dst, 3);
      for (let i = 0; i < len; i++) if (dst[3 + i] !== (src[i] ^ key[i & 3])) bad++;
    }
    console.log(JSON.stringify({ simd: m.wasmSimdAvailable, arena: m.MaskArena.create(10), bad }));
  `;
  const r = spawnSync(process.execPath, ["--jitless", "--import", "tsx", "--input-type=module", "-e", script], {
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
  assert.deepEqual(out, { simd: false, arena: null, bad: 0 });
});
