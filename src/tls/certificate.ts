import { X509Certificate, verify as cryptoVerify, constants as cc, type KeyObject } from "node:crypto";
import { checkServerIdentity, rootCertificates } from "node:tls";
import { brotliDecompressSync, inflateSync } from "node:zlib";
import { TlsError } from "../errors.js";
import { SignatureScheme } from "./constants.js";
import { extraCaFromEnv } from "./extra-ca.js";
import { TlsReader } from "./reader.js";
import {
  KeyUsageBit,
  OID,
  WEAK_SIGNATURE_OIDS,
  certificateExtensions,
  certificateSignatureOid,
  dnsWithin,
  ipWithin,
  parseNameConstraints,
  parseSubjectAltName,
  parseBasicConstraints,
  parseExtKeyUsage,
  parseKeyUsage,
} from "./asn1.js";

/** Largest certificate chain masq accepts, compressed or not (bytes). */
export const MAX_CERTIFICATE_CHAIN = 1 << 20;

/** Certificate compression algorithms masq can decode (RFC 8879 §3). */
export const CertCompression = { ZLIB: 1, BROTLI: 2 } as const;

/** Parse a Certificate message body (RFC 8446 §4.4.2) into DER certificates. */
export function parseCertificateBody(body: Buffer): Buffer[] {
  const r = new TlsReader(body);
  const context = r.vec(1, "certificate_request_context");
  if (context.length !== 0) {
    throw new TlsError("server Certificate has a non-empty request context", { alert: "illegal_parameter" });
  }
  const list = r.sub(3, "certificate_list");
  r.done("Certificate");
  const certs: Buffer[] = [];
  while (list.remaining > 0) {
    const der = list.vec(3, "cert_data");
    list.vec(2, "CertificateEntry extensions"); // OCSP / SCT entries are accepted and not used
    if (der.length === 0) throw new TlsError("empty certificate in the server chain", { alert: "decode_error" });
    certs.push(der);
    if (certs.length > 32) throw new TlsError("server certificate chain longer than 32", { alert: "bad_certificate" });
  }
  if (certs.length === 0) {
    throw new TlsError("server sent an empty Certificate message", { alert: "decode_error" });
  }
  return certs;
}

/**
 * Decompress a CompressedCertificate body (RFC 8879 §4) into a Certificate body. The declared
 * length is bounded and must match exactly.
 */
export function decompressCertificate(body: Buffer, offered: readonly number[]): Buffer {
  const r = new TlsReader(body);
  const algorithm = r.u16("algorithm");
  const length = r.u24("uncompressed_length");
  const compressed = r.vec(3, "compressed_certificate_message");
  r.done("CompressedCertificate");
  if (!offered.includes(algorithm)) {
    throw new TlsError(`server compressed its certificate with unoffered algorithm ${algorithm}`, {
      alert: "illegal_parameter",
    });
  }
  if (length === 0 || length > MAX_CERTIFICATE_CHAIN || compressed.length === 0) {
    throw new TlsError(`CompressedCertificate of ${length} bytes refused`, { alert: "bad_certificate" });
  }
  let out: Buffer;
  try {
    if (algorithm === CertCompression.BROTLI) out = brotliDecompressSync(compressed, { maxOutputLength: length });
    else if (algorithm === CertCompression.ZLIB) out = inflateSync(compressed, { maxOutputLength: length });
    else throw new Error("unsupported algorithm");
  } catch (e) {
    throw new TlsError("CompressedCertificate does not decompress", { alert: "bad_certificate", cause: e });
  }
  if (out.length !== length) {
    throw new TlsError("CompressedCertificate length mismatch", { alert: "bad_certificate" });
  }
  return out;
}

/** Parse DER certificates, mapping failures to bad_certificate. */
export function toX509(ders: readonly Buffer[]): X509Certificate[] {
  return ders.map((d) => {
    try {
      return new X509Certificate(d);
    } catch (e) {
      throw new TlsError("server certificate does not parse", { alert: "bad_certificate", cause: e });
    }
  });
}

let defaultRoots: X509Certificate[] | undefined;

