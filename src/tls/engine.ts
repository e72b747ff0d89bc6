import { randomBytes, timingSafeEqual, type KeyObject, type X509Certificate } from "node:crypto";
import { TlsError } from "../errors.js";
import {
  AlertDescription,
  ContentType,
  DOWNGRADE_TLS11,
  DOWNGRADE_TLS12,
  ExtensionType,
  HandshakeType,
  HRR_RANDOM,
  MAX_PLAINTEXT,
  TLS12,
  TLS13,
  alertName,
} from "./constants.js";
import { CertificateError, decompressCertificate, parseCertificateBody, toX509, verifyCertificateVerify } from "./certificate.js";
import { readOfferedHello, type OfferedHello } from "./hello-info.js";
import { createKeyShare, isSupportedGroup, type KeyShare } from "./key-exchange.js";
import { KeySchedule, Transcript, finishedVerifyData, nextTrafficSecret, suiteInfo, type SuiteInfo } from "./key-schedule.js";
import { Reader, handshakeMessage } from "./reader.js";
import { RecordDecryptor, RecordEncryptor, RecordReader, TAG_LENGTH, plaintextRecord, plaintextRecords } from "./record.js";

/** Builds the ClientHello messages of one connection (the engine does not care how). */
export interface HelloBuilder {
  /** Groups that need a key share in the first ClientHello. */
  readonly keyShareGroups: readonly number[];
  /** legacy_record_version of the record carrying the first ClientHello. */
  readonly recordVersion: number;
  /** A complete ClientHello handshake message (type 1 + uint24 length + body). */
  build(p: {
    random: Buffer;
    sessionId: Buffer;
    keyShares: Array<{ group: number; key: Buffer }>;
    retry: boolean;
    cookie?: Buffer;
  }): Buffer;
}

/** What the engine tells its owner. Output bytes must be written in order. */
export interface EngineSink {
  send(bytes: Buffer): void;
  /** Decrypted application data: a fresh buffer (or a view of one) nobody else holds. */
  data(chunk: Buffer): void;
  /** The handshake finished: the server is authenticated (or verification was opted out of). */
  connected(): void;
  /** The server sent close_notify. */
  closed(): void;
}

export interface EngineOptions {
  hello: HelloBuilder;
  /**
   * Called with the parsed server chain (leaf first). Throw a TlsError/CertificateError to abort;
   * return normally to continue. The engine keeps the leaf key for CertificateVerify.
   */
  verifyChain(chain: X509Certificate[]): void;
  /** Fixed randomness and key shares for test vectors. */
  random?: Buffer;
  sessionId?: Buffer;
  keyShare?: (group: number) => KeyShare;
  /** Largest handshake message accepted (bytes); default 256 KiB. */
  maxHandshakeMessage?: number;
}

const enum State {
  START,
  WAIT_SH,
  WAIT_EE,
  WAIT_CERT_CR,
  WAIT_CERT,
  WAIT_CV,
  WAIT_FINISHED,
  CONNECTED,
  CLOSED,
  FAILED,
}

/** Extensions a server may put in EncryptedExtensions (RFC 8446 §4.2 table, companions). */
const EE_ALLOWED = new Set<number>([
  ExtensionType.SERVER_NAME,
  ExtensionType.MAX_FRAGMENT_LENGTH,
  ExtensionType.SUPPORTED_GROUPS,
  ExtensionType.USE_SRTP,
  ExtensionType.HEARTBEAT,
  ExtensionType.ALPN,
  ExtensionType.CLIENT_CERTIFICATE_TYPE,
  ExtensionType.SERVER_CERTIFICATE_TYPE,
  ExtensionType.EARLY_DATA,
  ExtensionType.RECORD_SIZE_LIMIT,
  ExtensionType.APPLICATION_SETTINGS,
  ExtensionType.ENCRYPTED_CLIENT_HELLO,
  0xca34, // trust_anchors (draft-ietf-tls-trust-anchor-ids), offered by Chrome
]);

/** RFC 8701 GREASE code points (0x?a?a): a server must never select one. */
function isGreaseValue(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
}

/** Send a KeyUpdate before a write key protects this many records (AES-GCM limits, RFC 8446 §5.5). */
const KEY_UPDATE_AFTER = 1 << 23;

