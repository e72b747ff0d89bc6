import type { X509Certificate } from "node:crypto";
import { TlsError } from "../errors.js";
import { AlertDescription, ContentType, HandshakeType, TLS12, alertName } from "./constants.js";
import { CertificateError } from "./certificate.js";
import { EngineContext, bindEngineAccess } from "./engine-context.js";
import { Negotiated, startHandshake, unexpectedMessage, type EngineOptions, type EngineSink, type HandshakeContext, type HandshakeState, type VersionHandlers } from "./handshake.js";
import { tls12ServerHello } from "./handshake12.js";
import { tls13ServerHello } from "./handshake13.js";
import { KeySchedule, Transcript, nextTrafficSecret } from "./key-schedule.js";
import { handshakeMessage } from "./reader.js";
import { RecordDecryptor, RecordEncryptor, RecordReader, plaintextRecord, type RecordOpener, type RecordSealer } from "./record.js";

export type { EngineOptions, EngineSink, HelloBuilder } from "./handshake.js";
import type { HelloBuilder } from "./handshake.js";

/** Send a KeyUpdate before a write key protects this many records (AES-GCM limits, RFC 8446 §5.5). */
const KEY_UPDATE_AFTER = 1 << 23;

/** Consecutive records that carry nothing (CCS, empty data, user_canceled) before we give up. */
const MAX_EMPTY_RECORDS = 32;

/** The version-specific handshakes, chosen after ServerHello. */
const HANDLERS: VersionHandlers = { tls13: tls13ServerHello, tls12: tls12ServerHello };

/** Left in place of the hello builder once connected: no ClientHello is ever built again. */
const SPENT_HELLO: HelloBuilder = {
  keyShareGroups: [],
  recordVersion: TLS12,
  build(): Buffer {
    throw new TlsError("ClientHello after the handshake", { alert: "internal_error" });
  },
};

/** An empty buffer of its own (a zero-length view would pin the record it was cut from). */
const NO_BYTES = Buffer.alloc(0);

/**
 * The options a connected state still reads (tickets, KeyUpdate, message size). The rest (the
 * hello builder with its GREASE and ECH state, the offered tickets and PSK, client credentials,
 * fixed randomness) belongs to the handshake; an idle connection must not keep it alive.
 */
function connectedOptions(o: EngineOptions): EngineOptions {
  return {
    hello: SPENT_HELLO,
    verifyChain: o.verifyChain,
    ...(o.onTicket13 ? { onTicket13: o.onTicket13 } : {}),
    ...(o.onSessionTicket ? { onSessionTicket: o.onSessionTicket } : {}),
    ...(o.maxHandshakeMessage !== undefined ? { maxHandshakeMessage: o.maxHandshakeMessage } : {}),
  };
}

/** A peer alert reported as an error: we must not answer it with an alert of our own. */
class PeerAlert extends TlsError {
  constructor(message: string, init: { alert: string }) {
    // close_notify during the handshake is the server hanging up, not a fatal alert.
    super(message, { ...init, reason: init.alert === "close_notify" ? "connection_closed" : "alert_received" });
    this.name = "TlsError";
  }
}

const enum Phase {
  /** Before and during the handshake. */
  HANDSHAKE,
  /** Connected: application data flows. */
  OPEN,
  /** The server sent close_notify (we may still write). */
  CLOSED,
  FAILED,
}

/** The state before {@link TlsClientEngine.start}: nothing is expected. */
class NotStarted implements HandshakeState {
  readonly connected = false;
  handle(_ctx: HandshakeContext, type: number): HandshakeState {
    throw unexpectedMessage(type);
  }
  changeCipherSpec(): HandshakeState {
    throw new TlsError("unexpected change_cipher_spec record", { alert: "unexpected_message" });
  }
}

/**
 * masq's TLS client connection (TLS 1.3, RFC 8446, and TLS 1.2, RFC 5246) as a sans-I/O state
 * machine: feed it the server's bytes with {@link receive}, write out whatever it hands to
 * `sink.send`. This file is the record layer's side of the connection (records in and out, alerts,
 * application data); the handshakes live in handshake13.ts and handshake12.ts as state objects,
 * chosen by the version in ServerHello. {@link encrypt} protects application data once connected.
 *
 * Every failure is a TlsError; before throwing, the engine hands the matching alert to `sink.send`
 * (RFC 8446 §6.2) unless the failure is an alert from the server.
 */
