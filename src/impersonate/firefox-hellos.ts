/**
 * ClientHellos of Firefox before ESR 153 and of Tor Browser 14.5 (Firefox ESR 128), from
 * curl_cffi 0.16.3's https captures (test/fixtures/profiles/). NSS sends the same hello for a
 * WebSocket as for a page (Firefox ESR 153's real wss capture: h2 in ALPN, session_ticket and
 * compress_certificate present), so the https hello is the wss one; curl_cffi's own wss hellos
 * (http/1.1 only, without those two extensions) are its imitation, not Firefox. ECH GREASE
 * follows NSS's rule as measured on Firefox 153. Data only.
 */
import { NamedGroup } from "../tls/constants.js";
import type { ClientHelloProfile, ExtensionSpec } from "../tls/client-hello.js";

/** NSS's GREASE ECH as measured on Firefox ESR 153 (AEAD by coin flip, random enc, 239-byte payload). */
export const NSS_ECH: ExtensionSpec = {
  kind: "ech_grease",
  kdf: 0x0001,
  aeads: [0x0001, 0x0003],
  enc: "random",
  payloadLengths: [239],
  nameLengthPadding: 100,
};

const FF_SIGALGS = [0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201];

/** Firefox 133–147 ciphers: ESR 153's list plus ECDHE-ECDSA-AES128-SHA (0xc009). */
const FF_CIPHERS = [
  0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030, 0xc00a, 0xc009, 0xc013, 0xc014, 0x009c,
  0x009d, 0x002f, 0x0035,
];

function firefoxExtensions(sct: boolean): ExtensionSpec[] {
  return [
    { kind: "server_name" },
    { kind: "extended_master_secret" },
    { kind: "renegotiation_info" },
    { kind: "supported_groups" },
    { kind: "ec_point_formats", formats: [0] },
    { kind: "session_ticket" },
    { kind: "alpn" },
    { kind: "status_request" },
    { kind: "delegated_credentials", algorithms: [0x0403, 0x0503, 0x0603, 0x0203] },
    ...(sct ? [{ kind: "signed_certificate_timestamp" } as const] : []),
    { kind: "key_share" },
    { kind: "supported_versions", versions: [0x0304, 0x0303] },
    { kind: "cookie" },
    { kind: "signature_algorithms" },
    { kind: "psk_key_exchange_modes", modes: [1] },
    { kind: "record_size_limit", limit: 0x4001 },
    { kind: "compress_certificate", algorithms: [1, 2, 3] },
    NSS_ECH,
  ];
}

function firefoxHello(name: string, sct: boolean): ClientHelloProfile {
  return {
    name,
    recordVersion: 0x0301,
    legacyVersion: 0x0303,
    cipherSuites: FF_CIPHERS,
    extensions: firefoxExtensions(sct),
    groups: [
      NamedGroup.X25519MLKEM768, NamedGroup.X25519, NamedGroup.SECP256R1, NamedGroup.SECP384R1, NamedGroup.SECP521R1,
      NamedGroup.FFDHE2048, NamedGroup.FFDHE3072,
    ],
    keyShareGroups: [NamedGroup.X25519MLKEM768, NamedGroup.X25519, NamedGroup.SECP256R1],
    signatureAlgorithms: FF_SIGALGS,
    alpn: ["h2", "http/1.1"],
    permuteExtensions: false,
    grease: false,
  };
}

/** Firefox 133: no signed_certificate_timestamp. JA4 `t13d1716h2_5b57614c22b0_eeeea6562960`. */
export const firefoxT13 = firefoxHello("firefox133", false);
/** Firefox 135–147. JA4 `t13d1717h2_5b57614c22b0_3cbfd9057e0d`. */
export const firefoxT14 = firefoxHello("firefox135", true);

/**
 * Tor Browser 14.5 (Firefox ESR 128 with Tor's preferences): no post-quantum share, no SCT, no
 * PSK modes, session tickets or certificate compression, 15 ciphers. JA4 `t13d1513h2_8daaf6152771_748f4c70de1c`.
 */
export const torT15: ClientHelloProfile = {
  name: "tor145",
  recordVersion: 0x0301,
  legacyVersion: 0x0303,
  cipherSuites: [
    0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
  ],
  extensions: [
    { kind: "server_name" },
    { kind: "extended_master_secret" },
    { kind: "renegotiation_info" },
    { kind: "supported_groups" },
    { kind: "ec_point_formats", formats: [0] },
    { kind: "alpn" },
    { kind: "status_request" },
    { kind: "delegated_credentials", algorithms: [0x0403, 0x0503, 0x0603, 0x0203] },
    { kind: "key_share" },
    { kind: "supported_versions", versions: [0x0304, 0x0303] },
    { kind: "cookie" },
    { kind: "signature_algorithms" },
    { kind: "record_size_limit", limit: 0x4001 },
    NSS_ECH,
  ],
  groups: [
    NamedGroup.X25519, NamedGroup.SECP256R1, NamedGroup.SECP384R1, NamedGroup.SECP521R1, NamedGroup.FFDHE2048,
    NamedGroup.FFDHE3072,
  ],
  keyShareGroups: [NamedGroup.X25519, NamedGroup.SECP256R1],
  signatureAlgorithms: FF_SIGALGS,
  alpn: ["h2", "http/1.1"],
  permuteExtensions: false,
  grease: false,
};
