import { test, before } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, generateKeyPairSync, sign, constants as cc, createHash } from "node:crypto";
import { brotliCompressSync } from "node:zlib";
import { TlsError } from "../../src/errors.js";
import { decompressCertificate, parseCertificateBody, validateChain, verifyCertificateVerify, certificateVerifyContent, VERIFIABLE_SCHEMES } from "../../src/tls/certificate.js";
import { certificateExtensions, parseBasicConstraints, parseKeyUsage, parseExtKeyUsage, OID, KeyUsageBit } from "../../src/tls/asn1.js";
import { tlsTestPki, type TlsTestPki } from "./helpers/pki.js";

let pki!: TlsTestPki;
before(() => {
  pki = tlsTestPki();
});

const x = (pem: string): X509Certificate => new X509Certificate(pem);
const isAlert = (alert: string) => (e: unknown) => e instanceof TlsError && e.alert === alert;

test("CertificateVerify: every scheme verifies with its key type and hash (RFC 8446 §4.4.3)", () => {
  const th = createHash("sha256").update("transcript").digest();
  const content = certificateVerifyContent(th);
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pss = generateKeyPairSync("rsa-pss", { modulusLength: 2048 });
  const cases: Array<[number, { privateKey: import("node:crypto").KeyObject; publicKey: import("node:crypto").KeyObject }, (k: import("node:crypto").KeyObject) => Buffer]> = [
    [0x0403, generateKeyPairSync("ec", { namedCurve: "P-256" }), (k) => sign("sha256", content, k)],
    [0x0503, generateKeyPairSync("ec", { namedCurve: "P-384" }), (k) => sign("sha384", content, k)],
    [0x0603, generateKeyPairSync("ec", { namedCurve: "P-521" }), (k) => sign("sha512", content, k)],
    [0x0804, rsa, (k) => sign("sha256", content, { key: k, padding: cc.RSA_PKCS1_PSS_PADDING, saltLength: 32 })],
    [0x0805, rsa, (k) => sign("sha384", content, { key: k, padding: cc.RSA_PKCS1_PSS_PADDING, saltLength: 48 })],
    [0x0806, rsa, (k) => sign("sha512", content, { key: k, padding: cc.RSA_PKCS1_PSS_PADDING, saltLength: 64 })],
    [0x0809, pss, (k) => sign("sha256", content, { key: k, padding: cc.RSA_PKCS1_PSS_PADDING, saltLength: 32 })],
    [0x080a, pss, (k) => sign("sha384", content, { key: k, padding: cc.RSA_PKCS1_PSS_PADDING, saltLength: 48 })],
    [0x080b, pss, (k) => sign("sha512", content, { key: k, padding: cc.RSA_PKCS1_PSS_PADDING, saltLength: 64 })],
    [0x0807, generateKeyPairSync("ed25519"), (k) => sign(null, content, k)],
    [0x0808, generateKeyPairSync("ed448"), (k) => sign(null, content, k)],
  ];
  for (const [scheme, pair, signer] of cases) {
    const sig = signer(pair.privateKey);
    verifyCertificateVerify(pair.publicKey, scheme, sig, th, VERIFIABLE_SCHEMES);
    const bad = Buffer.from(sig);
    bad[Math.floor(bad.length / 2)]! ^= 1;
    assert.throws(() => verifyCertificateVerify(pair.publicKey, scheme, bad, th, VERIFIABLE_SCHEMES), isAlert("decrypt_error"), `0x${scheme.toString(16)}`);
    // Same signature over another transcript fails.
    assert.throws(() => verifyCertificateVerify(pair.publicKey, scheme, sig, createHash("sha256").update("other").digest(), VERIFIABLE_SCHEMES), isAlert("decrypt_error"));
    // A scheme we did not offer.
    assert.throws(() => verifyCertificateVerify(pair.publicKey, scheme, sig, th, [0x0401]), isAlert("illegal_parameter"));
  }
  // Scheme / key mismatch: ECDSA P-256 scheme with a P-384 key, PSS-pss scheme with an rsaEncryption key.
  const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" });
  assert.throws(() => verifyCertificateVerify(p384.publicKey, 0x0403, sign("sha256", content, p384.privateKey), th, VERIFIABLE_SCHEMES), isAlert("illegal_parameter"));
  assert.throws(() => verifyCertificateVerify(rsa.publicKey, 0x0809, Buffer.alloc(256), th, VERIFIABLE_SCHEMES), isAlert("illegal_parameter"));
  // PKCS#1 v1.5 is not allowed for CertificateVerify in TLS 1.3 (§4.2.3).
  assert.throws(() => verifyCertificateVerify(rsa.publicKey, 0x0401, sign("sha256", content, rsa.privateKey), th, [0x0401]), isAlert("illegal_parameter"));
});