export class TlsClientEngine {
  #opts: EngineOptions;
  readonly #sink: EngineSink;
  #transcript = new Transcript();
  /** The handshake's data has been let go (see {@link #settle}). */
  #settled = false;
  readonly #reader = new RecordReader();
  readonly #info = new Negotiated();
  readonly #ctx: HandshakeContext;
  #phase = Phase.HANDSHAKE;
  #state: HandshakeState = new NotStarted();
  #enc: RecordSealer | undefined;
  #dec: RecordOpener | undefined;
  #hs: Buffer = Buffer.alloc(0);
  #failure: TlsError | undefined;
  #closeSent = false;
  #emptyRecords = 0;

  /** Negotiated ALPN protocol, or false. */
  get alpnProtocol(): string | false {
    return this.#info.alpnProtocol;
  }
  /** The server chain as received (leaf first), once the Certificate message arrived. */
  get peerCertificates(): X509Certificate[] {
    return this.#info.peerCertificates;
  }
  /** Negotiated suite name, e.g. TLS_AES_128_GCM_SHA256. */
  get cipherSuite(): string | undefined {
    return this.#info.cipherSuite;
  }
  /** Negotiated key exchange group. */
  get negotiatedGroup(): number | undefined {
    return this.#info.negotiatedGroup;
  }
  /** True when the server asked for a HelloRetryRequest. */
  get helloRetried(): boolean {
    return this.#info.helloRetried;
  }
  /** True when the handshake resumed a session. */
  get resumed(): boolean {
    return this.#info.resumed;
  }
  /** The TLS version the server chose (0x0304 or 0x0303), once ServerHello arrived. */
  get version(): number | undefined {
    return this.#info.version;
  }

  constructor(opts: EngineOptions, sink: EngineSink) {
    this.#opts = opts;
    this.#sink = sink;
    this.#ctx = new EngineContext(this, this.#info);
  }

  static {
    // The engine's private state, as its EngineContext reaches it (engine-context.ts).
    bindEngineAccess({
      opts: (e) => e.#opts,
      transcript: (e) => e.#transcript,
      enc: (e) => e.#enc,
      setEnc: (e, v) => {
        e.#enc = v;
      },
      dec: (e) => e.#dec,
      setDec: (e, v) => {
        e.#dec = v;
      },
      pendingHandshakeBytes: (e) => e.#hs.length,
      sink: (e) => e.#sink,
      open: (e) => {
        e.#phase = Phase.OPEN;
        e.#sink.connected();
      },
    });
  }

  get connected(): boolean {
    return this.#phase === Phase.OPEN && this.#state.connected;
  }

  get failed(): TlsError | undefined {
    return this.#failure;
  }

  /** Largest application-data plaintext per record (2^14, or the server's record_size_limit). */
  get maxRecordPlaintext(): number {
    return this.#info.sendLimit;
  }

  /** The traffic secrets of the current keys (for tests). */
  get secrets(): { schedule: KeySchedule | undefined; read: Buffer | undefined; write: Buffer | undefined } {
    // TLS 1.3 only: TLS 1.2 keys come from the key block, not from traffic secrets.
    const read = this.#dec instanceof RecordDecryptor ? this.#dec.secret : undefined;
    const write = this.#enc instanceof RecordEncryptor ? this.#enc.secret : undefined;
    return { schedule: this.#info.schedule, read, write };
  }

  /** Build and send the first ClientHello. */
  start(): void {
    if (this.#phase !== Phase.HANDSHAKE || !(this.#state instanceof NotStarted)) throw new Error("TLS engine already started");
    this.#guard(() => {
      this.#state = startHandshake(this.#ctx, HANDLERS);
    });
  }

  /**
   * Feed bytes from the server. Throws TlsError (after handing the alert to `sink.send`).
   * `transient`: `chunk`'s memory is reused after the call; what is left of it is copied.
   */
  receive(chunk: Buffer, transient = false): void {
    if (this.#failure) throw this.#failure;
    if (this.#phase === Phase.CLOSED) return;
    this.#reader.push(chunk);
    try {
      this.#guard(() => {
        // Once records are protected, each is decrypted (into fresh memory) before the next is
        // read, so a record straddling chunks may be gathered into the reader's shared scratch.
        for (let rec = this.#reader.next(this.#dec !== undefined); rec; rec = this.#phase === Phase.CLOSED ? null : this.#reader.next(this.#dec !== undefined)) {
          this.#onRecord(rec.type, rec.header, rec.fragment);
        }
      });
    } finally {
      if (transient) this.#reader.settle();
    }
  }

