import { GREASE_PLACEHOLDER } from "./constants.js";

/**
 * Growable big-endian byte writer. Length-prefixed blocks are opened and closed explicitly (no
 * closure per field): a browser hello has some 60 of them, and building it is paid per connect.
 */
export class ByteWriter {
  #buf: Buffer;
  #len = 0;

  constructor(capacity = 256) {
    this.#buf = Buffer.allocUnsafe(capacity);
  }

  get length(): number {
    return this.#len;
  }

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
  }

  u8(v: number): this {
    this.#room(1);
    this.#buf[this.#len++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.#room(2);
    this.#buf[this.#len++] = (v >>> 8) & 0xff;
    this.#buf[this.#len++] = v & 0xff;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }

  /** Zero bytes (padding, an empty PSK binder). */
  zeros(n: number): this {
    this.#room(n);
    this.#buf.fill(0, this.#len, this.#len + n);
    this.#len += n;
    return this;
  }

  /** Starts a block behind a length prefix of `size` bytes (1, 2 or 3); returns its handle for {@link close}. */
  open(size: 1 | 2 | 3): number {
    this.#room(size);
    this.#len += size;
    return this.#len * 4 + size; // where the body starts, and the prefix size
  }

  /** Writes the length of the block `handle` (from {@link open}) now that its body is written. */
  close(handle: number): this {
    const size = handle & 3;
    const start = (handle - size) / 4;
    const n = this.#len - start;
    if (n >= 2 ** (8 * size)) throw new RangeError(`ClientHello field of ${n} bytes overflows its ${size}-byte length`);
    this.#buf.writeUIntBE(n, start - size, size);
    return this;
  }

  /** `body` behind a length prefix of `size` bytes. */
  block(size: 1 | 2 | 3, body: Uint8Array): this {
    const n = body.length;
    if (n >= 2 ** (8 * size)) throw new RangeError(`ClientHello field of ${n} bytes overflows its ${size}-byte length`);
    this.#room(size + n);
    this.#buf.writeUIntBE(n, this.#len, size);
    this.#buf.set(body, this.#len + size);
    this.#len += size + n;
    return this;
  }

  /** A list of u16 values behind a length prefix, GREASE placeholders replaced by `grease` (or dropped: null). */
  u16List(size: 1 | 2, list: readonly number[], grease: number | null): this {
    const h = this.open(size);
    for (const v of list) {
      if (v !== GREASE_PLACEHOLDER) this.u16(v);
      else if (grease !== null) this.u16(grease);
    }
    return this.close(h);
  }

  finish(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#len));
  }
}