test("DER reader: basicConstraints, keyUsage, extKeyUsage of generated certificates", () => {
  const ext = certificateExtensions(x(pki.interPathLen0.cert).raw).byOid;
  assert.deepEqual(parseBasicConstraints(ext.get(OID.basicConstraints)!.value), { ca: true, pathLen: 0 });
  assert.equal(ext.get(OID.basicConstraints)!.critical, true);
  assert.ok(parseKeyUsage(ext.get(OID.keyUsage)!.value) & KeyUsageBit.keyCertSign);
  const leaf = certificateExtensions(x(pki.clientAuthOnly.cert).raw).byOid;
  assert.deepEqual(parseExtKeyUsage(leaf.get(OID.extKeyUsage)!.value), ["1.3.6.1.5.5.7.3.2"]);
  assert.ok(parseKeyUsage(leaf.get(OID.keyUsage)!.value) & KeyUsageBit.digitalSignature);
  assert.throws(() => certificateExtensions(Buffer.from([0x30, 0x05, 0x01])));
});

test("validateChain: good chains, ca adds anchors, host checks, dates via `now`", () => {
  const ca = pki.root.cert;
  assert.equal(validateChain([x(pki.leaf.cert)], { host: "localhost", ca }).length, 2);
  assert.equal(validateChain([x(pki.leafViaInter.cert), x(pki.inter.cert)], { host: "127.0.0.1", ca }).length, 3);
  // Server also sends the root: still fine.
  assert.equal(validateChain([x(pki.leafViaInter.cert), x(pki.inter.cert), x(pki.root.cert)], { host: "::1", ca }).length, 3);
  // The intermediate itself trusted as an anchor.
  assert.equal(validateChain([x(pki.leafViaInter.cert)], { host: "localhost", ca: pki.inter.cert }).length, 2);
  // A self-signed leaf trusted directly.
  assert.equal(validateChain([x(pki.selfSigned.cert)], { host: "localhost", ca: pki.selfSigned.cert }).length, 1);
  // Host undefined: identity not checked.
  validateChain([x(pki.wrongHost.cert)], { host: undefined, ca });
  assert.throws(() => validateChain([x(pki.leaf.cert)], { host: "other.example", ca }), isAlert("ERR_TLS_CERT_ALTNAME_INVALID"));
  assert.throws(() => validateChain([x(pki.leaf.cert)], { host: "10.0.0.1", ca }), isAlert("ERR_TLS_CERT_ALTNAME_INVALID"));
  const farFuture = Date.UTC(2200, 0, 1);
  assert.throws(() => validateChain([x(pki.leaf.cert)], { host: "localhost", ca, now: farFuture }), isAlert("CERT_HAS_EXPIRED"));
  assert.throws(() => validateChain([x(pki.leaf.cert)], { host: "localhost", ca, now: Date.UTC(2000, 0, 1) }), isAlert("CERT_NOT_YET_VALID"));
  // Unrelated extra certificates in the server list are ignored.
  validateChain([x(pki.leaf.cert), x(pki.otherRoot.cert), x(pki.inter.cert)], { host: "localhost", ca });
  // Chain with a self-signed root that is not trusted.
  assert.throws(() => validateChain([x(pki.unknownCaLeaf.cert), x(pki.otherRoot.cert)], { host: "localhost", ca }), isAlert("SELF_SIGNED_CERT_IN_CHAIN"));
});

test("validateChain: a CA without keyCertSign is not an issuer", () => {
  const caNoSign = pki.pki.issue({ name: "ca-nosign", ca: true, keyUsage: "critical, digitalSignature, cRLSign" });
  const leaf = pki.pki.issue({ name: "leaf-of-nosign", issuer: caNoSign });
  assert.throws(() => validateChain([x(leaf.cert)], { host: "localhost", ca: caNoSign.cert }), (e: unknown) => e instanceof TlsError && /INVALID_CA|UNABLE_TO|CERT_SIGNATURE/.test(String(e.alert)));
});