  /**
   * Protect application data: all of `chunks` in as few records as possible, in one buffer (a
   * view of `scratch` when it is large enough).
   */
  encrypt(chunks: readonly Buffer[], scratch?: Buffer): Buffer {
    // After the server's close_notify we may still write (RFC 8446 §6.1: half-close).
    const enc = this.#enc;
    if ((this.#phase !== Phase.OPEN && this.#phase !== Phase.CLOSED) || !enc || this.#closeSent) {
      throw new TlsError("TLS connection is not open for writing", { alert: "internal_error" });
    }
    if (enc instanceof RecordEncryptor && enc.seq >= KEY_UPDATE_AFTER) {
      const update = this.keyUpdate(false);
      return Buffer.concat([update, this.encrypt(chunks)]);
    }
    let total = 0;
    for (const c of chunks) total += c.length;
    if (total === 0) return Buffer.alloc(0); // nothing to say: no empty records on the wire
    const limit = this.#info.sendLimit;
    const records = Math.max(1, Math.ceil(total / limit));
    const size = total + records * enc.recordOverhead;
    // `scratch` lets a caller that knows when the previous output was consumed reuse one buffer.
    const out = scratch && scratch.length >= size ? scratch : Buffer.allocUnsafe(size);
    let o = 0;
    let ci = 0;
    let coff = 0;
    let left = total;
    const parts: Buffer[] = [];
    for (let r = 0; r < records; r++) {
      const size = Math.min(limit, left);
      parts.length = 0;
      let need = size;
      while (need > 0) {
        const c = chunks[ci]!;
        const take = Math.min(c.length - coff, need);
        parts.push(coff === 0 && take === c.length ? c : c.subarray(coff, coff + take));
        need -= take;
        coff += take;
        if (coff === c.length) {
          ci++;
          coff = 0;
        }
      }
      o = enc.sealInto(out, o, ContentType.APPLICATION_DATA, parts, size);
      left -= size;
    }
    return out.subarray(0, o);
  }

  /** The close_notify alert record (RFC 8446 §6.1); the engine stops accepting writes. */
  closeNotify(): Buffer {
    this.#closeSent = true;
    return this.#alertRecord(AlertDescription.close_notify, 1);
  }

  /** Send a KeyUpdate (RFC 8446 §4.6.3) and switch to the next write key (TLS 1.3 only). */
  keyUpdate(requestPeer: boolean): Buffer {
    const enc = this.#enc;
    if ((this.#phase !== Phase.OPEN && this.#phase !== Phase.CLOSED) || !enc) throw new TlsError("not connected", { alert: "internal_error" });
    if (!(enc instanceof RecordEncryptor)) throw new TlsError("KeyUpdate exists only in TLS 1.3", { alert: "internal_error" });
    const rec = enc.seal(ContentType.HANDSHAKE, handshakeMessage(HandshakeType.KEY_UPDATE, Buffer.of(requestPeer ? 1 : 0)));
    this.#enc = new RecordEncryptor(enc.suite, nextTrafficSecret(enc.suite, enc.secret));
    return rec;
  }

  #alertRecord(description: number, level = 2): Buffer {
    const body = Buffer.of(level, description);
    if (this.#enc) return this.#enc.seal(ContentType.ALERT, body);
    return plaintextRecord(ContentType.ALERT, body);
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      const err =
        e instanceof TlsError
          ? e
          : new TlsError(`TLS engine failure: ${(e as Error)?.message ?? String(e)}`, { alert: "internal_error", cause: e });
      this.#fail(err);
      throw err;
    }
  }

  #fail(err: TlsError): void {
    if (this.#failure) return;
    this.#failure = err;
    const prev = this.#phase;
    this.#phase = Phase.FAILED;
    if (err instanceof PeerAlert || prev === Phase.CLOSED) return;
    const name = err instanceof CertificateError ? err.tlsAlert : err.alert;
    const code =
      name !== undefined && name in AlertDescription
        ? AlertDescription[name as keyof typeof AlertDescription]
        : AlertDescription.internal_error;
    try {
      this.#sink.send(this.#alertRecord(code));
    } catch {
      // The alert is a courtesy; the error is what matters.
    }
  }

  /** Records without content are legal but must not go on forever (a cheap DoS otherwise). */
  #countEmpty(empty: boolean): void {
    if (!empty) {
      this.#emptyRecords = 0;
      return;
    }
    if (++this.#emptyRecords > MAX_EMPTY_RECORDS) {
      throw new TlsError("too many consecutive empty TLS records", { alert: "unexpected_message" });
    }
  }

  #onRecord(type: number, header: Buffer, fragment: Buffer): void {
    const state = this.#state;
    if (type === ContentType.CHANGE_CIPHER_SPEC) {
      this.#countEmpty(true);
      if (fragment.length !== 1 || fragment[0] !== 1) {
        throw new TlsError("malformed change_cipher_spec record", { alert: "unexpected_message" });
      }
      // TLS 1.3: ignored during the handshake (RFC 8446 §5, §D.4); TLS 1.2: the read keys change.
      this.#state = state.changeCipherSpec(this.#ctx);
      this.#settle();
      return;
    }
    const dec = this.#dec;
    if (!dec) {
      if (type === ContentType.HANDSHAKE) return this.#onHandshakeData(fragment);
      if (type === ContentType.ALERT) return this.#onAlert(fragment);
      throw new TlsError("application data before the handshake keys", { alert: "unexpected_message" });
    }
    if (type === ContentType.ALERT && fragment.length === 2 && !state.connected) {
      // A server that failed to read our protected records may answer in plaintext; report it.
      return this.#onAlert(fragment);
    }
    if (dec.hidesType && type !== ContentType.APPLICATION_DATA) {
      throw new TlsError(`unprotected record of type ${type} after the handshake keys`, { alert: "unexpected_message" });
    }
    const { type: inner, data } = dec.open(header, fragment);
    if (inner !== ContentType.HANDSHAKE && this.#hs.length > 0) {
      throw new TlsError("handshake message interleaved with other records", { alert: "unexpected_message" });
    }
    switch (inner) {
      case ContentType.HANDSHAKE:
        return this.#onHandshakeData(data);
      case ContentType.ALERT:
        return this.#onAlert(data);
      case ContentType.APPLICATION_DATA:
        if (!this.#state.connected) {
          throw new TlsError("application data before the handshake finished", { alert: "unexpected_message" });
        }
        this.#countEmpty(data.length === 0);
        if (data.length > 0) this.#sink.data(data);
        return;
      default:
        throw new TlsError(`protected record with content type ${inner}`, { alert: "unexpected_message" });
    }
  }

