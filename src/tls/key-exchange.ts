import { createECDH, createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type ECDH, type KeyObject, type KeyPairKeyObjectResult } from "node:crypto";
import * as nodeCrypto from "node:crypto";
import { TlsError } from "../errors.js";
import { NamedGroup } from "./constants.js";
import { FFDHE_PRIMES } from "./ffdhe.js";
import { newX25519KeyPair, x25519KeyPairFrom } from "./x25519-keys.js";
import { derChildren, readDer } from "./asn1.js";
import { MlKem768KeyPair } from "./mlkem.js";

/** A client key share in flight: the bytes for the key_share extension and how to finish the exchange. */
export interface KeyShare {
  readonly group: number;
  /** KeyShareEntry.key_exchange as sent. */
  readonly key: Buffer;
  /** Shared secret from the server's key_exchange. Throws TlsError(illegal_parameter) on a bad share. */
  complete(serverShare: Buffer): Buffer;
}

function badShare(group: number, cause?: unknown): TlsError {
  return new TlsError(`server sent an invalid key share for group 0x${group.toString(16)}`, {
    alert: "illegal_parameter",
    cause,
  });
}

class X25519Share {
  readonly #priv: KeyObject;
  readonly key: Buffer;

  constructor(privateRaw?: Buffer) {
    // x25519-keys.ts: how a fresh pair is made on each Node (Node 20's generate + export deadlock).
    const pair = privateRaw ? x25519KeyPairFrom(privateRaw) : newX25519KeyPair();
    this.#priv = pair.privateKey;
    this.key = pair.publicKey;
  }

  secret(peer: Buffer, group: number): Buffer {
    if (peer.length !== 32) throw badShare(group);
    let out: Buffer;
    try {
      // A JWK import skips OpenSSL's DER decoders: ~7x cheaper than the same key as SPKI (RFC 8037 §2).
      const pub = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: peer.toString("base64url") }, format: "jwk" });
      out = diffieHellman({ privateKey: this.#priv, publicKey: pub });
    } catch (e) {
      throw badShare(group, e);
    }
    // An all-zero result means a small-order point (RFC 8446 §7.4.2 / RFC 7748 §6.1).
    if (out.every((b) => b === 0)) throw badShare(group);
    return out;
  }
}

function x25519(privateRaw?: Buffer, shared?: X25519Share): KeyShare {
  const s = shared ?? new X25519Share(privateRaw);
  return { group: NamedGroup.X25519, key: s.key, complete: (peer) => s.secret(peer, NamedGroup.X25519) };
}

function ecdhe(group: number, curve: string, pointLength: number, privateRaw?: Buffer): KeyShare {
  const ecdh: ECDH = createECDH(curve);
  if (privateRaw) ecdh.setPrivateKey(privateRaw);
  else ecdh.generateKeys();
  const key = ecdh.getPublicKey(); // uncompressed point (RFC 8446 §4.2.8.2)
  return {
    group,
    key,
    complete(peer) {
      if (peer.length !== pointLength || peer[0] !== 4) throw badShare(group);
      try {
        return ecdh.computeSecret(peer);
      } catch (e) {
        throw badShare(group, e);
      }
    },
  };
}

/**
 * Finite-field DHE with an RFC 7919 group (RFC 8446 §4.2.8.1): public values and the shared
 * secret are left-padded to the size of the prime; the peer value must lie in 1 < Y < p - 1.
 */
// Minimal DER for PKCS#3 DH keys (OID 1.2.840.113549.1.3.1, DHParameter { prime, base }), so the
// exchange runs on KeyObjects: Node 24's `createDiffieHellman(prime)` tests the prime's primality on
// every call (1.2 s for ffdhe2048, 15 s for ffdhe4096, blocking the event loop), while key objects
// built from DER skip that check (a few ms).
function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
function der(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.of(tag), derLength(body.length), body]);
}
/** A non-negative INTEGER from big-endian bytes (leading zeros dropped, a sign byte added). */
function derUint(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const v = bytes.subarray(i);
  return der(0x02, (v[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.of(0), v]) : v);
}
const DH_OID = Buffer.from("06092a864886f70d010301", "hex");
function dhAlgorithm(prime: Buffer): Buffer {
  return der(0x30, DH_OID, der(0x30, derUint(prime), derUint(Buffer.of(2))));
}
/** The last INTEGER of a DER structure (the DH public value in SPKI) as big-endian bytes. */
function lastInteger(spki: Buffer): Buffer {
  // SPKI: SEQUENCE { AlgorithmIdentifier, BIT STRING (0 unused bits) { INTEGER y } }.
  const outer = derChildren(readDer(spki).value);
  const bits = outer[1]?.value;
  if (!bits) throw new TlsError("FFDHE: malformed public key", { alert: "internal_error", reason: "tls_failure" });
  const y = readDer(bits, 1).value;
  let i = 0;
  while (i < y.length - 1 && y[i] === 0) i++; // the INTEGER's sign byte
  return y.subarray(i);
}

