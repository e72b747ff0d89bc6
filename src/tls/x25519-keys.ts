import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";

/** A fresh X25519 key pair: the private KeyObject and the 32-byte public key (RFC 7748 §6.1). */
export interface X25519KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: Buffer;
}

/**
 * Node 20 deadlocks, rarely, when a key made by `generateKeyPairSync` is exported as JWK: the
 * export holds the key's mutex while it allocates the `x` string; when that allocation starts a
 * garbage collection that finalizes the (already unreachable) key-generation job, the job's
 * destructor takes the same mutex on the same thread and the process hangs for good (seen with
 * gdb: `~KeyGenJob` under `GlobalHandles::InvokeFirstPassWeakCallbacks` under `ExportJWKEdKey`;
 * 1 in ~5 bench runs of 1,000 impersonated connects, and a bare generate+export loop hangs within
 * seconds). Node 22 and 24 ran the same loop for 30 s (~500k keys) without a hang.
 *
 * So on Node 20 no KeyObject comes from a key-generation job: the private key is 32 random
 * bytes imported as a JWK (Node 20 takes `d` and derives the public half itself; `x` is required
 * but not compared), and the public key is X25519(d, 9), the scalar multiplication by the base
 * point (RFC 7748 §6.1), done by `diffieHellman` with the base point as the peer.
 */
const GENERATE_IS_SAFE = Number(process.versions.node.split(".")[0]) >= 22;

/** u = 9, the X25519 base point (RFC 7748 §4.1), as a public key. */
let basePoint: KeyObject | undefined;
const DUMMY_X = Buffer.alloc(32).toString("base64url");

/** PKCS#8 prefix of an X25519 private key (RFC 8410 §7): the 32 key bytes follow. */
const X25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

/**
 * The pair of a given private key (test vectors, a fixed rng): through OpenSSL's DER coders, which
 * cost ~0.7 ms on Node 20, but deterministic, and no key-generation job is involved.
 */
export function x25519KeyPairFrom(privateRaw: Buffer): X25519KeyPair {
  const privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, privateRaw]), format: "der", type: "pkcs8" });
  // SPKI of an X25519 key is a fixed 12-byte header followed by the 32-byte public key.
  return { privateKey, publicKey: createPublicKey(privateKey).export({ format: "der", type: "spki" }).subarray(12) };
}

/** A fresh pair (see GENERATE_IS_SAFE for how it is made on each Node). */
export function newX25519KeyPair(): X25519KeyPair {
  if (GENERATE_IS_SAFE) {
    // The public key read back as JWK (RFC 8037 §2): OpenSSL's DER coders cost ~3x as much.
    const privateKey = generateKeyPairSync("x25519").privateKey;
    return { privateKey, publicKey: Buffer.from(privateKey.export({ format: "jwk" }).x!, "base64url") };
  }
  basePoint ??= createPublicKey({ key: { kty: "OKP", crv: "X25519", x: Buffer.concat([Buffer.of(9), Buffer.alloc(31)]).toString("base64url") }, format: "jwk" });
  const privateKey = createPrivateKey({ key: { kty: "OKP", crv: "X25519", d: randomBytes(32).toString("base64url"), x: DUMMY_X }, format: "jwk" });
  return { privateKey, publicKey: diffieHellman({ privateKey, publicKey: basePoint }) };
}
