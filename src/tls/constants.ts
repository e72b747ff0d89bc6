/**
 * TLS 1.3 code points (RFC 8446 §B and the IANA TLS registries) used by masq's TLS engine.
 */

/** Record content types (RFC 8446 §5.1). */
export const ContentType = {
  CHANGE_CIPHER_SPEC: 20,
  ALERT: 21,
  HANDSHAKE: 22,
  APPLICATION_DATA: 23,
} as const;

/** Handshake message types (RFC 8446 §4, RFC 8879 §4). */
export const HandshakeType = {
  /** TLS 1.2 only (RFC 5246 §7.4.1.1). */
  HELLO_REQUEST: 0,
  CLIENT_HELLO: 1,
  SERVER_HELLO: 2,
  NEW_SESSION_TICKET: 4,
  END_OF_EARLY_DATA: 5,
  ENCRYPTED_EXTENSIONS: 8,
  CERTIFICATE: 11,
  /** TLS 1.2 only (RFC 5246 §7.4.3). */
  SERVER_KEY_EXCHANGE: 12,
  CERTIFICATE_REQUEST: 13,
  /** TLS 1.2 only (RFC 5246 §7.4.5). */
  SERVER_HELLO_DONE: 14,
  CERTIFICATE_VERIFY: 15,
  /** TLS 1.2 only (RFC 5246 §7.4.7). */
  CLIENT_KEY_EXCHANGE: 16,
  FINISHED: 20,
  /** TLS 1.2 OCSP stapling (RFC 6066 §8). */
  CERTIFICATE_STATUS: 22,
  KEY_UPDATE: 24,
  COMPRESSED_CERTIFICATE: 25,
  MESSAGE_HASH: 254,
} as const;

/** Extension types (RFC 8446 §4.2 and companions). */
export const ExtensionType = {
  SERVER_NAME: 0,
  MAX_FRAGMENT_LENGTH: 1,
  STATUS_REQUEST: 5,
  SUPPORTED_GROUPS: 10,
  EC_POINT_FORMATS: 11,
  SIGNATURE_ALGORITHMS: 13,
  USE_SRTP: 14,
  HEARTBEAT: 15,
  ALPN: 16,
  SCT: 18,
  CLIENT_CERTIFICATE_TYPE: 19,
  SERVER_CERTIFICATE_TYPE: 20,
  PADDING: 21,
  EXTENDED_MASTER_SECRET: 23,
  COMPRESS_CERTIFICATE: 27,
  RECORD_SIZE_LIMIT: 28,
  SESSION_TICKET: 35,
  PRE_SHARED_KEY: 41,
  EARLY_DATA: 42,
  SUPPORTED_VERSIONS: 43,
  COOKIE: 44,
  PSK_KEY_EXCHANGE_MODES: 45,
  CERTIFICATE_AUTHORITIES: 47,
  OID_FILTERS: 48,
  POST_HANDSHAKE_AUTH: 49,
  SIGNATURE_ALGORITHMS_CERT: 50,
  KEY_SHARE: 51,
  DELEGATED_CREDENTIALS: 34,
  /** ALPS, the code point Chrome used up to 132 (draft-vvv-tls-alps). */
  APPLICATION_SETTINGS: 17513,
  /** ALPS, the code point Chrome uses since 133. */
  APPLICATION_SETTINGS_NEW: 17613,
  /** draft-ietf-tls-trust-anchor-ids. */
  TRUST_ANCHORS: 0xca34,
  ENCRYPTED_CLIENT_HELLO: 0xfe0d,
  RENEGOTIATION_INFO: 0xff01,
} as const;

/** Cipher suites (RFC 8446 §B.4; TLS 1.2: RFC 5246, 5288, 5289, 7905, 8422). */
export const CipherSuite = {
  TLS_AES_128_GCM_SHA256: 0x1301,
  TLS_AES_256_GCM_SHA384: 0x1302,
  TLS_CHACHA20_POLY1305_SHA256: 0x1303,
  TLS_RSA_WITH_AES_128_CBC_SHA: 0x002f,
  TLS_RSA_WITH_AES_256_CBC_SHA: 0x0035,
  TLS_RSA_WITH_AES_128_GCM_SHA256: 0x009c,
  TLS_RSA_WITH_AES_256_GCM_SHA384: 0x009d,
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 0xc009,
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 0xc00a,
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 0xc013,
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 0xc014,
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 0xc02b,
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 0xc02c,
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 0xc02f,
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 0xc030,
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 0xcca8,
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 0xcca9,
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 0x000a,
  TLS_RSA_WITH_AES_128_CBC_SHA256: 0x003c,
  TLS_RSA_WITH_AES_256_CBC_SHA256: 0x003d,
  TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA: 0xc008,
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 0xc012,
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 0xc023,
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384: 0xc024,
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 0xc027,
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384: 0xc028,
} as const;

