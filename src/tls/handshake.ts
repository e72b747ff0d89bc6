import { randomBytes, type X509Certificate } from "node:crypto";
import { TlsError } from "../errors.js";
import { ContentType, DOWNGRADE_TLS11, DOWNGRADE_TLS12, ExtensionType, HandshakeType, HRR_RANDOM, MAX_PLAINTEXT, TLS12, TLS13 } from "./constants.js";
import { readOfferedHello, type OfferedHello } from "./hello-info.js";
import { createKeyShare, createKeyShares, type KeyShare } from "./key-exchange.js";
import type { KeySchedule, Transcript } from "./key-schedule.js";
import { TlsReader } from "./reader.js";
import { plaintextRecords, type RecordOpener, type RecordSealer } from "./record.js";
import type { TlsSession12 } from "./session-ticket.js";
import type { ClientCredentials } from "./client-auth.js";
import { fillBinder, obfuscatedTicketAge, ticketUsable, type TlsTicket13 } from "./psk.js";

/**
 * What the 1.2 and 1.3 handshakes share: the engine's options, the context a handshake state
 * works in, and the first state (ClientHello sent, ServerHello expected), which dispatches on
 * the version the server chose (RFC 8446 §4.1.3, RFC 5246 §7.4.1.3).
 */

/** Builds the ClientHello messages of one connection (the engine does not care how). */
export interface HelloBuilder {
  /** Groups that need a key share in the first ClientHello. */
  readonly keyShareGroups: readonly number[];
  /** The X25519 share and the X25519 half of X25519MLKEM768 are one key (NSS; see ClientHelloProfile). */
  readonly hybridReusesX25519?: boolean;
  /** legacy_record_version of the record carrying the first ClientHello. */
  readonly recordVersion: number;
  /** A complete ClientHello handshake message (type 1 + uint24 length + body). */
  build(p: {
    random: Buffer;
    sessionId: Buffer;
    keyShares: Array<{ group: number; key: Buffer }>;
    retry: boolean;
    cookie?: Buffer;
    /** A TLS 1.3 resumption offer: pre_shared_key last, with a zero binder the engine fills in. */
    psk?: { identity: Buffer; obfuscatedAge: number; binderLength: number };
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

/** Options of a {@link TlsClientEngine}. */
export interface EngineOptions {
  hello: HelloBuilder;
  /**
   * Called with the parsed server chain (leaf first). Throw a TlsError/CertificateError to abort;
   * return normally to continue. The engine keeps the leaf key for CertificateVerify.
   */
  verifyChain(chain: X509Certificate[]): void;
  /**
   * Called with each TLS 1.2 session ticket (RFC 5077) once the handshake that issued it is
   * complete (the server Finished verified): what a later resumption needs.
   */
  onSessionTicket?: (session: TlsSession12) => void;
  /**
   * A TLS 1.2 session whose ticket the ClientHello carries in its session_ticket extension (the
   * HelloBuilder puts it there, with a fresh non-empty session id, RFC 5077 §3.4). When the
   * ServerHello echoes that session id, the engine runs the abbreviated handshake with the
   * session's master secret; otherwise the full handshake (the server declined the ticket).
   */
  resume12?: TlsSession12;
  /** Client certificate and key, sent when the server asks for one (mTLS); none: an empty Certificate. */
  clientCredentials?: ClientCredentials;
  /** A TLS 1.3 ticket to offer (pre_shared_key, psk_dhe_ke); the server may decline it (full handshake). */
  resume13?: TlsTicket13;
  /** Called with each usable TLS 1.3 NewSessionTicket (RFC 8446 §4.6.1). */
  onTicket13?: (ticket: TlsTicket13) => void;
  /** Fixed randomness and key shares for test vectors. */
  random?: Buffer;
  sessionId?: Buffer;
  keyShare?: (group: number) => KeyShare;
  /** Largest handshake message accepted (bytes); default 256 KiB. */
  maxHandshakeMessage?: number;
}

/** What the handshake settled, readable by the engine's owner while it runs. */
export class Negotiated {
  /** TLS version chosen by the server (0x0304 or 0x0303), once ServerHello arrived. */
  version: number | undefined;
  /** Cipher suite name, e.g. TLS_AES_128_GCM_SHA256. */
  cipherSuite: string | undefined;
  alpnProtocol: string | false = false;
  negotiatedGroup: number | undefined;
  helloRetried = false;
  peerCertificates: X509Certificate[] = [];
  /** The handshake resumed a session (no certificate was sent; `peerCertificates` are the session's). */
  resumed = false;
  /** TLS 1.3 key schedule (tests read its secrets), until the handshake completes. */
  schedule: KeySchedule | undefined;
  /** Largest application-data plaintext per record (RFC 8449). */
  sendLimit = MAX_PLAINTEXT;
}

/** The engine as a handshake state sees it: records in and out, transcript, results. */
export interface HandshakeContext {
  readonly opts: EngineOptions;
  readonly transcript: Transcript;
  readonly info: Negotiated;
  /** Write protection; undefined while records go out in plaintext. */
  enc: RecordSealer | undefined;
  /** Read protection; undefined while records come in plaintext. */
  dec: RecordOpener | undefined;
  /** Handshake bytes received after the message being handled (a key change must end its record). */
  readonly pendingHandshakeBytes: number;
  /** Write record bytes. */
  send(bytes: Buffer): void;
  /** Send handshake messages in records, protected by `enc` when it is set. */
  sendHandshake(messages: Buffer, recordVersion?: number): void;
  /** The handshake completed: application data may flow. */
  connected(): void;
  /** A KeyUpdate record (TLS 1.3) that also switches the write key. */
  keyUpdate(requestPeer: boolean): Buffer;
}

/** One state of the client handshake; each holds exactly the data it needs (rustls' `Expect*`). */
export interface HandshakeState {
  /** Application data may be exchanged. */
  readonly connected: boolean;
  /** Handle one handshake message (`raw` = header + body); returns the next state. */
  handle(ctx: HandshakeContext, type: number, body: Buffer, raw: Buffer): HandshakeState;
  /** A change_cipher_spec record (already checked to be the one byte 1); returns the next state. */
  changeCipherSpec(ctx: HandshakeContext): HandshakeState;
}

/** The error for a message the current state does not expect. */
export function unexpectedMessage(type: number): TlsError {
  return new TlsError(`unexpected handshake message type ${type}`, { alert: "unexpected_message" });
}

/** A ServerHello (or HelloRetryRequest) as read off the wire (RFC 8446 §4.1.3). */
export interface ServerHelloMessage {
  legacyVersion: number;
  random: Buffer;
  sessionId: Buffer;
  suite: number;
  compression: number;
  extensions: Map<number, Buffer>;
  /** supported_versions' selected_version, else legacy_version. */
  version: number;
  hasSupportedVersions: boolean;
  isHrr: boolean;
}

export function parseServerHello(body: Buffer): ServerHelloMessage {
  const r = new TlsReader(body);
  const legacyVersion = r.u16("legacy_version");
  const random = r.bytes(32, "random");
  const sessionId = r.vec(1, "legacy_session_id_echo");
  const suite = r.u16("cipher_suite");
  const compression = r.u8("compression");
  const extensions = new Map<number, Buffer>();
  if (r.remaining > 0) {
    const er = r.sub(2, "extensions");
    while (er.remaining > 0) {
      const t = er.u16("extension type");
      const d = er.vec(2, "extension data");
      if (extensions.has(t)) throw new TlsError(`duplicate extension ${t} in ServerHello`, { alert: "illegal_parameter" });
      extensions.set(t, d);
    }
  }
  r.done("ServerHello");
  let version = legacyVersion;
  const sv = extensions.get(ExtensionType.SUPPORTED_VERSIONS);
  if (sv) {
    const vr = new TlsReader(sv);
    version = vr.u16("selected_version");
    vr.done("supported_versions");
  }
  return { legacyVersion, random, sessionId, suite, compression, extensions, version, hasSupportedVersions: sv !== undefined, isHrr: random.equals(HRR_RANDOM) };
}

/** The first flight as sent: what both handshakes need from it. */
export interface FirstFlight {
  readonly random: Buffer;
  readonly sessionId: Buffer;
  readonly offered: OfferedHello;
  /** Key shares sent in the (latest) ClientHello, by group. */
  readonly shares: ReadonlyMap<number, KeyShare>;
  /** The TLS 1.3 ticket offered in pre_shared_key, if any. */
  readonly psk?: TlsTicket13;
}

/** Handlers for the version the server picked; set by engine.ts (which imports both modules). */
export interface VersionHandlers {
  tls13(ctx: HandshakeContext, flight: FirstFlight, sh: ServerHelloMessage, raw: Buffer, retry: RetryInfo | undefined): HandshakeState;
  tls12(ctx: HandshakeContext, flight: FirstFlight, sh: ServerHelloMessage, raw: Buffer): HandshakeState;
}

/** What a HelloRetryRequest fixed (RFC 8446 §4.1.4). */
export interface RetryInfo {
  readonly suite: number;
  readonly group: number | undefined;
}

export function makeShare(ctx: HandshakeContext, group: number): KeyShare {
  return ctx.opts.keyShare ? ctx.opts.keyShare(group) : createKeyShare(group);
}

/** Build and send the first ClientHello; returns the state that waits for ServerHello. */
export function startHandshake(ctx: HandshakeContext, handlers: VersionHandlers): ExpectServerHello {
  const random = ctx.opts.random ?? randomBytes(32);
  const sessionId = ctx.opts.sessionId ?? randomBytes(32);
  const shares = new Map<number, KeyShare>();
  const keyShares: Array<{ group: number; key: Buffer }> = [];
  const groups = ctx.opts.hello.keyShareGroups;
  const made = ctx.opts.keyShare ? groups.map((g) => makeShare(ctx, g)) : createKeyShares(groups, ctx.opts.hello.hybridReusesX25519 === true);
  groups.forEach((g, i) => {
    const share = made[i]!;
    shares.set(g, share);
    keyShares.push({ group: g, key: share.key });
  });
  // Resumption (RFC 8446 §4.2.11): a usable ticket whose suite we offer again.
  const ticket = ctx.opts.resume13;
  const psk = ticket && ticketUsable(ticket) ? ticket : undefined;
  // A TLS 1.2 client CertificateVerify would need the handshake messages themselves.
  if (ctx.opts.clientCredentials) ctx.transcript.keepMessages();
  const hello = ctx.opts.hello.build({
    random,
    sessionId,
    keyShares,
    retry: false,
    ...(psk ? { psk: { identity: psk.ticket, obfuscatedAge: obfuscatedTicketAge(psk), binderLength: psk.suite.hashLength } } : {}),
  });
  if (psk) fillBinder(hello, psk);
  const flight: FirstFlight = { random, sessionId, offered: readOfferedHello(hello), shares, ...(psk ? { psk } : {}) };
  ctx.transcript.add(hello);
  const state = new ExpectServerHello(flight, handlers, undefined);
  for (const r of plaintextRecords(ContentType.HANDSHAKE, hello, ctx.opts.hello.recordVersion)) ctx.send(r);
  return state;
}

/** ClientHello sent; waiting for ServerHello or HelloRetryRequest. */
export class ExpectServerHello implements HandshakeState {
  readonly connected = false;
  readonly #flight: FirstFlight;
  readonly #handlers: VersionHandlers;
  readonly #retry: RetryInfo | undefined;

  constructor(flight: FirstFlight, handlers: VersionHandlers, retry: RetryInfo | undefined) {
    this.#flight = flight;
    this.#handlers = handlers;
    this.#retry = retry;
  }

  changeCipherSpec(): HandshakeState {
    return this; // middlebox compatibility (RFC 8446 §D.4): ignored during the handshake
  }

  handle(ctx: HandshakeContext, type: number, body: Buffer, raw: Buffer): HandshakeState {
    if (type !== HandshakeType.SERVER_HELLO) throw unexpectedMessage(type);
    const sh = parseServerHello(body);
    const { version } = sh;
    if (version === TLS13) {
      // A TLS 1.3 ServerHello changes keys, so it must end its record (RFC 8446 §5.1).
      if (ctx.pendingHandshakeBytes > 0) {
        throw new TlsError("handshake data after a key change in the same record", { alert: "unexpected_message" });
      }
      return this.#handlers.tls13(ctx, this.#flight, sh, raw, this.#retry);
    }
    // RFC 8446 §4.1.3: a TLS 1.3 client that sees a lower version checks the downgrade sentinel.
    const tail = sh.random.subarray(24);
    if (this.#flight.offered.versions.includes(TLS13) && (tail.equals(DOWNGRADE_TLS12) || tail.equals(DOWNGRADE_TLS11))) {
      throw new TlsError("TLS downgrade detected: ServerHello.random carries the downgrade sentinel", {
        alert: "illegal_parameter",
      });
    }
    if (sh.hasSupportedVersions && version > TLS13) {
      throw new TlsError(`server selected unknown TLS version 0x${version.toString(16)}`, { alert: "illegal_parameter" });
    }
    if (version === TLS12 && !sh.hasSupportedVersions && !this.#retry && !sh.isHrr) {
      return this.#handlers.tls12(ctx, this.#flight, sh, raw);
    }
    if (version === TLS12) {
      throw new TlsError("server selected TLS 1.2 in a way TLS 1.2 does not allow (supported_versions or after a HelloRetryRequest)", {
        alert: "illegal_parameter",
      });
    }
    throw new TlsError(`server negotiated an obsolete TLS version 0x${version.toString(16)}`, { alert: "protocol_version" });
  }
}
