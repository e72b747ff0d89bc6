/**
 * Firefox ESR 153 (Linux) opening a WebSocket, as captured in
 * /work/shared/reference/browser-fingerprints.md and firefox-esr-153-wss-clienthello.hex.
 *
 * JA4 `t13d1617h2_86a278354501_3cbfd9057e0d`. NSS sends its extensions in a fixed order and no
 * GREASE except the GREASE encrypted_client_hello; data only.
 */
import { NamedGroup as GROUP } from "../tls/constants.js";
import type { ClientHelloProfile } from "../tls/client-hello.js";
import { geckoProfile, geckoUa } from "./families.js";
import type { BrowserProfile } from "./types.js";

/** Firefox 153's ClientHello. NSS offers h2 even for a WebSocket (RFC 8441 would use it). */
export const firefox153Hello: ClientHelloProfile = {
  name: "firefox153",
  recordVersion: 0x0301,
  legacyVersion: 0x0303,
  cipherSuites: [
    0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030, 0xc00a, 0xc013, 0xc014, 0x009c, 0x009d,
    0x002f, 0x0035,
  ],
  // NSS's fixed extension order (JA4_o); the cookie only appears in a retry hello.
  extensions: [
    { kind: "server_name" },
    { kind: "extended_master_secret" },
    { kind: "renegotiation_info" },
    { kind: "supported_groups" },
    { kind: "ec_point_formats", formats: [0] },
    { kind: "session_ticket" },
    { kind: "alpn" },
    { kind: "status_request" },
    { kind: "delegated_credentials", algorithms: [0x0403, 0x0503, 0x0603, 0x0203] },
    { kind: "signed_certificate_timestamp" },
    { kind: "key_share" },
    { kind: "supported_versions", versions: [0x0304, 0x0303] },
    { kind: "cookie" },
    { kind: "signature_algorithms" },
    { kind: "psk_key_exchange_modes", modes: [1] },
    { kind: "record_size_limit", limit: 0x4001 },
    { kind: "compress_certificate", algorithms: [1, 2, 3] },
    // NSS: AEAD by coin flip, random enc, payload = inner hello padded (name to 100 bytes, total
    // to 32·k + 31) + 16-byte tag: 239 bytes with Firefox's inner extensions.
    { kind: "ech_grease", kdf: 0x0001, aeads: [0x0001, 0x0003], enc: "random", payloadLengths: [239], nameLengthPadding: 100 },
  ],
  groups: [GROUP.X25519MLKEM768, GROUP.X25519, GROUP.SECP256R1, GROUP.SECP384R1, GROUP.SECP521R1, GROUP.FFDHE2048, GROUP.FFDHE3072],
  keyShareGroups: [GROUP.X25519MLKEM768, GROUP.X25519, GROUP.SECP256R1],
  hybridReusesX25519: true,
  signatureAlgorithms: [0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201],
  alpn: ["h2", "http/1.1"],
  permuteExtensions: false,
  grease: false,
  // Its resumption hello (firefox-esr-153.8-wss-h1-retry.hex) adds pre_shared_key last and drops these.
  resumptionOmits: ["session_ticket", "compress_certificate"],
};

/** Firefox ESR 153 on Linux, as captured (Sec-Fetch-Site / Storage-Access follow the Origin in use). */
export const firefox153: BrowserProfile = geckoProfile({
  name: "firefox153",
  family: "firefox",
  version: "153",
  tls: firefox153Hello,
  userAgent: geckoUa("X11; Linux x86_64", "153.0"),
  platform: "Linux",
  acceptLanguage: "en-US,en;q=0.9",
  storageAccess: true,
  checkedAgainst: "real Firefox ESR 153 capture",
});