/** Certificates in PEM text (any number of blocks) or one DER buffer. */
function parseCertificates(items: Array<string | Buffer>): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const item of items) {
    const text = typeof item === "string" ? item : item.toString("latin1");
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    if (blocks) for (const b of blocks) out.push(new X509Certificate(b));
    else if (Buffer.isBuffer(item)) out.push(new X509Certificate(item)); // DER
  }
  return out;
}

/**
 * Node's default trust: its bundled roots plus NODE_EXTRA_CA_CERTS (read once, like Node does at
 * startup; an unreadable file is ignored as Node only warns).
 */
function defaultTrust(): X509Certificate[] {
  if (defaultRoots) return defaultRoots;
  const roots = rootCertificates.map((p) => new X509Certificate(p));
  const extra = extraCaFromEnv();
  if (extra !== null) {
    try {
      roots.push(...parseCertificates([extra]));
    } catch {
      // A file that does not parse: Node prints a warning and goes on without it.
    }
  }
  defaultRoots = roots;
  return roots;
}

/**
 * A set of trust anchors, indexed once so that a validation does not walk the whole list
 * (Node's ~140 roots plus NODE_EXTRA_CA_CERTS, often as many again): by subject for the issuer
 * lookup, by SHA-256 fingerprint for "is this certificate itself an anchor".
 */
interface TrustStore {
  /** Never reused by another store: what a cached validation was made against (chain-cache.ts). */
  readonly id: number;
  readonly list: readonly X509Certificate[];
  /** Anchors by normalised subject name, in list order. */
  readonly bySubject: ReadonlyMap<string, X509Certificate[]>;
  readonly fingerprints: ReadonlySet<string>;
}

/** Subject / issuer text compared loosely (case and spacing): the index only narrows the search. */
function nameKey(name: string): string {
  return name.toLowerCase().replace(/\s+/g, " ");
}

let nextStoreId = 1;

function trustStore(list: X509Certificate[]): TrustStore {
  const bySubject = new Map<string, X509Certificate[]>();
  const fingerprints = new Set<string>();
  for (const c of list) {
    const k = nameKey(c.subject);
    const l = bySubject.get(k);
    if (l) l.push(c);
    else bySubject.set(k, [c]);
    fingerprints.add(c.fingerprint256);
  }
  return { id: nextStoreId++, list, bySubject, fingerprints };
}

let defaultStore: TrustStore | undefined;
/** Stores for `ca` options, by content (parsed once per process, not once per connection). */
const caStores = new Map<string, TrustStore>();

function rootsOf(ca: string | Buffer | Array<string | Buffer> | undefined): TrustStore {
  defaultStore ??= trustStore(defaultTrust());
  if (ca === undefined) return defaultStore;
  const items = Array.isArray(ca) ? ca : [ca];
  const key = items.map((c) => (typeof c === "string" ? c : c.toString("latin1"))).join("\n");
  let store = caStores.get(key);
  if (!store) {
    store = trustStore([...parseCertificates(items), ...defaultStore.list]);
    if (caStores.size >= 16) caStores.delete(caStores.keys().next().value as string);
    caStores.set(key, store);
  }
  return store;
}

/**
 * Identifies the trust anchors `ca` selects (the default roots when undefined): two calls give the
 * same number only while they use the very same parsed store, so a result cached under it never
 * applies to another set of anchors.
 */
export function trustStoreId(ca: ValidationOptions["ca"]): number {
  return rootsOf(ca).id;
}

/**
 * The anchor that issued and signed `cur`, looked up by issuer name; `everywhere` walks the whole
 * list instead (before giving up: names that match in X.509's comparison but not as text).
 */
function findAnchor(store: TrustStore, cur: X509Certificate, everywhere = false): X509Certificate | undefined {
  const pool = everywhere ? store.list : store.bySubject.get(nameKey(cur.issuer));
  return pool?.find((a) => issuedBy(cur, a) && signedBy(cur, a));
}

/** A validation failure: Node-style verification code (`verifyCode`, and `alert` for compatibility) plus the alert to send (`tlsAlert`). */
export class CertificateError extends TlsError {
  readonly tlsAlert: string;
  constructor(code: string, message: string, tlsAlert: string) {
    // `alert` keeps the verification code too (as before the split): see TlsError.
    super(message, { verifyCode: code });
    this.name = "TlsError";
    this.tlsAlert = tlsAlert;
  }
}