function ffdhe(group: number, privateRaw?: Buffer): KeyShare {
  const prime = Buffer.from(FFDHE_PRIMES[group]!, "hex");
  const algorithm = dhAlgorithm(prime);
  let privateKey: KeyObject;
  let publicKey: KeyObject;
  if (privateRaw) {
    // PKCS#8: SEQUENCE { version 0, AlgorithmIdentifier, OCTET STRING { INTEGER x } }.
    const pkcs8 = der(0x30, Buffer.from("020100", "hex"), algorithm, der(0x04, derUint(privateRaw)));
    privateKey = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
    publicKey = createPublicKey(privateKey);
  } else {
    // @types/node lists only `group` for "dh"; Node itself has taken `prime` + `generator` since 15.
    const generateDh = generateKeyPairSync as unknown as (type: "dh", o: { prime: Buffer; generator: number }) => KeyPairKeyObjectResult;
    ({ privateKey, publicKey } = generateDh("dh", { prime, generator: 2 }));
  }
  const pad = (b: Buffer): Buffer => (b.length === prime.length ? b : Buffer.concat([Buffer.alloc(prime.length - b.length), b]));
  const key = pad(lastInteger(publicKey.export({ format: "der", type: "spki" })));
  const pMinus1 = Buffer.from(prime);
  pMinus1[pMinus1.length - 1]! -= 1; // p is odd
  return {
    group,
    key,
    complete(peer) {
      if (peer.length !== prime.length) throw badShare(group);
      // 1 < Y < p - 1 (RFC 7919 §5.1)
      const one = Buffer.alloc(prime.length);
      one[prime.length - 1] = 1;
      if (Buffer.compare(peer, one) <= 0 || Buffer.compare(peer, pMinus1) >= 0) throw badShare(group);
      try {
        const spki = der(0x30, algorithm, der(0x03, Buffer.of(0), derUint(peer)));
        const peerKey = createPublicKey({ key: spki, format: "der", type: "spki" });
        return pad(diffieHellman({ privateKey, publicKey: peerKey }));
      } catch (e) {
        throw badShare(group, e);
      }
    },
  };
}

/** ML-KEM-768 sizes (FIPS 203 table 3). */
const MLKEM768_EK = 1184;
const MLKEM768_CT = 1088;

/**
 * X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem §4.1): the client share is the ML-KEM-768
 * encapsulation key followed by the X25519 share; the server share is the ML-KEM ciphertext
 * followed by its X25519 share; the shared secret is the ML-KEM secret followed by the X25519 one.
 */
function x25519mlkem768(seed?: Buffer, x25519Private?: Buffer, shared?: X25519Share): KeyShare {
  const kem = mlkem768(seed);
  const x = shared ?? new X25519Share(x25519Private);
  const key = Buffer.concat([kem.encapsulationKey, x.key]);
  const group = NamedGroup.X25519MLKEM768;
  return {
    group,
    key,
    complete(peer) {
      if (peer.length !== MLKEM768_CT + 32) throw badShare(group);
      let kemSecret: Buffer;
      try {
        kemSecret = kem.decapsulate(peer.subarray(0, MLKEM768_CT));
      } catch (e) {
        throw badShare(group, e);
      }
      const xSecret = x.secret(peer.subarray(MLKEM768_CT), group);
      return Buffer.concat([kemSecret, xSecret]);
    },
  };
}

