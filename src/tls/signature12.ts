import { verify as cryptoVerify, constants as cc, type KeyObject } from "node:crypto";
import { TlsError } from "../errors.js";
import { SignatureScheme } from "./constants.js";
import { TlsReader } from "./reader.js";
import { MAX_CERTIFICATE_CHAIN } from "./certificate.js";

/**
 * TLS 1.2 server authentication pieces: the Certificate message (RFC 5246 §7.4.2) and the
 * ServerKeyExchange signature (RFC 5246 §7.4.3, RFC 8422 §5.4, RFC 8446 §4.2.3 for RSA-PSS).
 */

/** Parse a TLS 1.2 Certificate body (a list of DER certificates, leaf first). */
export function parseCertificate12Body(body: Buffer): Buffer[] {
  if (body.length > MAX_CERTIFICATE_CHAIN) throw new TlsError("server certificate chain too large", { alert: "bad_certificate" });
  const r = new TlsReader(body);
  const list = r.sub(3, "certificate_list");
  r.done("Certificate");
  const certs: Buffer[] = [];
  while (list.remaining > 0) {
    const der = list.vec(3, "ASN.1Cert");
    if (der.length === 0) throw new TlsError("empty certificate in the server chain", { alert: "decode_error" });
    certs.push(der);
    if (certs.length > 32) throw new TlsError("server certificate chain longer than 32", { alert: "bad_certificate" });
  }
  if (certs.length === 0) throw new TlsError("server sent an empty Certificate message", { alert: "decode_error" });
  return certs;
}

/** Hash of a TLS 1.2 SignatureAndHashAlgorithm (RFC 5246 §7.4.1.4.1), null for Ed25519/Ed448. */
function hashOf(scheme: number): string | null | undefined {
  switch (scheme) {
    case SignatureScheme.ED25519:
    case SignatureScheme.ED448:
      return null;
    case SignatureScheme.RSA_PSS_RSAE_SHA256:
    case SignatureScheme.RSA_PSS_PSS_SHA256:
      return "sha256";
    case SignatureScheme.RSA_PSS_RSAE_SHA384:
    case SignatureScheme.RSA_PSS_PSS_SHA384:
      return "sha384";
    case SignatureScheme.RSA_PSS_RSAE_SHA512:
    case SignatureScheme.RSA_PSS_PSS_SHA512:
      return "sha512";
  }
  // Legacy pairs: high byte = hash (2 sha1, 4 sha256, 5 sha384, 6 sha512), low byte = 1 RSA, 3 ECDSA.
  const sig = scheme & 0xff;
  if (sig !== 1 && sig !== 3) return undefined;
  return { 2: "sha1", 4: "sha256", 5: "sha384", 6: "sha512" }[scheme >> 8];
}

/** Does `scheme` fit the key (in TLS 1.2 the ECDSA pairs do not bind the curve)? */
function keyFits(key: KeyObject, scheme: number): boolean {
  const t = key.asymmetricKeyType;
  if (scheme === SignatureScheme.ED25519) return t === "ed25519";
  if (scheme === SignatureScheme.ED448) return t === "ed448";
  if (scheme >= SignatureScheme.RSA_PSS_RSAE_SHA256 && scheme <= SignatureScheme.RSA_PSS_RSAE_SHA512) return t === "rsa";
  if (scheme >= SignatureScheme.RSA_PSS_PSS_SHA256 && scheme <= SignatureScheme.RSA_PSS_PSS_SHA512) return t === "rsa-pss";
  if ((scheme & 0xff) === 1) return t === "rsa";
  if ((scheme & 0xff) === 3) return t === "ec";
  return false;
}

/**
 * Verify the signature over client_random + server_random + ServerECDHParams. Throws
 * TlsError(illegal_parameter) for a scheme we did not offer or that does not fit the key,
 * decrypt_error for a bad signature.
 */
export function verifyServerKeyExchange(key: KeyObject, scheme: number, signature: Buffer, signed: Buffer, offered: readonly number[]): void {
  const hash = hashOf(scheme);
  if (!offered.includes(scheme) || hash === undefined) {
    throw new TlsError(`ServerKeyExchange uses signature scheme 0x${scheme.toString(16)} that was not offered`, { alert: "illegal_parameter" });
  }
  if (!keyFits(key, scheme)) {
    throw new TlsError(`ServerKeyExchange signature scheme 0x${scheme.toString(16)} does not match the certificate key`, {
      alert: "illegal_parameter",
    });
  }
  let ok = false;
  try {
    if (hash === null) ok = cryptoVerify(null, signed, key, signature);
    else if ((scheme & 0xff00) === 0x0800) {
      const saltLength = hash === "sha256" ? 32 : hash === "sha384" ? 48 : 64;
      ok = cryptoVerify(hash, signed, { key, padding: cc.RSA_PKCS1_PSS_PADDING, saltLength }, signature);
    } else if ((scheme & 0xff) === 1) {
      ok = cryptoVerify(hash, signed, { key, padding: cc.RSA_PKCS1_PADDING }, signature);
    } else {
      ok = cryptoVerify(hash, signed, { key, dsaEncoding: "der" }, signature);
    }
  } catch {
    ok = false;
  }
  if (!ok) throw new TlsError("ServerKeyExchange signature does not verify", { alert: "decrypt_error" });
}
