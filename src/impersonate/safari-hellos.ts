/**
 * Safari's ClientHellos (macOS and iOS), as measured in curl_cffi 0.16.3's captures
 * (test/fixtures/profiles/). Safari keeps a fixed extension order with GREASE first and last
 * (before the padding), the BoringSSL padding rule and no ECH. Data only.
 *
 * | shape | versions | what changed |
 * |---|---|---|
 * | `safariT7` | 15.3 | 26 ciphers incl. CBC-SHA256, no certificate compression |
 * | `safariT8` | 15.5, 17.0, iOS 17.2 | 20 ciphers, zlib certificate compression |
 * | `safariT9` | 18.0, 18.4, iOS 18.0/18.4 | drops 0x0203 (ECDSA-SHA1) from signature algorithms |
 * | `safariT10` | 26.0 | X25519MLKEM768, session_ticket, TLS 1.3 only, AES-256 first |
 * | `safariT11` | iOS 26.0 | X25519 only, session_ticket, TLS 1.3 + 1.2 |
 * | `safariT12` | 26.0.1 | as 26.0 without session_ticket |
 */
import { GREASE_PLACEHOLDER as G, NamedGroup } from "../tls/constants.js";
import type { ClientHelloProfile, ExtensionSpec } from "../tls/client-hello.js";

const SUITES_15_3 = [
  G, 0x1301, 0x1302, 0x1303, 0xc02c, 0xc02b, 0xcca9, 0xc030, 0xc02f, 0xcca8, 0xc024, 0xc023, 0xc00a, 0xc009, 0xc028,
  0xc027, 0xc014, 0xc013, 0x009d, 0x009c, 0x003d, 0x003c, 0x0035, 0x002f, 0xc008, 0xc012, 0x000a,
];
const SUITES = [
  G, 0x1301, 0x1302, 0x1303, 0xc02c, 0xc02b, 0xcca9, 0xc030, 0xc02f, 0xcca8, 0xc00a, 0xc009, 0xc014, 0xc013, 0x009d,
  0x009c, 0x0035, 0x002f, 0xc008, 0xc012, 0x000a,
];
/** Safari 26 puts AES-256-GCM and ChaCha20 ahead of AES-128-GCM. */
const SUITES_26 = [G, 0x1302, 0x1303, 0x1301, ...SUITES.slice(4)];
/** Safari lists rsa_pss_rsae_sha384 twice (as measured). */
const SIGALGS_SHA1 = [0x0403, 0x0804, 0x0401, 0x0503, 0x0203, 0x0805, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201];
const SIGALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201];

interface SafariShape {
  name: string;
  suites: number[];
  sigalgs: number[];
  certCompression: boolean;
  sessionTicket: boolean;
  versions: number[];
  hybrid: boolean;
}

const TICKET: ExtensionSpec[] = [{ kind: "session_ticket" }];
/** RFC 8879: Safari offers zlib (1) only. */
const ZLIB: ExtensionSpec[] = [{ kind: "compress_certificate", algorithms: [1] }];

function safariHello(s: SafariShape): ClientHelloProfile {
  const extensions: ExtensionSpec[] = [
    { kind: "grease" },
    { kind: "server_name" },
    { kind: "extended_master_secret" },
    { kind: "renegotiation_info" },
    { kind: "supported_groups" },
    { kind: "ec_point_formats", formats: [0] },
    ...(s.sessionTicket ? TICKET : []),
    { kind: "alpn" },
    { kind: "status_request" },
    { kind: "signature_algorithms" },
    { kind: "signed_certificate_timestamp" },
    { kind: "key_share" },
    { kind: "psk_key_exchange_modes", modes: [1] },
    { kind: "supported_versions", versions: s.versions },
    { kind: "cookie" },
    ...(s.certCompression ? ZLIB : []),
    { kind: "grease" },
    { kind: "padding" },
  ];
  const hybrid = s.hybrid ? [NamedGroup.X25519MLKEM768] : [];
  return {
    name: s.name,
    recordVersion: 0x0301,
    legacyVersion: 0x0303,
    cipherSuites: s.suites,
    extensions,
    groups: [G, ...hybrid, NamedGroup.X25519, NamedGroup.SECP256R1, NamedGroup.SECP384R1, NamedGroup.SECP521R1],
    keyShareGroups: [G, ...hybrid, NamedGroup.X25519],
    signatureAlgorithms: s.sigalgs,
    alpn: ["http/1.1"],
    permuteExtensions: false,
    grease: true,
  };
}

const V_LEGACY = [G, 0x0304, 0x0303, 0x0302, 0x0301];
const V_MODERN = [G, 0x0304, 0x0303];

/** Safari 15.3: JA4 `t13d2613h1_2802a3db6c62_845d286b0d67`. */
export const safariT7 = safariHello({
  name: "safari15_3", suites: SUITES_15_3, sigalgs: SIGALGS_SHA1, certCompression: false, sessionTicket: false, versions: V_LEGACY, hybrid: false,
});
/** Safari 15.5, 17.0, iOS 17.2: JA4 `t13d2014h1_a09f3c656075_14788d8d241b`. */
export const safariT8 = safariHello({
  name: "safari15_5", suites: SUITES, sigalgs: SIGALGS_SHA1, certCompression: true, sessionTicket: false, versions: V_LEGACY, hybrid: false,
});
/** Safari 18.0 and 18.4 (macOS and iOS): JA4 `t13d2014h1_a09f3c656075_e42f34c56612`. */
export const safariT9 = safariHello({
  name: "safari18_0", suites: SUITES, sigalgs: SIGALGS, certCompression: true, sessionTicket: false, versions: V_LEGACY, hybrid: false,
});
/** Safari 26.0 on macOS: JA4 `t13d2014h1_a09f3c656075_d0a99439f9b1`. */
export const safariT10 = safariHello({
  name: "safari26_0", suites: SUITES_26, sigalgs: SIGALGS, certCompression: true, sessionTicket: true, versions: V_MODERN, hybrid: true,
});
/** Safari 26.0 on iOS: JA4 `t13d2015h1_a09f3c656075_c258b721e490`. */
export const safariT11 = safariHello({
  name: "safari26_0_ios", suites: SUITES, sigalgs: SIGALGS, certCompression: true, sessionTicket: true, versions: V_MODERN, hybrid: false,
});
/** Safari 26.0.1 on macOS: JA4 `t13d2013h1_a09f3c656075_7f0f34a4126d`. */
export const safariT12 = safariHello({
  name: "safari26_0_1", suites: SUITES_26, sigalgs: SIGALGS, certCompression: true, sessionTicket: false, versions: V_MODERN, hybrid: true,
});
