import { timingSafeEqual } from "node:crypto";
import { TlsError } from "../errors.js";
import { AlertDescription, ContentType, HandshakeType, TLS12 } from "./constants.js";
import { CbcOpener, CbcSealer } from "./cbc.js";
import { unexpectedMessage, type HandshakeContext, type HandshakeState } from "./handshake.js";
import type { OfferedHello } from "./hello-info.js";
import { finished12, keyBlock12 } from "./prf.js";
import { TlsReader, handshakeMessage } from "./reader.js";
import { Aead12Opener, Aead12Sealer } from "./record12.js";
import { plaintextRecord, type RecordOpener, type RecordSealer } from "./record.js";
import type { TlsSession12 } from "./session-ticket.js";
import type { Suite12 } from "./suites12.js";

/**
 * The end of a TLS 1.2 handshake (RFC 5246 §7.3, RFC 5077 §3): the server's [NewSessionTicket],
 * ChangeCipherSpec and Finished, for a full handshake (our Finished already sent) and for an
 * abbreviated one that resumes a ticket (ours follows the server's); then the connected state.
 */

/** What ServerHello settled; carried by every later state. */
export interface Hs12 {
  readonly suite: Suite12;
  readonly offered: OfferedHello;
  readonly clientRandom: Buffer;
  readonly serverRandom: Buffer;
  /** extended_master_secret negotiated (RFC 7627). */
  readonly ems: boolean;
  /** The server acknowledged status_request: a CertificateStatus may follow Certificate. */
  readonly statusAcked: boolean;
  /** The server will send a NewSessionTicket before its CCS (RFC 5077 §3.2). */
  readonly ticketExpected: boolean;
}

/** States before the handshake completes: a CCS is out of place unless the state says otherwise. */
export abstract class Handshaking12 implements HandshakeState {
  readonly connected = false;
  protected readonly hs: Hs12;
  constructor(hs: Hs12) {
    this.hs = hs;
  }
  changeCipherSpec(_ctx: HandshakeContext): HandshakeState {
    throw new TlsError("unexpected change_cipher_spec record", { alert: "unexpected_message" });
  }
  abstract handle(ctx: HandshakeContext, type: number, body: Buffer, raw: Buffer): HandshakeState;
}

/** Record protection for both directions from the key block (RFC 5246 §6.3). */
export function recordKeys(suite: Suite12, masterSecret: Buffer, clientRandom: Buffer, serverRandom: Buffer): { sealer: RecordSealer; opener: RecordOpener } {
  const c = suite.cipher;
  const k = keyBlock12(suite.hash, masterSecret, clientRandom, serverRandom, {
    mac: c.kind === "cbc" ? c.macLength : 0,
    key: c.keyLength,
    iv: c.fixedIvLength,
  });
  if (c.kind === "cbc") return { sealer: new CbcSealer(c, k.clientKey, k.clientMac), opener: new CbcOpener(c, k.serverKey, k.serverMac) };
  return { sealer: new Aead12Sealer(c, k.clientKey, k.clientIv), opener: new Aead12Opener(c, k.serverKey, k.serverIv) };
}

/** A ticket read from NewSessionTicket, reported once the server Finished verified. */
interface PendingTicket {
  readonly lifetimeHintSeconds: number;
  readonly ticket: Buffer;
}

/**
 * Full handshake: our Finished is out. Abbreviated handshake: we still owe CCS + Finished, sealed
 * with `sealer`, after the server's Finished (RFC 5246 §7.3 figure 2).
 */
export type Ending = { readonly kind: "full" } | { readonly kind: "resumed"; readonly sealer: RecordSealer };

/** Keys and mode of the handshake's end. */
export interface Finish12 {
  readonly masterSecret: Buffer;
  readonly opener: RecordOpener;
  readonly ending: Ending;
}

/** The state after our flight (full) or after ServerHello (resumed). */
export function expectServerFinishFlight(hs: Hs12, finish: Finish12): HandshakeState {
  return hs.ticketExpected ? new ExpectNewSessionTicket(hs, finish) : new ExpectChangeCipherSpec(hs, finish, undefined);
}

