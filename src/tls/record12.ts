import { createCipheriv, createDecipheriv, createSecretKey, type CipherGCM, type DecipherGCM, type KeyObject } from "node:crypto";
import { TlsError } from "../errors.js";
import { MAX_PLAINTEXT } from "./constants.js";
import { ownBytes, type RecordOpener, type RecordSealer } from "./record.js";
import type { Cipher12 } from "./suites12.js";

/**
 * TLS 1.2 AEAD record protection (RFC 5246 §6.2.3.3): AES-GCM with an explicit 8-byte nonce
 * (RFC 5288 §3) and ChaCha20-Poly1305 with the sequence number XORed into the IV (RFC 7905 §2).
 * The additional data is seq_num + type + version + plaintext length. CBC suites live in cbc.ts.
 */

const TAG = 16;

/** The 13-byte additional data (RFC 5246 §6.2.3.3). */
export function additionalData12(seq: number, type: number, length: number): Buffer {
  const ad = Buffer.allocUnsafe(13);
  writeSeq(ad, 0, seq);
  ad[8] = type;
  ad[9] = 3;
  ad[10] = 3;
  ad.writeUInt16BE(length, 11);
  return ad;
}

/** The 64-bit sequence number, big-endian. */
export function writeSeq(out: Buffer, offset: number, seq: number): void {
  out.writeUInt32BE(Math.floor(seq / 0x100000000) >>> 0, offset);
  out.writeUInt32BE(seq >>> 0, offset + 4);
}

type AeadCipher = Extract<Cipher12, { kind: "gcm" | "chacha" }>;

abstract class Aead12 {
  readonly #cipher: AeadCipher;
  readonly #key: KeyObject;
  readonly #iv: Buffer;
  /** Bytes of nonce sent with each record (8 for GCM, 0 for ChaCha20). */
  protected readonly explicit: number;
  seq = 0;

  constructor(cipher: AeadCipher, key: Buffer, iv: Buffer) {
    this.#cipher = cipher;
    this.#key = createSecretKey(key);
    this.#iv = ownBytes(iv); // long-lived: not a view of the key block or the Buffer pool
    this.explicit = cipher.kind === "gcm" ? 8 : 0;
  }

  /** The record's nonce; for GCM the explicit part is the sequence number (unique per key). */
  protected nonce(seq: number, explicitPart?: Buffer): Buffer {
    const nonce = Buffer.alloc(12);
    if (this.#cipher.kind === "gcm") {
      this.#iv.copy(nonce, 0);
      if (explicitPart) explicitPart.copy(nonce, 4);
      else writeSeq(nonce, 4, seq);
      return nonce;
    }
    writeSeq(nonce, 4, seq);
    for (let i = 0; i < 12; i++) nonce[i]! ^= this.#iv[i]!;
    return nonce;
  }

  protected cipher(nonce: Buffer): CipherGCM {
    return createCipheriv(this.#cipher.name as "aes-128-gcm", this.#key, nonce) as CipherGCM;
  }

  protected decipher(nonce: Buffer): DecipherGCM {
    return createDecipheriv(this.#cipher.name as "aes-128-gcm", this.#key, nonce) as DecipherGCM;
  }
}

/** Seals TLS 1.2 AEAD records. */
export class Aead12Sealer extends Aead12 implements RecordSealer {
  get recordOverhead(): number {
    return 5 + this.explicit + TAG;
  }

  sealInto(out: Buffer, offset: number, type: number, parts: readonly Buffer[], length: number): number {
    if (length > MAX_PLAINTEXT) throw new Error("record plaintext too long");
    const seq = this.seq++;
    out[offset] = type;
    out[offset + 1] = 3;
    out[offset + 2] = 3;
    out.writeUInt16BE(this.explicit + length + TAG, offset + 3);
    let o = offset + 5;
    if (this.explicit > 0) {
      writeSeq(out, o, seq);
      o += 8;
    }
    const c = this.cipher(this.nonce(seq));
    c.setAAD(additionalData12(seq, type, length));
    for (const p of parts) o += c.update(p).copy(out, o);
    o += c.final().copy(out, o);
    o += c.getAuthTag().copy(out, o);
    return o;
  }

  seal(type: number, data: Buffer): Buffer {
    const out = Buffer.allocUnsafe(this.recordOverhead + data.length);
    this.sealInto(out, 0, type, [data], data.length);
    return out;
  }
}

/** Opens TLS 1.2 AEAD records. */
export class Aead12Opener extends Aead12 implements RecordOpener {
  readonly hidesType = false;

  open(header: Buffer, fragment: Buffer): { type: number; data: Buffer } {
    const type = header[0]!;
    const length = fragment.length - this.explicit - TAG;
    if (length < 0) throw new TlsError("TLS record too short to be protected", { alert: "bad_record_mac" });
    if (length > MAX_PLAINTEXT) throw new TlsError("TLS record plaintext exceeds 2^14 bytes", { alert: "record_overflow" });
    const seq = this.seq++;
    const d = this.decipher(this.nonce(seq, this.explicit > 0 ? fragment.subarray(0, this.explicit) : undefined));
    d.setAAD(additionalData12(seq, type, length));
    d.setAuthTag(fragment.subarray(fragment.length - TAG));
    let data: Buffer;
    try {
      data = d.update(fragment.subarray(this.explicit, fragment.length - TAG));
      d.final();
    } catch {
      throw new TlsError("TLS record failed authentication (bad_record_mac)", { alert: "bad_record_mac" });
    }
    return { type, data };
  }
}
