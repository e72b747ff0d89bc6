/**
 * Polynomial arithmetic for ML-KEM (FIPS 203 §4.2–4.3): the ring R_q = Z_q[X]/(X^256 + 1) with
 * q = 3329, its number-theoretic transform, sampling from bytes, compression and byte encoding.
 *
 * Polynomials live in Int16Array storage at an offset (a vector of k polynomials is k·256
 * consecutive coefficients): the product of two coefficients always fits an int32, so V8 keeps
 * the arithmetic in integers. Every function here takes and returns coefficients in [0, q)
 * unless it says otherwise: `%` with a negative dividend leaves V8's fast path (a variant with
 * signed, lazily reduced coefficients measured 3x slower). Masking (`x >> 31 & Q`) replaces
 * secret-dependent branches in reductions. Nothing here holds state between calls.
 */

/** ML-KEM's modulus (FIPS 203 §2.4). */
export const Q = 3329;
/** Coefficients per polynomial. */
export const N = 256;
/** 128^-1 mod q: the final scaling of NTT^-1 (FIPS 203 Algorithm 10, line 14). */
const INV_128 = 3303;

/** BitRev7 (FIPS 203 §2.3): the 7-bit number with the bits of i reversed. */
function bitRev7(i: number): number {
  let r = 0;
  for (let b = 0; b < 7; b++) r |= ((i >> b) & 1) << (6 - b);
  return r;
}

function powMod(base: number, exp: number): number {
  let r = 1;
  for (let e = 0; e < exp; e++) r = (r * base) % Q;
  return r;
}

/** ζ^BitRev7(i) mod q with ζ = 17, the primitive 256th root of unity (FIPS 203 §4.3, Appendix A). */
const ZETAS = new Int16Array(128);
/** γ_i = ζ^(2·BitRev7(i)+1) mod q: the moduli X^2 − γ_i of the NTT's 128 quadratic factors (Algorithm 11). */
const GAMMAS = new Int16Array(128);
for (let i = 0; i < 128; i++) {
  ZETAS[i] = powMod(17, bitRev7(i));
  GAMMAS[i] = powMod(17, 2 * bitRev7(i) + 1);
}

/** NTT (FIPS 203 Algorithm 9), in place on f[o .. o+256). */
export function ntt(f: Int16Array, o: number): void {
  let k = 1;
  for (let len = 128; len >= 2; len >>= 1) {
    for (let start = o; start < o + N; start += 2 * len) {
      const z = ZETAS[k++]!;
      for (let j = start; j < start + len; j++) {
        const t = (z * f[j + len]!) % Q;
        const a = f[j]!;
        const d = a - t;
        const s = a + t - Q;
        f[j + len] = d + ((d >> 31) & Q);
        f[j] = s + ((s >> 31) & Q);
      }
    }
  }
}

/** NTT^-1 (FIPS 203 Algorithm 10), in place on f[o .. o+256). */
export function invNtt(f: Int16Array, o: number): void {
  let k = 127;
  for (let len = 2; len <= 128; len <<= 1) {
    for (let start = o; start < o + N; start += 2 * len) {
      const z = ZETAS[k--]!;
      for (let j = start; j < start + len; j++) {
        const a = f[j]!;
        const b = f[j + len]!;
        const s = a + b - Q;
        const d = b - a;
        f[j] = s + ((s >> 31) & Q);
        f[j + len] = (z * (d + ((d >> 31) & Q))) % Q;
      }
    }
  }
  for (let j = o; j < o + N; j++) f[j] = (f[j]! * INV_128) % Q;
}

/**
 * out[oo..] = Σ_{j<3} m_j ∘ v_j in the NTT domain (MultiplyNTTs, FIPS 203 Algorithms 11–12,
 * summed), where m_j starts at m[mo + j·stride] and v_j at v[vo + j·256]. With stride 256 this is
 * row i of a row-major 3×3 matrix (Â∘ŝ, Algorithm 13 line 18) or a vector's dot product; with
 * stride 768 it is column i (Âᵀ∘ŷ, Algorithm 14 line 19). Inputs may be up to 4095 (a 12-bit
 * decode): the three unreduced sums stay below 2^31.
 */
