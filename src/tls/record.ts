import { createCipheriv, createDecipheriv, createSecretKey, type CipherGCM, type DecipherGCM, type KeyObject } from "node:crypto";
import { TlsError } from "../errors.js";
import { ContentType, MAX_CIPHERTEXT, MAX_PLAINTEXT } from "./constants.js";
import { trafficKeys, type SuiteInfo } from "./key-schedule.js";

/** AEAD tag length of every TLS 1.3 suite. */
export const TAG_LENGTH = 16;

/** One record as read off the wire (RFC 8446 §5.1). `fragment` is a view, not a copy, where possible. */
export interface RawRecord {
  type: number;
  version: number;
  /** The 5-byte record header (the AEAD additional data for protected records). */
  header: Buffer;
  fragment: Buffer;
}

/** Largest record on the wire (header + 2^14 + 256), gathered here when the caller allows it. */
const GATHER_SCRATCH = Buffer.allocUnsafeSlow(5 + MAX_CIPHERTEXT);

/**
 * Splits a byte stream into TLS records. Records that lie inside one pushed chunk are returned as
 * views of that chunk; only a record straddling chunks is copied (once) into its own buffer.
 */
export class RecordReader {
  #chunks: Buffer[] = [];
  #offset = 0; // read position in #chunks[0]
  #total = 0; // unread bytes

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#total += chunk.length;
  }

  get bufferedBytes(): number {
    return this.#total;
  }

  /**
   * Copies whatever is still unread (at most a partial record) into memory of its own, so that
   * the caller may reuse the memory of the chunks it pushed.
   */
  settle(): void {
    const n = this.#total;
    if (n === 0) {
      this.#chunks = [];
      this.#offset = 0;
      return;
    }
    const rest = Buffer.allocUnsafe(n);
    let filled = 0;
    let off = this.#offset;
    for (const c of this.#chunks) {
      filled += c.copy(rest, filled, off);
      off = 0;
    }
    this.#chunks = [rest];
    this.#offset = 0;
  }

  /**
   * The next complete record, or null. Throws TlsError(record_overflow / decode_error).
   * `transient`: the caller is done with the record before it calls `next` again (it decrypts
   * it at once), so a record that straddles chunks may be gathered into a shared scratch
   * buffer instead of fresh memory.
   */
  next(transient = false): RawRecord | null {
    if (this.#total < 5) return null;
    const first = this.#chunks[0]!;
    let header: Buffer;
    if (first.length - this.#offset >= 5) header = first.subarray(this.#offset, this.#offset + 5);
    else header = this.#gather(5, false);
    const type = header[0]!;
    const version = header.readUInt16BE(1);
    const length = header.readUInt16BE(3);
    if (type < ContentType.CHANGE_CIPHER_SPEC || type > ContentType.APPLICATION_DATA) {
      throw new TlsError(`TLS record with unknown content type ${type}`, { alert: "unexpected_message" });
    }
    if (header[1] !== 3) {
      throw new TlsError(`TLS record with bad version 0x${version.toString(16)}`, { alert: "protocol_version" });
    }
    if (length > MAX_CIPHERTEXT) {
      throw new TlsError(`TLS record of ${length} bytes exceeds 2^14+256`, { alert: "record_overflow" });
    }
    if (this.#total < 5 + length) return null;
    const f = this.#chunks[0]!;
    if (f.length - this.#offset >= 5 + length) {
      // The fragment as a view of the chunk, next to the header view taken above (which lies in
      // this chunk too): no third view of the whole record, which every record paid for.
      const start = this.#offset;
      this.#offset += 5 + length;
      this.#total -= 5 + length;
      if (this.#offset === f.length) {
        this.#chunks.shift();
        this.#offset = 0;
      }
      return { type, version, header, fragment: f.subarray(start + 5, start + 5 + length) };
    }
    const record = this.#gather(5 + length, true, transient);
    return { type, version, header: record.subarray(0, 5), fragment: record.subarray(5) };
  }

  /** Copy the next `n` bytes into a fresh buffer (or the shared scratch), consuming them if `consume`. */
  #gather(n: number, consume: boolean, transient = false): Buffer {
    const out = transient ? GATHER_SCRATCH.subarray(0, n) : Buffer.allocUnsafe(n);
    let filled = 0;
    let i = 0;
    let off = this.#offset;
    while (filled < n) {
      const c = this.#chunks[i]!;
      const take = Math.min(c.length - off, n - filled);
      c.copy(out, filled, off, off + take);
      filled += take;
      off += take;
      if (off === c.length) {
        i++;
        off = 0;
      }
    }
    if (consume) {
      this.#chunks.splice(0, i);
      this.#offset = off;
      this.#total -= n;
    }
    return out;
  }
}

/**
 * Write protection of one direction, whatever the version and cipher: TLS 1.3 AEAD
 * ({@link RecordEncryptor}), TLS 1.2 AEAD and TLS 1.2 CBC (record12.ts). The engine only seals.
 */
export interface RecordSealer {
  /** Records sealed with the current key (the 64-bit sequence number, RFC 5246 §6.1). */
  readonly seq: number;
  /** Most bytes one record adds to its plaintext, header included. */
  readonly recordOverhead: number;
  /** Protect `length` bytes taken in order from `parts` as one record written into `out` at `offset`; returns the end. */
  sealInto(out: Buffer, offset: number, type: number, parts: readonly Buffer[], length: number): number;
  /** Protect one record into a fresh buffer. */
  seal(type: number, data: Buffer): Buffer;
}

/** Read protection of one direction (see {@link RecordSealer}). */
export interface RecordOpener {
  /**
   * True when the outer content type is always application_data and the real one is inside the
   * protected record (TLS 1.3, RFC 8446 §5.2); false when the header's type is the real one.
   */
  readonly hidesType: boolean;
  /** Verify and decrypt one record: its content type and content (fresh memory). Throws TlsError(bad_record_mac, ...). */
  open(header: Buffer, fragment: Buffer): { type: number; data: Buffer };
}

/** Per-record nonce scratch: createCipheriv/createDecipheriv copy the IV, so one buffer serves all. */
const NONCE = Buffer.alloc(12);

/** Per-record nonce: the IV XORed with the 64-bit sequence number (RFC 8446 §5.3). */
function nonceFor(iv: Buffer, seq: number): Buffer {
  const nonce = iv.length === NONCE.length ? NONCE : Buffer.alloc(iv.length);
  iv.copy(nonce);
  const hi = Math.floor(seq / 0x100000000);
  const lo = seq >>> 0;
  nonce.writeUInt32BE((nonce.readUInt32BE(4) ^ hi) >>> 0, 4);
  nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ lo) >>> 0, 8);
  return nonce;
}

