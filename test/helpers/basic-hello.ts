import { CipherSuite, ExtensionType, NamedGroup, SignatureScheme, TLS13 } from "../../src/tls/constants.js";
import type { HelloBuilder } from "../../src/tls/engine.js";
import { handshakeMessage, u16, withLength } from "../../src/tls/reader.js";

/**
 * A plain, GREASE-free TLS 1.3 ClientHello (RFC 8446 §4.1.2) for tests that need to force
 * suites, groups or key shares on masq's TLS engine. Test-only: the library always sends a
 * browser profile's hello (src/tls/hello-builder.ts), so this lives under test/helpers.
 */
export interface BasicHelloOptions {
  servername?: string;
  alpn?: string[];
  cipherSuites?: number[];
  groups?: number[];
  keyShareGroups?: number[];
  signatureAlgorithms?: number[];
  /** compress_certificate algorithms to offer (RFC 8879); default none. */
  certCompression?: number[];
}

/** What the basic hello offers when an option is left out. */
export const BASIC_DEFAULTS = {
  cipherSuites: [CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_AES_256_GCM_SHA384, CipherSuite.TLS_CHACHA20_POLY1305_SHA256],
  groups: [NamedGroup.X25519, NamedGroup.SECP256R1, NamedGroup.SECP384R1],
  keyShareGroups: [NamedGroup.X25519],
  signatureAlgorithms: [
    SignatureScheme.ECDSA_SECP256R1_SHA256,
    SignatureScheme.RSA_PSS_RSAE_SHA256,
    SignatureScheme.ED25519,
    SignatureScheme.ECDSA_SECP384R1_SHA384,
    SignatureScheme.RSA_PSS_RSAE_SHA384,
    SignatureScheme.RSA_PSS_RSAE_SHA512,
    SignatureScheme.RSA_PSS_PSS_SHA256,
    SignatureScheme.RSA_PSS_PSS_SHA384,
    SignatureScheme.RSA_PSS_PSS_SHA512,
    SignatureScheme.ECDSA_SECP521R1_SHA512,
    SignatureScheme.ED448,
  ],
} as const;

function ext(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), withLength(2, data)]);
}

function list16(values: readonly number[]): Buffer {
  return withLength(2, ...values.map(u16));
}

/** The handshake message (type 1, with its 4-byte header) of a basic ClientHello. */
export function buildBasicClientHello(
  o: BasicHelloOptions,
  p: { random: Buffer; sessionId: Buffer; keyShares: Array<{ group: number; key: Buffer }>; cookie?: Buffer },
): Buffer {
  const exts: Buffer[] = [];
  if (o.servername) {
    const name = Buffer.from(o.servername, "ascii");
    exts.push(ext(ExtensionType.SERVER_NAME, withLength(2, Buffer.of(0), withLength(2, name))));
  }
  exts.push(ext(ExtensionType.SUPPORTED_VERSIONS, withLength(1, u16(TLS13))));
  exts.push(ext(ExtensionType.SUPPORTED_GROUPS, list16(o.groups ?? BASIC_DEFAULTS.groups)));
  exts.push(ext(ExtensionType.SIGNATURE_ALGORITHMS, list16(o.signatureAlgorithms ?? BASIC_DEFAULTS.signatureAlgorithms)));
  exts.push(
    ext(ExtensionType.KEY_SHARE, withLength(2, ...p.keyShares.map((k) => Buffer.concat([u16(k.group), withLength(2, k.key)])))),
  );
  if (o.alpn && o.alpn.length > 0) {
    exts.push(ext(ExtensionType.ALPN, withLength(2, ...o.alpn.map((a) => withLength(1, Buffer.from(a, "latin1"))))));
  }
  if (o.certCompression && o.certCompression.length > 0) {
    exts.push(ext(ExtensionType.COMPRESS_CERTIFICATE, withLength(1, ...o.certCompression.map(u16))));
  }
  if (p.cookie) exts.push(ext(ExtensionType.COOKIE, withLength(2, p.cookie)));
  const body = Buffer.concat([
    u16(0x0303),
    p.random,
    withLength(1, p.sessionId),
    list16(o.cipherSuites ?? BASIC_DEFAULTS.cipherSuites),
    Buffer.of(1, 0),
    withLength(2, ...exts),
  ]);
  return handshakeMessage(1, body);
}

/** A HelloBuilder for the plain (GREASE-free) hello with explicit suites / groups. */
export function basicHelloBuilder(o: BasicHelloOptions): HelloBuilder {
  return {
    keyShareGroups: o.keyShareGroups ?? BASIC_DEFAULTS.keyShareGroups,
    recordVersion: 0x0301,
    build: (p) => buildBasicClientHello(o, { ...p }),
  };
}