export function dot3(out: Int16Array, oo: number, m: Int16Array, mo: number, stride: number, v: Int16Array, vo: number): void {
  const m1 = mo + stride;
  const m2 = mo + 2 * stride;
  const v1 = vo + N;
  const v2 = vo + 2 * N;
  for (let i = 0; i < N; i += 2) {
    const g = GAMMAS[i >> 1]!;
    let a0 = m[mo + i]!;
    let a1 = m[mo + i + 1]!;
    let b0 = v[vo + i]!;
    let b1 = v[vo + i + 1]!;
    // BaseCaseMultiply (Algorithm 12): (a0 + a1·X)(b0 + b1·X) mod (X^2 − γ).
    let c0 = a0 * b0 + ((a1 * b1) % Q) * g;
    let c1 = a0 * b1 + a1 * b0;
    a0 = m[m1 + i]!;
    a1 = m[m1 + i + 1]!;
    b0 = v[v1 + i]!;
    b1 = v[v1 + i + 1]!;
    c0 += a0 * b0 + ((a1 * b1) % Q) * g;
    c1 += a0 * b1 + a1 * b0;
    a0 = m[m2 + i]!;
    a1 = m[m2 + i + 1]!;
    b0 = v[v2 + i]!;
    b1 = v[v2 + i + 1]!;
    c0 += a0 * b0 + ((a1 * b1) % Q) * g;
    c1 += a0 * b1 + a1 * b0;
    out[oo + i] = c0 % Q;
    out[oo + i + 1] = c1 % Q;
  }
}

/** f[fo..] = (f + g) mod q, coefficient-wise. */
export function addTo(f: Int16Array, fo: number, g: Int16Array, go: number): void {
  for (let i = 0; i < N; i++) {
    const s = f[fo + i]! + g[go + i]! - Q;
    f[fo + i] = s + ((s >> 31) & Q);
  }
}

/**
 * SamplePolyCBD_2 (FIPS 203 Algorithm 8 with η = 2): 128 bytes of PRF output to f[o..]. Each
 * coefficient takes 4 bits, low bits first: (b0 + b1) − (b2 + b3), stored mod q.
 */
export function cbd2(bytes: Uint8Array, f: Int16Array, o: number): void {
  for (let i = 0; i < 128; i++) {
    const b = bytes[i]!;
    // Pairwise bit sums: each 2-bit field of t is the sum of two adjacent input bits.
    const t = (b & 0x55) + ((b >> 1) & 0x55);
    const x0 = (t & 3) - ((t >> 2) & 3);
    const x1 = ((t >> 4) & 3) - ((t >> 6) & 3);
    f[o + 2 * i] = x0 + ((x0 >> 31) & Q);
    f[o + 2 * i + 1] = x1 + ((x1 >> 31) & Q);
  }
}

/**
 * SampleNTT's rejection loop (FIPS 203 Algorithm 7, lines 4–15) over a prefix of the XOF output:
 * 3-byte groups give two 12-bit candidates, kept when below q, into f[o..]. Returns how many
 * coefficients were found (256 unless the bytes ran out: the caller then squeezes a longer
 * prefix and starts again, which gives the same coefficients first). The data is public
 * (derived from ρ), so branching on it is fine.
 */
export function sampleNtt(bytes: Uint8Array, f: Int16Array, o: number): number {
  const end = bytes.length - 2;
  let n = 0;
  for (let p = 0; n < N && p < end; p += 3) {
    const c0 = bytes[p]!;
    const c1 = bytes[p + 1]!;
    const c2 = bytes[p + 2]!;
    const d1 = c0 | ((c1 & 15) << 8);
    const d2 = (c1 >> 4) | (c2 << 4);
    if (d1 < Q) f[o + n++] = d1;
    if (d2 < Q && n < N) f[o + n++] = d2;
  }
  return n;
}

/** ByteEncode_12 (FIPS 203 Algorithm 5, d = 12): 256 coefficients to 384 bytes at out[bo..]. */
export function encode12(f: Int16Array, fo: number, out: Uint8Array, bo: number): void {
  for (let i = 0; i < N; i += 2) {
    const a = f[fo + i]!;
    const b = f[fo + i + 1]!;
    out[bo++] = a;
    out[bo++] = (a >> 8) | (b << 4);
    out[bo++] = b >> 4;
  }
}

/**
 * ByteDecode_12 (FIPS 203 Algorithm 6, d = 12): 384 bytes at bytes[bo..] to f[fo..]. Returns
 * a negative number if some value is ≥ q (the modulus check of §7.2 needs it), else ≥ 0.
 */
export function decode12(bytes: Uint8Array, bo: number, f: Int16Array, fo: number): number {
  let bad = 0;
  for (let i = 0; i < N; i += 2) {
    const b0 = bytes[bo++]!;
    const b1 = bytes[bo++]!;
    const b2 = bytes[bo++]!;
    const a = b0 | ((b1 & 15) << 8);
    const b = (b1 >> 4) | (b2 << 4);
    bad |= Q - 1 - a;
    bad |= Q - 1 - b;
    f[fo + i] = a;
    f[fo + i + 1] = b;
  }
  return bad;
}

