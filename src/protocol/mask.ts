/**
 * Client-to-server masking (RFC 6455 §5.3) and the random masking keys it needs.
 *
 * `mask` picks the fastest kernel for the size: a JS word loop for small payloads, the
 * WebAssembly SIMD kernel (see mask-wasm.ts) for large ones when the runtime supports it.
 */
import { randomFillSync } from "node:crypto";
import { maskJs } from "./mask-js.js";
import { MaskArena, wasmSimdAvailable } from "./mask-wasm.js";

export { MaskArena, wasmSimdAvailable } from "./mask-wasm.js";

/**
 * From this many bytes on, the wasm SIMD kernel beats the JS word loop even when the data has to
 * be copied into wasm memory and back (measured with bench/mask.ts).
 */
export const WASM_MASK_MIN = 512;

/**
 * Masking goes block by block so that each block is XORed while its copy is still in L1
 * (measured: 16 KiB blocks beat both 4 KiB and one pass over 64 KiB–1 MiB).
 */
const BLOCK = 16 * 1024;
let scratch: MaskArena | null | undefined;

/**
 * Masks `len` bytes with the wasm kernel. A destination inside a {@link MaskArena} costs one copy
 * in and one SIMD pass; anything else goes through a scratch arena block by block (copy in, XOR,
 * copy out), which still beats the JS loop for large payloads.
 */
function maskWasm(
  src: Uint8Array,
  srcOff: number,
  len: number,
  key: Uint8Array,
  keyOff: number,
  dst: Uint8Array,
  dstOff: number,
): boolean {
  // Read the key first: it may live in `dst` (a frame header just before the payload).
  const k = key[keyOff]! | (key[keyOff + 1]! << 8) | (key[keyOff + 2]! << 16) | (key[keyOff + 3]! << 24);
  const dstAb = dst.buffer; // `.buffer` and `.byteOffset` are not free: read each once
  const arena = MaskArena.ofArrayBuffer(dstAb);
  if (arena !== undefined) {
    const at = dst.byteOffset + dstOff;
    const ab = arena.buffer;
    if (src.buffer === dstAb && src.byteOffset + srcOff === at) {
      arena.maskWord(at, len, k); // already in place
      return true;
    }
    // Blocks are multiples of 4 bytes, so the key stays in phase from block to block.
    if (len <= BLOCK) {
      ab.set(srcOff === 0 && len === src.length ? src : src.subarray(srcOff, srcOff + len), at);
      arena.maskWord(at, len, k);
      return true;
    }
    for (let i = 0; i < len; i += BLOCK) {
      const n = len - i < BLOCK ? len - i : BLOCK;
      ab.set(src.subarray(srcOff + i, srcOff + i + n), at + i);
      arena.maskWord(at + i, n, k);
    }
    return true;
  }
  if (scratch === undefined) scratch = MaskArena.create(BLOCK);
  if (scratch === null) return false;
  const sb = scratch.buffer;
  if (len <= BLOCK) {
    sb.set(srcOff === 0 && len === src.length ? src : src.subarray(srcOff, srcOff + len), 0);
    scratch.maskWord(0, len, k);
    dst.set(sb.subarray(0, len), dstOff);
    return true;
  }
  for (let i = 0; i < len; i += BLOCK) {
    const n = len - i < BLOCK ? len - i : BLOCK;
    sb.set(src.subarray(srcOff + i, srcOff + i + n), 0);
    scratch.maskWord(0, n, k);
    dst.set(sb.subarray(0, n), dstOff + i);
  }
  return true;
}

/**
 * Masks `length` bytes of `src` (default: all of it) into `dst` starting at `dstOffset`, with
 * the 4-byte `key`. `dst` may be `src` (then `dstOffset` should be 0: masking in place). When
 * `dst` lies in a {@link MaskArena} (a frame being built in wasm memory), large payloads are
 * copied in once and masked there in place.
 */
export function mask(src: Uint8Array, key: Uint8Array, dst: Uint8Array, dstOffset: number, length?: number): void {
  const len = length === undefined ? src.length : length;
  if (len >= WASM_MASK_MIN && wasmSimdAvailable && maskWasm(src, 0, len, key, 0, dst, dstOffset)) return;
  maskJs(src, 0, len, key, 0, dst, dstOffset);
}

/** Unmasks (equivalently, masks) `buf` in place with the 4-byte `key`. */
export function unmask(buf: Uint8Array, key: Uint8Array): void {
  const len = buf.length;
  if (len >= WASM_MASK_MIN && wasmSimdAvailable && maskWasm(buf, 0, len, key, 0, buf, 0)) return;
  maskJs(buf, 0, len, key, 0, buf, 0);
}

/**
 * Masks `src[srcStart..srcEnd)` into `dst` at `dstOffset` with the key stored at
 * `key[keyOffset..keyOffset+4)`. Lets a frame writer use the key it has just written into the
 * frame header without allocating a 4-byte view.
 */
export function maskRange(
  src: Uint8Array,
  srcStart: number,
  srcEnd: number,
  key: Uint8Array,
  keyOffset: number,
  dst: Uint8Array,
  dstOffset: number,
): void {
  const len = srcEnd - srcStart;
  if (len >= WASM_MASK_MIN && wasmSimdAvailable && maskWasm(src, srcStart, len, key, keyOffset, dst, dstOffset)) return;
  maskJs(src, srcStart, len, key, keyOffset, dst, dstOffset);
}

/**
 * Masking keys (RFC 6455 §5.3: fresh and unpredictable for every frame, so from the CSPRNG),
 * fetched 16 KiB at a time (one fill costs 3.8 µs against 1.9 µs for 4 KiB: 0.9 instead of
 * 1.9 ns per key) and shared by all connections of the process, so an idle connection holds none.
 */
const RANDOM = Buffer.allocUnsafeSlow(16 * 1024);
/** The same bytes as 32-bit words: a key is one load (the byte order does not matter). */
const RANDOM_WORDS = new Int32Array(RANDOM.buffer, RANDOM.byteOffset, RANDOM.length >> 2);
let randomWord = RANDOM_WORDS.length;

/**
 * A fresh 32-bit masking key; its four bytes in little-endian order (`key & 0xff` first) are the
 * key on the wire. The one key source of the library: the frame writers in frame.ts take it as a
 * number so that no per-frame key buffer is needed.
 */
export function nextMaskKey(): number {
  if (randomWord === RANDOM_WORDS.length) {
    randomFillSync(RANDOM);
    randomWord = 0;
  }
  return RANDOM_WORDS[randomWord++]!;
}