/** Named groups (RFC 8446 §4.2.7, draft-ietf-tls-ecdhe-mlkem). */
export const NamedGroup = {
  SECP256R1: 0x0017,
  SECP384R1: 0x0018,
  SECP521R1: 0x0019,
  X25519: 0x001d,
  X448: 0x001e,
  X25519MLKEM768: 0x11ec,
  /** draft-tls-westerbaan-xyber768d00 (Chrome 124–130): X25519 first, then Kyber768 round 3. */
  X25519KYBER768DRAFT00: 0x6399,
  FFDHE2048: 0x0100,
  FFDHE3072: 0x0101,
  FFDHE4096: 0x0102,
} as const;

/** Signature schemes (RFC 8446 §4.2.3). */
export const SignatureScheme = {
  RSA_PKCS1_SHA256: 0x0401,
  RSA_PKCS1_SHA384: 0x0501,
  RSA_PKCS1_SHA512: 0x0601,
  ECDSA_SECP256R1_SHA256: 0x0403,
  ECDSA_SECP384R1_SHA384: 0x0503,
  ECDSA_SECP521R1_SHA512: 0x0603,
  RSA_PSS_RSAE_SHA256: 0x0804,
  RSA_PSS_RSAE_SHA384: 0x0805,
  RSA_PSS_RSAE_SHA512: 0x0806,
  ED25519: 0x0807,
  ED448: 0x0808,
  RSA_PSS_PSS_SHA256: 0x0809,
  RSA_PSS_PSS_SHA384: 0x080a,
  RSA_PSS_PSS_SHA512: 0x080b,
} as const;

/** Alert descriptions (RFC 8446 §6). */
export const AlertDescription = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  record_overflow: 22,
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_revoked: 44,
  certificate_expired: 45,
  certificate_unknown: 46,
  illegal_parameter: 47,
  unknown_ca: 48,
  access_denied: 49,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  inappropriate_fallback: 86,
  user_canceled: 90,
  /** TLS 1.2 (RFC 5246 §7.2.2), a warning. */
  no_renegotiation: 100,
  missing_extension: 109,
  unsupported_extension: 110,
  unrecognized_name: 112,
  bad_certificate_status_response: 113,
  unknown_psk_identity: 115,
  certificate_required: 116,
  no_application_protocol: 120,
} as const;

export type AlertName = keyof typeof AlertDescription;

const alertNames = new Map<number, string>(Object.entries(AlertDescription).map(([k, v]) => [v, k]));

/** The registry name of an alert code, or `alert_<n>` for an unknown one. */
export function alertName(code: number): string {
  return alertNames.get(code) ?? `alert_${code}`;
}

/** Placeholder for "a GREASE value goes here" in any list of a profile (RFC 8701 §2). */
export const GREASE_PLACEHOLDER = 0x0a0a;

/** True for the 16 reserved GREASE values 0x0a0a, 0x1a1a, … 0xfafa (RFC 8701 §2). */
export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
}

/** Version code points. */
export const TLS12 = 0x0303;
export const TLS13 = 0x0304;

/** Largest TLSPlaintext.fragment / TLSInnerPlaintext content (RFC 8446 §5.1). */
export const MAX_PLAINTEXT = 1 << 14;
/** Largest TLSCiphertext.fragment (RFC 8446 §5.2). */
export const MAX_CIPHERTEXT = (1 << 14) + 256;

/** ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3). */
export const HRR_RANDOM = Buffer.from(
  "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c",
  "hex",
);

/** Downgrade sentinels in the last 8 bytes of ServerHello.random (RFC 8446 §4.1.3). */
export const DOWNGRADE_TLS12 = Buffer.from("444f574e47524401", "hex");
export const DOWNGRADE_TLS11 = Buffer.from("444f574e47524400", "hex");
