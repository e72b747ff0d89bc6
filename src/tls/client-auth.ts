/**
 * Client certificates (mTLS) for masq's TLS engine: loading the `cert` / `key` / `passphrase`
 * options, picking a signature scheme from the server's CertificateRequest, and building the
 * client's Certificate and CertificateVerify (RFC 8446 §4.4.2, §4.4.3; RFC 5246 §7.4.6, §7.4.8).
 * Node's engine takes the same options through tls.connect (src/transport/native-tls.ts).
 */
import { X509Certificate, createHash, createPrivateKey, constants as cryptoConstants, sign, type KeyObject } from "node:crypto";
import { TlsError } from "../errors.js";
import { ExtensionType, HandshakeType } from "./constants.js";
import { TlsReader, handshakeMessage } from "./reader.js";

/** The `cert` / `key` / `passphrase` options (session-wide or per call). */
export interface ClientCertOptions {
  /** The client certificate, PEM (leaf first, intermediates may follow) or one DER certificate. */
  cert: string | Buffer;
  /** Its private key, PEM or DER (PKCS#8, or PKCS#1 / SEC1 in PEM), encrypted when `passphrase` is given. */
  key: string | Buffer;
  /** Passphrase of an encrypted key. */
  passphrase?: string;
}

/** A digest of the certificate (not the key): separates session-cache entries by client identity. */
export function clientCertDigest(o: ClientCertOptions): string {
  return createHash("sha256").update(o.cert).digest("base64url");
}

/** Signature schemes (RFC 8446 §4.2.3). */
const S = {
  rsa_pkcs1_sha256: 0x0401,
  rsa_pkcs1_sha384: 0x0501,
  rsa_pkcs1_sha512: 0x0601,
  ecdsa_secp256r1_sha256: 0x0403,
  ecdsa_secp384r1_sha384: 0x0503,
  ecdsa_secp521r1_sha512: 0x0603,
  rsa_pss_rsae_sha256: 0x0804,
  rsa_pss_rsae_sha384: 0x0805,
  rsa_pss_rsae_sha512: 0x0806,
  ed25519: 0x0807,
  rsa_pss_pss_sha256: 0x0809,
  rsa_pss_pss_sha384: 0x080a,
  rsa_pss_pss_sha512: 0x080b,
} as const;

const HASH_OF: Record<number, "sha256" | "sha384" | "sha512"> = {
  [S.rsa_pkcs1_sha256]: "sha256",
  [S.rsa_pkcs1_sha384]: "sha384",
  [S.rsa_pkcs1_sha512]: "sha512",
  [S.ecdsa_secp256r1_sha256]: "sha256",
  [S.ecdsa_secp384r1_sha384]: "sha384",
  [S.ecdsa_secp521r1_sha512]: "sha512",
  [S.rsa_pss_rsae_sha256]: "sha256",
  [S.rsa_pss_rsae_sha384]: "sha384",
  [S.rsa_pss_rsae_sha512]: "sha512",
  [S.rsa_pss_pss_sha256]: "sha256",
  [S.rsa_pss_pss_sha384]: "sha384",
  [S.rsa_pss_pss_sha512]: "sha512",
};

const PSS = new Set<number>([
  S.rsa_pss_rsae_sha256, S.rsa_pss_rsae_sha384, S.rsa_pss_rsae_sha512,
  S.rsa_pss_pss_sha256, S.rsa_pss_pss_sha384, S.rsa_pss_pss_sha512,
]);

function isPem(v: string | Buffer): boolean {
  return (typeof v === "string" ? v : v.subarray(0, 4096).toString("latin1")).includes("-----BEGIN");
}

function badCredentials(what: string, cause?: unknown): TlsError {
  // Never the key material or passphrase in the message.
  return new TlsError(`Invalid client certificate or key: ${what}`, { alert: "INVALID_CLIENT_CERT", reason: "bad_certificate", cause });
}

/** A loaded client certificate chain and key, ready to answer a CertificateRequest. */
export class ClientCredentials {
  /** The chain as sent, leaf first (DER). */
  readonly chain: readonly Buffer[];
  readonly #key: KeyObject;
  /** Schemes this key can sign with, in preference order (TLS 1.3-legal ones first). */
  readonly #schemes: readonly number[];

