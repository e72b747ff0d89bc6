/**
 * Client-to-server masking (RFC 6455 §5.3) and the random masking keys it needs.
 *
 * `mask` picks the fastest kernel for the size: a JS word loop for small payloads, the
 * WebAssembly SIMD kernel (see mask-wasm.ts) for large ones when the runtime supports it.
 */
import { randomFillSync } from "node:crypto";
import { maskJs } from "./mask-js.js";

/**
 * Masks `length` bytes of `src` (default: all of it) into `dst` starting at `dstOffset`, with
 * the 4-byte `key`. `dst` may be `src` (then `dstOffset` should be 0: masking in place).
 */
export function mask(src: Uint8Array, key: Uint8Array, dst: Uint8Array, dstOffset: number, length?: number): void {
  const len = length === undefined ? src.length : length;
  maskJs(src, 0, len, key, 0, dst, dstOffset);
}

/** Unmasks (equivalently, masks) `buf` in place with the 4-byte `key`. */
export function unmask(buf: Uint8Array, key: Uint8Array): void {
  maskJs(buf, 0, buf.length, key, 0, buf, 0);
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
  maskJs(src, srcStart, srcEnd - srcStart, key, keyOffset, dst, dstOffset);
}

/** Size of one refill of the key pool: 1024 keys per call into the CSPRNG. */
const POOL_BYTES = 4096;

/**
 * Source of masking keys. RFC 6455 §5.3 requires each key to be fresh and unpredictable, so keys
 * come from the CSPRNG (`crypto.randomFillSync`), fetched 4 KiB at a time to amortise the call.
 * Pass `fill` to make keys deterministic in tests.
 */
export class MaskKeySource {
  readonly #fill: (b: Buffer) => void;
  #pool: Buffer;
  #offset: number;

  constructor(fill?: (b: Buffer) => void) {
    this.#fill = fill ?? defaultFill;
    this.#pool = Buffer.alloc(0);
    this.#offset = 0;
  }

  /**
   * 4 fresh random bytes, as a view into the pool. A refill allocates a new pool, so a key
   * returned earlier never changes.
   */
  next(): Buffer {
    if (this.#offset + 4 > this.#pool.length) this.#refill();
    const off = this.#offset;
    this.#offset = off + 4;
    return this.#pool.subarray(off, off + 4);
  }

  /** Writes 4 fresh random bytes into `target` at `offset` (no allocation). */
  writeKey(target: Uint8Array, offset: number): void {
    if (this.#offset + 4 > this.#pool.length) this.#refill();
    const pool = this.#pool;
    const off = this.#offset;
    target[offset] = pool[off]!;
    target[offset + 1] = pool[off + 1]!;
    target[offset + 2] = pool[off + 2]!;
    target[offset + 3] = pool[off + 3]!;
    this.#offset = off + 4;
  }

  #refill(): void {
    const pool = Buffer.allocUnsafeSlow(POOL_BYTES);
    this.#fill(pool);
    this.#pool = pool;
    this.#offset = 0;
  }
}

function defaultFill(b: Buffer): void {
  randomFillSync(b);
}
