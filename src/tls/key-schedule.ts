import { createHash, createHmac, type Hash } from "node:crypto";
import { CipherSuite } from "./constants.js";

/** What a TLS 1.3 cipher suite needs: AEAD (node:crypto name), key/iv sizes, transcript hash. */
export interface SuiteInfo {
  readonly id: number;
  readonly name: string;
  /** node:crypto cipher name. */
  readonly aead: "aes-128-gcm" | "aes-256-gcm" | "chacha20-poly1305";
  readonly keyLength: number;
  readonly ivLength: 12;
  /** node:crypto hash name. */
  readonly hash: "sha256" | "sha384";
  readonly hashLength: number;
}

const SUITES: ReadonlyMap<number, SuiteInfo> = new Map<number, SuiteInfo>([
  [CipherSuite.TLS_AES_128_GCM_SHA256, { id: 0x1301, name: "TLS_AES_128_GCM_SHA256", aead: "aes-128-gcm", keyLength: 16, ivLength: 12, hash: "sha256", hashLength: 32 }],
  [CipherSuite.TLS_AES_256_GCM_SHA384, { id: 0x1302, name: "TLS_AES_256_GCM_SHA384", aead: "aes-256-gcm", keyLength: 32, ivLength: 12, hash: "sha384", hashLength: 48 }],
  [CipherSuite.TLS_CHACHA20_POLY1305_SHA256, { id: 0x1303, name: "TLS_CHACHA20_POLY1305_SHA256", aead: "chacha20-poly1305", keyLength: 32, ivLength: 12, hash: "sha256", hashLength: 32 }],
]);

/** Suite parameters for a TLS 1.3 cipher suite id, or undefined if masq does not implement it. */
export function suiteInfo(id: number): SuiteInfo | undefined {
  return SUITES.get(id);
}

/** HKDF-Extract (RFC 5869 §2.2). */
export function hkdfExtract(hash: string, salt: Buffer, ikm: Buffer): Buffer {
  return createHmac(hash, salt).update(ikm).digest();
}

/** HKDF-Expand (RFC 5869 §2.3). */
export function hkdfExpand(hash: string, prk: Buffer, info: Buffer, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let prev = Buffer.alloc(0);
  let filled = 0;
  for (let i = 1; filled < length; i++) {
    prev = createHmac(hash, prk).update(prev).update(info).update(Buffer.of(i)).digest();
    filled += prev.copy(out, filled);
  }
  return out;
}

/** "tls13 " + label, per label: the few labels of RFC 8446 §7 are encoded once. */
const LABELS = new Map<string, Buffer>();

/**
 * HKDF-Expand-Label (RFC 8446 §7.1). Every TLS 1.3 output is at most one hash long, so HKDF-Expand
 * is a single HMAC over HkdfLabel || 0x01 (RFC 5869 §2.3, T(1)): built in one buffer, no loop.
 */
export function hkdfExpandLabel(hash: string, secret: Buffer, label: string, context: Buffer, length: number): Buffer {
  let full = LABELS.get(label);
  if (!full) {
    full = Buffer.from("tls13 " + label, "latin1");
    if (LABELS.size < 64) LABELS.set(label, full);
  }
  const info = Buffer.allocUnsafe(2 + 1 + full.length + 1 + context.length + 1);
  info.writeUInt16BE(length, 0);
  info[2] = full.length;
  full.copy(info, 3);
  info[3 + full.length] = context.length;
  context.copy(info, 4 + full.length);
  const hashLength = hash === "sha384" ? 48 : hash === "sha256" ? 32 : 0;
  if (length > hashLength) return hkdfExpand(hash, secret, info.subarray(0, info.length - 1), length);
  info[info.length - 1] = 1;
  const t1 = createHmac(hash, secret).update(info).digest();
  return length === t1.length ? t1 : t1.subarray(0, length);
}

