import { createHmac } from "node:crypto";

/**
 * The TLS 1.2 pseudo-random function and what is derived with it (RFC 5246 §5, §6.3, §7.4.9;
 * RFC 7627 §4 for the extended master secret).
 */

/** PRF(secret, label, seed) = P_hash(secret, label + seed), `length` bytes (RFC 5246 §5). */
export function prf12(hash: string, secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  const labelSeed = Buffer.concat([Buffer.from(label, "latin1"), seed]);
  const out = Buffer.allocUnsafe(length);
  let a = labelSeed; // A(0)
  let filled = 0;
  while (filled < length) {
    a = createHmac(hash, secret).update(a).digest(); // A(i) = HMAC(secret, A(i-1))
    const block = createHmac(hash, secret).update(a).update(labelSeed).digest();
    filled += block.copy(out, filled);
  }
  return out;
}

/**
 * The 48-byte master secret: with extended_master_secret from the session hash (the transcript
 * through ClientKeyExchange, RFC 7627 §4), else from the two randoms (RFC 5246 §8.1).
 */
export function masterSecret12(
  hash: string,
  premaster: Buffer,
  p: { ems: true; sessionHash: Buffer } | { ems: false; clientRandom: Buffer; serverRandom: Buffer },
): Buffer {
  if (p.ems) return prf12(hash, premaster, "extended master secret", p.sessionHash, 48);
  return prf12(hash, premaster, "master secret", Buffer.concat([p.clientRandom, p.serverRandom]), 48);
}

/** Keys of one connection, split from the key block in RFC 5246 §6.3 order. */
export interface KeyBlock12 {
  clientMac: Buffer;
  serverMac: Buffer;
  clientKey: Buffer;
  serverKey: Buffer;
  clientIv: Buffer;
  serverIv: Buffer;
}

export function keyBlock12(
  hash: string,
  masterSecret: Buffer,
  clientRandom: Buffer,
  serverRandom: Buffer,
  sizes: { mac: number; key: number; iv: number },
): KeyBlock12 {
  const total = 2 * (sizes.mac + sizes.key + sizes.iv);
  const b = prf12(hash, masterSecret, "key expansion", Buffer.concat([serverRandom, clientRandom]), total);
  let o = 0;
  const take = (n: number): Buffer => b.subarray(o, (o += n));
  return {
    clientMac: take(sizes.mac),
    serverMac: take(sizes.mac),
    clientKey: take(sizes.key),
    serverKey: take(sizes.key),
    clientIv: take(sizes.iv),
    serverIv: take(sizes.iv),
  };
}

/** Finished.verify_data: 12 bytes of PRF(master_secret, label, Hash(handshake_messages)) (RFC 5246 §7.4.9). */
export function finished12(hash: string, masterSecret: Buffer, label: "client finished" | "server finished", handshakeHash: Buffer): Buffer {
  return prf12(hash, masterSecret, label, handshakeHash, 12);
}
