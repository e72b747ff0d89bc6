import { CipherSuite } from "./constants.js";

/** How a TLS 1.2 suite protects records. */
export type Cipher12 =
  /** AES-GCM (RFC 5288 §3): 4-byte implicit salt + 8-byte explicit nonce per record. */
  | { readonly kind: "gcm"; readonly name: "aes-128-gcm" | "aes-256-gcm"; readonly keyLength: 16 | 32; readonly fixedIvLength: 4 }
  /** ChaCha20-Poly1305 (RFC 7905 §2): 12-byte IV XORed with the sequence number, nothing explicit. */
  | { readonly kind: "chacha"; readonly name: "chacha20-poly1305"; readonly keyLength: 32; readonly fixedIvLength: 12 }
  /** AES-CBC or 3DES-CBC with HMAC, MAC-then-encrypt, explicit IV per record (RFC 5246 §6.2.3.2). */
  | {
      readonly kind: "cbc";
      readonly name: "aes-128-cbc" | "aes-256-cbc" | "des-ede3-cbc";
      readonly keyLength: 16 | 24 | 32;
      readonly blockSize: 8 | 16;
      readonly fixedIvLength: 0;
      readonly mac: "sha1" | "sha256" | "sha384";
      readonly macLength: 20 | 32 | 48;
    };

/** A TLS 1.2 cipher suite masq implements. */
export interface Suite12 {
  readonly id: number;
  readonly name: string;
  /** Key exchange: ephemeral ECDH signed by the certificate key, or RSA encryption of the premaster. */
  readonly kx: "ecdhe" | "rsa";
  /** The certificate key type the suite needs. */
  readonly auth: "ecdsa" | "rsa";
  readonly cipher: Cipher12;
  /** PRF and handshake hash (RFC 5246 §5: SHA-256 unless the suite names SHA-384). */
  readonly hash: "sha256" | "sha384";
}

const GCM128 = { kind: "gcm", name: "aes-128-gcm", keyLength: 16, fixedIvLength: 4 } as const;
const GCM256 = { kind: "gcm", name: "aes-256-gcm", keyLength: 32, fixedIvLength: 4 } as const;
const CHACHA = { kind: "chacha", name: "chacha20-poly1305", keyLength: 32, fixedIvLength: 12 } as const;
const CBC128 = { kind: "cbc", name: "aes-128-cbc", keyLength: 16, blockSize: 16, fixedIvLength: 0, mac: "sha1", macLength: 20 } as const;
const CBC256 = { kind: "cbc", name: "aes-256-cbc", keyLength: 32, blockSize: 16, fixedIvLength: 0, mac: "sha1", macLength: 20 } as const;
const CBC128_SHA256 = { ...CBC128, mac: "sha256", macLength: 32 } as const;
const CBC256_SHA256 = { ...CBC256, mac: "sha256", macLength: 32 } as const;
const CBC256_SHA384 = { ...CBC256, mac: "sha384", macLength: 48 } as const;
/** 3DES-EDE-CBC (RFC 5246 appendix C): only Safari still offers it, last. */
const CBC3DES = { kind: "cbc", name: "des-ede3-cbc", keyLength: 24, blockSize: 8, fixedIvLength: 0, mac: "sha1", macLength: 20 } as const;

function suite(id: number, kx: Suite12["kx"], auth: Suite12["auth"], cipher: Cipher12, hash: Suite12["hash"]): [number, Suite12] {
  const name = Object.entries(CipherSuite).find(([, v]) => v === id)?.[0] ?? `0x${id.toString(16)}`;
  return [id, { id, name, kx, auth, cipher, hash }];
}

const S = CipherSuite;
const SUITES12: ReadonlyMap<number, Suite12> = new Map<number, Suite12>([
  suite(S.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ecdhe", "ecdsa", GCM128, "sha256"),
  suite(S.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ecdhe", "ecdsa", GCM256, "sha384"),
  suite(S.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ecdhe", "rsa", GCM128, "sha256"),
  suite(S.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ecdhe", "rsa", GCM256, "sha384"),
  suite(S.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ecdhe", "ecdsa", CHACHA, "sha256"),
  suite(S.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ecdhe", "rsa", CHACHA, "sha256"),
  suite(S.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ecdhe", "ecdsa", CBC128, "sha256"),
  suite(S.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ecdhe", "ecdsa", CBC256, "sha256"),
  suite(S.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ecdhe", "rsa", CBC128, "sha256"),
  suite(S.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ecdhe", "rsa", CBC256, "sha256"),
  suite(S.TLS_RSA_WITH_AES_128_GCM_SHA256, "rsa", "rsa", GCM128, "sha256"),
  suite(S.TLS_RSA_WITH_AES_256_GCM_SHA384, "rsa", "rsa", GCM256, "sha384"),
  suite(S.TLS_RSA_WITH_AES_128_CBC_SHA, "rsa", "rsa", CBC128, "sha256"),
  suite(S.TLS_RSA_WITH_AES_256_CBC_SHA, "rsa", "rsa", CBC256, "sha256"),
  // Offered by the Safari profiles (RFC 5289 SHA-2 CBC suites, RFC 5246 SHA-256 RSA ones, 3DES).
  suite(S.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "ecdhe", "ecdsa", CBC128_SHA256, "sha256"),
  suite(S.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384, "ecdhe", "ecdsa", CBC256_SHA384, "sha384"),
  suite(S.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "ecdhe", "rsa", CBC128_SHA256, "sha256"),
  suite(S.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384, "ecdhe", "rsa", CBC256_SHA384, "sha384"),
  suite(S.TLS_RSA_WITH_AES_128_CBC_SHA256, "rsa", "rsa", CBC128_SHA256, "sha256"),
  suite(S.TLS_RSA_WITH_AES_256_CBC_SHA256, "rsa", "rsa", CBC256_SHA256, "sha256"),
  suite(S.TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA, "ecdhe", "ecdsa", CBC3DES, "sha256"),
  suite(S.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, "ecdhe", "rsa", CBC3DES, "sha256"),
  suite(S.TLS_RSA_WITH_3DES_EDE_CBC_SHA, "rsa", "rsa", CBC3DES, "sha256"),
]);

/** Parameters of a TLS 1.2 suite, or undefined when masq does not implement it. */
export function suite12Info(id: number): Suite12 | undefined {
  return SUITES12.get(id);
}

/** Every TLS 1.2 suite masq implements. */
export const SUPPORTED_SUITES12: readonly number[] = [...SUITES12.keys()];