/**
 * A copy of `bytes` in memory of its own, for small values that live as long as the connection
 * (secrets, IVs, MAC keys): small Buffers from Buffer.allocUnsafe/from/concat are views of Node's
 * shared 8 KiB pool, and one long-lived view keeps its whole slab alive.
 */
export function ownBytes(bytes: Buffer): Buffer {
  const own = Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(own);
  return own;
}

/** One-byte inner content types (no padding), shared: the cipher only reads them. */
const TYPE_BYTE: Buffer[] = Array.from({ length: 256 }, (_, t) => Buffer.from([t]));

/** Protection state for one direction: suite, traffic secret, key, IV and sequence number. */
abstract class RecordProtection {
  readonly suite: SuiteInfo;
  secret: Buffer;
  /** The key as a KeyObject: node:crypto then skips re-importing raw key bytes per record. */
  protected keyObject: KeyObject;
  protected iv: Buffer;
  /** Records processed with the current key. */
  seq = 0;

  constructor(suite: SuiteInfo, secret: Buffer) {
    this.suite = suite;
    const k = trafficKeys(suite, secret);
    this.keyObject = createSecretKey(k.key);
    // Secret and IV live as long as the connection: copied into memory of their own, since the
    // small Buffers HKDF returns are views of Node's shared 8 KiB pool, and one long-lived view
    // keeps its whole slab (an idle connection pinned about one slab through these).
    const own = Buffer.allocUnsafeSlow(secret.length + k.iv.length);
    secret.copy(own, 0);
    k.iv.copy(own, secret.length);
    this.secret = own.subarray(0, secret.length);
    this.iv = own.subarray(secret.length);
  }
}

/** Encrypts TLSInnerPlaintext into TLSCiphertext records (RFC 8446 §5.2). */
export class RecordEncryptor extends RecordProtection implements RecordSealer {
  /** Header, content type byte and tag. */
  readonly recordOverhead = 5 + 1 + TAG_LENGTH;

