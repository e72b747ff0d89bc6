/**
 * Chrome 156 (Linux) opening a WebSocket, as captured in
 * /work/shared/reference/browser-fingerprints.md and chromium-156-wss-clienthello.hex.
 *
 * JA4 `t13d1516h1_8daaf6152771_5b37b36a67c0`. Everything per connection that Chrome randomises
 * (GREASE values, extension order, ECH GREASE) is drawn by the builder; this file is data only.
 */
import { GREASE_PLACEHOLDER as G, NamedGroup as GROUP } from "../tls/constants.js";
import type { ClientHelloProfile } from "../tls/client-hello.js";
import { chromeUa, chromiumProfile } from "./families.js";
import type { BrowserProfile } from "./types.js";

/**
 * Chrome's trust anchor IDs (draft-ietf-tls-trust-anchor-ids, extension 0xca34) as sent by
 * Chromium 156: binary relative OIDs under three CA arcs, in wire order.
 */
export const CHROME_156_TRUST_ANCHOR_IDS: readonly string[] = [
  "82df130201", "82df130206", "82df13020d", "82df13020e", "82df13020f", "82df130212", "82df130213", "82df130214",
  "839a648c9b2d0107", "839a648c9b2d0108", "839a648c9b2d0109", "839a648c9b2d010a", "839a648c9b2d010b",
  "839a648c9b2d010c", "839a648c9b2d010d", "839a648c9b2d0112", "839a648c9b2d0113",
  "d6790901", "d6790904", "d6790905", "d6790906", "d6790907", "d6790908", "d679090a", "d679090b", "d679090c",
  "d679090d", "d679090f",
];

/** Chrome 156's ClientHello for a WebSocket (ALPN http/1.1 only). */
export const chrome156Hello: ClientHelloProfile = {
  name: "chrome156",
  recordVersion: 0x0301,
  legacyVersion: 0x0303,
  cipherSuites: [
    G, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d,
    0x002f, 0x0035,
  ],
  // Order before permutation = BoringSSL's kExtensions order; GREASE stays first and last.
  // Unpermuted order follows BoringSSL's extension table; GREASE stays first and last, padding
  // (never needed at Chrome's ~2 KB) after it. The cookie is only sent in a retry hello.
  extensions: [
    { kind: "grease" },
    { kind: "server_name" },
    // BoringSSL: HKDF-SHA256, AES-128-GCM (x86 with AES-NI), payload 32·{4..7} + 16-byte tag.
    { kind: "ech_grease", kdf: 0x0001, aeads: [0x0001], enc: "x25519", payloadLengths: [144, 176, 208, 240] },
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
    // ALPS (new code point) goes only into an h2 hello; Chromium's wss hello offers http/1.1 alone.
    { kind: "application_settings", codepoint: 0x44cd, protocols: ["h2"] },
    { kind: "trust_anchors", ids: [...CHROME_156_TRUST_ANCHOR_IDS] },
    { kind: "grease" },
    { kind: "padding" },
  ],
  groups: [G, GROUP.X25519MLKEM768, GROUP.X25519, GROUP.SECP256R1, GROUP.SECP384R1],
  keyShareGroups: [G, GROUP.X25519MLKEM768, GROUP.X25519],
  signatureAlgorithms: [G, 0x0904, 0x0905, 0x0906, 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601],
  alpn: ["http/1.1"],
  permuteExtensions: true,
  grease: true,
};

/** Chrome 156 on Linux: the upgrade request and hello exactly as captured (UA without "Headless"). */
export const chrome156: BrowserProfile = chromiumProfile({
  name: "chrome156",
  family: "chrome",
  major: 156,
  tls: chrome156Hello,
  userAgent: chromeUa("X11; Linux x86_64", "156.0.0.0"),
  platform: "Linux",
  checkedAgainst: "real Chromium 156 capture",
});
