/**
 * X25519Kyber768Draft00 (0x6399), offered by the chrome124 profile: masq must be able to finish
 * what it offers. Kyber768 round 3 decapsulation is checked against the round 3 known-answer
 * test (count 0 of NIST's PQCkemKAT_2400.rsp); the hybrid's layout and secret order follow
 * draft-tls-westerbaan-xyber768d00 (X25519 first).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { getProfile } from "../../src/impersonate/index.js";
import { NamedGroup } from "../../src/tls/constants.js";
import { createKeyShare, isSupportedGroup, kyberKdf } from "../../src/tls/key-exchange.js";

const kat = JSON.parse(readFileSync(fileURLToPath(new URL("../fixtures/profiles/kyber768-kat0.json", import.meta.url)), "utf8")) as { sk: string; ct: string; ss: string };

test("Kyber768 round 3 KAT: decapsulation + KDF(K̄ ‖ H(c)) gives the known shared secret", () => {
  const ct = Buffer.from(kat.ct, "hex");
  const kbar = ml_kem768.decapsulate(new Uint8Array(ct), new Uint8Array(Buffer.from(kat.sk, "hex")));
  assert.equal(kyberKdf(kbar, ct).toString("hex"), kat.ss.toLowerCase());
  // A changed ciphertext gives a different (implicit-rejection) secret, so Finished would fail.
  const bad = Buffer.from(ct);
  bad[0]! ^= 1;
  const kbar2 = ml_kem768.decapsulate(new Uint8Array(bad), new Uint8Array(Buffer.from(kat.sk, "hex")));
  assert.notEqual(kyberKdf(kbar2, bad).toString("hex"), kat.ss.toLowerCase());
});

test("X25519Kyber768Draft00 share: X25519 first, Kyber public key after; secret = X25519 ‖ Kyber", () => {
  assert.ok(isSupportedGroup(NamedGroup.X25519KYBER768DRAFT00));
  const share = createKeyShare(NamedGroup.X25519KYBER768DRAFT00);
  assert.equal(share.key.length, 32 + 1184);
  // A round 3 server: m = H(random), (K̄, c) from the shared K-PKE, secret = KDF(K̄ ‖ H(c)).
  const m = createHash("sha3-256").update(randomBytes(32)).digest();
  const { cipherText, sharedSecret } = ml_kem768.encapsulate(new Uint8Array(share.key.subarray(32)), new Uint8Array(m));
  const x = createKeyShare(NamedGroup.X25519);
  const secret = share.complete(Buffer.concat([x.key, Buffer.from(cipherText)]));
  assert.equal(secret.length, 64);
  assert.deepEqual(secret.subarray(0, 32), x.complete(share.key.subarray(0, 32)));
  assert.deepEqual(secret.subarray(32), kyberKdf(sharedSecret, cipherText));
  assert.throws(() => share.complete(Buffer.alloc(32 + 1087)));
  // chrome124 offers it with a key share, between the GREASE share and X25519 (as captured).
  assert.deepEqual(getProfile("chrome124").tls.keyShareGroups, [0x0a0a, 0x6399, 0x001d]);
});