/** ByteEncode_10(Compress_10(f)) (FIPS 203 Algorithms 5 and §4.2.1 eq. 4.7): 320 bytes at out[bo..]. */
export function compressEncode10(f: Int16Array, fo: number, out: Uint8Array, bo: number): void {
  for (let i = 0; i < N; i += 4) {
    // Compress_10(x) = ⌈(2^10 / q) · x⌋ mod 2^10.
    const a = (((f[fo + i]! << 10) + 1664) / Q) & 1023;
    const b = (((f[fo + i + 1]! << 10) + 1664) / Q) & 1023;
    const c = (((f[fo + i + 2]! << 10) + 1664) / Q) & 1023;
    const d = (((f[fo + i + 3]! << 10) + 1664) / Q) & 1023;
    out[bo++] = a;
    out[bo++] = (a >> 8) | (b << 2);
    out[bo++] = (b >> 6) | (c << 4);
    out[bo++] = (c >> 4) | (d << 6);
    out[bo++] = d >> 2;
  }
}

/** Decompress_10(ByteDecode_10(bytes)) (FIPS 203 Algorithm 6 and eq. 4.8): 320 bytes to f[fo..]. */
export function decodeDecompress10(bytes: Uint8Array, bo: number, f: Int16Array, fo: number): void {
  for (let i = 0; i < N; i += 4) {
    const b0 = bytes[bo++]!;
    const b1 = bytes[bo++]!;
    const b2 = bytes[bo++]!;
    const b3 = bytes[bo++]!;
    const b4 = bytes[bo++]!;
    // Decompress_10(y) = ⌈(q / 2^10) · y⌋.
    f[fo + i] = ((b0 | ((b1 & 3) << 8)) * Q + 512) >> 10;
    f[fo + i + 1] = (((b1 >> 2) | ((b2 & 15) << 6)) * Q + 512) >> 10;
    f[fo + i + 2] = (((b2 >> 4) | ((b3 & 63) << 4)) * Q + 512) >> 10;
    f[fo + i + 3] = (((b3 >> 6) | (b4 << 2)) * Q + 512) >> 10;
  }
}

/** ByteEncode_4(Compress_4(f)): 128 bytes at out[bo..]. */
export function compressEncode4(f: Int16Array, fo: number, out: Uint8Array, bo: number): void {
  for (let i = 0; i < N; i += 2) {
    const a = (((f[fo + i]! << 4) + 1664) / Q) & 15;
    const b = (((f[fo + i + 1]! << 4) + 1664) / Q) & 15;
    out[bo++] = a | (b << 4);
  }
}

/** Decompress_4(ByteDecode_4(bytes)): 128 bytes to f[fo..]. */
export function decodeDecompress4(bytes: Uint8Array, bo: number, f: Int16Array, fo: number): void {
  for (let i = 0; i < N; i += 2) {
    const b = bytes[bo++]!;
    f[fo + i] = ((b & 15) * Q + 8) >> 4;
    f[fo + i + 1] = ((b >> 4) * Q + 8) >> 4;
  }
}

/** Decompress_1(ByteDecode_1(m)) (Algorithm 14 line 20): bit i of the 32-byte m becomes 0 or ⌈q/2⌋ = 1665. */
export function messageToPoly(m: Uint8Array, f: Int16Array, fo: number): void {
  for (let i = 0; i < N; i++) f[fo + i] = -((m[i >> 3]! >> (i & 7)) & 1) & 1665;
}

/** ByteEncode_1(Compress_1(f)) (Algorithm 15 line 7): 1 where x is nearer q/2 than 0; 32 bytes. */
export function polyToMessage(f: Int16Array, fo: number, out: Uint8Array): void {
  for (let i = 0; i < 32; i++) {
    let byte = 0;
    for (let b = 0; b < 8; b++) {
      const x = f[fo + 8 * i + b]!;
      byte |= ((((x << 1) + 1664) / Q) & 1) << b;
    }
    out[i] = byte;
  }
}

/** f[fo..] = (f − g) mod q, coefficient-wise. */
export function subFrom(f: Int16Array, fo: number, g: Int16Array, go: number): void {
  for (let i = 0; i < N; i++) {
    const d = f[fo + i]! - g[go + i]!;
    f[fo + i] = d + ((d >> 31) & Q);
  }
}
