import { constants as cc, publicEncrypt, randomBytes, type KeyObject } from "node:crypto";
import { TlsError } from "../errors.js";
import { ContentType, ExtensionType, HandshakeType, MAX_PLAINTEXT, NamedGroup, TLS12, isGrease } from "./constants.js";
import { parseChain } from "./chain-cache.js";
import { unexpectedMessage, makeShare, type FirstFlight, type HandshakeContext, type HandshakeState, type ServerHelloMessage, type VersionHandlers } from "./handshake.js";
import { readAlpnChoice, readRecordSizeLimit } from "./handshake13.js";
import { finished12, masterSecret12 } from "./prf.js";
import { TlsReader, handshakeMessage, withLength } from "./reader.js";
import { plaintextRecord } from "./record.js";
import { Handshaking12, expectServerFinishFlight, recordKeys, resumeSession12, type Hs12 } from "./handshake12-finish.js";
import { parseCertificate12Body, verifyServerKeyExchange } from "./signature12.js";
import { suite12Info, type Suite12 } from "./suites12.js";
import { clientCertificate12, clientCertificateVerify12 } from "./client-auth.js";

/**
 * The TLS 1.2 client handshake from ServerHello to our Finished (RFC 5246 §7.3):
 *
 *   Certificate, [CertificateStatus], [ServerKeyExchange], [CertificateRequest], ServerHelloDone
 *   -> [Certificate], ClientKeyExchange, ChangeCipherSpec, Finished
 *   <- [NewSessionTicket], ChangeCipherSpec, Finished          (handshake12-finish.ts)
 *
 * An echoed session id turns it into the abbreviated handshake of a resumed ticket
 * (handshake12-finish.ts). One class per state, each holding only what it needs. Renegotiation is
 * refused; renegotiation_info (RFC 5746) is still checked.
 */

/** Smallest RSA modulus accepted for the server key (browsers' floor for public certificates). */
export const MIN_RSA_BITS = 2048;

/** ECDHE groups a TLS 1.2 ServerKeyExchange may use (RFC 8422 §5.1.1, RFC 7748). */
const ECDHE_GROUPS = new Set<number>([NamedGroup.X25519, NamedGroup.SECP256R1, NamedGroup.SECP384R1, NamedGroup.SECP521R1]);

/** ServerHello extensions that mean something in TLS 1.2 (each only if we offered it). */
const SH12_ALLOWED = new Set<number>([
  ExtensionType.SERVER_NAME,
  ExtensionType.STATUS_REQUEST,
  ExtensionType.EC_POINT_FORMATS,
  ExtensionType.ALPN,
  ExtensionType.SCT,
  ExtensionType.EXTENDED_MASTER_SECRET,
  ExtensionType.RECORD_SIZE_LIMIT,
  ExtensionType.SESSION_TICKET,
  ExtensionType.RENEGOTIATION_INFO,
]);