/** Consecutive records that carry nothing (CCS, empty data, user_canceled) before we give up. */
const MAX_EMPTY_RECORDS = 32;

/** A peer alert reported as an error: we must not answer it with an alert of our own. */
class PeerAlert extends TlsError {
  constructor(message: string, init: { alert: string }) {
    super(message, init);
    this.name = "TlsError";
  }
}

/**
 * masq's TLS 1.3 client connection as a sans-I/O state machine (RFC 8446): feed it the server's
 * bytes with {@link receive}, write out whatever it hands to `sink.send`. The record layer lives
 * beside the handshake; {@link encrypt} protects application data once connected.
 *
 * Every failure is a TlsError; before throwing, the engine hands the matching alert to `sink.send`
 * (RFC 8446 §6.2) unless the failure is an alert from the server.
 */
export class TlsClientEngine {
  readonly #opts: EngineOptions;
  readonly #sink: EngineSink;
  readonly #reader = new RecordReader();
  readonly #transcript = new Transcript();
  #state = State.START;
  #offered!: OfferedHello;
  #random!: Buffer;
  #sessionId!: Buffer;
  #shares = new Map<number, KeyShare>();
  #hrr: { suite: number; group: number | undefined } | undefined;
  #suite: SuiteInfo | undefined;
  #schedule: KeySchedule | undefined;
  #enc: RecordEncryptor | undefined;
  #dec: RecordDecryptor | undefined;
  #hs: Buffer = Buffer.alloc(0);
  #ccsSent = false;
  #certRequested: Buffer | undefined;
  #leafKey: KeyObject | undefined;
  #sendLimit = MAX_PLAINTEXT;
  #failure: TlsError | undefined;
  #closeSent = false;
  #emptyRecords = 0;

  /** Negotiated ALPN protocol, or false. */
  alpnProtocol: string | false = false;
  /** The server chain as received (leaf first), once the Certificate message arrived. */
  peerCertificates: X509Certificate[] = [];
  /** Negotiated suite name, e.g. TLS_AES_128_GCM_SHA256. */
  get cipherSuite(): string | undefined {
    return this.#suite?.name;
  }
  /** Negotiated key exchange group. */
  negotiatedGroup: number | undefined;
  /** True when the server asked for a HelloRetryRequest. */
  get helloRetried(): boolean {
    return this.#hrr !== undefined;
  }

  constructor(opts: EngineOptions, sink: EngineSink) {
    this.#opts = opts;
    this.#sink = sink;
  }

  get connected(): boolean {
    return this.#state === State.CONNECTED;
  }

  get failed(): TlsError | undefined {
    return this.#failure;
  }

  /** Largest application-data plaintext per record (2^14, or the server's record_size_limit - 1). */
  get maxRecordPlaintext(): number {
    return this.#sendLimit;
  }

