import { TlsError } from "../errors.js";

/**
 * A bounds-checked cursor over TLS wire structures (RFC 8446 §3). Every overrun becomes a
 * `TlsError` with alert `decode_error`, so that parsers never throw anything else on hostile input.
 */
export class TlsReader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  #need(n: number, what: string): void {
    if (this.end - this.pos < n) throw decodeError(`truncated ${what}`);
  }

  u8(what = "field"): number {
    this.#need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what = "field"): number {
    this.#need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u24(what = "field"): number {
    this.#need(3, what);
    const v = (this.buf[this.pos]! << 16) | this.buf.readUInt16BE(this.pos + 1);
    this.pos += 3;
    return v;
  }

  /** `n` raw bytes as a view (no copy). */
  bytes(n: number, what = "field"): Buffer {
    this.#need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** A vector with a 1-, 2- or 3-byte length prefix, as a view. */
  vec(lenBytes: 1 | 2 | 3, what = "vector"): Buffer {
    const n = lenBytes === 1 ? this.u8(what) : lenBytes === 2 ? this.u16(what) : this.u24(what);
    return this.bytes(n, what);
  }

  /** A sub-reader over a length-prefixed vector. */
  sub(lenBytes: 1 | 2 | 3, what = "vector"): TlsReader {
    const v = this.vec(lenBytes, what);
    return new TlsReader(v);
  }

  /** Fails with decode_error unless everything was consumed. */
  done(what = "message"): void {
    if (this.pos !== this.end) throw decodeError(`trailing bytes in ${what}`);
  }
}

export function decodeError(message: string): TlsError {
  return new TlsError(`TLS decode error: ${message}`, { alert: "decode_error" });
}

/** Prefix `body` with a big-endian length of `lenBytes` bytes. */
export function withLength(lenBytes: 1 | 2 | 3, ...parts: Buffer[]): Buffer {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = Buffer.allocUnsafe(lenBytes + n);
  if (lenBytes === 1) out[0] = n;
  else if (lenBytes === 2) out.writeUInt16BE(n, 0);
  else out.writeUIntBE(n, 0, 3);
  let o = lenBytes;
  for (const p of parts) {
    p.copy(out, o);
    o += p.length;
  }
  return out;
}

/** A handshake message: type (1) + uint24 length + body (RFC 8446 §4). */
export function handshakeMessage(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length);
  out[0] = type;
  out.writeUIntBE(body.length, 1, 3);
  body.copy(out, 4);
  return out;
}

export function u16(v: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(v, 0);
  return b;
}