/** Derive-Secret(Secret, Label, Messages) with the transcript hash already computed (RFC 8446 §7.1). */
export function deriveSecret(hash: string, secret: Buffer, label: string, transcriptHash: Buffer): Buffer {
  return hkdfExpandLabel(hash, secret, label, transcriptHash, transcriptHash.length);
}

const EMPTY_HASHES = new Map<string, Buffer>();

/** Hash of the empty string (Derive-Secret's "derived" context), computed once per hash. Do not modify. */
export function emptyHash(hash: string): Buffer {
  let h = EMPTY_HASHES.get(hash);
  if (!h) {
    h = createHash(hash).digest();
    EMPTY_HASHES.set(hash, h);
  }
  return h;
}

/** Derive-Secret(Early Secret, "derived", "") without a PSK: a constant per hash (RFC 8446 §7.1), computed once. */
const DERIVED_WITHOUT_PSK = new Map<string, Buffer>();

/** Write key and IV for a traffic secret (RFC 8446 §7.3). */
export function trafficKeys(suite: SuiteInfo, secret: Buffer): { key: Buffer; iv: Buffer } {
  return {
    key: hkdfExpandLabel(suite.hash, secret, "key", Buffer.alloc(0), suite.keyLength),
    iv: hkdfExpandLabel(suite.hash, secret, "iv", Buffer.alloc(0), suite.ivLength),
  };
}

/** application_traffic_secret_N+1 (RFC 8446 §7.2). */
export function nextTrafficSecret(suite: SuiteInfo, secret: Buffer): Buffer {
  return hkdfExpandLabel(suite.hash, secret, "traffic upd", Buffer.alloc(0), suite.hashLength);
}

/** verify_data of a Finished message (RFC 8446 §4.4.4). */
export function finishedVerifyData(suite: SuiteInfo, baseKey: Buffer, transcriptHash: Buffer): Buffer {
  const finishedKey = hkdfExpandLabel(suite.hash, baseKey, "finished", Buffer.alloc(0), suite.hashLength);
  return createHmac(suite.hash, finishedKey).update(transcriptHash).digest();
}

/** The client and server traffic secrets of one stage (RFC 8446 §7.1). */
export interface TrafficSecrets {
  readonly client: Buffer;
  readonly server: Buffer;
}

/**
 * The secrets of a full (EC)DHE handshake without PSK (RFC 8446 §7.1), computed step by step as
 * the transcript grows.
 */
export class KeySchedule {
  readonly suite: SuiteInfo;
  #handshakeSecret: Buffer | undefined;
  clientHandshakeTrafficSecret: Buffer | undefined;
  serverHandshakeTrafficSecret: Buffer | undefined;
  masterSecret: Buffer | undefined;
  clientApplicationTrafficSecret: Buffer | undefined;
  serverApplicationTrafficSecret: Buffer | undefined;
  /** Hash(ClientHello..server Finished), kept for {@link exporterMasterSecret}. */
  #applicationTranscript: Buffer | undefined;

