/**
 * What masq can actually send and complete: a profile given by the caller (an object, or built
 * from JA3) is checked here before any byte goes out, so that a hello never offers what the TLS
 * engine cannot finish. Failures are `WebSocketError` (code 0) at `wsConnect`.
 */
import { WebSocketError } from "../errors.js";
import { GREASE_PLACEHOLDER, isGrease } from "../tls/constants.js";
import type { ClientHelloProfile } from "../tls/client-hello.js";
import { isSupportedGroup } from "../tls/key-exchange.js";
import { SUPPORTED_SUITES12 } from "../tls/suites12.js";
import type { BrowserProfile } from "./types.js";

/**
 * Cipher suites masq can complete: the TLS 1.3 AEADs (RFC 8446 §B.4) and the TLS 1.2 suites its
 * engine implements (suites12.ts, which covers every suite a catalogue target offers). A custom
 * profile may offer only these.
 */
export const KNOWN_CIPHER_SUITES: ReadonlySet<number> = new Set([0x1301, 0x1302, 0x1303, ...SUPPORTED_SUITES12]);

/**
 * Signature schemes masq can verify, so a custom profile may offer them: ECDSA, RSA-PSS, EdDSA
 * (RFC 8446 §4.2.3), and for TLS 1.2 ServerKeyExchange RSA PKCS#1 and ECDSA with SHA-1/224/256/
 * 384/512 (RFC 5246 §7.4.1.4.1). Not ML-DSA (0x0904-0x0906): Chromium 150+ offers it and the
 * catalogue reproduces that, but masq cannot verify an ML-DSA CertificateVerify yet.
 */
export const KNOWN_SIGNATURE_SCHEMES: ReadonlySet<number> = new Set([
  0x0401, 0x0501, 0x0601, 0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0807, 0x0808, 0x0809, 0x080a, 0x080b,
  0x0201, 0x0203, 0x0301, 0x0303,
]);

/** Extension types that need state masq does not have (a PSK, early data). */
const UNSENDABLE_EXTENSIONS = new Map<number, string>([
  [0x0029, "pre_shared_key (masq has no session to resume in a custom profile)"],
  [0x002a, "early_data (masq sends no 0-RTT data)"],
]);

function hex(v: number): string {
  return "0x" + v.toString(16).padStart(4, "0");
}

function fail(profile: string, what: string): never {
  throw new WebSocketError(`impersonate profile ${JSON.stringify(profile)}: ${what}`, 0);
}

/** Throws `WebSocketError` (code 0) when the hello offers something masq cannot send or complete. */
export function checkHelloProfile(tls: ClientHelloProfile): void {
  const name = tls.name;
  for (const c of tls.cipherSuites) {
    if (c !== GREASE_PLACEHOLDER && !isGrease(c) && !KNOWN_CIPHER_SUITES.has(c)) fail(name, `cipher suite ${hex(c)} is not one masq's TLS engine can complete`);
  }
  if (!tls.cipherSuites.some((c) => c >= 0x1301 && c <= 0x1303)) fail(name, "no TLS 1.3 cipher suite (0x1301-0x1303) is offered");
  for (const g of tls.groups) {
    if (!isGrease(g) && !isSupportedGroup(g)) fail(name, `group ${hex(g)} is offered but masq cannot complete a key exchange with it`);
  }
  for (const g of tls.keyShareGroups) {
    if (isGrease(g)) continue;
    if (!isSupportedGroup(g)) fail(name, `key share for group ${hex(g)}, which masq cannot generate`);
    if (!tls.groups.includes(g)) fail(name, `key share for group ${hex(g)}, which supported_groups does not list (RFC 8446 §4.2.8)`);
  }
  for (const s of tls.signatureAlgorithms) {
    if (!isGrease(s) && !KNOWN_SIGNATURE_SCHEMES.has(s)) fail(name, `signature algorithm ${hex(s)} is not one masq can verify`);
  }
  const kinds = new Set(tls.extensions.map((e) => e.kind));
  for (const required of ["supported_versions", "key_share", "supported_groups", "signature_algorithms"] as const) {
    if (!kinds.has(required)) fail(name, `the hello lacks ${required}, which a TLS 1.3 handshake needs`);
  }
  for (const e of tls.extensions) {
    if (e.kind === "supported_versions" && !e.versions.includes(0x0304)) fail(name, "supported_versions does not offer TLS 1.3 (0x0304)");
    if (e.kind === "raw" && UNSENDABLE_EXTENSIONS.has(e.type)) fail(name, `extension ${UNSENDABLE_EXTENSIONS.get(e.type)!} cannot be sent`);
    if (e.kind === "raw" && !/^(?:[0-9a-f]{2})*$/i.test(e.data)) fail(name, `extension ${hex(e.type)}: data is not hex`);
  }
}

/**
 * Checks a whole browser profile (its hello and its header template). `trustedHello`: the hello
 * is one of the catalogue's own (a caller who changed only the headers of a built-in profile),
 * which reproduces its browser as shipped, ML-DSA offer included, so only the headers are checked.
 */
export function checkProfile(profile: BrowserProfile, trustedHello = false): void {
  if (!profile || typeof profile !== "object" || !profile.tls || !Array.isArray(profile.headers)) {
    throw new WebSocketError("impersonate: a profile object needs `tls` (ClientHelloProfile) and `headers` (header template)", 0);
  }
  if (!trustedHello) checkHelloProfile(profile.tls);
  for (const entry of profile.headers) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string" || typeof entry[1] !== "string") {
      fail(profile.name, "`headers` must be [name, value] string pairs");
    }
  }
}
