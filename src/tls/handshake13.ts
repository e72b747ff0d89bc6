import { timingSafeEqual, type KeyObject } from "node:crypto";
import { TlsError } from "../errors.js";
import { ContentType, ExtensionType, HandshakeType, MAX_PLAINTEXT, TLS12, isGrease } from "./constants.js";
import { decompressCertificate, parseCertificateBody, verifyCertificateVerify } from "./certificate.js";
import { parseChain } from "./chain-cache.js";
import { readOfferedHello, type OfferedHello } from "./hello-info.js";
import { isSupportedGroup, type KeyShare } from "./key-exchange.js";
import { KeySchedule, finishedVerifyData, nextTrafficSecret, suiteInfo, type SuiteInfo, type TrafficSecrets } from "./key-schedule.js";
import { TlsReader, handshakeMessage } from "./reader.js";
import { fillBinderWith, obfuscatedTicketAge, parseNewSessionTicket, resumptionMasterSecret, type TlsTicket13 } from "./psk.js";
import { clientCertificate13, clientCertificateVerify13, parseCertificateRequest13, type CertificateRequest13 } from "./client-auth.js";
import { RecordDecryptor, RecordEncryptor, ownBytes, plaintextRecord, plaintextRecords } from "./record.js";
import {
  ExpectServerHello,
  makeShare,
  unexpectedMessage,
  type FirstFlight,
  type HandshakeContext,
  type HandshakeState,
  type RetryInfo,
  type ServerHelloMessage,
  type VersionHandlers,
} from "./handshake.js";

/**
 * The TLS 1.3 client handshake after ServerHello (RFC 8446 §4): one class per state, each holding
 * only what it needs, from EncryptedExtensions to the connected state (tickets, KeyUpdate).
 */

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

/** Keys and choices every post-ServerHello 1.3 state carries along. */
interface Hs13 {
  readonly suite: SuiteInfo;
  readonly schedule: KeySchedule;
  readonly handshakeSecrets: TrafficSecrets;
  readonly offered: OfferedHello;
  /** Whether we sent a non-empty legacy_session_id (then a CCS precedes our second flight). */
  ccsSent: boolean;
  /** The server accepted this ticket: no Certificate / CertificateVerify follow (RFC 8446 §2.2). */
  readonly resumed?: TlsTicket13;
}

/** Middlebox compatibility mode (RFC 8446 §D.4): one CCS before our second flight. */
function sendCcsOnce(ctx: HandshakeContext, hs: { ccsSent: boolean; offered: OfferedHello }): void {
  if (hs.ccsSent || hs.offered.sessionId.length === 0) return;
  hs.ccsSent = true;
  ctx.send(plaintextRecord(ContentType.CHANGE_CIPHER_SPEC, Buffer.of(1)));
}