/**
 * X25519Kyber768Draft00 (draft-tls-westerbaan-xyber768d00, code point 0x6399, Chrome 124–130):
 * the client share is the X25519 share followed by a Kyber768 (round 3) public key; the server
 * share is its X25519 share followed by the Kyber ciphertext; the secret is the X25519 secret
 * followed by the Kyber secret.
 *
 * Kyber round 3 and ML-KEM (FIPS 203) share K-PKE. They differ in (1) key generation's seed
 * expansion, which a server cannot observe (any well-formed ML-KEM key pair is a valid Kyber
 * key pair), and (2) the final key derivation: Kyber returns KDF(K̄ ‖ H(c)) with KDF = SHAKE-256
 * and H = SHA3-256, where K̄ is exactly what ML-KEM's decapsulation returns for a valid
 * ciphertext. An invalid ciphertext gives an implicit-rejection value either way, so the
 * handshake fails at Finished as it would with a real Kyber implementation.
 */
function x25519kyber768draft00(seed?: Buffer, x25519Private?: Buffer): KeyShare {
  const kem = mlkem768(seed);
  const x = new X25519Share(x25519Private);
  const key = Buffer.concat([x.key, kem.encapsulationKey]);
  const group = NamedGroup.X25519KYBER768DRAFT00;
  return {
    group,
    key,
    complete(peer) {
      if (peer.length !== 32 + MLKEM768_CT) throw badShare(group);
      const ct = peer.subarray(32);
      let kbar: Uint8Array;
      try {
        kbar = kem.decapsulate(ct);
      } catch (e) {
        throw badShare(group, e);
      }
      const kyberSecret = kyberKdf(kbar, ct);
      return Buffer.concat([x.secret(peer.subarray(0, 32), group), kyberSecret]);
    },
  };
}

/** Kyber round 3's final step: SHAKE-256(K̄ ‖ SHA3-256(c)), 32 bytes. */
export function kyberKdf(kbar: Uint8Array, ciphertext: Uint8Array): Buffer {
  const hc = createHash("sha3-256").update(ciphertext).digest();
  return createHash("shake256", { outputLength: 32 }).update(kbar).update(hc).digest();
}

/** Node's own ML-KEM (Node >= 24.7 built with OpenSSL >= 3.5), typed here: @types/node may predate it. */
interface NodeKem {
  generateKeyPairSync(type: "ml-kem-768"): { publicKey: KeyObject; privateKey: KeyObject };
  decapsulate(key: KeyObject, ciphertext: Buffer): Buffer;
}
const nodeKem = typeof (nodeCrypto as { decapsulate?: unknown }).decapsulate === "function" ? (nodeCrypto as unknown as NodeKem) : undefined;
/** Whether ML-KEM-768 key generation works natively (tried once: the OpenSSL under Node decides). */
let nativeKemWorks: boolean | undefined;
/** SPKI header of an ML-KEM-768 public key (draft-ietf-lamps-kyber-certificates): 22 bytes, then the 1184-byte key. */
const MLKEM768_SPKI_HEADER = 22;

/** An ML-KEM-768 key pair as a key share uses it. */
interface Kem {
  readonly encapsulationKey: Buffer;
  /** The shared secret in a 1088-byte ciphertext (an implicit-rejection value if it is invalid). */
  decapsulate(ciphertext: Buffer): Buffer;
}

/**
 * A fresh ML-KEM-768 key pair: Node's own where it has one, else ./mlkem.ts (FIPS 203 on Node's
 * SHA-3). A `seed` (d ‖ z, for test vectors) always takes ./mlkem.ts: Node cannot take a seed.
 */
function mlkem768(seed?: Buffer): Kem {
  return (seed ? undefined : nativeMlKem()) ?? new MlKem768KeyPair(seed);
}

/**
 * An ML-KEM-768 key pair from Node's crypto (OpenSSL, ~2x cheaper than ./mlkem.ts per keygen),
 * or undefined where Node has none.
 */
function nativeMlKem(): Kem | undefined {
  if (!nodeKem || nativeKemWorks === false) return undefined;
  try {
    const { publicKey, privateKey } = nodeKem.generateKeyPairSync("ml-kem-768");
    nativeKemWorks = true;
    const kem = nodeKem;
    return { encapsulationKey: encapsulationKeyOf(publicKey), decapsulate: (ct) => kem.decapsulate(privateKey, ct) };
  } catch {
    nativeKemWorks = false;
    return undefined;
  }
}

/** Whether KeyObject#export knows `raw-public` (newer Node): then no SPKI encoding per connect. */
let rawPublicExport: boolean | undefined;