interface CertFacts {
  nameConstraints: Buffer | undefined;
  subjectAltName: Buffer | undefined;
  ca: boolean | undefined; // undefined: no basicConstraints
  pathLen: number | undefined;
  keyUsage: number | undefined;
  eku: string[] | undefined;
}

const HANDLED_CRITICAL = new Set([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  "2.5.29.32", // certificatePolicies
  "2.5.29.30", // nameConstraints
  "2.5.29.36", // policyConstraints
  "2.5.29.54", // inhibitAnyPolicy
  "2.5.29.14", // subjectKeyIdentifier
  "2.5.29.35", // authorityKeyIdentifier
]);

function facts(cert: X509Certificate): CertFacts {
  try {
    const ext = certificateExtensions(cert.raw).byOid;
    for (const [oid, e] of ext) {
      if (e.critical && !HANDLED_CRITICAL.has(oid)) {
        throw new CertificateError("UNHANDLED_CRITICAL_EXTENSION", `certificate has unhandled critical extension ${oid}`, "unsupported_certificate");
      }
    }
    const bc = ext.get(OID.basicConstraints);
    const ku = ext.get(OID.keyUsage);
    const eku = ext.get(OID.extKeyUsage);
    const parsedBc = bc ? parseBasicConstraints(bc.value) : undefined;
    return {
      nameConstraints: ext.get(OID.nameConstraints)?.value,
      subjectAltName: ext.get(OID.subjectAltName)?.value,
      ca: parsedBc?.ca,
      pathLen: parsedBc?.pathLen,
      keyUsage: ku ? parseKeyUsage(ku.value) : undefined,
      eku: eku ? parseExtKeyUsage(eku.value) : undefined,
    };
  } catch (e) {
    if (e instanceof TlsError) throw e;
    throw new CertificateError("CERT_REJECTED", `certificate extensions do not parse: ${(e as Error).message}`, "bad_certificate");
  }
}

function sameCert(a: X509Certificate, b: X509Certificate): boolean {
  return a.raw.equals(b.raw);
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent);
  } catch {
    return false;
  }
}

function signedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

/** Subject equals issuer (RFC 5280 §3.3 "self-issued"); keyUsage does not matter here. */
function isSelfIssued(c: X509Certificate): boolean {
  return c.subject === c.issuer;
}

export interface ValidationOptions {
  /** Host name or IP to check against the leaf; undefined skips the identity check. */
  host: string | undefined;
  ca?: string | Buffer | Array<string | Buffer>;
  /** Current time (ms since epoch), for tests. */
  now?: number;
}

/**
 * Validate a server chain the way Node/OpenSSL would (RFC 5280 §6 subset): build a path from the
 * leaf through the server's certificates to a trust anchor (tls.rootCertificates plus `ca`),
 * checking each link's signature, validity dates, basicConstraints CA / pathLen, keyUsage
 * keyCertSign, extendedKeyUsage serverAuth and the host name. Throws CertificateError.
 */