/** ServerHello (or HelloRetryRequest) with version 1.3: checks it and derives the handshake keys. */
function onServerHello13(ctx: HandshakeContext, flight: FirstFlight, sh: ServerHelloMessage, raw: Buffer, retry: RetryInfo | undefined): HandshakeState {
  if (sh.legacyVersion !== TLS12) {
    throw new TlsError("ServerHello.legacy_version is not 0x0303", { alert: "illegal_parameter" });
  }
  if (!sh.sessionId.equals(flight.offered.sessionId)) {
    throw new TlsError("ServerHello does not echo our legacy_session_id", { alert: "illegal_parameter" });
  }
  const suite = suiteInfo(sh.suite);
  if (!suite || !flight.offered.cipherSuites.includes(sh.suite)) {
    throw new TlsError(`server selected cipher suite 0x${sh.suite.toString(16)} that was not offered`, {
      alert: "illegal_parameter",
    });
  }
  if (retry && retry.suite !== sh.suite) {
    throw new TlsError("ServerHello cipher suite differs from the HelloRetryRequest", { alert: "illegal_parameter" });
  }
  if (sh.compression !== 0) throw new TlsError("ServerHello with compression", { alert: "illegal_parameter" });
  for (const t of sh.extensions.keys()) {
    const allowed =
      t === ExtensionType.SUPPORTED_VERSIONS ||
      t === ExtensionType.KEY_SHARE ||
      (sh.isHrr && t === ExtensionType.COOKIE) ||
      (!sh.isHrr && t === ExtensionType.PRE_SHARED_KEY && flight.psk !== undefined);
    if (!allowed) {
      const offered = flight.offered.extensions.includes(t);
      throw new TlsError(`ServerHello carries extension ${t}`, { alert: offered ? "illegal_parameter" : "unsupported_extension" });
    }
  }
  if (sh.isHrr) return onHelloRetryRequest(ctx, flight, suite, sh.extensions, raw, retry);

  const ks = sh.extensions.get(ExtensionType.KEY_SHARE);
  // psk_dhe_ke only (the modes browsers offer): a key share is required even when resuming.
  if (!ks) throw new TlsError("ServerHello without key_share (masq offers psk_dhe_ke only)", { alert: "missing_extension" });
  const resumed = acceptedPsk(sh, flight, suite);
  const kr = new TlsReader(ks);
  const group = kr.u16("key_share group");
  const serverKey = kr.vec(2, "key_exchange");
  kr.done("key_share");
  const share = flight.shares.get(group);
  if (!share || (retry?.group !== undefined && retry.group !== group)) {
    throw new TlsError(`server key share for group 0x${group.toString(16)} we did not send`, { alert: "illegal_parameter" });
  }
  const shared = share.complete(serverKey);
  ctx.info.version = 0x0304;
  ctx.info.negotiatedGroup = group;
  ctx.info.cipherSuite = suite.name;
  ctx.transcript.start(suite.hash);
  ctx.transcript.add(raw);
  const schedule = new KeySchedule(suite);
  const handshakeSecrets = schedule.handshake(shared, ctx.transcript.digest(), resumed?.psk);
  ctx.info.schedule = schedule;
  if (resumed) {
    ctx.info.resumed = true;
    ctx.info.peerCertificates = [...resumed.peerCertificates];
  }
  ctx.dec = new RecordDecryptor(suite, handshakeSecrets.server);
  ctx.enc = new RecordEncryptor(suite, handshakeSecrets.client);
  return new ExpectEncryptedExtensions({
    suite,
    schedule,
    handshakeSecrets,
    offered: flight.offered,
    ccsSent: retry !== undefined && flight.offered.sessionId.length > 0,
    ...(resumed ? { resumed } : {}),
  });
}

/** The ticket the server accepted (pre_shared_key selected_identity, RFC 8446 §4.2.11), or undefined. */
function acceptedPsk(sh: ServerHelloMessage, flight: FirstFlight, suite: SuiteInfo): TlsTicket13 | undefined {
  const ext = sh.extensions.get(ExtensionType.PRE_SHARED_KEY);
  if (!ext || !flight.psk) return undefined;
  const r = new TlsReader(ext);
  const selected = r.u16("selected_identity");
  r.done("pre_shared_key");
  if (selected !== 0) throw new TlsError(`server selected PSK identity ${selected}; masq offered one`, { alert: "illegal_parameter" });
  if (flight.psk.suite.hash !== suite.hash) {
    throw new TlsError("server resumed with a cipher suite whose hash differs from the ticket's", { alert: "illegal_parameter" });
  }
  return flight.psk;
}