/** The 1184-byte ML-KEM-768 encapsulation key of a Node public KeyObject. */
function encapsulationKeyOf(key: KeyObject): Buffer {
  if (rawPublicExport !== false) {
    try {
      const raw = (key.export as unknown as (o: { format: string }) => Buffer)({ format: "raw-public" });
      if (raw.length === MLKEM768_EK) {
        rawPublicExport = true;
        return raw;
      }
    } catch {
      // an older Node: SPKI below from now on
    }
    rawPublicExport = false;
  }
  const spki = key.export({ format: "der", type: "spki" });
  if (spki.length !== MLKEM768_SPKI_HEADER + MLKEM768_EK) throw new Error(`unexpected ML-KEM SPKI length ${spki.length}`);
  return spki.subarray(MLKEM768_SPKI_HEADER);
}

/** Groups masq can generate key shares for. */
export const SUPPORTED_KEY_EXCHANGE_GROUPS: readonly number[] = [
  NamedGroup.X25519MLKEM768,
  NamedGroup.X25519KYBER768DRAFT00,
  NamedGroup.X25519,
  NamedGroup.SECP256R1,
  NamedGroup.SECP384R1,
  NamedGroup.SECP521R1,
  NamedGroup.FFDHE2048,
  NamedGroup.FFDHE3072,
  NamedGroup.FFDHE4096,
];

export function isSupportedGroup(group: number): boolean {
  return SUPPORTED_KEY_EXCHANGE_GROUPS.includes(group);
}

/**
 * Generate a fresh key share for `group`. `fixed` gives deterministic private material for test
 * vectors (X25519 / ECDH: the raw private key; ML-KEM: the 64-byte keygen seed + X25519 key).
 */
export function createKeyShare(group: number, fixed?: { privateKey?: Buffer; seed?: Buffer }): KeyShare {
  switch (group) {
    case NamedGroup.X25519:
      return x25519(fixed?.privateKey);
    case NamedGroup.SECP256R1:
      return ecdhe(group, "prime256v1", 65, fixed?.privateKey);
    case NamedGroup.SECP384R1:
      return ecdhe(group, "secp384r1", 97, fixed?.privateKey);
    case NamedGroup.SECP521R1:
      return ecdhe(group, "secp521r1", 133, fixed?.privateKey);
    case NamedGroup.X25519MLKEM768:
      return x25519mlkem768(fixed?.seed, fixed?.privateKey);
    case NamedGroup.X25519KYBER768DRAFT00:
      return x25519kyber768draft00(fixed?.seed, fixed?.privateKey);
    case NamedGroup.FFDHE2048:
    case NamedGroup.FFDHE3072:
    case NamedGroup.FFDHE4096:
      return ffdhe(group, fixed?.privateKey);
    default:
      throw new TlsError(`masq's TLS engine cannot make a key share for group 0x${group.toString(16)}`, {
        alert: "internal_error",
      });
  }
}

/**
 * The key shares of a first ClientHello, in `groups` order. With `hybridReusesX25519` (NSS, as
 * Firefox sends them) the X25519 share and the X25519 half of X25519MLKEM768 are one key pair:
 * the server uses at most one of the two shares, and a second key would be both a tell and a
 * wasted key generation.
 */
export function createKeyShares(groups: readonly number[], hybridReusesX25519: boolean): KeyShare[] {
  if (!hybridReusesX25519 || !groups.includes(NamedGroup.X25519) || !groups.includes(NamedGroup.X25519MLKEM768)) {
    return groups.map((g) => createKeyShare(g));
  }
  const shared = new X25519Share();
  return groups.map((g) =>
    g === NamedGroup.X25519 ? x25519(undefined, shared) : g === NamedGroup.X25519MLKEM768 ? x25519mlkem768(undefined, undefined, shared) : createKeyShare(g),
  );
}

/** Length of a valid server share for `group` (for tests and fake servers). */
export function serverShareLength(group: number): number {
  switch (group) {
    case NamedGroup.X25519:
      return 32;
    case NamedGroup.SECP256R1:
      return 65;
    case NamedGroup.SECP384R1:
      return 97;
    case NamedGroup.SECP521R1:
      return 133;
    case NamedGroup.X25519MLKEM768:
    case NamedGroup.X25519KYBER768DRAFT00:
      return MLKEM768_CT + 32;
    case NamedGroup.FFDHE2048:
    case NamedGroup.FFDHE3072:
    case NamedGroup.FFDHE4096:
      return FFDHE_PRIMES[group]!.length / 2;
    default:
      return 0;
  }
}

export { MLKEM768_EK, MLKEM768_CT };