function onServerHello12(ctx: HandshakeContext, flight: FirstFlight, sh: ServerHelloMessage, raw: Buffer): HandshakeState {
  const offered = flight.offered;
  if (!offered.versions.includes(TLS12) && offered.versions.length > 0) {
    throw new TlsError("server negotiated TLS 1.2, which this ClientHello did not offer", { alert: "protocol_version" });
  }
  const suite = suite12Info(sh.suite);
  if (!offered.cipherSuites.includes(sh.suite) || isGrease(sh.suite)) {
    throw new TlsError(`server selected cipher suite 0x${sh.suite.toString(16)} that was not offered`, { alert: "illegal_parameter" });
  }
  if (!suite) {
    throw new TlsError(`server selected cipher suite 0x${sh.suite.toString(16)}, which masq cannot use with TLS 1.2`, {
      alert: "illegal_parameter",
    });
  }
  if (sh.compression !== 0) throw new TlsError("ServerHello with compression", { alert: "illegal_parameter" });
  // An echoed session id means an abbreviated handshake (RFC 5246 §7.4.1.3, RFC 5077 §3.4).
  const resumed = sh.sessionId.length > 0 && sh.sessionId.equals(offered.sessionId);
  const session = ctx.opts.resume12;
  if (resumed && !session) {
    throw new TlsError("server resumed a TLS 1.2 session that was not offered", { alert: "illegal_parameter" });
  }
  let ems = false;
  let statusAcked = false;
  let ticketExpected = false;
  for (const [t, d] of sh.extensions) {
    if (!offered.extensions.includes(t)) {
      throw new TlsError(`ServerHello carries unrequested extension ${t}`, { alert: "unsupported_extension" });
    }
    if (!SH12_ALLOWED.has(t)) {
      throw new TlsError(`extension ${t} is not allowed in a TLS 1.2 ServerHello`, { alert: "illegal_parameter" });
    }
    switch (t) {
      case ExtensionType.RENEGOTIATION_INFO:
        // RFC 5746 §3.4: an initial handshake carries an empty renegotiated_connection.
        if (d.length !== 1 || d[0] !== 0) {
          throw new TlsError("ServerHello renegotiation_info is not empty", { alert: "handshake_failure" });
        }
        break;
      case ExtensionType.EXTENDED_MASTER_SECRET:
        if (d.length !== 0) throw new TlsError("malformed extended_master_secret", { alert: "decode_error" });
        ems = true;
        break;
      case ExtensionType.EC_POINT_FORMATS: {
        const r = new TlsReader(d);
        const formats = r.vec(1, "ec_point_formats");
        r.done("ec_point_formats");
        // RFC 8422 §5.2: the uncompressed format must be supported.
        if (!formats.includes(0)) throw new TlsError("server does not accept uncompressed EC points", { alert: "illegal_parameter" });
        break;
      }
      case ExtensionType.STATUS_REQUEST:
        if (d.length !== 0) throw new TlsError("malformed status_request in ServerHello", { alert: "decode_error" });
        statusAcked = true;
        break;
      case ExtensionType.SESSION_TICKET:
        if (d.length !== 0) throw new TlsError("malformed session_ticket in ServerHello", { alert: "decode_error" });
        ticketExpected = true;
        break;
      case ExtensionType.ALPN:
        ctx.info.alpnProtocol = readAlpnChoice(d, offered);
        break;
      case ExtensionType.RECORD_SIZE_LIMIT:
        // RFC 8449 §4: in TLS 1.2 the limit is the plaintext size.
        ctx.info.sendLimit = Math.min(MAX_PLAINTEXT, readRecordSizeLimit(d));
        break;
      // server_name (empty ack) and signed_certificate_timestamp (accepted, not checked).
    }
  }
  // A server without renegotiation_info is accepted (as browsers do): masq never renegotiates.
  ctx.info.version = TLS12;
  ctx.info.cipherSuite = suite.name;
  ctx.transcript.start(suite.hash);
  ctx.transcript.add(raw);
  const hs: Hs12 = { suite, offered, clientRandom: flight.random, serverRandom: Buffer.from(sh.random), ems, statusAcked, ticketExpected };
  if (resumed && session) return resumeSession12(ctx, hs, session);
  return new ExpectCertificate(hs);
}

class ExpectCertificate extends Handshaking12 {
  handle(ctx: HandshakeContext, type: number, body: Buffer, raw: Buffer): HandshakeState {
    if (type !== HandshakeType.CERTIFICATE) throw unexpectedMessage(type);
    // Parsed once per distinct chain (chain-cache.ts); ServerKeyExchange is verified every time.
    const { certs, leafKey: key } = parseChain(parseCertificate12Body(body));
    ctx.info.peerCertificates = certs;
    ctx.opts.verifyChain(certs);
    checkServerKey(key, this.hs.suite);
    ctx.transcript.add(raw);
    return new ExpectStatusOrKeyExchange(this.hs, key, this.hs.statusAcked);
  }
}

/** The certificate key must fit the suite, and RSA keys must have at least {@link MIN_RSA_BITS}. */
function checkServerKey(key: KeyObject, suite: Suite12): void {
  const t = key.asymmetricKeyType;
  const fits =
    suite.kx === "rsa" ? t === "rsa" : suite.auth === "rsa" ? t === "rsa" || t === "rsa-pss" : t === "ec" || t === "ed25519" || t === "ed448";
  if (!fits) {
    throw new TlsError(`the server certificate's ${t ?? "unknown"} key does not fit cipher suite ${suite.name}`, { alert: "illegal_parameter", reason: "bad_certificate" });
  }
  if (t === "rsa" || t === "rsa-pss") {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) {
      throw new TlsError(`the server's RSA key has ${bits} bits; masq requires at least ${MIN_RSA_BITS}`, { alert: "insufficient_security", reason: "bad_certificate" });
    }
  }
}

