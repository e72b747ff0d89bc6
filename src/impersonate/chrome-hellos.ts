/**
 * ClientHello shapes of Chrome, Edge and Chrome on Android before Chromium 156, as measured in
 * curl_cffi 0.16.3's captures (test/fixtures/profiles/). Versions whose hellos are identical on
 * the wire share one shape; BoringSSL's extension table gives the order before permutation.
 *
 * | shape | versions | what changed |
 * |---|---|---|
 * | `chromeT1` | 99–107, Edge 99/101, Android 99 | fixed order, X25519 only, padding |
 * | `chromeT2` | 110–116 | extension permutation (BoringSSL, on since Chrome 110) |
 * | `chromeT3` | 119–123, Android 131 | ECH GREASE |
 * | `chromeT4` | 124 | X25519Kyber768Draft00 key share (0x6399) |
 * | `chromeT5` | 131–146 | X25519MLKEM768 (0x11ec); ALPS moves to 0x44cd at 133 |
 * | `chromeT6` | 150 | ML-DSA signature algorithms 0x0904–0x0906 |
 */
import { ExtensionType, GREASE_PLACEHOLDER as G, NamedGroup } from "../tls/constants.js";
import type { ClientHelloProfile, ExtensionSpec } from "../tls/client-hello.js";

/** Chrome's cipher list, unchanged from 99 to 156. */
export const CHROME_CIPHERS: readonly number[] = [
  G, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f,
  0x0035,
];

/** Signature algorithms of Chrome 99–146. */
const CHROME_SIGALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];

/** BoringSSL's ECH GREASE (AES-128-GCM on hardware with AES; payload 32·{4..7} + 16). */
export const BORINGSSL_ECH: ExtensionSpec = {
  kind: "ech_grease",
  kdf: 0x0001,
  aeads: [0x0001],
  enc: "x25519",
  payloadLengths: [144, 176, 208, 240],
};

interface ChromeShape {
  name: string;
  ech: boolean;
  permute: boolean;
  /** ALPS code point for an h2 hello (0x4469 up to 132, 0x44cd from 133). */
  alps: number;
  /** Hybrid post-quantum group with a key share, if any. */
  hybrid?: number;
  sigalgs: number[];
}

/**
 * A Chrome hello in BoringSSL's extension order: GREASE first and last, padding after it (only
 * written when the hello is 256–511 bytes), the cookie only in a retry hello.
 */
function chromeHello(s: ChromeShape): ClientHelloProfile {
  const extensions: ExtensionSpec[] = [
    { kind: "grease" },
    { kind: "server_name" },
    ...(s.ech ? [BORINGSSL_ECH] : []),
    { kind: "extended_master_secret" },
    { kind: "renegotiation_info" },
    { kind: "supported_groups" },
    { kind: "ec_point_formats", formats: [0] },
    { kind: "session_ticket" },
    { kind: "alpn" },
    { kind: "status_request" },
    { kind: "signature_algorithms" },
    { kind: "signed_certificate_timestamp" },
    { kind: "key_share" },
    { kind: "psk_key_exchange_modes", modes: [1] },
    { kind: "supported_versions", versions: [G, 0x0304, 0x0303] },
    { kind: "cookie" },
    { kind: "compress_certificate", algorithms: [2] },
    { kind: "application_settings", codepoint: s.alps, protocols: ["h2"] },
    { kind: "grease" },
    { kind: "padding" },
  ];
  const hybrid = s.hybrid === undefined ? [] : [s.hybrid];
  return {
    name: s.name,
    recordVersion: 0x0301,
    legacyVersion: 0x0303,
    cipherSuites: [...CHROME_CIPHERS],
    extensions,
    groups: [G, ...hybrid, NamedGroup.X25519, NamedGroup.SECP256R1, NamedGroup.SECP384R1],
    keyShareGroups: [G, ...hybrid, NamedGroup.X25519],
    signatureAlgorithms: s.sigalgs,
    alpn: ["http/1.1"],
    permuteExtensions: s.permute,
    grease: true,
  };
}

const OLD_ALPS = ExtensionType.APPLICATION_SETTINGS;
const NEW_ALPS = ExtensionType.APPLICATION_SETTINGS_NEW;

/** Chrome 99–107, Edge 99/101, Chrome 99 on Android: fixed order, JA4 `t13d1515h1_8daaf6152771_de4a06bb82e3`. */
export const chromeT1 = chromeHello({ name: "chrome99", ech: false, permute: false, alps: OLD_ALPS, sigalgs: CHROME_SIGALGS });
/** Chrome 110–116: the same extensions, permuted per connection. */
export const chromeT2 = chromeHello({ name: "chrome110", ech: false, permute: true, alps: OLD_ALPS, sigalgs: CHROME_SIGALGS });
/** Chrome 119–123 and 131 on Android: ECH GREASE; JA4 varies with the padding extension. */
export const chromeT3 = chromeHello({ name: "chrome119", ech: true, permute: true, alps: OLD_ALPS, sigalgs: CHROME_SIGALGS });
/** Chrome 124: X25519Kyber768Draft00. */
export const chromeT4 = chromeHello({
  name: "chrome124",
  ech: true,
  permute: true,
  alps: OLD_ALPS,
  hybrid: NamedGroup.X25519KYBER768DRAFT00,
  sigalgs: CHROME_SIGALGS,
});
/** Chrome 131: X25519MLKEM768, old ALPS code point. */
export const chromeT5 = chromeHello({
  name: "chrome131",
  ech: true,
  permute: true,
  alps: OLD_ALPS,
  hybrid: NamedGroup.X25519MLKEM768,
  sigalgs: CHROME_SIGALGS,
});
/** Chrome 133–146: as 131 with ALPS at 0x44cd (identical on a wss hello, which has no ALPS). */
export const chromeT5b = chromeHello({
  name: "chrome133",
  ech: true,
  permute: true,
  alps: NEW_ALPS,
  hybrid: NamedGroup.X25519MLKEM768,
  sigalgs: CHROME_SIGALGS,
});
/** Chrome 150: ML-DSA signature algorithms (curl_cffi sends them without the GREASE entry). */
export const chromeT6 = chromeHello({
  name: "chrome150",
  ech: true,
  permute: true,
  alps: NEW_ALPS,
  hybrid: NamedGroup.X25519MLKEM768,
  sigalgs: [0x0904, 0x0905, 0x0906, ...CHROME_SIGALGS],
});
