import { createCipheriv, createDecipheriv, createHmac, createSecretKey, randomFillSync, timingSafeEqual, type KeyObject } from "node:crypto";
import { TlsError } from "../errors.js";
import { MAX_PLAINTEXT } from "./constants.js";
import { ownBytes, type RecordOpener, type RecordSealer } from "./record.js";
import { additionalData12 } from "./record12.js";
import type { Cipher12 } from "./suites12.js";

/**
 * TLS 1.2 CBC record protection (RFC 5246 §6.2.3.2): HMAC (SHA-1, SHA-256 or SHA-384 as the suite
 * says) over seq_num + type + version + length + content, then content + MAC + padding encrypted
 * with AES-CBC (or 3DES-CBC) under a fresh random IV sent in front of each record
 * (MAC-then-encrypt; no encrypt_then_mac, which browsers do not offer).
 */

type CbcCipher = Extract<Cipher12, { kind: "cbc" }>;

/** Seals CBC records. */
export class CbcSealer implements RecordSealer {
  readonly #cipher: CbcCipher;
  readonly #key: KeyObject;
  readonly #macKey: Buffer;
  seq = 0;
  /** Header + IV + MAC + at most a block of padding. */
  readonly recordOverhead: number;

  constructor(cipher: CbcCipher, key: Buffer, macKey: Buffer) {
    this.#cipher = cipher;
    this.#key = createSecretKey(key);
    this.#macKey = ownBytes(macKey); // long-lived: not a view of the key block
    this.recordOverhead = 5 + cipher.blockSize + cipher.macLength + cipher.blockSize;
  }

  sealInto(out: Buffer, offset: number, type: number, parts: readonly Buffer[], length: number): number {
    if (length > MAX_PLAINTEXT) throw new Error("record plaintext too long");
    const seq = this.seq++;
    const block = this.#cipher.blockSize;
    const mac = createHmac(this.#cipher.mac, this.#macKey).update(additionalData12(seq, type, length));
    for (const p of parts) mac.update(p);
    const tag = mac.digest();
    // RFC 5246 §6.2.3.2: padding_length + 1 bytes, each = padding_length; the minimum that fills a block.
    const padLength = block - ((length + tag.length) % block) - 1;
    const ctLength = length + tag.length + padLength + 1;
    out[offset] = type;
    out[offset + 1] = 3;
    out[offset + 2] = 3;
    out.writeUInt16BE(block + ctLength, offset + 3);
    const iv = out.subarray(offset + 5, offset + 5 + block);
    randomFillSync(iv);
    const c = createCipheriv(this.#cipher.name, this.#key, iv);
    c.setAutoPadding(false);
    let o = offset + 5 + block;
    for (const p of parts) o += c.update(p).copy(out, o);
    o += c.update(Buffer.concat([tag, Buffer.alloc(padLength + 1, padLength)])).copy(out, o);
    o += c.final().copy(out, o);
    return o;
  }

  seal(type: number, data: Buffer): Buffer {
    const out = Buffer.allocUnsafe(this.recordOverhead + data.length);
    const end = this.sealInto(out, 0, type, [data], data.length);
    return out.subarray(0, end);
  }
}

/** Opens CBC records; bad padding and a bad MAC give the same error after the same work. */
export class CbcOpener implements RecordOpener {
  readonly hidesType = false;
  readonly #cipher: CbcCipher;
  readonly #key: KeyObject;
  readonly #macKey: Buffer;
  seq = 0;

  constructor(cipher: CbcCipher, key: Buffer, macKey: Buffer) {
    this.#cipher = cipher;
    this.#key = createSecretKey(key);
    this.#macKey = ownBytes(macKey); // long-lived: not a view of the key block
  }

  open(header: Buffer, fragment: Buffer): { type: number; data: Buffer } {
    const type = header[0]!;
    const macLength = this.#cipher.macLength;
    const block = this.#cipher.blockSize;
    // IV + at least one block holding MAC + padding_length.
    const minimum = block + Math.ceil((macLength + 1) / block) * block;
    if (fragment.length < minimum || fragment.length % block !== 0) {
      throw new TlsError("TLS record failed authentication (bad_record_mac)", { alert: "bad_record_mac" });
    }
    const seq = this.seq++;
    const d = createDecipheriv(this.#cipher.name, this.#key, fragment.subarray(0, block));
    d.setAutoPadding(false);
    const plain = Buffer.concat([d.update(fragment.subarray(block)), d.final()]);
    // Padding check without an early exit (RFC 5246 §6.2.3.2, implementation note): a bad
    // padding is treated as none, the MAC is still computed, and one error covers both.
    const padLength = plain[plain.length - 1]!;
    let bad = padLength + 1 + macLength > plain.length ? 1 : 0;
    const checked = bad ? 0 : padLength + 1;
    for (let i = 0; i < 256 && i < plain.length; i++) {
      const b = plain[plain.length - 1 - i]!;
      if (i < checked) bad |= b ^ padLength;
    }
    const contentLength = plain.length - macLength - (bad ? 1 : padLength + 1);
    const content = plain.subarray(0, contentLength);
    const mac = createHmac(this.#cipher.mac, this.#macKey).update(additionalData12(seq, type, contentLength)).update(content).digest();
    const macOk = timingSafeEqual(mac, plain.subarray(contentLength, contentLength + macLength));
    if (bad !== 0 || !macOk) throw new TlsError("TLS record failed authentication (bad_record_mac)", { alert: "bad_record_mac" });
    if (contentLength > MAX_PLAINTEXT) throw new TlsError("TLS record plaintext exceeds 2^14 bytes", { alert: "record_overflow" });
    return { type, data: content };
  }
}
