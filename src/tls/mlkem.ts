/**
 * ML-KEM-768 (FIPS 203), for the X25519MLKEM768 key share on Node versions without a native
 * ML-KEM (Node 20 and 22). The hash functions are Node's own SHA-3 and SHAKE (OpenSSL), which is
 * where a pure-JavaScript implementation spends most of its time; the ring arithmetic is in
 * ./mlkem-poly.ts.
 *
 * Parameter set ML-KEM-768 (FIPS 203 Table 2): k = 3, η1 = η2 = 2, du = 10, dv = 4.
 * Nothing secret outlives a call: scratch arrays are allocated per call (one per operation, as
 * each typed array's backing store costs the garbage collector) and zeroed after use.
 */
import * as nodeCrypto from "node:crypto";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import {
  N,
  addTo,
  cbd2,
  compressEncode10,
  compressEncode4,
  decode12,
  decodeDecompress10,
  decodeDecompress4,
  dot3,
  encode12,
  invNtt,
  messageToPoly,
  ntt,
  polyToMessage,
  sampleNtt,
  subFrom,
} from "./mlkem-poly.js";

const K = 3;
/** ByteEncode_12 of one polynomial. */
const POLY_BYTES = 384;
/** Encapsulation key: ByteEncode_12(t̂) ‖ ρ (FIPS 203 Table 3). */
export const MLKEM768_EK_BYTES = 1184;
/** Decapsulation key: dk_PKE ‖ ek ‖ H(ek) ‖ z (Algorithm 16). */
export const MLKEM768_DK_BYTES = 2400;
/** Ciphertext: ByteEncode_10(Compress_10(u)) ‖ ByteEncode_4(Compress_4(v)). */
export const MLKEM768_CT_BYTES = 1088;
/** Where t̂ ends and ρ starts in ek; also the size of dk_PKE. */
const T_BYTES = K * POLY_BYTES;
/** Where v starts in a ciphertext. */
const U_BYTES = K * 320;
/** SHAKE128's rate: XOF output comes in blocks of 168 bytes. */
const XOF_BLOCK = 168;
/** Three blocks give 336 candidates, 273 accepted on average: enough for 256 in ~99% of cases. */
const XOF_FIRST = 3 * XOF_BLOCK;

/**
 * `crypto.hash` (Node >= 20.12): a one-shot digest without a Hash object, which costs a
 * JavaScript wrapper and a native handle for the garbage collector to finalize. Fixed-length
 * digests only: Node 20 and 22 cannot set a SHAKE output length there.
 */
const oneShot = typeof (nodeCrypto as { hash?: unknown }).hash === "function" ? nodeCrypto.hash : undefined;

function digest(algorithm: string, input: Uint8Array): Buffer {
  return oneShot ? oneShot(algorithm, input, "buffer") : createHash(algorithm).update(input).digest();
}

/** G = SHA3-512 (FIPS 203 §4.1, eq. 4.5) of a ‖ b, split into two 32-byte halves. */
function g(a: Uint8Array, b: Uint8Array): [Buffer, Buffer] {
  // At most 64 bytes: V8 keeps a typed array that small on its heap, with no backing store.
  const input = new Uint8Array(a.length + b.length);
  input.set(a);
  input.set(b, a.length);
  const out = digest("sha3-512", input);
  return [out.subarray(0, 32), out.subarray(32)];
}

/** H = SHA3-256 (eq. 4.4). */
function h(x: Uint8Array): Buffer {
  return digest("sha3-256", x);
}

/** PRF_η(s, b) = SHAKE256(s ‖ b, 64·η bytes) (eq. 4.3); η = 2 gives 128 bytes. */
function prf(input: Uint8Array): Buffer {
  return createHash("shake256", { outputLength: 128 }).update(input).digest();
}

/**
 * Â from ρ into `a` (Algorithm 13 lines 3–7, Algorithm 14 lines 4–8): Â[i][j] = SampleNTT(ρ ‖ j ‖ i),
 * note the column index first, stored row-major at offset (3i + j)·256.
 */
function expandMatrix(rho: Uint8Array, a: Int16Array): void {
  const seed = new Uint8Array(34);
  seed.set(rho);
  for (let i = 0; i < K; i++) {
    for (let j = 0; j < K; j++) {
      seed[32] = j;
      seed[33] = i;
      const o = (i * K + j) * N;
      // SHAKE output is prefix-consistent: a longer squeeze repeats the shorter one and goes on.
      for (let len = XOF_FIRST; sampleNtt(createHash("shake128", { outputLength: len }).update(seed).digest(), a, o) < N; len += XOF_BLOCK);
    }
  }
}