  /** The traffic secrets of the current keys (for tests). */
  get secrets(): { schedule: KeySchedule | undefined; read: Buffer | undefined; write: Buffer | undefined } {
    return { schedule: this.#schedule, read: this.#dec?.secret, write: this.#enc?.secret };
  }

  /** Build and send the first ClientHello. */
  start(): void {
    if (this.#state !== State.START) throw new Error("TLS engine already started");
    this.#guard(() => {
      this.#random = this.#opts.random ?? randomBytes(32);
      this.#sessionId = this.#opts.sessionId ?? randomBytes(32);
      const keyShares: Array<{ group: number; key: Buffer }> = [];
      for (const g of this.#opts.hello.keyShareGroups) {
        const share = this.#makeShare(g);
        this.#shares.set(g, share);
        keyShares.push({ group: g, key: share.key });
      }
      const hello = this.#opts.hello.build({ random: this.#random, sessionId: this.#sessionId, keyShares, retry: false });
      this.#offered = readOfferedHello(hello);
      this.#transcript.add(hello);
      this.#state = State.WAIT_SH;
      for (const r of plaintextRecords(ContentType.HANDSHAKE, hello, this.#opts.hello.recordVersion)) this.#sink.send(r);
    });
  }

  #makeShare(group: number): KeyShare {
    return this.#opts.keyShare ? this.#opts.keyShare(group) : createKeyShare(group);
  }

  /**
   * Feed bytes from the server. Throws TlsError (after handing the alert to `sink.send`).
   * `transient`: `chunk`'s memory is reused after the call; what is left of it is copied.
   */
  receive(chunk: Buffer, transient = false): void {
    if (this.#failure) throw this.#failure;
    if (this.#state === State.CLOSED) return;
    this.#reader.push(chunk);
    try {
      this.#guard(() => {
        // Once records are protected, each is decrypted (into fresh memory) before the next is
        // read, so a record straddling chunks may be gathered into the reader's shared scratch.
        for (let rec = this.#reader.next(this.#dec !== undefined); rec; rec = this.#state === State.CLOSED ? null : this.#reader.next(this.#dec !== undefined)) {
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
    if ((this.#state !== State.CONNECTED && this.#state !== State.CLOSED) || !this.#enc || this.#closeSent) {
      throw new TlsError("TLS connection is not open for writing", { alert: "internal_error" });
    }
    if (this.#enc.seq >= KEY_UPDATE_AFTER) {
      const update = this.keyUpdate(false);
      return Buffer.concat([update, this.encrypt(chunks)]);
    }
    let total = 0;
    for (const c of chunks) total += c.length;
    if (total === 0) return Buffer.alloc(0); // nothing to say: no empty records on the wire
    const limit = this.#sendLimit;
    const records = Math.max(1, Math.ceil(total / limit));
    const size = total + records * (5 + 1 + TAG_LENGTH);
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
      o = this.#enc.sealInto(out, o, ContentType.APPLICATION_DATA, parts, size);
      left -= size;
    }
    return out.subarray(0, o);
  }

  /** The close_notify alert record (RFC 8446 §6.1); the engine stops accepting writes. */
  closeNotify(): Buffer {
    this.#closeSent = true;
    return this.#alertRecord(AlertDescription.close_notify, 1);
  }

  /** Send a KeyUpdate (RFC 8446 §4.6.3) and switch to the next write key. */
  keyUpdate(requestPeer: boolean): Buffer {
    if ((this.#state !== State.CONNECTED && this.#state !== State.CLOSED) || !this.#enc) throw new TlsError("not connected", { alert: "internal_error" });
    const rec = this.#enc.seal(ContentType.HANDSHAKE, handshakeMessage(HandshakeType.KEY_UPDATE, Buffer.of(requestPeer ? 1 : 0)));
    this.#enc = new RecordEncryptor(this.#enc.suite, nextTrafficSecret(this.#enc.suite, this.#enc.secret));
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
    const prev = this.#state;
    this.#state = State.FAILED;
    if (err instanceof PeerAlert || prev === State.CLOSED) return;
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

  // ---- record layer ---------------------------------------------------------------------------

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
    if (type === ContentType.CHANGE_CIPHER_SPEC) {
      this.#countEmpty(true);
      // Middlebox compatibility (RFC 8446 §5, §D.4): one byte 0x01, ignored, only during the handshake.
      if (this.#state === State.CONNECTED || this.#state === State.START) {
        throw new TlsError("unexpected change_cipher_spec record", { alert: "unexpected_message" });
      }
      if (fragment.length !== 1 || fragment[0] !== 1) {
        throw new TlsError("malformed change_cipher_spec record", { alert: "unexpected_message" });
      }
      return;
    }
    if (!this.#dec) {
      if (type === ContentType.HANDSHAKE) return this.#onHandshakeData(fragment);
      if (type === ContentType.ALERT) return this.#onAlert(fragment);
      throw new TlsError("application data before the handshake keys", { alert: "unexpected_message" });
    }
    if (type === ContentType.ALERT && fragment.length === 2 && this.#state !== State.CONNECTED) {
      // A server that failed to read our protected records may answer in plaintext; report it.
      return this.#onAlert(fragment);
    }
    if (type !== ContentType.APPLICATION_DATA) {
      throw new TlsError(`unprotected record of type ${type} after the handshake keys`, { alert: "unexpected_message" });
    }
    const { type: inner, data } = this.#dec.open(header, fragment);
    if (inner !== ContentType.HANDSHAKE && this.#hs.length > 0) {
      throw new TlsError("handshake message interleaved with other records", { alert: "unexpected_message" });
    }
    switch (inner) {
      case ContentType.HANDSHAKE:
        return this.#onHandshakeData(data);
      case ContentType.ALERT:
        return this.#onAlert(data);
      case ContentType.APPLICATION_DATA:
        if (this.#state !== State.CONNECTED) {
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
      if (this.#state !== State.CONNECTED) {
        throw new PeerAlert("server closed the connection during the TLS handshake (close_notify)", { alert: "close_notify" });
      }
      this.#state = State.CLOSED;
      this.#sink.closed();
      return;
    }
    if (desc === AlertDescription.user_canceled) {
      this.#countEmpty(true);
      return; // followed by close_notify (RFC 8446 §6.1)
    }
    const name = alertName(desc);
    throw new PeerAlert(`server sent TLS alert ${name} (${desc})`, { alert: name });
  }

  // ---- handshake --------------------------------------------------------------------------------

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
      const t = msg[0]!;
      if ((t === HandshakeType.SERVER_HELLO || t === HandshakeType.FINISHED || t === HandshakeType.KEY_UPDATE) && this.#hs.length > 0) {
        throw new TlsError("handshake data after a key change in the same record", { alert: "unexpected_message" });
      }
      this.#onHandshakeMessage(t, msg.subarray(4), msg);
      if (this.#state === State.FAILED) return;
    }
  }

  /** Returns true when the message changes the read keys. */
  #onHandshakeMessage(type: number, body: Buffer, raw: Buffer): boolean {
    switch (this.#state) {
      case State.WAIT_SH:
        if (type !== HandshakeType.SERVER_HELLO) break;
        this.#onServerHello(body, raw);
        return true;
      case State.WAIT_EE:
        if (type !== HandshakeType.ENCRYPTED_EXTENSIONS) break;
        this.#onEncryptedExtensions(body);
        this.#transcript.add(raw);
        this.#state = State.WAIT_CERT_CR;
        return false;
      case State.WAIT_CERT_CR:
        if (type === HandshakeType.CERTIFICATE_REQUEST) {
          const r = new Reader(body);
          this.#certRequested = Buffer.from(r.vec(1, "certificate_request_context"));
          r.vec(2, "CertificateRequest extensions");
          r.done("CertificateRequest");
          this.#transcript.add(raw);
          this.#state = State.WAIT_CERT;
          return false;
        }
        return this.#onCertificateMessage(type, body, raw);
      case State.WAIT_CERT:
        return this.#onCertificateMessage(type, body, raw);
      case State.WAIT_CV: {
        if (type !== HandshakeType.CERTIFICATE_VERIFY) break;
        const r = new Reader(body);
        const scheme = r.u16("signature scheme");
        const sig = r.vec(2, "signature");
        r.done("CertificateVerify");
        verifyCertificateVerify(this.#leafKey!, scheme, sig, this.#transcript.digest(), this.#offered.signatureAlgorithms);
        this.#transcript.add(raw);
        this.#state = State.WAIT_FINISHED;
        return false;
      }
      case State.WAIT_FINISHED:
        if (type !== HandshakeType.FINISHED) break;
        this.#onServerFinished(body, raw);
        return true;
      case State.CONNECTED:
        if (type === HandshakeType.NEW_SESSION_TICKET) {
          // Accepted and ignored: masq does not resume sessions (RFC 8446 §4.6.1).
          const r = new Reader(body);
          r.bytes(8, "ticket lifetime/age_add");
          r.vec(1, "ticket_nonce");
          if (r.vec(2, "ticket").length === 0) throw new TlsError("empty session ticket", { alert: "decode_error" });
          r.vec(2, "NewSessionTicket extensions");
          r.done("NewSessionTicket");
          return false;
        }
        if (type === HandshakeType.KEY_UPDATE) {
          this.#onKeyUpdate(body);
          return true;
        }
        break;
    }
    throw new TlsError(`unexpected handshake message type ${type}`, { alert: "unexpected_message" });
  }

  #onCertificateMessage(type: number, body: Buffer, raw: Buffer): boolean {
    if (type === HandshakeType.CERTIFICATE) {
      this.#onCertificate(body);
    } else if (type === HandshakeType.COMPRESSED_CERTIFICATE && this.#offered.certCompression.length > 0) {
      this.#onCertificate(decompressCertificate(body, this.#offered.certCompression));
    } else {
      throw new TlsError(`unexpected handshake message type ${type}`, { alert: "unexpected_message" });
    }
    this.#transcript.add(raw);
    this.#state = State.WAIT_CV;
    return false;
  }

  #onServerHello(body: Buffer, raw: Buffer): void {
    const r = new Reader(body);
    const legacyVersion = r.u16("legacy_version");
    const random = r.bytes(32, "random");
    const sessionId = r.vec(1, "legacy_session_id_echo");
    const suiteId = r.u16("cipher_suite");
    const compression = r.u8("compression");
    const exts = new Map<number, Buffer>();
    if (r.remaining > 0) {
      const er = r.sub(2, "extensions");
      while (er.remaining > 0) {
        const t = er.u16("extension type");
        const d = er.vec(2, "extension data");
        if (exts.has(t)) throw new TlsError(`duplicate extension ${t} in ServerHello`, { alert: "illegal_parameter" });
        exts.set(t, d);
      }
    }
    r.done("ServerHello");
    const isHrr = random.equals(HRR_RANDOM);

    let version = legacyVersion;
    const sv = exts.get(ExtensionType.SUPPORTED_VERSIONS);
    if (sv) {
      const vr = new Reader(sv);
      version = vr.u16("selected_version");
      vr.done("supported_versions");
    }
    if (version !== TLS13) {
      // RFC 8446 §4.1.3: a TLS 1.3 client that sees a lower version checks the downgrade sentinel.
      const tail = random.subarray(24);
      if (tail.equals(DOWNGRADE_TLS12) || tail.equals(DOWNGRADE_TLS11)) {
        throw new TlsError("TLS downgrade detected: ServerHello.random carries the downgrade sentinel", {
          alert: "illegal_parameter",
        });
      }
      if (sv && version > TLS13) {
        throw new TlsError(`server selected unknown TLS version 0x${version.toString(16)}`, { alert: "illegal_parameter" });
      }
      if (version === TLS12) {
        throw new TlsError("server negotiated TLS 1.2, which masq's TLS engine does not support yet", {
          alert: "protocol_version",
        });
      }
      throw new TlsError(`server negotiated an obsolete TLS version 0x${version.toString(16)}`, { alert: "protocol_version" });
    }
    if (legacyVersion !== TLS12) {
      throw new TlsError("ServerHello.legacy_version is not 0x0303", { alert: "illegal_parameter" });
    }
    if (!sessionId.equals(this.#offered.sessionId)) {
      throw new TlsError("ServerHello does not echo our legacy_session_id", { alert: "illegal_parameter" });
    }
    const suite = suiteInfo(suiteId);
    if (!suite || !this.#offered.cipherSuites.includes(suiteId)) {
      throw new TlsError(`server selected cipher suite 0x${suiteId.toString(16)} that was not offered`, {
        alert: "illegal_parameter",
      });
    }
    if (this.#hrr && this.#hrr.suite !== suiteId) {
      throw new TlsError("ServerHello cipher suite differs from the HelloRetryRequest", { alert: "illegal_parameter" });
    }
    if (compression !== 0) throw new TlsError("ServerHello with compression", { alert: "illegal_parameter" });
    for (const t of exts.keys()) {
      const allowed =
        t === ExtensionType.SUPPORTED_VERSIONS || t === ExtensionType.KEY_SHARE || (isHrr && t === ExtensionType.COOKIE);
      if (!allowed) {
        const offered = this.#offered.extensions.includes(t);
        throw new TlsError(`ServerHello carries extension ${t}`, { alert: offered ? "illegal_parameter" : "unsupported_extension" });
      }
    }
    if (isHrr) return this.#onHelloRetryRequest(suite, exts, raw);

    const ks = exts.get(ExtensionType.KEY_SHARE);
    if (!ks) throw new TlsError("ServerHello without key_share (masq offers no PSK)", { alert: "missing_extension" });
    const kr = new Reader(ks);
    const group = kr.u16("key_share group");
    const serverKey = kr.vec(2, "key_exchange");
    kr.done("key_share");
    const share = this.#shares.get(group);
    if (!share || (this.#hrr?.group !== undefined && this.#hrr.group !== group)) {
      throw new TlsError(`server key share for group 0x${group.toString(16)} we did not send`, { alert: "illegal_parameter" });
    }
    const shared = share.complete(serverKey);
    this.negotiatedGroup = group;
    this.#suite = suite;
    this.#transcript.start(suite.hash);
    this.#transcript.add(raw);
    const schedule = new KeySchedule(suite);
    schedule.handshake(shared, this.#transcript.digest());
    this.#schedule = schedule;
    this.#dec = new RecordDecryptor(suite, schedule.serverHandshakeTrafficSecret!);
    this.#enc = new RecordEncryptor(suite, schedule.clientHandshakeTrafficSecret!);
    this.#state = State.WAIT_EE;
  }

  #onHelloRetryRequest(suite: SuiteInfo, exts: Map<number, Buffer>, raw: Buffer): void {
    if (this.#hrr) throw new TlsError("second HelloRetryRequest", { alert: "unexpected_message" });
    let group: number | undefined;
    const ks = exts.get(ExtensionType.KEY_SHARE);
    if (ks) {
      const kr = new Reader(ks);
      group = kr.u16("selected_group");
      kr.done("HelloRetryRequest key_share");
      if (!this.#offered.groups.includes(group) || this.#shares.has(group) || isGreaseValue(group)) {
        throw new TlsError(`HelloRetryRequest asks for group 0x${group.toString(16)}`, { alert: "illegal_parameter" });
      }
      if (!isSupportedGroup(group)) {
        throw new TlsError(`HelloRetryRequest asks for group 0x${group.toString(16)}, which masq cannot compute`, {
          alert: "handshake_failure",
        });
      }
    }
    let cookie: Buffer | undefined;
    const ck = exts.get(ExtensionType.COOKIE);
    if (ck) {
      const cr = new Reader(ck);
      cookie = Buffer.from(cr.vec(2, "cookie"));
      cr.done("cookie");
      if (cookie.length === 0) throw new TlsError("empty HelloRetryRequest cookie", { alert: "decode_error" });
    }
    if (group === undefined && cookie === undefined) {
      throw new TlsError("HelloRetryRequest that would not change the ClientHello", { alert: "illegal_parameter" });
    }
    this.#hrr = { suite: suite.id, group };
    // §4.4.1: ClientHello1 is replaced by message_hash(Hash(ClientHello1)), then HRR follows.
    this.#transcript.replaceWithMessageHash(suite.hash);
    this.#transcript.add(raw);
    let keyShares: Array<{ group: number; key: Buffer }>;
    if (group !== undefined) {
      const share = this.#makeShare(group);
      this.#shares = new Map([[group, share]]);
      keyShares = [{ group, key: share.key }];
    } else {
      keyShares = [...this.#shares.values()].map((s) => ({ group: s.group, key: s.key }));
    }
    const hello2 = this.#opts.hello.build({
      random: this.#random,
      sessionId: this.#sessionId,
      keyShares,
      retry: true,
      ...(cookie ? { cookie } : {}),
    });
    const offered2 = readOfferedHello(hello2);
    this.#offered = { ...offered2 };
    this.#transcript.add(hello2);
    this.#sendCcsOnce();
    for (const r of plaintextRecords(ContentType.HANDSHAKE, hello2)) this.#sink.send(r);
  }

  #sendCcsOnce(): void {
    // Middlebox compatibility mode (RFC 8446 §D.4): one CCS before our second flight.
    if (this.#ccsSent || this.#offered.sessionId.length === 0) return;
    this.#ccsSent = true;
    this.#sink.send(plaintextRecord(ContentType.CHANGE_CIPHER_SPEC, Buffer.of(1)));
  }

  #onEncryptedExtensions(body: Buffer): void {
    const r = new Reader(body);
    const er = r.sub(2, "extensions");
    r.done("EncryptedExtensions");
    const seen = new Set<number>();
    while (er.remaining > 0) {
      const t = er.u16("extension type");
      const d = er.vec(2, "extension data");
      if (seen.has(t)) throw new TlsError(`duplicate extension ${t} in EncryptedExtensions`, { alert: "illegal_parameter" });
      seen.add(t);
      if (!this.#offered.extensions.includes(t)) {
        throw new TlsError(`EncryptedExtensions carries unrequested extension ${t}`, { alert: "unsupported_extension" });
      }
      if (!EE_ALLOWED.has(t)) {
        throw new TlsError(`extension ${t} is not allowed in EncryptedExtensions`, { alert: "illegal_parameter" });
      }
      if (t === ExtensionType.ALPN) {
        const ar = new Reader(d);
        const list = ar.sub(2, "ALPN list");
        ar.done("ALPN");
        const name = list.vec(1, "protocol").toString("latin1");
        list.done("ALPN list");
        if (!this.#offered.alpn.includes(name)) {
          throw new TlsError(`server selected ALPN protocol ${JSON.stringify(name)} that was not offered`, {
            alert: "illegal_parameter",
          });
        }
        this.alpnProtocol = name;
      } else if (t === ExtensionType.RECORD_SIZE_LIMIT) {
        const lr = new Reader(d);
        const limit = lr.u16("record_size_limit");
        lr.done("record_size_limit");
        if (limit < 64) throw new TlsError("record_size_limit below 64", { alert: "illegal_parameter" });
        // RFC 8449 §4: in TLS 1.3 the limit counts the content type byte.
        this.#sendLimit = Math.min(MAX_PLAINTEXT, limit - 1);
      }
    }
  }

  #onCertificate(body: Buffer): void {
    const certs = toX509(parseCertificateBody(body));
    this.peerCertificates = certs;
    this.#leafKey = certs[0]!.publicKey;
    this.#opts.verifyChain(certs);
  }

  #onServerFinished(body: Buffer, raw: Buffer): void {
    const suite = this.#suite!;
    const schedule = this.#schedule!;
    const expected = finishedVerifyData(suite, schedule.serverHandshakeTrafficSecret!, this.#transcript.digest());
    if (body.length !== expected.length) throw new TlsError("server Finished has the wrong length", { alert: "decode_error" });
    if (!timingSafeEqual(body, expected)) {
      throw new TlsError("server Finished does not verify", { alert: "decrypt_error" });
    }
    this.#transcript.add(raw);
    schedule.application(this.#transcript.digest());
    // Our second flight: [CCS] [Certificate (empty, if requested)] Finished (RFC 8446 §4.4).
    const flight: Buffer[] = [];
    if (this.#certRequested) {
      const cert = handshakeMessage(HandshakeType.CERTIFICATE, Buffer.concat([Buffer.of(this.#certRequested.length), this.#certRequested, Buffer.of(0, 0, 0)]));
      this.#transcript.add(cert);
      flight.push(cert);
    }
    const verify = finishedVerifyData(suite, schedule.clientHandshakeTrafficSecret!, this.#transcript.digest());
    const fin = handshakeMessage(HandshakeType.FINISHED, verify);
    this.#transcript.add(fin);
    flight.push(fin);
    this.#sendCcsOnce();
    this.#sink.send(this.#enc!.seal(ContentType.HANDSHAKE, Buffer.concat(flight)));
    this.#enc = new RecordEncryptor(suite, schedule.clientApplicationTrafficSecret!);
    this.#dec = new RecordDecryptor(suite, schedule.serverApplicationTrafficSecret!);
    this.#state = State.CONNECTED;
    this.#sink.connected();
  }

  #onKeyUpdate(body: Buffer): void {
    if (body.length !== 1 || body[0]! > 1) {
      throw new TlsError("malformed KeyUpdate", { alert: body.length !== 1 ? "decode_error" : "illegal_parameter" });
    }
    const dec = this.#dec!;
    this.#dec = new RecordDecryptor(dec.suite, nextTrafficSecret(dec.suite, dec.secret));
    // §4.6.3: answer update_requested with our own KeyUpdate (update_not_requested).
    if (body[0] === 1) this.#sink.send(this.keyUpdate(false));
  }
}