  /** exporter_master_secret (RFC 8446 §7.1): derived when asked (masq exports no keying material). */
  get exporterMasterSecret(): Buffer | undefined {
    if (!this.masterSecret || !this.#applicationTranscript) return undefined;
    return deriveSecret(this.suite.hash, this.masterSecret, "exp master", this.#applicationTranscript);
  }

  constructor(suite: SuiteInfo) {
    this.suite = suite;
  }

  /**
   * After ServerHello: `transcriptHash` = Hash(ClientHello..ServerHello). Returns the handshake
   * traffic secrets. `psk`: the resumption PSK the server accepted (psk_dhe_ke, §7.1).
   */
  handshake(sharedSecret: Buffer, transcriptHash: Buffer, psk?: Buffer): TrafficSecrets {
    const h = this.suite.hash;
    let derived = psk ? undefined : DERIVED_WITHOUT_PSK.get(h);
    if (!derived) {
      const zeros = Buffer.alloc(this.suite.hashLength);
      const early = hkdfExtract(h, zeros, psk ?? zeros);
      derived = deriveSecret(h, early, "derived", emptyHash(h));
      if (!psk) DERIVED_WITHOUT_PSK.set(h, derived);
    }
    this.#handshakeSecret = hkdfExtract(h, derived, sharedSecret);
    this.clientHandshakeTrafficSecret = deriveSecret(h, this.#handshakeSecret, "c hs traffic", transcriptHash);
    this.serverHandshakeTrafficSecret = deriveSecret(h, this.#handshakeSecret, "s hs traffic", transcriptHash);
    return { client: this.clientHandshakeTrafficSecret, server: this.serverHandshakeTrafficSecret };
  }

  /** After the server Finished: `transcriptHash` = Hash(ClientHello..server Finished). Returns the application traffic secrets. */
  application(transcriptHash: Buffer): TrafficSecrets {
    const h = this.suite.hash;
    if (!this.#handshakeSecret) throw new Error("handshake secret missing");
    const derived = deriveSecret(h, this.#handshakeSecret, "derived", emptyHash(h));
    this.masterSecret = hkdfExtract(h, derived, Buffer.alloc(this.suite.hashLength));
    this.clientApplicationTrafficSecret = deriveSecret(h, this.masterSecret, "c ap traffic", transcriptHash);
    this.serverApplicationTrafficSecret = deriveSecret(h, this.masterSecret, "s ap traffic", transcriptHash);
    this.#applicationTranscript = transcriptHash;
    return { client: this.clientApplicationTrafficSecret, server: this.serverApplicationTrafficSecret };
  }
}

/**
 * Running transcript hash (RFC 8446 §4.4.1). Before the suite is known the messages are kept;
 * `Hash.copy()` gives intermediate digests without re-hashing.
 */
export class Transcript {
  #pending: Buffer[] = [];
  #hash: Hash | undefined;
  /** Every message, when kept (see {@link keepMessages}). */
  #kept: Buffer[] | undefined;

  add(message: Buffer): void {
    if (this.#hash) this.#hash.update(message);
    else this.#pending.push(message);
    this.#kept?.push(message);
  }

  /**
   * Keep the messages themselves from now on (call before the first one): a TLS 1.2 client
   * CertificateVerify signs all of them with the scheme's own hash (RFC 5246 §7.4.8).
   */
  keepMessages(): void {
    this.#kept ??= [...this.#pending];
  }

  /** Hash of the transcript followed by `extra` (not added): a PSK binder's partial hello (RFC 8446 §4.2.11.2). */
  digestWith(extra: Buffer): Buffer {
    if (!this.#hash) throw new Error("transcript hash not started");
    return this.#hash.copy().update(extra).digest();
  }

  /** The kept messages, concatenated (empty when not kept). */
  messages(): Buffer {
    return Buffer.concat(this.#kept ?? []);
  }

  /** Fix the hash function (at ServerHello / HelloRetryRequest). */
  start(hash: string): void {
    if (this.#hash) return;
    this.#hash = createHash(hash);
    for (const m of this.#pending) this.#hash.update(m);
    this.#pending = [];
  }

  get started(): boolean {
    return this.#hash !== undefined;
  }

  /**
   * Replace ClientHello1 by message_hash(Hash(ClientHello1)) after a HelloRetryRequest (§4.4.1).
   * Must be called when the transcript holds exactly ClientHello1.
   */
  replaceWithMessageHash(hash: string): void {
    const h = createHash(hash);
    for (const m of this.#pending) h.update(m);
    const digest = h.digest();
    const synthetic = Buffer.allocUnsafe(4 + digest.length);
    synthetic[0] = 254;
    synthetic.writeUIntBE(digest.length, 1, 3);
    digest.copy(synthetic, 4);
    this.#hash = createHash(hash);
    this.#hash.update(synthetic);
    this.#pending = [];
  }

  digest(): Buffer {
    if (!this.#hash) throw new Error("transcript hash not started");
    return this.#hash.copy().digest();
  }
}
