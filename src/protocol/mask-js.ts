/**
 * Pure-JS masking kernel (RFC 6455 §5.3): `dst[i] = src[i] ^ key[i % 4]`.
 *
 * Used for small payloads, where calling into WebAssembly (and copying into its memory) costs
 * more than the XOR itself, and as the fallback when WebAssembly SIMD is unavailable.
 */
import { endianness } from "node:os";

const LITTLE_ENDIAN = endianness() === "LE";

/**
 * Below this many bytes the plain byte loop is as fast as the word loop: reading `.buffer` and
 * `.byteOffset` of two views costs ~40 ns in Node 20, as much as XORing ~100 bytes.
 */
const WORD_LOOP_MIN = 128;

/**
 * Creating an Int32Array view costs about as much as masking 50 bytes, so keep one view over
 * the whole ArrayBuffer last seen as source and one for the destination. Node's small Buffers
 * share 8 KiB pool slabs and a frame writer reuses its output buffer, so these usually hit. Only
 * modest ArrayBuffers are cached, so a cache entry never pins much memory.
 */
const CACHE_MAX_BYTES = 256 * 1024;
let srcAb: ArrayBufferLike | undefined;
let srcView: Int32Array = new Int32Array(0);
let dstAb: ArrayBufferLike | undefined;
let dstView: Int32Array = new Int32Array(0);

function wordView(ab: ArrayBufferLike, isSrc: boolean): Int32Array {
  if (isSrc) {
    if (ab === srcAb) return srcView;
  } else if (ab === dstAb) {
    return dstView;
  }
  const view = new Int32Array(ab, 0, ab.byteLength >>> 2);
  if (ab.byteLength <= CACHE_MAX_BYTES) {
    if (isSrc) {
      srcAb = ab;
      srcView = view;
    } else {
      dstAb = ab;
      dstView = view;
    }
  }
  return view;
}

/**
 * Masks `len` bytes of `src` starting at `srcOff` into `dst` at `dstOff` with the 4-byte key
 * at `key[keyOff..keyOff+4)`. `dst` may be `src` (also at the same offset: in place); the key
 * bytes are read before anything is written, so the key may live in `dst` too. Other
 * overlaps of `src` and `dst` are not supported.
 */
export function maskJs(
  src: Uint8Array,
  srcOff: number,
  len: number,
  key: Uint8Array,
  keyOff: number,
  dst: Uint8Array,
  dstOff: number,
): void {
  const k0 = key[keyOff]!;
  const k1 = key[keyOff + 1]!;
  const k2 = key[keyOff + 2]!;
  const k3 = key[keyOff + 3]!;
  let i = 0;
  if (len >= WORD_LOOP_MIN && LITTLE_ENDIAN) {
    const sAbs = src.byteOffset + srcOff;
    const dAbs = dst.byteOffset + dstOff;
    // Words need src and dst at the same alignment; then mask a head of 0–3 bytes first.
    if ((sAbs & 3) === (dAbs & 3)) {
      const kb = [k0, k1, k2, k3];
      const head = (4 - (sAbs & 3)) & 3;
      for (; i < head; i++) dst[dstOff + i] = src[srcOff + i]! ^ kb[i]!;
      const words = (len - head) >>> 2;
      const s32 = wordView(src.buffer, true);
      const d32 = src.buffer === dst.buffer ? s32 : wordView(dst.buffer, false);
      const sw = (sAbs + head) >>> 2;
      const dw = (dAbs + head) >>> 2;
      // The word at payload index `head` starts with key byte `head % 4` (little-endian lanes).
      const kw =
        (kb[head & 3]! | (kb[(head + 1) & 3]! << 8) | (kb[(head + 2) & 3]! << 16) | (kb[(head + 3) & 3]! << 24)) | 0;
      let w = 0;
      const w4 = words & ~3;
      for (; w < w4; w += 4) {
        d32[dw + w] = s32[sw + w]! ^ kw;
        d32[dw + w + 1] = s32[sw + w + 1]! ^ kw;
        d32[dw + w + 2] = s32[sw + w + 2]! ^ kw;
        d32[dw + w + 3] = s32[sw + w + 3]! ^ kw;
      }
      for (; w < words; w++) d32[dw + w] = s32[sw + w]! ^ kw;
      for (i = head + words * 4; i < len; i++) dst[dstOff + i] = src[srcOff + i]! ^ kb[i & 3]!;
      return;
    }
  }
  // Byte loop, unrolled by the key period.
  const end4 = i + ((len - i) & ~3);
  for (; i < end4; i += 4) {
    dst[dstOff + i] = src[srcOff + i]! ^ k0;
    dst[dstOff + i + 1] = src[srcOff + i + 1]! ^ k1;
    dst[dstOff + i + 2] = src[srcOff + i + 2]! ^ k2;
    dst[dstOff + i + 3] = src[srcOff + i + 3]! ^ k3;
  }
  if (i < len) dst[dstOff + i] = src[srcOff + i]! ^ k0;
  if (i + 1 < len) dst[dstOff + i + 1] = src[srcOff + i + 1]! ^ k1;
  if (i + 2 < len) dst[dstOff + i + 2] = src[srcOff + i + 2]! ^ k2;
}