export function validateChain(chain: readonly X509Certificate[], opts: ValidationOptions): X509Certificate[] {
  const leaf = chain[0]!;
  const store = rootsOf(opts.ca);
  const anchors = store.list;
  const now = opts.now ?? Date.now();
  const path: X509Certificate[] = [leaf];
  const untrusted = chain.slice(1);
  let trusted = store.fingerprints.has(leaf.fingerprint256) && anchors.some((a) => sameCert(a, leaf));
  while (!trusted) {
    const cur = path[path.length - 1]!;
    if (path.length > 10) throw new CertificateError("CERT_CHAIN_TOO_LONG", "certificate chain too long", "bad_certificate");
    const candidates = untrusted.filter((c) => !path.some((p) => sameCert(p, c)) && issuedBy(cur, c));
    // The whole list only where the path would otherwise end in an error (not for a self-signed
    // certificate: it is its own issuer, and no anchor's name matches it).
    const anchor = findAnchor(store, cur) ?? (candidates.length === 0 && !isSelfIssued(cur) ? findAnchor(store, cur, true) : undefined);
    if (anchor) {
      path.push(anchor);
      trusted = true;
      break;
    }
    if (isSelfIssued(cur)) {
      if (path.length === 1) {
        throw new CertificateError("DEPTH_ZERO_SELF_SIGNED_CERT", "self-signed certificate", "unknown_ca");
      }
      throw new CertificateError("SELF_SIGNED_CERT_IN_CHAIN", "self-signed certificate in certificate chain", "unknown_ca");
    }
    if (candidates.length === 0) {
      if (anchors.some((a) => issuedBy(cur, a))) {
        throw new CertificateError("CERT_SIGNATURE_FAILURE", "certificate signature failure", "bad_certificate");
      }
      if (path.length === 1) {
        throw new CertificateError("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify the first certificate", "unknown_ca");
      }
      throw new CertificateError("UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "unable to get local issuer certificate", "unknown_ca");
    }
    const next = candidates.find((c) => signedBy(cur, c));
    if (!next) throw new CertificateError("CERT_SIGNATURE_FAILURE", "certificate signature failure", "bad_certificate");
    path.push(next);
    if (store.fingerprints.has(next.fingerprint256) && anchors.some((a) => sameCert(a, next))) trusted = true;
  }

  // Per-certificate checks, leaf first. The anchor's dates are checked too (as OpenSSL does).
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    const from = Date.parse(c.validFrom);
    const to = Date.parse(c.validTo);
    if (!(now >= from)) throw new CertificateError("CERT_NOT_YET_VALID", "certificate is not yet valid", "bad_certificate");
    if (!(now <= to)) throw new CertificateError("CERT_HAS_EXPIRED", "certificate has expired", "certificate_expired");
    const f = facts(c);
    const isAnchor = i === path.length - 1 && trusted && i > 0;
    // Weak keys and digests, as OpenSSL 3.0 refuses them at Node's default security level 1.
    const key = c.publicKey.asymmetricKeyDetails;
    if ((c.publicKey.asymmetricKeyType === "rsa" || c.publicKey.asymmetricKeyType === "rsa-pss") && (key?.modulusLength ?? 0) < 1024) {
      throw new CertificateError(i === 0 ? "EE_KEY_TOO_SMALL" : "CA_KEY_TOO_SMALL", "certificate key too small", "bad_certificate");
    }
    if (!isAnchor && !(i === path.length - 1 && i === 0 && trusted)) {
      let sigOid: string;
      try {
        sigOid = certificateSignatureOid(c.raw);
      } catch (e) {
        throw new CertificateError("CERT_REJECTED", `certificate does not parse: ${(e as Error).message}`, "bad_certificate");
      }
      if (WEAK_SIGNATURE_OIDS.has(sigOid)) {
        throw new CertificateError("CA_MD_TOO_WEAK", "certificate signature algorithm is too weak (MD5/SHA-1)", "bad_certificate");
      }
    }
    if (i === 0) {
      if (f.keyUsage !== undefined && (f.keyUsage & KeyUsageBit.digitalSignature) === 0) {
        throw new CertificateError("INVALID_PURPOSE", "leaf certificate keyUsage lacks digitalSignature", "bad_certificate");
      }
    } else {
      // A CA certificate: basicConstraints cA, keyCertSign, pathLen (RFC 5280 §4.2.1.9, §6.1.4).
      if (f.ca !== true && !(isAnchor && f.ca === undefined && isSelfIssued(c))) {
        throw new CertificateError("INVALID_CA", "invalid CA certificate (basicConstraints cA not set)", "bad_certificate");
      }
      if (f.keyUsage !== undefined && (f.keyUsage & KeyUsageBit.keyCertSign) === 0) {
        throw new CertificateError("INVALID_CA", "CA certificate keyUsage lacks keyCertSign", "bad_certificate");
      }
      // Non-self-issued intermediates below this CA.
      const below = i - 1;
      if (f.pathLen !== undefined && below > f.pathLen) {
        throw new CertificateError("PATH_LENGTH_EXCEEDED", "path length constraint exceeded", "bad_certificate");
      }
    }
    if (!isAnchor && f.eku !== undefined && !f.eku.includes(OID.serverAuth) && !f.eku.includes(OID.anyExtendedKeyUsage)) {
      throw new CertificateError("INVALID_PURPOSE", "unsupported certificate purpose (no serverAuth)", "bad_certificate");
    }
  }

  checkNameConstraints(path);

  if (opts.host !== undefined) {
    const host = opts.host.startsWith("[") && opts.host.endsWith("]") ? opts.host.slice(1, -1) : opts.host;
    const legacy = leaf.toLegacyObject();
    const err = checkServerIdentity(host, legacy as Parameters<typeof checkServerIdentity>[1]);
    // checkServerIdentity matches IP literals against IP SANs only, names against DNS SANs (RFC 6125).
    if (err) throw new CertificateError("ERR_TLS_CERT_ALTNAME_INVALID", err.message, "bad_certificate");
  }
  return path;
}