  #onAlert(data: Buffer): void {
    if (data.length !== 2) throw new TlsError("malformed alert", { alert: "decode_error" });
    const desc = data[1]!;
    if (desc === AlertDescription.close_notify) {
      if (!this.#state.connected) {
        throw new PeerAlert("server closed the connection during the TLS handshake (close_notify)", { alert: "close_notify" });
      }
      this.#phase = Phase.CLOSED;
      this.#sink.closed();
      return;
    }
    if (desc === AlertDescription.user_canceled || (data[0] === 1 && this.#info.version === TLS12 && desc !== AlertDescription.no_renegotiation)) {
      // TLS 1.2 warnings (e.g. unrecognized_name after SNI) do not end the connection (RFC 5246 §7.2).
      this.#countEmpty(true);
      return; // followed by close_notify (RFC 8446 §6.1)
    }
    const name = alertName(desc);
    throw new PeerAlert(`server sent TLS alert ${name} (${desc})`, { alert: name });
  }

  #onHandshakeData(fragment: Buffer): void {
    if (fragment.length === 0) throw new TlsError("empty handshake record", { alert: "unexpected_message" });
    this.#countEmpty(false);
    this.#hs = this.#hs.length === 0 ? fragment : Buffer.concat([this.#hs, fragment]);
    const max = this.#opts.maxHandshakeMessage ?? 256 * 1024;
    while (this.#hs.length >= 4) {
      const len = this.#hs.readUIntBE(1, 3);
      if (len > max) throw new TlsError(`handshake message of ${len} bytes is too large`, { alert: "decode_error" });
      if (this.#hs.length < 4 + len) break;
      const msg = this.#hs.subarray(0, 4 + len);
      this.#hs = this.#hs.subarray(4 + len);
      // Messages that change keys must end their record (RFC 8446 §5.1); checked before acting.
      // (A TLS 1.3 ServerHello is checked by its state: a TLS 1.2 one shares its record.)
      const t = msg[0]!;
      if ((t === HandshakeType.FINISHED || t === HandshakeType.KEY_UPDATE) && this.#hs.length > 0) {
        throw new TlsError("handshake data after a key change in the same record", { alert: "unexpected_message" });
      }
      this.#state = this.#state.handle(this.#ctx, t, msg.subarray(4), msg);
      if (this.#phase === Phase.FAILED) return;
    }
    if (this.#hs.length === 0) this.#hs = NO_BYTES;
    this.#settle();
  }

  /**
   * Once connected, drop what only the handshake needed: the transcript hash (an OpenSSL digest
   * context), the key schedule's handshake and master secrets, and the handshake options (the
   * hello builder's GREASE/ECH state, offered tickets, credentials). An idle connection keeps its
   * record keys, the resumption secret when tickets are wanted, and the negotiated results.
   */
  #settle(): void {
    if (this.#settled || !this.#state.connected) return;
    this.#settled = true;
    this.#transcript = new Transcript();
    this.#info.schedule = undefined;
    this.#opts = connectedOptions(this.#opts);
  }
}