  private constructor(chain: Buffer[], key: KeyObject, schemes: number[]) {
    this.chain = chain;
    this.#key = key;
    this.#schemes = schemes;
  }

  /** Loads and checks the options; throws a TlsError naming what is wrong (never the key). */
  static from(o: ClientCertOptions): ClientCredentials {
    let chain: Buffer[];
    try {
      if (isPem(o.cert)) {
        const text = typeof o.cert === "string" ? o.cert : o.cert.toString("latin1");
        const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
        chain = blocks.map((b) => new X509Certificate(b).raw);
      } else {
        chain = [new X509Certificate(o.cert).raw];
      }
    } catch (e) {
      throw badCredentials(`"cert" is not a certificate (${(e as Error).message})`, e);
    }
    if (chain.length === 0) throw badCredentials(`"cert" holds no certificate`);
    let key: KeyObject;
    try {
      key = isPem(o.key)
        ? createPrivateKey({ key: o.key, format: "pem", ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}) })
        : createPrivateKey({ key: Buffer.from(o.key), format: "der", type: "pkcs8", ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}) });
    } catch (e) {
      throw badCredentials(`"key" could not be read${o.passphrase === undefined ? " (encrypted without a passphrase?)" : " (wrong passphrase?)"}`, e);
    }
    const leaf = new X509Certificate(chain[0]!);
    if (!leaf.checkPrivateKey(key)) throw badCredentials(`"key" does not belong to the certificate`);
    return new ClientCredentials(chain, key, schemesFor(key));
  }

  /**
   * The scheme to sign with: our first one the server listed in its CertificateRequest
   * (RFC 8446 §4.4.3: it MUST be one of them). `tls13` drops PKCS#1 v1.5 (§4.4.3 forbids it).
   */
  chooseScheme(serverSchemes: readonly number[], tls13: boolean): number | undefined {
    for (const s of this.#schemes) {
      if (tls13 && (s === S.rsa_pkcs1_sha256 || s === S.rsa_pkcs1_sha384 || s === S.rsa_pkcs1_sha512)) continue;
      if (serverSchemes.includes(s)) return s;
    }
    return undefined;
  }

  /** Signs `content` with `scheme` (one chooseScheme returned). */
  sign(scheme: number, content: Buffer): Buffer {
    if (scheme === S.ed25519) return sign(null, content, this.#key);
    const hash = HASH_OF[scheme];
    if (!hash) throw new TlsError(`cannot sign with scheme 0x${scheme.toString(16)}`, { alert: "internal_error" });
    if (PSS.has(scheme)) {
      // RFC 8446 §4.2.3: salt length = digest length.
      return sign(hash, content, { key: this.#key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: cryptoConstants.RSA_PSS_SALTLEN_DIGEST });
    }
    return sign(hash, content, { key: this.#key, dsaEncoding: "der" });
  }
}

/** What a key can sign with, strongest-compatible first. */
function schemesFor(key: KeyObject): number[] {
  switch (key.asymmetricKeyType) {
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === "prime256v1") return [S.ecdsa_secp256r1_sha256];
      if (curve === "secp384r1") return [S.ecdsa_secp384r1_sha384];
      if (curve === "secp521r1") return [S.ecdsa_secp521r1_sha512];
      throw badCredentials(`unsupported EC curve ${curve ?? "?"}`);
    }
    case "rsa":
      return [S.rsa_pss_rsae_sha256, S.rsa_pss_rsae_sha384, S.rsa_pss_rsae_sha512, S.rsa_pkcs1_sha256, S.rsa_pkcs1_sha384, S.rsa_pkcs1_sha512];
    case "rsa-pss":
      return [S.rsa_pss_pss_sha256, S.rsa_pss_pss_sha384, S.rsa_pss_pss_sha512];
    case "ed25519":
      return [S.ed25519];
    default:
      throw badCredentials(`unsupported key type ${key.asymmetricKeyType ?? "?"}`);
  }
}

/** A TLS 1.3 CertificateRequest (RFC 8446 §4.3.2). */
export interface CertificateRequest13 {
  context: Buffer;
  /** signature_algorithms (required). */
  schemes: number[];
}

/** Parses a TLS 1.3 CertificateRequest body. */
export function parseCertificateRequest13(body: Buffer): CertificateRequest13 {
  const r = new TlsReader(body);
  const context = Buffer.from(r.vec(1, "certificate_request_context"));
  const er = r.sub(2, "CertificateRequest extensions");
  r.done("CertificateRequest");
  let schemes: number[] | undefined;
  const seen = new Set<number>();
  while (er.remaining > 0) {
    const t = er.u16("extension type");
    const d = er.vec(2, "extension data");
    if (seen.has(t)) throw new TlsError(`duplicate extension ${t} in CertificateRequest`, { alert: "illegal_parameter" });
    seen.add(t);
    if (t === ExtensionType.SIGNATURE_ALGORITHMS) {
      const sr = new TlsReader(d);
      const list = sr.sub(2, "supported_signature_algorithms");
      sr.done("signature_algorithms");
      schemes = [];
      while (list.remaining > 0) schemes.push(list.u16("signature scheme"));
    }
  }
  if (!schemes) throw new TlsError("CertificateRequest without signature_algorithms", { alert: "missing_extension" });
  return { context, schemes };
}

/** The client's TLS 1.3 Certificate message (RFC 8446 §4.4.2): empty when `creds` is undefined. */
export function clientCertificate13(context: Buffer, creds: ClientCredentials | undefined): Buffer {
  const certs = creds?.chain ?? [];
  let listLen = 0;
  for (const c of certs) listLen += 3 + c.length + 2;
  const body = Buffer.alloc(1 + context.length + 3 + listLen);
  let o = body.writeUInt8(context.length, 0);
  o += context.copy(body, o);
  o = body.writeUIntBE(listLen, o, 3);
  for (const c of certs) {
    o = body.writeUIntBE(c.length, o, 3);
    o += c.copy(body, o);
    o = body.writeUInt16BE(0, o); // no per-certificate extensions
  }
  return handshakeMessage(HandshakeType.CERTIFICATE, body);
}

const CLIENT_CV_CONTEXT = Buffer.from("TLS 1.3, client CertificateVerify\0", "latin1");

/** The client's TLS 1.3 CertificateVerify (RFC 8446 §4.4.3) over Hash(ClientHello..Certificate). */
export function clientCertificateVerify13(creds: ClientCredentials, scheme: number, transcriptHash: Buffer): Buffer {
  const content = Buffer.concat([Buffer.alloc(64, 0x20), CLIENT_CV_CONTEXT, transcriptHash]);
  const sig = creds.sign(scheme, content);
  const body = Buffer.alloc(4 + sig.length);
  body.writeUInt16BE(scheme, 0);
  body.writeUInt16BE(sig.length, 2);
  sig.copy(body, 4);
  return handshakeMessage(HandshakeType.CERTIFICATE_VERIFY, body);
}

/** The client's TLS 1.2 Certificate message (RFC 5246 §7.4.6): empty when `creds` is undefined. */
export function clientCertificate12(creds: ClientCredentials | undefined): Buffer {
  const certs = creds?.chain ?? [];
  let listLen = 0;
  for (const c of certs) listLen += 3 + c.length;
  const body = Buffer.alloc(3 + listLen);
  let o = body.writeUIntBE(listLen, 0, 3);
  for (const c of certs) {
    o = body.writeUIntBE(c.length, o, 3);
    o += c.copy(body, o);
  }
  return handshakeMessage(HandshakeType.CERTIFICATE, body);
}

/**
 * The client's TLS 1.2 CertificateVerify (RFC 5246 §7.4.8): SignatureAndHashAlgorithm and a
 * signature over every handshake message so far (`messages`, concatenated), with the scheme's hash.
 */
export function clientCertificateVerify12(creds: ClientCredentials, scheme: number, messages: Buffer): Buffer {
  const sig = creds.sign(scheme, messages);
  const body = Buffer.alloc(4 + sig.length);
  body.writeUInt16BE(scheme, 0);
  body.writeUInt16BE(sig.length, 2);
  sig.copy(body, 4);
  return handshakeMessage(HandshakeType.CERTIFICATE_VERIFY, body);
}