  /**
   * Protect `length` bytes taken in order from `parts` (at most 2^14) with content type `type`,
   * writing the whole record into `out` at `offset`. One cipher object per record; the plaintext is
   * never concatenated. Returns the offset after the record.
   */
  sealInto(out: Buffer, offset: number, type: number, parts: readonly Buffer[], length: number, padding = 0): number {
    if (length > MAX_PLAINTEXT) throw new Error("record plaintext too long");
    const ctLength = length + 1 + padding + TAG_LENGTH;
    const header = out.subarray(offset, offset + 5);
    header[0] = ContentType.APPLICATION_DATA;
    header[1] = 3;
    header[2] = 3;
    header.writeUInt16BE(ctLength, 3);
    // No options object: every TLS 1.3 AEAD defaults to 16-byte tags in node:crypto, and skipping
    // the options validation saves ~0.5 µs of the ~7 µs a 16 KiB record costs.
    const cipher = createCipheriv(this.suite.aead as "aes-128-gcm", this.keyObject, nonceFor(this.iv, this.seq)) as CipherGCM;
    this.seq++;
    cipher.setAAD(header);
    let o = offset + 5;
    if (parts.length === 1 && parts[0]!.length >= 1024) {
      // One large piece (a slice of a big write): encrypt it in place of a copy.
      o += cipher.update(parts[0]!).copy(out, o);
      const trailer = padding === 0 ? TYPE_BYTE[type]! : Buffer.alloc(1 + padding, 0);
      if (padding !== 0) trailer[0] = type;
      o += cipher.update(trailer).copy(out, o);
    } else {
      // Many small writes: gather them (plus the type byte and padding) so that the cipher is
      // called once per record rather than once per write.
      const inner = Buffer.allocUnsafe(length + 1 + padding);
      let p = 0;
      for (const part of parts) p += part.copy(inner, p);
      inner[p] = type;
      inner.fill(0, p + 1);
      o += cipher.update(inner).copy(out, o);
    }
    o += cipher.final().copy(out, o);
    o += cipher.getAuthTag().copy(out, o);
    return o;
  }

  /** Protect one record into a fresh buffer. */
  seal(type: number, data: Buffer, padding = 0): Buffer {
    const out = Buffer.allocUnsafe(5 + data.length + 1 + padding + TAG_LENGTH);
    this.sealInto(out, 0, type, [data], data.length, padding);
    return out;
  }
}

/** Decrypts TLSCiphertext records and strips the TLSInnerPlaintext padding (RFC 8446 §5.2, §5.4). */
export class RecordDecryptor extends RecordProtection implements RecordOpener {
  readonly hidesType = true;

  /**
   * Returns the inner content type and the content, a view of a buffer freshly allocated by the
   * cipher (safe to hand to callers). Throws TlsError(bad_record_mac / record_overflow /
   * unexpected_message).
   */
  open(header: Buffer, fragment: Buffer): { type: number; data: Buffer } {
    if (fragment.length < TAG_LENGTH + 1) {
      throw new TlsError("TLS record too short to be protected", { alert: "bad_record_mac" });
    }
    const ctEnd = fragment.length - TAG_LENGTH;
    const decipher = createDecipheriv(this.suite.aead as "aes-128-gcm", this.keyObject, nonceFor(this.iv, this.seq)) as DecipherGCM;
    this.seq++;
    decipher.setAAD(header);
    decipher.setAuthTag(fragment.subarray(ctEnd));
    let plain: Buffer;
    try {
      plain = decipher.update(fragment.subarray(0, ctEnd));
      decipher.final();
    } catch {
      throw new TlsError("TLS record failed authentication (bad_record_mac)", { alert: "bad_record_mac" });
    }
    // TLSInnerPlaintext (content + type + padding) is at most 2^14 + 1 bytes (§5.4).
    if (plain.length > MAX_PLAINTEXT + 1) {
      throw new TlsError("TLS record plaintext exceeds 2^14 bytes", { alert: "record_overflow" });
    }
    // Strip zero padding: the content type is the last non-zero byte (§5.4).
    let i = plain.length - 1;
    while (i >= 0 && plain[i] === 0) i--;
    if (i < 0) throw new TlsError("TLS record without a content type", { alert: "unexpected_message" });
    return { type: plain[i]!, data: plain.subarray(0, i) };
  }
}

/** A plaintext record (before keys are established): header + fragment in one buffer. */
export function plaintextRecord(type: number, fragment: Buffer, version = 0x0303): Buffer {
  const out = Buffer.allocUnsafe(5 + fragment.length);
  out[0] = type;
  out.writeUInt16BE(version, 1);
  out.writeUInt16BE(fragment.length, 3);
  fragment.copy(out, 5);
  return out;
}

/** Split a handshake flight into plaintext records of at most 2^14 bytes. */
export function plaintextRecords(type: number, data: Buffer, version = 0x0303): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0; o < data.length; o += MAX_PLAINTEXT) {
    out.push(plaintextRecord(type, data.subarray(o, Math.min(data.length, o + MAX_PLAINTEXT)), version));
  }
  return out;
}