/** k polynomials from SamplePolyCBD_2(PRF_2(σ, n)), n = first, first+1, ... (Algorithm 13 lines 8–15). */
function sampleVector(sigma: Uint8Array, first: number, out: Int16Array, count: number): void {
  const input = new Uint8Array(33);
  input.set(sigma);
  for (let i = 0; i < count; i++) {
    input[32] = first + i;
    cbd2(prf(input), out, i * N);
  }
}

/** A K-PKE key pair in the NTT domain: what decryption and re-encryption need, decoded once. */
interface PkeKeys {
  /** Â, row-major (see {@link expandMatrix}). */
  readonly a: Int16Array;
  /** t̂ = Â∘ŝ + ê. */
  readonly t: Int16Array;
  /** ŝ; absent for an encapsulation key alone. */
  readonly s?: Int16Array;
}

/** K-PKE.KeyGen (Algorithm 13): the keys in the NTT domain; ek_PKE = ByteEncode_12(t̂) ‖ ρ into `ek`. */
function kpkeKeyGen(d: Uint8Array, ek: Buffer): Required<PkeKeys> {
  // (ρ, σ) = G(d ‖ k): the parameter set's k as one byte separates the parameter sets (line 1).
  const [rho, sigma] = g(d, Uint8Array.of(K));
  // One allocation for Â, ŝ, t̂ and ê (ê is zeroed at the end).
  const scratch = new Int16Array((K * K + 3 * K) * N);
  const a = scratch.subarray(0, K * K * N);
  const s = scratch.subarray(K * K * N, (K * K + K) * N);
  const t = scratch.subarray((K * K + K) * N, (K * K + 2 * K) * N);
  const e = scratch.subarray((K * K + 2 * K) * N);
  expandMatrix(rho, a);
  sampleVector(sigma, 0, s, K);
  sampleVector(sigma, K, e, K);
  sigma.fill(0);
  for (let i = 0; i < K; i++) {
    ntt(s, i * N);
    ntt(e, i * N);
  }
  for (let i = 0; i < K; i++) {
    // t̂ = Â∘ŝ + ê (line 18)
    dot3(t, i * N, a, i * K * N, N, s, 0);
    addTo(t, i * N, e, i * N);
    encode12(t, i * N, ek, i * POLY_BYTES);
  }
  ek.set(rho, T_BYTES);
  e.fill(0);
  return { a, t, s };
}

/**
 * ek_PKE decoded: t̂ and Â (Algorithm 14 lines 2–8). Throws RangeError if a coefficient of t̂ is
 * ≥ q: the modulus check of §7.2 (ByteEncode_12(ByteDecode_12(t̂)) = t̂ fails exactly then).
 */
function decodeEncapsulationKey(ek: Uint8Array): PkeKeys {
  const scratch = new Int16Array((K * K + K) * N);
  const a = scratch.subarray(0, K * K * N);
  const t = scratch.subarray(K * K * N);
  let bad = 0;
  for (let i = 0; i < K; i++) bad |= decode12(ek, i * POLY_BYTES, t, i * N);
  if (bad < 0) throw new RangeError("ML-KEM-768: the encapsulation key fails the modulus check (FIPS 203 §7.2)");
  expandMatrix(ek.subarray(T_BYTES, T_BYTES + 32), a);
  return { a, t };
}

