/**
 * Pure-JS masking kernel (RFC 6455 §5.3): `dst[i] = src[i] ^ key[i % 4]`.
 *
 * Used for small payloads, where calling into WebAssembly (and copying into its memory) costs
 * more than the XOR itself, and as the fallback when WebAssembly SIMD is unavailable.
 */
import { endianness } from "node:os";

const LITTLE_ENDIAN = endianness() === "LE";

/** Below this many bytes the plain byte loop beats creating two Uint32Array views. */
const WORD_LOOP_MIN = 64;

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
      const s32 = new Uint32Array(src.buffer, sAbs + head, words);
      const d32 = new Uint32Array(dst.buffer, dAbs + head, words);
      // The word at payload index `head` starts with key byte `head % 4` (little-endian lanes).
      const kw =
        (kb[head & 3]! | (kb[(head + 1) & 3]! << 8) | (kb[(head + 2) & 3]! << 16) | (kb[(head + 3) & 3]! << 24)) >>> 0;
      let w = 0;
      const w4 = words & ~3;
      for (; w < w4; w += 4) {
        d32[w] = s32[w]! ^ kw;
        d32[w + 1] = s32[w + 1]! ^ kw;
        d32[w + 2] = s32[w + 2]! ^ kw;
        d32[w + 3] = s32[w + 3]! ^ kw;
      }
      for (; w < words; w++) d32[w] = s32[w]! ^ kw;
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
