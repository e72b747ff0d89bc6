/**
 * TLS 1.3 session resumption with tickets (RFC 8446 §2.2, §4.2.11, §4.6.1): what a
 * NewSessionTicket gives a later connection, the PSK binder over the truncated ClientHello, and the
 * obfuscated ticket age. Only psk_dhe_ke is used (a fresh (EC)DHE exchange in every resumption, as
 * browsers do) and no 0-RTT data is sent.
 */
import { createHash, createHmac, type X509Certificate } from "node:crypto";
import { TlsError } from "../errors.js";
import { deriveSecret, emptyHash, hkdfExpandLabel, hkdfExtract, type SuiteInfo } from "./key-schedule.js";
import { TlsReader } from "./reader.js";

/** A TLS 1.3 ticket as a later connection can offer it. Holds a secret: memory only, per session cache. */
export interface TlsTicket13 {
  readonly version: 0x0304;
  /** The suite of the issuing connection: a resumption must use one with the same hash (§4.2.11). */
  readonly suite: SuiteInfo;
  /** PSK = HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce, Hash.length). */
  readonly psk: Buffer;
  /** The opaque ticket (the PSK identity). */
  readonly ticket: Buffer;
  /** ticket_age_add (§4.6.1). */
  readonly ageAdd: number;
  /** ticket_lifetime in seconds (at most 7 days, §4.6.1). */
  readonly lifetimeSeconds: number;
  /** When it arrived (ms since the epoch). */
  readonly receivedAt: number;
  /** The issuing connection's ALPN protocol and server chain (a resumption sends no certificate). */
  readonly alpnProtocol: string | false;
  readonly peerCertificates: readonly X509Certificate[];
}

/** RFC 8446 §4.6.1: a lifetime above 7 days is a protocol error. */
const MAX_LIFETIME_SECONDS = 7 * 24 * 3600;

/** resumption_master_secret (RFC 8446 §7.1) from the master secret and Hash(ClientHello..client Finished). */
export function resumptionMasterSecret(suite: SuiteInfo, masterSecret: Buffer, transcriptHash: Buffer): Buffer {
  return deriveSecret(suite.hash, masterSecret, "res master", transcriptHash);
}

/**
 * Reads a NewSessionTicket (RFC 8446 §4.6.1). Returns undefined for a ticket that must not be used
 * (lifetime 0) or when `resumption` is undefined (checked, not kept); throws TlsError for a
 * malformed one.
 */
export function parseNewSessionTicket(
  body: Buffer,
  resumption: { suite: SuiteInfo; secret: Buffer } | undefined,
  from: { alpnProtocol: string | false; peerCertificates: readonly X509Certificate[] },
  now = Date.now(),
): TlsTicket13 | undefined {
  const r = new TlsReader(body);
  const lifetimeSeconds = r.bytes(4, "ticket_lifetime").readUInt32BE(0);
  const ageAdd = r.bytes(4, "ticket_age_add").readUInt32BE(0);
  const nonce = r.vec(1, "ticket_nonce");
  const ticket = Buffer.from(r.vec(2, "ticket"));
  r.vec(2, "NewSessionTicket extensions"); // early_data only: masq sends no 0-RTT data
  r.done("NewSessionTicket");
  if (ticket.length === 0) throw new TlsError("empty session ticket", { alert: "decode_error" });
  if (lifetimeSeconds > MAX_LIFETIME_SECONDS) {
    throw new TlsError("NewSessionTicket lifetime above 7 days", { alert: "illegal_parameter" });
  }
  if (lifetimeSeconds === 0 || !resumption) return undefined; // §4.6.1: lifetime 0 = "do not cache"
  const suite = resumption.suite;
  const psk = hkdfExpandLabel(suite.hash, resumption.secret, "resumption", Buffer.from(nonce), suite.hashLength);
  return { version: 0x0304, suite, psk, ticket, ageAdd, lifetimeSeconds, receivedAt: now, ...from };
}

/** obfuscated_ticket_age (§4.2.11.1): the age in ms plus ticket_age_add, modulo 2^32. */
export function obfuscatedTicketAge(t: TlsTicket13, now = Date.now()): number {
  return (Math.max(0, now - t.receivedAt) + t.ageAdd) >>> 0;
}

/** Whether the ticket may still be offered at `now`. */
export function ticketUsable(t: TlsTicket13, now = Date.now()): boolean {
  return now - t.receivedAt < t.lifetimeSeconds * 1000;
}

/** Early Secret of a PSK handshake (§7.1). */
export function pskEarlySecret(suite: SuiteInfo, psk: Buffer): Buffer {
  return hkdfExtract(suite.hash, Buffer.alloc(suite.hashLength), psk);
}

/**
 * The PSK binder (§4.2.11.2): HMAC with the binder key's finished key over the transcript hash up
 * to and excluding the binders list. `partialHash` = that hash.
 */
export function pskBinder(t: TlsTicket13, partialHash: Buffer): Buffer {
  const h = t.suite.hash;
  const binderKey = deriveSecret(h, pskEarlySecret(t.suite, t.psk), "res binder", emptyHash(h));
  const finishedKey = hkdfExpandLabel(h, binderKey, "finished", Buffer.alloc(0), t.suite.hashLength);
  return createHmac(h, finishedKey).update(partialHash).digest();
}

/**
 * Fills the binder of a ClientHello built with a placeholder binder of the ticket's hash length
 * as its last bytes (pre_shared_key is the last extension, §4.2.11). `prior` = the transcript
 * messages before this ClientHello (none for the first one).
 */
export function fillBinder(hello: Buffer, t: TlsTicket13, prior: Buffer[] = []): void {
  fillBinderWith(hello, t, (truncated) => {
    const h = createHash(t.suite.hash);
    for (const m of prior) h.update(m);
    return h.update(truncated).digest();
  });
}

/** {@link fillBinder} with the transcript hash over the truncated hello computed by `hashWith`. */
export function fillBinderWith(hello: Buffer, t: TlsTicket13, hashWith: (truncated: Buffer) => Buffer): void {
  const len = t.suite.hashLength;
  const truncated = hello.subarray(0, hello.length - (2 + 1 + len)); // binders<..> = u16 + u8 + binder
  pskBinder(t, hashWith(truncated)).copy(hello, hello.length - len);
}