/** K-PKE.Encrypt (Algorithm 14, from line 9): the ciphertext of the 32-byte m with randomness r. */
function kpkeEncrypt(keys: PkeKeys, m: Uint8Array, r: Uint8Array): Buffer {
  const { a, t } = keys;
  const scratch = new Int16Array((2 * K + 3) * N);
  const y = scratch.subarray(0, K * N);
  const e1 = scratch.subarray(K * N, 2 * K * N);
  const e2 = scratch.subarray(2 * K * N, (2 * K + 1) * N);
  const u = scratch.subarray((2 * K + 1) * N, (2 * K + 2) * N);
  const v = scratch.subarray((2 * K + 2) * N);
  sampleVector(r, 0, y, K);
  sampleVector(r, K, e1, K);
  sampleVector(r, 2 * K, e2, 1);
  for (let i = 0; i < K; i++) ntt(y, i * N);
  const c = Buffer.alloc(MLKEM768_CT_BYTES);
  for (let i = 0; i < K; i++) {
    // u = NTT^-1(Âᵀ∘ŷ) + e1 (line 19): column i of Â.
    dot3(u, 0, a, i * N, K * N, y, 0);
    invNtt(u, 0);
    addTo(u, 0, e1, i * N);
    compressEncode10(u, 0, c, i * 320);
  }
  // v = NTT^-1(t̂ᵀ∘ŷ) + e2 + μ (lines 20–21)
  dot3(v, 0, t, 0, N, y, 0);
  invNtt(v, 0);
  addTo(v, 0, e2, 0);
  messageToPoly(m, u, 0);
  addTo(v, 0, u, 0);
  compressEncode4(v, 0, c, U_BYTES);
  scratch.fill(0);
  return c;
}

/** K-PKE.Decrypt (Algorithm 15) with ŝ already decoded: the 32-byte message in c. */
function kpkeDecrypt(s: Int16Array, c: Uint8Array): Buffer {
  const scratch = new Int16Array((K + 2) * N);
  const u = scratch.subarray(0, K * N);
  const w = scratch.subarray(K * N, (K + 1) * N);
  const v = scratch.subarray((K + 1) * N);
  for (let i = 0; i < K; i++) {
    decodeDecompress10(c, i * 320, u, i * N);
    ntt(u, i * N);
  }
  // w = v' − NTT^-1(ŝᵀ∘NTT(u')) (line 6)
  dot3(w, 0, s, 0, N, u, 0);
  invNtt(w, 0);
  decodeDecompress4(c, U_BYTES, v, 0);
  subFrom(v, 0, w, 0);
  const m = Buffer.alloc(32);
  polyToMessage(v, 0, m);
  scratch.fill(0);
  return m;
}

/**
 * ML-KEM.Decaps_internal (Algorithm 18) on decoded keys, h = H(ek): re-encrypts the decrypted
 * message and, if that does not reproduce c, returns K̄ = J(z ‖ c) (implicit rejection), chosen
 * by a mask rather than a branch on the comparison.
 */
function decapsInternal(keys: Required<PkeKeys>, h: Uint8Array, z: Uint8Array, c: Uint8Array): Buffer {
  const m = kpkeDecrypt(keys.s, c);
  const [k, r] = g(m, h);
  const kbar = createHash("shake256", { outputLength: 32 }).update(z).update(c).digest();
  const same = timingSafeEqual(kpkeEncrypt(keys, m, r), c);
  const mask = -Number(same) & 0xff;
  const out = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) out[i] = kbar[i]! ^ (mask & (kbar[i]! ^ k[i]!));
  m.fill(0);
  k.fill(0);
  r.fill(0);
  return out;
}

function check(what: string, b: Uint8Array, length: number): void {
  if (b.length !== length) throw new RangeError(`ML-KEM-768: ${what} must be ${length} bytes, got ${b.length}`);
}

/**
 * An ML-KEM-768 key pair kept decoded, for a key share: decapsulation reuses Â and t̂ from key
 * generation instead of expanding them again (9 SHAKE128 calls), and H(ek) is computed only if
 * the key pair is used. Holds the secret key until it is dropped, like any key share.
 */
export class MlKem768KeyPair {
  /** ek (FIPS 203 Algorithm 16), 1184 bytes. */
  readonly encapsulationKey: Buffer;
  readonly #keys: Required<PkeKeys>;
  readonly #z: Buffer;
  #hek: Buffer | undefined;

  /** ML-KEM.KeyGen (Algorithm 19); with `seed` = d ‖ z (64 bytes), KeyGen_internal (Algorithm 16). */
  constructor(seed?: Uint8Array) {
    const dz = seed ?? randomBytes(64);
    check("the key generation seed", dz, 64);
    this.encapsulationKey = Buffer.alloc(MLKEM768_EK_BYTES);
    this.#keys = kpkeKeyGen(dz.subarray(0, 32), this.encapsulationKey);
    this.#z = Buffer.from(dz.subarray(32, 64));
    if (!seed) dz.fill(0);
  }

  #h(): Buffer {
    return (this.#hek ??= h(this.encapsulationKey));
  }