function onHelloRetryRequest(
  ctx: HandshakeContext,
  flight: FirstFlight,
  suite: SuiteInfo,
  exts: Map<number, Buffer>,
  raw: Buffer,
  retry: RetryInfo | undefined,
): HandshakeState {
  if (retry) throw new TlsError("second HelloRetryRequest", { alert: "unexpected_message" });
  let group: number | undefined;
  const ks = exts.get(ExtensionType.KEY_SHARE);
  if (ks) {
    const kr = new TlsReader(ks);
    group = kr.u16("selected_group");
    kr.done("HelloRetryRequest key_share");
    if (!flight.offered.groups.includes(group) || flight.shares.has(group) || isGrease(group)) {
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
    const cr = new TlsReader(ck);
    cookie = Buffer.from(cr.vec(2, "cookie"));
    cr.done("cookie");
    if (cookie.length === 0) throw new TlsError("empty HelloRetryRequest cookie", { alert: "decode_error" });
  }
  if (group === undefined && cookie === undefined) {
    throw new TlsError("HelloRetryRequest that would not change the ClientHello", { alert: "illegal_parameter" });
  }
  ctx.info.helloRetried = true;
  // §4.4.1: ClientHello1 is replaced by message_hash(Hash(ClientHello1)), then HRR follows.
  ctx.transcript.replaceWithMessageHash(suite.hash);
  ctx.transcript.add(raw);
  let shares: ReadonlyMap<number, KeyShare>;
  if (group !== undefined) {
    const share = makeShare(ctx, group);
    shares = new Map([[group, share]]);
  } else {
    shares = flight.shares;
  }
  const keyShares = [...shares.values()].map((s) => ({ group: s.group, key: s.key }));
  // §4.1.2: the retry hello offers the PSK again (new age, new binder over message_hash(CH1),
  // HRR and itself) when the server's suite has the ticket's hash; otherwise it cannot be used.
  const psk = flight.psk && flight.psk.suite.hash === suite.hash ? flight.psk : undefined;
  const hello2 = ctx.opts.hello.build({
    random: flight.random,
    sessionId: flight.sessionId,
    keyShares,
    retry: true,
    ...(cookie ? { cookie } : {}),
    ...(psk ? { psk: { identity: psk.ticket, obfuscatedAge: obfuscatedTicketAge(psk), binderLength: psk.suite.hashLength } } : {}),
  });
  if (psk) fillBinderWith(hello2, psk, (truncated) => ctx.transcript.digestWith(truncated));
  const offered2 = readOfferedHello(hello2);
  ctx.transcript.add(hello2);
  sendCcsOnce(ctx, { ccsSent: false, offered: flight.offered });
  for (const r of plaintextRecords(ContentType.HANDSHAKE, hello2)) ctx.send(r);
  const next: FirstFlight = { random: flight.random, sessionId: flight.sessionId, offered: offered2, shares, ...(psk ? { psk } : {}) };
  return new ExpectServerHello(next, handlers13Only(), { suite: suite.id, group });
}

/** After a HelloRetryRequest only TLS 1.3 is acceptable (RFC 8446 §4.1.4). */
function handlers13Only(): VersionHandlers {
  return {
    tls13: onServerHello13,
    tls12: () => {
      throw new TlsError("server selected TLS 1.2 after a HelloRetryRequest", { alert: "illegal_parameter" });
    },
  };
}

/** Handshake states ignore a CCS (RFC 8446 §5: middlebox compatibility). */
abstract class Handshaking13 implements HandshakeState {
  readonly connected = false;
  protected readonly hs: Hs13;
  constructor(hs: Hs13) {
    this.hs = hs;
  }
  changeCipherSpec(): HandshakeState {
    return this;
  }
  abstract handle(ctx: HandshakeContext, type: number, body: Buffer, raw: Buffer): HandshakeState;
}

class ExpectEncryptedExtensions extends Handshaking13 {
  handle(ctx: HandshakeContext, type: number, body: Buffer, raw: Buffer): HandshakeState {
    if (type !== HandshakeType.ENCRYPTED_EXTENSIONS) throw unexpectedMessage(type);
    onEncryptedExtensions(ctx, this.hs.offered, body);
    ctx.transcript.add(raw);
    // A resumed handshake is authenticated by the PSK: the server Finished comes next (§2.2).
    if (this.hs.resumed) return new ExpectFinished(this.hs, undefined);
    return new ExpectCertificateOrCertReq(this.hs);
  }
}

function onEncryptedExtensions(ctx: HandshakeContext, offered: OfferedHello, body: Buffer): void {
  const r = new TlsReader(body);
  const er = r.sub(2, "extensions");
  r.done("EncryptedExtensions");
  const seen = new Set<number>();
  while (er.remaining > 0) {
    const t = er.u16("extension type");
    const d = er.vec(2, "extension data");
    if (seen.has(t)) throw new TlsError(`duplicate extension ${t} in EncryptedExtensions`, { alert: "illegal_parameter" });
    seen.add(t);
    if (!offered.extensions.includes(t)) {
      throw new TlsError(`EncryptedExtensions carries unrequested extension ${t}`, { alert: "unsupported_extension" });
    }
    if (!EE_ALLOWED.has(t)) {
      throw new TlsError(`extension ${t} is not allowed in EncryptedExtensions`, { alert: "illegal_parameter" });
    }
    if (t === ExtensionType.ALPN) {
      ctx.info.alpnProtocol = readAlpnChoice(d, offered);
    } else if (t === ExtensionType.RECORD_SIZE_LIMIT) {
      // RFC 8449 §4: in TLS 1.3 the limit counts the content type byte.
      ctx.info.sendLimit = Math.min(MAX_PLAINTEXT, readRecordSizeLimit(d) - 1);
    }
  }
}

/** The server's ALPN choice (RFC 7301 §3.1): exactly one protocol, one we offered. */
export function readAlpnChoice(d: Buffer, offered: OfferedHello): string {
  const ar = new TlsReader(d);
  const list = ar.sub(2, "ALPN list");
  ar.done("ALPN");
  const name = list.vec(1, "protocol").toString("latin1");
  list.done("ALPN list");
  if (!offered.alpn.includes(name)) {
    throw new TlsError(`server selected ALPN protocol ${JSON.stringify(name)} that was not offered`, {
      alert: "illegal_parameter",
    });
  }
  return name;
}

/** record_size_limit (RFC 8449 §4): at least 64. */
export function readRecordSizeLimit(d: Buffer): number {
  const lr = new TlsReader(d);
  const limit = lr.u16("record_size_limit");
  lr.done("record_size_limit");
  if (limit < 64) throw new TlsError("record_size_limit below 64", { alert: "illegal_parameter" });
  return limit;
}

/** Certificate (or CompressedCertificate) of the server: the chain is verified at once. */
function onCertificateMessage(ctx: HandshakeContext, hs: Hs13, type: number, body: Buffer, raw: Buffer, certRequested: CertificateRequest13 | undefined): HandshakeState {
  let chainBody: Buffer;
  if (type === HandshakeType.CERTIFICATE) chainBody = body;
  else if (type === HandshakeType.COMPRESSED_CERTIFICATE && hs.offered.certCompression.length > 0) {
    chainBody = decompressCertificate(body, hs.offered.certCompression);
  } else throw unexpectedMessage(type);
  // Parsed once per distinct chain (chain-cache.ts); the signature below is checked every time.
  const { certs, leafKey } = parseChain(parseCertificateBody(chainBody));
  ctx.info.peerCertificates = certs;
  ctx.opts.verifyChain(certs);
  ctx.transcript.add(raw);
  return new ExpectCertificateVerify(hs, leafKey, certRequested);
}

class ExpectCertificateOrCertReq extends Handshaking13 {
  handle(ctx: HandshakeContext, type: number, body: Buffer, raw: Buffer): HandshakeState {
    if (type === HandshakeType.CERTIFICATE_REQUEST) {
      const request = parseCertificateRequest13(body);
      ctx.transcript.add(raw);
      return new ExpectCertificate(this.hs, request);
    }
    return onCertificateMessage(ctx, this.hs, type, body, raw, undefined);
  }
}

class ExpectCertificate extends Handshaking13 {
  readonly #certRequested: CertificateRequest13;
  constructor(hs: Hs13, certRequested: CertificateRequest13) {
    super(hs);
    this.#certRequested = certRequested;
  }
  handle(ctx: HandshakeContext, type: number, body: Buffer, raw: Buffer): HandshakeState {
    return onCertificateMessage(ctx, this.hs, type, body, raw, this.#certRequested);
  }
}

class ExpectCertificateVerify extends Handshaking13 {
  readonly #leafKey: KeyObject;
  readonly #certRequested: CertificateRequest13 | undefined;
  constructor(hs: Hs13, leafKey: KeyObject, certRequested: CertificateRequest13 | undefined) {
    super(hs);
    this.#leafKey = leafKey;
    this.#certRequested = certRequested;
  }
  handle(ctx: HandshakeContext, type: number, body: Buffer, raw: Buffer): HandshakeState {
    if (type !== HandshakeType.CERTIFICATE_VERIFY) throw unexpectedMessage(type);
    const r = new TlsReader(body);
    const scheme = r.u16("signature scheme");
    const sig = r.vec(2, "signature");
    r.done("CertificateVerify");
    verifyCertificateVerify(this.#leafKey, scheme, sig, ctx.transcript.digest(), this.hs.offered.signatureAlgorithms);
    ctx.transcript.add(raw);
    return new ExpectFinished(this.hs, this.#certRequested);
  }
}

class ExpectFinished extends Handshaking13 {
  readonly #certRequested: CertificateRequest13 | undefined;
  constructor(hs: Hs13, certRequested: CertificateRequest13 | undefined) {
    super(hs);
    this.#certRequested = certRequested;
  }
  handle(ctx: HandshakeContext, type: number, body: Buffer, raw: Buffer): HandshakeState {
    if (type !== HandshakeType.FINISHED) throw unexpectedMessage(type);
    const { suite, schedule, handshakeSecrets } = this.hs;
    const expected = finishedVerifyData(suite, handshakeSecrets.server, ctx.transcript.digest());
    if (body.length !== expected.length) throw new TlsError("server Finished has the wrong length", { alert: "decode_error" });
    if (!timingSafeEqual(body, expected)) {
      throw new TlsError("server Finished does not verify", { alert: "decrypt_error" });
    }
    ctx.transcript.add(raw);
    const appSecrets = schedule.application(ctx.transcript.digest());
    // Our second flight: [CCS] [Certificate [CertificateVerify]] Finished (RFC 8446 §4.4): a
    // requested certificate is ours when we have one, else an empty list (§4.4.2).
    const flight: Buffer[] = [];
    const request = this.#certRequested;
    if (request) {
      const creds = ctx.opts.clientCredentials;
      const scheme = creds?.chooseScheme(request.schemes, true);
      if (creds && scheme === undefined) {
        throw new TlsError("the server accepts none of the signature schemes the client certificate's key can make", {
          alert: "handshake_failure",
        });
      }
      const cert = clientCertificate13(request.context, creds);
      ctx.transcript.add(cert);
      flight.push(cert);
      if (creds && scheme !== undefined) {
        const cv = clientCertificateVerify13(creds, scheme, ctx.transcript.digest());
        ctx.transcript.add(cv);
        flight.push(cv);
      }
    }
    const verify = finishedVerifyData(suite, handshakeSecrets.client, ctx.transcript.digest());
    const fin = handshakeMessage(HandshakeType.FINISHED, verify);
    ctx.transcript.add(fin);
    flight.push(fin);
    sendCcsOnce(ctx, this.hs);
    ctx.sendHandshake(Buffer.concat(flight));
    ctx.enc = new RecordEncryptor(suite, appSecrets.client);
    ctx.dec = new RecordDecryptor(suite, appSecrets.server);
    // Tickets are kept only when someone wants them (a session cache): then the resumption
    // master secret is derived over the transcript through our Finished (§7.1).
    const master = schedule.masterSecret;
    // Kept for the connection's life: a copy of its own, not a view of the Buffer pool.
    const next = new Connected13(ctx.opts.onTicket13 && master ? { suite, secret: ownBytes(resumptionMasterSecret(suite, master, ctx.transcript.digest())) } : undefined);
    ctx.connected();
    return next;
  }
}

/** Application data flows; tickets are read and KeyUpdates honoured (RFC 8446 §4.6). */
class Connected13 implements HandshakeState {
  readonly connected = true;
  /** The suite and resumption_master_secret, when tickets are wanted. */
  readonly #resumption: { suite: SuiteInfo; secret: Buffer } | undefined;
  constructor(resumption: { suite: SuiteInfo; secret: Buffer } | undefined) {
    this.#resumption = resumption;
  }
  changeCipherSpec(): HandshakeState {
    throw new TlsError("unexpected change_cipher_spec record", { alert: "unexpected_message" });
  }
  handle(ctx: HandshakeContext, type: number, body: Buffer): HandshakeState {
    if (type === HandshakeType.NEW_SESSION_TICKET) {
      // Parsed (and checked) always; kept only when a session cache asked for tickets (§4.6.1).
      const ticket = parseNewSessionTicket(body, this.#resumption, {
        alpnProtocol: ctx.info.alpnProtocol,
        peerCertificates: ctx.info.peerCertificates,
      });
      if (ticket) ctx.opts.onTicket13?.(ticket);
      return this;
    }
    if (type === HandshakeType.KEY_UPDATE) {
      if (body.length !== 1 || body[0]! > 1) {
        throw new TlsError("malformed KeyUpdate", { alert: body.length !== 1 ? "decode_error" : "illegal_parameter" });
      }
      const dec = ctx.dec;
      if (!(dec instanceof RecordDecryptor)) throw new TlsError("KeyUpdate without TLS 1.3 keys", { alert: "internal_error" });
      ctx.dec = new RecordDecryptor(dec.suite, nextTrafficSecret(dec.suite, dec.secret));
      // §4.6.3: answer update_requested with our own KeyUpdate (update_not_requested).
      if (body[0] === 1) ctx.send(ctx.keyUpdate(false));
      return this;
    }
    throw unexpectedMessage(type);
  }
}

/** The entry point engine.ts dispatches to when ServerHello selects TLS 1.3. */
export const tls13ServerHello: VersionHandlers["tls13"] = onServerHello13;