/**
 * Enforce the dNSName / iPAddress name constraints of every CA in the path on the certificates
 * below it (RFC 5280 §4.2.1.10, §6.1.3 (b)-(c)); other name forms are not constrained here.
 */
function checkNameConstraints(path: readonly X509Certificate[]): void {
  for (let ci = 1; ci < path.length; ci++) {
    const f = facts(path[ci]!);
    if (!f.nameConstraints) continue;
    let nc: ReturnType<typeof parseNameConstraints>;
    try {
      nc = parseNameConstraints(f.nameConstraints);
    } catch (e) {
      throw new CertificateError("CERT_REJECTED", `nameConstraints do not parse: ${(e as Error).message}`, "bad_certificate");
    }
    for (let i = 0; i < ci; i++) {
      const below = facts(path[i]!);
      if (i > 0 && path[i]!.subject === path[i]!.issuer) continue; // self-issued CAs are exempt
      let names: { dns: string[]; ips: Buffer[] } = { dns: [], ips: [] };
      if (below.subjectAltName) {
        try {
          names = parseSubjectAltName(below.subjectAltName);
        } catch (e) {
          throw new CertificateError("CERT_REJECTED", `subjectAltName does not parse: ${(e as Error).message}`, "bad_certificate");
        }
      }
      for (const name of names.dns) {
        if (nc.permitted && nc.permitted.dns.length > 0 && !nc.permitted.dns.some((c) => dnsWithin(name, c))) {
          throw new CertificateError("PERMITTED_VIOLATION", `name ${name} is outside the CA's permitted names`, "bad_certificate");
        }
        if (nc.excluded && nc.excluded.dns.some((c) => dnsWithin(name, c))) {
          throw new CertificateError("EXCLUDED_VIOLATION", `name ${name} is excluded by the CA's name constraints`, "bad_certificate");
        }
      }
      for (const ip of names.ips) {
        const fam = (c: Buffer): boolean => c.length === ip.length * 2;
        if (nc.permitted && nc.permitted.ips.some(fam) && !nc.permitted.ips.some((c) => ipWithin(ip, c))) {
          throw new CertificateError("PERMITTED_VIOLATION", "IP address outside the CA's permitted ranges", "bad_certificate");
        }
        if (nc.excluded && nc.excluded.ips.some((c) => ipWithin(ip, c))) {
          throw new CertificateError("EXCLUDED_VIOLATION", "IP address excluded by the CA's name constraints", "bad_certificate");
        }
      }
    }
  }
}

/** Context string of a server CertificateVerify (RFC 8446 §4.4.3). */
const SERVER_CV_CONTEXT = Buffer.from("TLS 1.3, server CertificateVerify\0", "latin1");

export function certificateVerifyContent(transcriptHash: Buffer, context = SERVER_CV_CONTEXT): Buffer {
  return Buffer.concat([Buffer.alloc(64, 0x20), context, transcriptHash]);
}