class ExpectNewSessionTicket extends Handshaking12 {
  readonly #finish: Finish12;
  constructor(hs: Hs12, finish: Finish12) {
    super(hs);
    this.#finish = finish;
  }
  override changeCipherSpec(): HandshakeState {
    // RFC 5077 §3.2: a server that acknowledged session_ticket must send NewSessionTicket.
    throw new TlsError("server skipped the NewSessionTicket it announced", { alert: "unexpected_message" });
  }
  handle(ctx: HandshakeContext, type: number, body: Buffer, raw: Buffer): HandshakeState {
    if (type !== HandshakeType.NEW_SESSION_TICKET) throw unexpectedMessage(type);
    const r = new TlsReader(body);
    const lifetimeHintSeconds = r.bytes(4, "ticket_lifetime_hint").readUInt32BE(0);
    const ticket = Buffer.from(r.vec(2, "ticket"));
    r.done("NewSessionTicket");
    ctx.transcript.add(raw);
    // An empty ticket means "no ticket this time" (RFC 5077 §3.3).
    return new ExpectChangeCipherSpec(this.hs, this.#finish, ticket.length > 0 ? { lifetimeHintSeconds, ticket } : undefined);
  }
}

/** The server's CCS switches the read keys. */
class ExpectChangeCipherSpec extends Handshaking12 {
  readonly #finish: Finish12;
  readonly #ticket: PendingTicket | undefined;
  constructor(hs: Hs12, finish: Finish12, ticket: PendingTicket | undefined) {
    super(hs);
    this.#finish = finish;
    this.#ticket = ticket;
  }
  override changeCipherSpec(ctx: HandshakeContext): HandshakeState {
    if (ctx.pendingHandshakeBytes > 0) {
      throw new TlsError("change_cipher_spec inside a handshake message", { alert: "unexpected_message" });
    }
    ctx.dec = this.#finish.opener;
    return new ExpectFinished(this.hs, this.#finish, this.#ticket);
  }
  handle(_ctx: HandshakeContext, type: number): HandshakeState {
    throw unexpectedMessage(type);
  }
}

class ExpectFinished extends Handshaking12 {
  readonly #finish: Finish12;
  readonly #ticket: PendingTicket | undefined;
  constructor(hs: Hs12, finish: Finish12, ticket: PendingTicket | undefined) {
    super(hs);
    this.#finish = finish;
    this.#ticket = ticket;
  }
  handle(ctx: HandshakeContext, type: number, body: Buffer, raw: Buffer): HandshakeState {
    if (type !== HandshakeType.FINISHED) throw unexpectedMessage(type);
    const { suite } = this.hs;
    const { masterSecret, ending } = this.#finish;
    const expected = finished12(suite.hash, masterSecret, "server finished", ctx.transcript.digest());
    if (body.length !== expected.length) throw new TlsError("server Finished has the wrong length", { alert: "decode_error" });
    if (!timingSafeEqual(body, expected)) throw new TlsError("server Finished does not verify", { alert: "decrypt_error" });
    ctx.transcript.add(raw);
    if (ending.kind === "resumed") {
      // Abbreviated handshake: our CCS and Finished come last (RFC 5246 §7.3).
      ctx.send(plaintextRecord(ContentType.CHANGE_CIPHER_SPEC, Buffer.of(1)));
      ctx.enc = ending.sealer;
      const fin = handshakeMessage(HandshakeType.FINISHED, finished12(suite.hash, masterSecret, "client finished", ctx.transcript.digest()));
      ctx.transcript.add(fin);
      ctx.sendHandshake(fin);
    }
    const ticket = this.#ticket;
    if (ticket && ctx.opts.onSessionTicket) ctx.opts.onSessionTicket(sessionOf(ctx, this.hs, masterSecret, ticket));
    const next = new Connected12();
    ctx.connected();
    return next;
  }
}

function sessionOf(ctx: HandshakeContext, hs: Hs12, masterSecret: Buffer, ticket: PendingTicket): TlsSession12 {
  return {
    version: TLS12,
    cipherSuite: hs.suite.id,
    masterSecret,
    extendedMasterSecret: hs.ems,
    ticket: ticket.ticket,
    lifetimeHintSeconds: ticket.lifetimeHintSeconds,
    receivedAt: Date.now(),
    alpnProtocol: ctx.info.alpnProtocol,
    peerCertificates: ctx.info.peerCertificates,
  };
}

/** Application data flows. A HelloRequest gets a no_renegotiation warning (RFC 5246 §7.4.1.1, §7.2.2). */
class Connected12 implements HandshakeState {
  readonly connected = true;
  changeCipherSpec(): HandshakeState {
    throw new TlsError("unexpected change_cipher_spec record", { alert: "unexpected_message" });
  }
  handle(ctx: HandshakeContext, type: number, body: Buffer): HandshakeState {
    if (type === HandshakeType.HELLO_REQUEST) {
      if (body.length !== 0) throw new TlsError("HelloRequest with a body", { alert: "decode_error" });
      const alert = Buffer.of(1, AlertDescription.no_renegotiation);
      ctx.send(ctx.enc ? ctx.enc.seal(ContentType.ALERT, alert) : plaintextRecord(ContentType.ALERT, alert));
      return this;
    }
    throw unexpectedMessage(type);
  }
}

/**
 * ServerHello echoed our session id for the ticket in `session` (RFC 5077 §3.4): an abbreviated
 * handshake with the session's master secret. The suite must be the session's and the
 * extended_master_secret choice must not change (RFC 7627 §5.3).
 */
export function resumeSession12(ctx: HandshakeContext, hs: Hs12, session: TlsSession12): HandshakeState {
  if (session.cipherSuite !== hs.suite.id) {
    throw new TlsError("server resumed a TLS 1.2 session with a different cipher suite", { alert: "illegal_parameter" });
  }
  if (session.extendedMasterSecret !== hs.ems) {
    throw new TlsError(
      session.extendedMasterSecret
        ? "server resumed a TLS 1.2 session without extended_master_secret (RFC 7627 §5.3)"
        : "server resumed a TLS 1.2 session without EMS but now sends extended_master_secret (RFC 7627 §5.3)",
      { alert: "handshake_failure" },
    );
  }
  const keys = recordKeys(hs.suite, session.masterSecret, hs.clientRandom, hs.serverRandom);
  ctx.info.resumed = true;
  ctx.info.peerCertificates = [...session.peerCertificates];
  return expectServerFinishFlight(hs, { masterSecret: session.masterSecret, opener: keys.opener, ending: { kind: "resumed", sealer: keys.sealer } });
}
