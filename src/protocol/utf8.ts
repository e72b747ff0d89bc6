/**
 * UTF-8 validation for TEXT messages and close reasons (RFC 6455 §8.1, RFC 3629).
 *
 * Whole messages go through node:buffer `isUtf8` (a SIMD validator in Node ≥ 18.14). Only a
 * message that arrives in fragments is validated incrementally, so that a bad fragment fails
 * the connection early and a code point split between two fragments is still accepted.
 */
import { isUtf8 } from "node:buffer";

/** True when `buf` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF). */
export function isValidUtf8(buf: Uint8Array): boolean {
  // Short buffers: a JS ASCII scan is cheaper than the call into C++.
  const n = buf.length;
  if (n <= 24) {
    let i = 0;
    while (i < n && buf[i]! < 0x80) i++;
    if (i === n) return true;
  }
  return isUtf8(buf);
}

/** Length of the sequence a lead byte starts (0 for a byte that can never lead). */
function seqLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead < 0xc2) return 0; // continuation byte, or C0/C1 (always overlong)
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  if (lead < 0xf5) return 4;
  return 0; // F5..FF would encode > U+10FFFF
}

/**
 * Whether `bytes[0..len)` (len < sequence length) can still become a valid code point.
 * RFC 3629 §4 restricts the second byte after E0, ED, F0 and F4; later bytes are plain
 * continuation bytes.
 */
function isValidPrefix(bytes: Uint8Array, len: number): boolean {
  const lead = bytes[0]!;
  if (seqLength(lead) < 2) return false;
  if (len < 2) return true;
  const b1 = bytes[1]!;
  let lo = 0x80;
  let hi = 0xbf;
  if (lead === 0xe0) lo = 0xa0;
  else if (lead === 0xed) hi = 0x9f;
  else if (lead === 0xf0) lo = 0x90;
  else if (lead === 0xf4) hi = 0x8f;
  if (b1 < lo || b1 > hi) return false;
  for (let i = 2; i < len; i++) if ((bytes[i]! & 0xc0) !== 0x80) return false;
  return true;
}

/**
 * Incremental validator for a message split into fragments. It carries an incomplete code
 * point (at most 3 bytes) from one `push` to the next and reports an error as soon as the
 * bytes seen so far cannot be the start of valid UTF-8. Once it has failed it stays failed
 * until {@link Utf8Validator.reset}.
 */
const NO_CARRY = new Uint8Array(0);

export class Utf8Validator {
  /** Bytes of an incomplete code point at the end of the previous push. */
  #carry: Uint8Array = NO_CARRY; // allocated on the first split code point only
  #carryLen = 0;
  /** Total length of the sequence in `#carry`. */
  #carryNeed = 0;
  #failed = false;

  /** Feeds the next piece. Returns false once the input so far is invalid. */
  push(chunk: Uint8Array): boolean {
    if (this.#failed) return false;
    let start = 0;
    const n = chunk.length;
    if (this.#carryLen > 0) {
      const take = Math.min(this.#carryNeed - this.#carryLen, n);
      for (let i = 0; i < take; i++) this.#carry[this.#carryLen++] = chunk[i]!;
      start = take;
      if (this.#carryLen < this.#carryNeed) return this.#check(isValidPrefix(this.#carry, this.#carryLen));
      if (!isUtf8(this.#carry.subarray(0, this.#carryNeed))) return this.#check(false);
      this.#carryLen = 0;
      if (start === n) return true;
    }
    const body = start === 0 ? chunk : chunk.subarray(start);
    if (isUtf8(body)) return true; // common case: the piece ends on a code point boundary
    // Maybe the piece only ends inside a code point: find the last lead byte within 3 bytes.
    let i = n - 1;
    while (i > start && n - i < 4 && (chunk[i]! & 0xc0) === 0x80) i--;
    const need = seqLength(chunk[i]!);
    if (need < 2 || n - i >= need) return this.#check(false);
    if (!isUtf8(chunk.subarray(start, i))) return this.#check(false);
    this.#carryNeed = need;
    this.#carryLen = n - i;
    if (this.#carry === NO_CARRY) this.#carry = new Uint8Array(4);
    for (let j = 0; j < this.#carryLen; j++) this.#carry[j] = chunk[i + j]!;
    return this.#check(isValidPrefix(this.#carry, this.#carryLen));
  }

  /** Call after the last piece: false when the input ended inside a code point (or failed before). */
  end(): boolean {
    if (this.#failed) return false;
    return this.#check(this.#carryLen === 0);
  }

  /** Forgets all state, ready for the next message. */
  reset(): void {
    this.#carryLen = 0;
    this.#carryNeed = 0;
    this.#failed = false;
  }

  #check(ok: boolean): boolean {
    if (!ok) this.#failed = true;
    return ok;
  }
}