/** The signature schemes masq verifies in TLS 1.3 (no PKCS#1 v1.5, no SHA-1). */
export const VERIFIABLE_SCHEMES: readonly number[] = [
  SignatureScheme.ECDSA_SECP256R1_SHA256,
  SignatureScheme.ECDSA_SECP384R1_SHA384,
  SignatureScheme.ECDSA_SECP521R1_SHA512,
  SignatureScheme.RSA_PSS_RSAE_SHA256,
  SignatureScheme.RSA_PSS_RSAE_SHA384,
  SignatureScheme.RSA_PSS_RSAE_SHA512,
  SignatureScheme.RSA_PSS_PSS_SHA256,
  SignatureScheme.RSA_PSS_PSS_SHA384,
  SignatureScheme.RSA_PSS_PSS_SHA512,
  SignatureScheme.ED25519,
  SignatureScheme.ED448,
];

function keyMatches(key: KeyObject, scheme: number): boolean {
  const t = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  switch (scheme) {
    case SignatureScheme.ECDSA_SECP256R1_SHA256:
      return t === "ec" && curve === "prime256v1";
    case SignatureScheme.ECDSA_SECP384R1_SHA384:
      return t === "ec" && curve === "secp384r1";
    case SignatureScheme.ECDSA_SECP521R1_SHA512:
      return t === "ec" && curve === "secp521r1";
    case SignatureScheme.RSA_PSS_RSAE_SHA256:
    case SignatureScheme.RSA_PSS_RSAE_SHA384:
    case SignatureScheme.RSA_PSS_RSAE_SHA512:
      return t === "rsa";
    case SignatureScheme.RSA_PSS_PSS_SHA256:
    case SignatureScheme.RSA_PSS_PSS_SHA384:
    case SignatureScheme.RSA_PSS_PSS_SHA512:
      return t === "rsa-pss";
    case SignatureScheme.ED25519:
      return t === "ed25519";
    case SignatureScheme.ED448:
      return t === "ed448";
    default:
      return false;
  }
}

function hashOf(scheme: number): string | null {
  switch (scheme & 0xff) {
    case 0x03:
      return scheme === SignatureScheme.ECDSA_SECP256R1_SHA256 ? "sha256" : scheme === SignatureScheme.ECDSA_SECP384R1_SHA384 ? "sha384" : "sha512";
    case 0x04:
    case 0x09:
      return "sha256";
    case 0x05:
    case 0x0a:
      return "sha384";
    case 0x06:
    case 0x0b:
      return "sha512";
    default:
      return null;
  }
}

/**
 * Verify a server CertificateVerify (RFC 8446 §4.4.3). Throws TlsError(illegal_parameter) for a
 * scheme we did not offer or that does not match the key, decrypt_error for a bad signature.
 */
export function verifyCertificateVerify(
  leafKey: KeyObject,
  scheme: number,
  signature: Buffer,
  transcriptHash: Buffer,
  offered: readonly number[],
): void {
  if (!offered.includes(scheme) || !VERIFIABLE_SCHEMES.includes(scheme)) {
    throw new TlsError(`server used signature scheme 0x${scheme.toString(16)} that was not offered`, {
      alert: "illegal_parameter",
    });
  }
  if (!keyMatches(leafKey, scheme)) {
    throw new TlsError(`signature scheme 0x${scheme.toString(16)} does not match the certificate key`, {
      alert: "illegal_parameter",
    });
  }
  const content = certificateVerifyContent(transcriptHash);
  let ok = false;
  try {
    if (scheme === SignatureScheme.ED25519 || scheme === SignatureScheme.ED448) {
      ok = cryptoVerify(null, content, leafKey, signature);
    } else if ((scheme & 0xff00) === 0x0800) {
      const hash = hashOf(scheme)!;
      const saltLength = hash === "sha256" ? 32 : hash === "sha384" ? 48 : 64;
      ok = cryptoVerify(hash, content, { key: leafKey, padding: cc.RSA_PKCS1_PSS_PADDING, saltLength }, signature);
    } else {
      ok = cryptoVerify(hashOf(scheme)!, content, { key: leafKey, dsaEncoding: "der" }, signature);
    }
  } catch {
    ok = false;
  }
  if (!ok) throw new TlsError("server CertificateVerify signature does not verify", { alert: "decrypt_error" });
}