/** After Certificate: CertificateStatus (if acknowledged), ServerKeyExchange (ECDHE) or what follows. */
class ExpectStatusOrKeyExchange extends Handshaking12 {
  readonly #key: KeyObject;
  readonly #statusAllowed: boolean;
  constructor(hs: Hs12, key: KeyObject, statusAllowed: boolean) {
    super(hs);
    this.#key = key;
    this.#statusAllowed = statusAllowed;
  }
  handle(ctx: HandshakeContext, type: number, body: Buffer, raw: Buffer): HandshakeState {
    if (type === HandshakeType.CERTIFICATE_STATUS && this.#statusAllowed) {
      // RFC 6066 §8: status_type ocsp(1) + OCSPResponse. Accepted, not evaluated (as browsers
      // do for TLS 1.3's stapled responses too).
      const r = new TlsReader(body);
      if (r.u8("status_type") !== 1) throw new TlsError("CertificateStatus with an unknown status_type", { alert: "decode_error" });
      if (r.vec(3, "OCSPResponse").length === 0) throw new TlsError("empty OCSP response", { alert: "decode_error" });
      r.done("CertificateStatus");
      ctx.transcript.add(raw);
      return new ExpectStatusOrKeyExchange(this.hs, this.#key, false);
    }
    if (this.hs.suite.kx === "ecdhe") {
      if (type !== HandshakeType.SERVER_KEY_EXCHANGE) throw unexpectedMessage(type);
      const premaster = onServerKeyExchange(ctx, this.hs, this.#key, body);
      ctx.transcript.add(raw);
      return new ExpectCertReqOrDone(this.hs, premaster);
    }
    // RSA key exchange: no ServerKeyExchange; the premaster is encrypted to the certificate key.
    const premaster = rsaPremaster(this.#key);
    return new ExpectCertReqOrDone(this.hs, premaster).handle(ctx, type, body, raw);
  }
}

/** What ClientKeyExchange carries and the premaster secret it leads to. */
interface Premaster {
  readonly secret: Buffer;
  /** ClientKeyExchange body. */
  readonly exchange: Buffer;
}

/** ServerECDHParams + signature (RFC 8422 §5.4): verified, then our ECDH share is made. */
function onServerKeyExchange(ctx: HandshakeContext, hs: Hs12, key: KeyObject, body: Buffer): Premaster {
  const r = new TlsReader(body);
  const curveType = r.u8("curve_type");
  if (curveType !== 3) throw new TlsError(`ServerKeyExchange curve_type ${curveType} is not named_curve`, { alert: "illegal_parameter" });
  const group = r.u16("named_curve");
  const point = r.vec(1, "public point");
  const params = body.subarray(0, r.pos);
  const scheme = r.u16("signature algorithm");
  const signature = r.vec(2, "signature");
  r.done("ServerKeyExchange");
  if (!hs.offered.groups.includes(group) || isGrease(group)) {
    throw new TlsError(`server chose group 0x${group.toString(16)} that was not offered`, { alert: "illegal_parameter" });
  }
  if (!ECDHE_GROUPS.has(group)) {
    throw new TlsError(`server chose group 0x${group.toString(16)}, which TLS 1.2 ECDHE cannot use`, { alert: "illegal_parameter" });
  }
  const signed = Buffer.concat([hs.clientRandom, hs.serverRandom, params]);
  verifyServerKeyExchange(key, scheme, signature, signed, hs.offered.signatureAlgorithms);
  const share = makeShare(ctx, group);
  const secret = share.complete(point);
  ctx.info.negotiatedGroup = group;
  return { secret, exchange: withLength(1, share.key) };
}

/** RSA key exchange (RFC 5246 §7.4.7.1): 0x0303 + 46 random bytes, PKCS#1 v1.5 encrypted. */
function rsaPremaster(key: KeyObject): Premaster {
  const secret = Buffer.concat([Buffer.of(3, 3), randomBytes(46)]);
  let encrypted: Buffer;
  try {
    encrypted = publicEncrypt({ key, padding: cc.RSA_PKCS1_PADDING }, secret);
  } catch (e) {
    throw new TlsError("could not encrypt the premaster secret to the server's RSA key", { alert: "internal_error", cause: e });
  }
  return { secret, exchange: withLength(2, encrypted) };
}

class ExpectCertReqOrDone extends Handshaking12 {
  readonly #premaster: Premaster;
  constructor(hs: Hs12, premaster: Premaster) {
    super(hs);
    this.#premaster = premaster;
  }
  handle(ctx: HandshakeContext, type: number, body: Buffer, raw: Buffer): HandshakeState {
    if (type === HandshakeType.CERTIFICATE_REQUEST) {
      // RFC 5246 §7.4.4: certificate_types, supported_signature_algorithms, certificate_authorities.
      const r = new TlsReader(body);
      if (r.vec(1, "certificate_types").length === 0) throw new TlsError("CertificateRequest without certificate types", { alert: "decode_error" });
      const algs = r.sub(2, "supported_signature_algorithms");
      const schemes: number[] = [];
      while (algs.remaining > 0) schemes.push(algs.u16("signature algorithm"));
      r.vec(2, "certificate_authorities");
      r.done("CertificateRequest");
      ctx.transcript.add(raw);
      return new ExpectServerHelloDone(this.hs, this.#premaster, schemes);
    }
    return new ExpectServerHelloDone(this.hs, this.#premaster, undefined).handle(ctx, type, body, raw);
  }
}

class ExpectServerHelloDone extends Handshaking12 {
  readonly #premaster: Premaster;
  /** The CertificateRequest's signature algorithms, when the server asked for a certificate. */
  readonly #certRequested: number[] | undefined;
  constructor(hs: Hs12, premaster: Premaster, certRequested: number[] | undefined) {
    super(hs);
    this.#premaster = premaster;
    this.#certRequested = certRequested;
  }
  handle(ctx: HandshakeContext, type: number, body: Buffer, raw: Buffer): HandshakeState {
    if (type !== HandshakeType.SERVER_HELLO_DONE) throw unexpectedMessage(type);
    if (body.length !== 0) throw new TlsError("ServerHelloDone with a body", { alert: "decode_error" });
    ctx.transcript.add(raw);
    const { suite, clientRandom, serverRandom } = this.hs;
    // Our flight (RFC 5246 §7.3): [Certificate] ClientKeyExchange [CertificateVerify] CCS Finished;
    // the Certificate is ours when we have one the server can verify, else an empty list (§7.4.6).
    const messages: Buffer[] = [];
    const creds = this.#certRequested ? ctx.opts.clientCredentials : undefined;
    const scheme = creds?.chooseScheme(this.#certRequested!, false);
    if (creds && scheme === undefined) {
      throw new TlsError("the server accepts none of the signature schemes the client certificate's key can make", { alert: "handshake_failure" });
    }
    if (this.#certRequested) messages.push(clientCertificate12(scheme !== undefined ? creds : undefined));
    messages.push(handshakeMessage(HandshakeType.CLIENT_KEY_EXCHANGE, this.#premaster.exchange));
    for (const m of messages) ctx.transcript.add(m);
    // EMS's session hash covers up to ClientKeyExchange (RFC 7627 §3), so it is taken first.
    const sessionHash = this.hs.ems ? ctx.transcript.digest() : undefined;
    if (creds && scheme !== undefined) {
      const cv = clientCertificateVerify12(creds, scheme, ctx.transcript.messages());
      ctx.transcript.add(cv);
      messages.push(cv);
    }
    const masterSecret = sessionHash
      ? masterSecret12(suite.hash, this.#premaster.secret, { ems: true, sessionHash })
      : masterSecret12(suite.hash, this.#premaster.secret, { ems: false, clientRandom, serverRandom });
    const keys = recordKeys(suite, masterSecret, clientRandom, serverRandom);
    ctx.sendHandshake(Buffer.concat(messages));
    ctx.send(plaintextRecord(ContentType.CHANGE_CIPHER_SPEC, Buffer.of(1)));
    ctx.enc = keys.sealer;
    const fin = handshakeMessage(HandshakeType.FINISHED, finished12(suite.hash, masterSecret, "client finished", ctx.transcript.digest()));
    ctx.transcript.add(fin);
    ctx.sendHandshake(fin);
    return expectServerFinishFlight(this.hs, { masterSecret, opener: keys.opener, ending: { kind: "full" } });
  }
}

/** The entry point engine.ts dispatches to when ServerHello selects TLS 1.2. */
export const tls12ServerHello: VersionHandlers["tls12"] = onServerHello12;