test("validateChain: anyExtendedKeyUsage is accepted; a leaf without digitalSignature is not", () => {
  const any = pki.pki.issue({ name: "leaf-anyeku", issuer: pki.root, extKeyUsage: "anyExtendedKeyUsage" });
  validateChain([x(any.cert)], { host: "localhost", ca: pki.root.cert });
  const noDs = pki.pki.issue({ name: "leaf-nods", issuer: pki.root, keyUsage: "critical, keyEncipherment" });
  assert.throws(() => validateChain([x(noDs.cert)], { host: "localhost", ca: pki.root.cert }), isAlert("INVALID_PURPOSE"));
});

test("Certificate message parsing and RFC 8879 decompression bounds", () => {
  const der = x(pki.leaf.cert).raw;
  const entry = Buffer.concat([Buffer.from([0, der.length >> 8 >> 8, (der.length >> 8) & 0xff, der.length & 0xff]).subarray(1), der, Buffer.of(0, 0)]);
  const list = Buffer.concat([Buffer.from([0, (entry.length >> 8) & 0xff, entry.length & 0xff]), entry]);
  const body = Buffer.concat([Buffer.of(0), list]);
  assert.equal(parseCertificateBody(body).length, 1);
  assert.throws(() => parseCertificateBody(Buffer.of(0, 0, 0, 0)), isAlert("decode_error")); // empty list
  assert.throws(() => parseCertificateBody(Buffer.of(1, 9, 0, 0, 0)), isAlert("illegal_parameter")); // request context
  const comp = brotliCompressSync(body);
  const msg = (alg: number, len: number, data: Buffer): Buffer =>
    Buffer.concat([Buffer.from([alg >> 8, alg & 0xff, len >> 16, (len >> 8) & 0xff, len & 0xff, data.length >> 16, (data.length >> 8) & 0xff, data.length & 0xff]), data]);
  assert.deepEqual(decompressCertificate(msg(2, body.length, comp), [2]), body);
  assert.throws(() => decompressCertificate(msg(2, body.length - 1, comp), [2]), isAlert("bad_certificate")); // longer than declared
  assert.throws(() => decompressCertificate(msg(2, body.length + 1, comp), [2]), isAlert("bad_certificate")); // shorter than declared
  assert.throws(() => decompressCertificate(msg(2, (1 << 20) + 1, comp), [2]), isAlert("bad_certificate")); // over the bound
  assert.throws(() => decompressCertificate(msg(1, body.length, comp), [2]), isAlert("illegal_parameter")); // not offered
  assert.throws(() => decompressCertificate(msg(2, body.length, Buffer.from("garbage")), [2]), isAlert("bad_certificate"));
  // A decompression bomb stops at the declared length.
  const bomb = brotliCompressSync(Buffer.alloc(64 << 20));
  assert.throws(() => decompressCertificate(msg(2, 1000, bomb), [2]), isAlert("bad_certificate"));
});

test("validateChain: SHA-1 signed leaf -> CA_MD_TOO_WEAK (like OpenSSL 3.0 at security level 1)", () => {
  const sha1 = pki.pki.issue({ name: "leaf-sha1", issuer: pki.root, md: "sha1" });
  assert.throws(() => validateChain([x(sha1.cert)], { host: "localhost", ca: pki.root.cert }), isAlert("CA_MD_TOO_WEAK"));
});

test("validateChain: CA name constraints on DNS names and IP addresses (Node fails these too)", () => {
  const make = (name: string, nc: string) => {
    const ca = pki.pki.issue({ name: `nc-${name}`, ca: true, issuer: pki.root, extra: [`nameConstraints = critical, ${nc}`] });
    const leaf = pki.pki.issue({ name: `nc-leaf-${name}`, issuer: ca });
    return [x(leaf.cert), x(ca.cert)];
  };
  assert.throws(() => validateChain(make("permit-other", "permitted;DNS:allowed.example"), { host: "localhost", ca: pki.root.cert }), isAlert("PERMITTED_VIOLATION"));
  assert.throws(() => validateChain(make("exclude", "excluded;DNS:localhost"), { host: "localhost", ca: pki.root.cert }), isAlert("EXCLUDED_VIOLATION"));
  assert.throws(() => validateChain(make("ip-other", "permitted;IP:10.0.0.0/255.0.0.0"), { host: "localhost", ca: pki.root.cert }), isAlert("PERMITTED_VIOLATION"));
  validateChain(make("permit-local", "permitted;DNS:localhost, permitted;IP:127.0.0.0/255.0.0.0, permitted;IP:0:0:0:0:0:0:0:0/0:0:0:0:0:0:0:0"), { host: "localhost", ca: pki.root.cert });
});
