import { test } from "node:test";
import assert from "node:assert/strict";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { TlsError } from "../../src/errors.js";
import { createHash, randomBytes } from "node:crypto";
import { createKeyShare, kyberKdf, serverShareLength, SUPPORTED_KEY_EXCHANGE_GROUPS } from "../../src/tls/key-exchange.js";
import { NamedGroup } from "../../src/tls/constants.js";

const illegal = (e: unknown) => e instanceof TlsError && e.alert === "illegal_parameter";

test("key exchange: both sides agree for every group (DH is symmetric; ML-KEM via encapsulation)", () => {
  for (const g of SUPPORTED_KEY_EXCHANGE_GROUPS) {
    const a = createKeyShare(g);
    if (g === NamedGroup.X25519MLKEM768) {
      assert.equal(a.key.length, 1184 + 32);
      const { cipherText, sharedSecret } = ml_kem768.encapsulate(new Uint8Array(a.key.subarray(0, 1184)));
      const x = createKeyShare(NamedGroup.X25519);
      const secret = a.complete(Buffer.concat([Buffer.from(cipherText), x.key]));
      // draft-ietf-tls-ecdhe-mlkem: ML-KEM secret first, then X25519's.
      assert.deepEqual(secret.subarray(0, 32), Buffer.from(sharedSecret));
      assert.deepEqual(secret.subarray(32), x.complete(a.key.subarray(1184)));
      continue;
    }
    if (g === NamedGroup.X25519KYBER768DRAFT00) {
      // X25519 first; a Kyber round 3 server hashes its message first and derives KDF(K̄ ‖ H(c))
      // (decapsulation itself is checked against the round 3 KAT in test/impersonate/kyber.test.ts).
      assert.equal(a.key.length, 32 + 1184);
      const m = createHash("sha3-256").update(randomBytes(32)).digest();
      const { cipherText, sharedSecret } = ml_kem768.encapsulate(new Uint8Array(a.key.subarray(32)), new Uint8Array(m));
      const x = createKeyShare(NamedGroup.X25519);
      const secret = a.complete(Buffer.concat([x.key, Buffer.from(cipherText)]));
      assert.deepEqual(secret.subarray(0, 32), x.complete(a.key.subarray(0, 32)));
      assert.deepEqual(secret.subarray(32), kyberKdf(sharedSecret, cipherText));
      continue;
    }
    const b = createKeyShare(g);
    assert.equal(b.key.length, serverShareLength(g), `0x${g.toString(16)}`);
    assert.deepEqual(a.complete(b.key), b.complete(a.key));
  }
});

test("key exchange: RFC 7748 §6.1 X25519 vector", () => {
  const alice = createKeyShare(NamedGroup.X25519, { privateKey: Buffer.from("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", "hex") });
  assert.equal(alice.key.toString("hex"), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  const bobPublic = Buffer.from("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", "hex");
  assert.equal(alice.complete(bobPublic).toString("hex"), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
});

test("key exchange: malformed or hostile server shares -> illegal_parameter", () => {
  for (const g of SUPPORTED_KEY_EXCHANGE_GROUPS) {
    const a = createKeyShare(g);
    const n = serverShareLength(g);
    assert.throws(() => a.complete(Buffer.alloc(n - 1, 1)), illegal, `short 0x${g.toString(16)}`);
    assert.throws(() => a.complete(Buffer.alloc(n + 1, 1)), illegal, `long 0x${g.toString(16)}`);
  }
  // X25519 small-order point (all-zero shared secret, RFC 7748 §6.1 / RFC 8446 §7.4.2).
  assert.throws(() => createKeyShare(NamedGroup.X25519).complete(Buffer.alloc(32)), illegal);
  // ECDH: not on the curve / compressed form.
  const bad = Buffer.alloc(65, 0);
  bad[0] = 4;
  bad[64] = 1;
  assert.throws(() => createKeyShare(NamedGroup.SECP256R1).complete(bad), illegal);
  const compressed = Buffer.alloc(65, 7);
  compressed[0] = 2;
  assert.throws(() => createKeyShare(NamedGroup.SECP256R1).complete(compressed), illegal);
  // FFDHE: Y outside 1 < Y < p - 1.
  const ff = createKeyShare(NamedGroup.FFDHE2048);
  assert.throws(() => ff.complete(Buffer.alloc(256, 0)), illegal);
  const one = Buffer.alloc(256, 0);
  one[255] = 1;
  assert.throws(() => ff.complete(one), illegal);
  assert.throws(() => ff.complete(Buffer.alloc(256, 0xff)), illegal);
  // Unknown group.
  assert.throws(() => createKeyShare(0x0a0a), (e: unknown) => e instanceof TlsError);
});