  /** dk = ByteEncode_12(ŝ) ‖ ek ‖ H(ek) ‖ z (Algorithm 16 line 3), 2400 bytes. */
  get decapsulationKey(): Buffer {
    const dk = Buffer.alloc(MLKEM768_DK_BYTES);
    for (let i = 0; i < K; i++) encode12(this.#keys.s, i * N, dk, i * POLY_BYTES);
    dk.set(this.encapsulationKey, T_BYTES);
    dk.set(this.#h(), T_BYTES + MLKEM768_EK_BYTES);
    dk.set(this.#z, T_BYTES + MLKEM768_EK_BYTES + 32);
    return dk;
  }

  /** The shared secret in `ciphertext` (Algorithm 18, implicit rejection). RangeError unless 1088 bytes. */
  decapsulate(ciphertext: Uint8Array): Buffer {
    check("the ciphertext", ciphertext, MLKEM768_CT_BYTES);
    return decapsInternal(this.#keys, this.#h(), this.#z, ciphertext);
  }
}

/**
 * ML-KEM-768 key generation (FIPS 203 Algorithm 19; with `seed` = d ‖ z, the deterministic
 * ML-KEM.KeyGen_internal of Algorithm 16). Throws RangeError unless the seed is 64 bytes.
 */
export function mlkem768KeyGen(seed?: Uint8Array): { encapsulationKey: Buffer; decapsulationKey: Buffer } {
  const pair = new MlKem768KeyPair(seed);
  return { encapsulationKey: pair.encapsulationKey, decapsulationKey: pair.decapsulationKey };
}

/**
 * ML-KEM-768 encapsulation (FIPS 203 Algorithm 20; with `m`, Encaps_internal of Algorithm 17).
 * Checks ek first (§7.2): its length, and that every 12-bit coefficient of t̂ is below q (the
 * modulus check); a failed check throws RangeError.
 */
export function mlkem768Encaps(ek: Uint8Array, m?: Uint8Array): { ciphertext: Buffer; sharedSecret: Buffer } {
  check("the encapsulation key", ek, MLKEM768_EK_BYTES);
  const keys = decodeEncapsulationKey(ek);
  const msg = m ?? randomBytes(32);
  check("the message", msg, 32);
  // (K, r) = G(m ‖ H(ek)) (Algorithm 17 line 1)
  const [k, r] = g(msg, h(ek));
  const ciphertext = kpkeEncrypt(keys, msg, r);
  const sharedSecret = Buffer.from(k);
  k.fill(0);
  r.fill(0);
  if (!m) msg.fill(0);
  return { ciphertext, sharedSecret };
}

/**
 * ML-KEM-768 decapsulation (FIPS 203 Algorithm 21 → Decaps_internal, Algorithm 18) with implicit
 * rejection. Checks the lengths and dk's hash (§7.3); a failed check throws RangeError.
 */
export function mlkem768Decaps(dk: Uint8Array, ciphertext: Uint8Array): Buffer {
  check("the ciphertext", ciphertext, MLKEM768_CT_BYTES);
  check("the decapsulation key", dk, MLKEM768_DK_BYTES);
  const ek = dk.subarray(T_BYTES, T_BYTES + MLKEM768_EK_BYTES);
  const hek = dk.subarray(T_BYTES + MLKEM768_EK_BYTES, T_BYTES + MLKEM768_EK_BYTES + 32);
  if (!timingSafeEqual(h(ek), hek)) throw new RangeError("ML-KEM-768: the decapsulation key fails the hash check (FIPS 203 §7.3)");
  const scratch = new Int16Array((K * K + 2 * K) * N);
  const a = scratch.subarray(0, K * K * N);
  const t = scratch.subarray(K * K * N, (K * K + K) * N);
  const s = scratch.subarray((K * K + K) * N);
  for (let i = 0; i < K; i++) decode12(dk, i * POLY_BYTES, s, i * N);
  // §7.3 asks no modulus check of dk's ek; 12-bit values ≥ q only give a wrong (not unsafe) result.
  for (let i = 0; i < K; i++) decode12(ek, i * POLY_BYTES, t, i * N);
  expandMatrix(ek.subarray(T_BYTES, T_BYTES + 32), a);
  const keys = { a, t, s };
  const out = decapsInternal(keys, hek, dk.subarray(T_BYTES + MLKEM768_EK_BYTES + 32), ciphertext);
  scratch.fill(0);
  return out;
}
