/**
 * masq's ML-KEM-768 (src/tls/mlkem.ts, FIPS 203) against known answers (NIST ACVP and C2SP CCTV
 * vectors in test/fixtures/mlkem768-kat.json), byte for byte against @noble/post-quantum, and
 * against Node's own ML-KEM where Node has one (Node >= 24.7 with OpenSSL >= 3.5).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nodeCrypto from "node:crypto";
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { TlsError } from "../../src/errors.js";
import { NamedGroup } from "../../src/tls/constants.js";
import { createKeyShare } from "../../src/tls/key-exchange.js";
import { MlKem768KeyPair, mlkem768Decaps, mlkem768Encaps, mlkem768KeyGen } from "../../src/tls/mlkem.js";

interface Kat {
  keyGen: { tcId: number; d: string; z: string; ek: string; dk: string }[];
  encapsulation: { tcId: number; ek: string; m: string; c: string; k: string }[];
  decapsulation: { tcId: number; dk: string; c: string; k: string }[];
  encapsulationKeyCheck: { tcId: number; ek: string; testPassed: boolean }[];
  decapsulationKeyCheck: { tcId: number; dk: string; testPassed: boolean }[];
  cctvUnluckySample: { ek: string; dk: string; m: string; K: string; c: string };
  cctvStrcmp: { dk: string; c: string; K: string };
}
const kat = JSON.parse(readFileSync(fileURLToPath(new URL("../fixtures/mlkem768-kat.json", import.meta.url)), "utf8")) as Kat;
const hex = (s: string): Buffer => Buffer.from(s, "hex");
const u8 = (b: Buffer): Uint8Array => new Uint8Array(b);
/** Deterministic test bytes: SHAKE-256 of a label. */
const bytes = (label: string, n: number): Buffer => createHash("shake256", { outputLength: n }).update(label).digest();

test("ML-KEM-768 ACVP keyGen (FIPS 203 KeyGen_internal): ek and dk from d ‖ z", () => {
  assert.ok(kat.keyGen.length > 0);
  for (const t of kat.keyGen) {
    const { encapsulationKey, decapsulationKey } = mlkem768KeyGen(Buffer.concat([hex(t.d), hex(t.z)]));
    assert.equal(encapsulationKey.toString("hex"), t.ek.toLowerCase(), `tcId ${t.tcId} ek`);
    assert.equal(decapsulationKey.toString("hex"), t.dk.toLowerCase(), `tcId ${t.tcId} dk`);
  }
});

test("ML-KEM-768 ACVP encapsulation (Encaps_internal with m) and decapsulation", () => {
  for (const t of kat.encapsulation) {
    const { ciphertext, sharedSecret } = mlkem768Encaps(hex(t.ek), hex(t.m));
    assert.equal(ciphertext.toString("hex"), t.c.toLowerCase(), `tcId ${t.tcId} c`);
    assert.equal(sharedSecret.toString("hex"), t.k.toLowerCase(), `tcId ${t.tcId} k`);
  }
  // The decapsulation group mixes valid and invalid ciphertexts: the latter give J(z ‖ c).
  for (const t of kat.decapsulation) {
    assert.equal(mlkem768Decaps(hex(t.dk), hex(t.c)).toString("hex"), t.k.toLowerCase(), `tcId ${t.tcId}`);
  }
});

test("ML-KEM-768 ACVP key checks: modulus check on ek (§7.2), hash check on dk (§7.3)", () => {
  const ct = Buffer.alloc(1088);
  for (const t of kat.encapsulationKeyCheck) {
    if (t.testPassed) assert.equal(mlkem768Encaps(hex(t.ek)).ciphertext.length, 1088, `tcId ${t.tcId}`);
    // ACVP's failing keys here have the wrong length; the modulus check proper is tested below.
    else assert.throws(() => mlkem768Encaps(hex(t.ek)), RangeError, `tcId ${t.tcId}`);
  }
  for (const t of kat.decapsulationKeyCheck) {
    if (t.testPassed) assert.equal(mlkem768Decaps(hex(t.dk), ct).length, 32, `tcId ${t.tcId}`);
    else assert.throws(() => mlkem768Decaps(hex(t.dk), ct), /hash check/, `tcId ${t.tcId}`);
  }
  assert.ok(kat.encapsulationKeyCheck.some((t) => !t.testPassed) && kat.decapsulationKeyCheck.some((t) => !t.testPassed));
});

test("ML-KEM-768 CCTV vectors: an unlucky ρ needs > 575 XOF bytes for SampleNTT; a strcmp-style early zero byte", () => {
  // Key generation in these vectors predates FIPS 203's G(d ‖ k), so only Encaps/Decaps apply.
  const u = kat.cctvUnluckySample;
  const { ciphertext, sharedSecret } = mlkem768Encaps(hex(u.ek), hex(u.m));
  assert.equal(ciphertext.toString("hex"), u.c);
  assert.equal(sharedSecret.toString("hex"), u.K);
  assert.equal(mlkem768Decaps(hex(u.dk), hex(u.c)).toString("hex"), u.K);
  const s = kat.cctvStrcmp;
  assert.equal(mlkem768Decaps(hex(s.dk), hex(s.c)).toString("hex"), s.K);
});

test("ML-KEM-768 equals @noble/post-quantum byte for byte: keygen, encaps, decaps, implicit rejection", () => {
  for (let n = 0; n < 8; n++) {
    const seed = bytes(`seed ${n}`, 64);
    const ours = mlkem768KeyGen(seed);
    const noble = ml_kem768.keygen(u8(seed));
    assert.deepEqual(ours.encapsulationKey, Buffer.from(noble.publicKey), `ek ${n}`);
    assert.deepEqual(ours.decapsulationKey, Buffer.from(noble.secretKey), `dk ${n}`);
    const pair = new MlKem768KeyPair(seed);
    assert.deepEqual(pair.encapsulationKey, ours.encapsulationKey);
    assert.deepEqual(pair.decapsulationKey, ours.decapsulationKey);

    const m = bytes(`m ${n}`, 32);
    const enc = mlkem768Encaps(ours.encapsulationKey, m);
    const nobleEnc = ml_kem768.encapsulate(noble.publicKey, u8(m));
    assert.deepEqual(enc.ciphertext, Buffer.from(nobleEnc.cipherText), `ct ${n}`);
    assert.deepEqual(enc.sharedSecret, Buffer.from(nobleEnc.sharedSecret), `ss ${n}`);
    assert.deepEqual(mlkem768Decaps(ours.decapsulationKey, enc.ciphertext), enc.sharedSecret);
    assert.deepEqual(pair.decapsulate(enc.ciphertext), enc.sharedSecret);

    // A changed ciphertext (a bit in u, then one in v) re-encrypts differently: both sides return J(z ‖ c).
    const bad = Buffer.from(enc.ciphertext);
    bad[n % 2 === 0 ? n * 37 : 960 + n]! ^= 1 << n % 8;
    const rejected = mlkem768Decaps(ours.decapsulationKey, bad);
    assert.notDeepEqual(rejected, enc.sharedSecret);
    assert.deepEqual(rejected, Buffer.from(ml_kem768.decapsulate(u8(bad), noble.secretKey)), `rejection ${n}`);
    assert.deepEqual(pair.decapsulate(bad), rejected);
    const z = ours.decapsulationKey.subarray(2368);
    assert.deepEqual(rejected, createHash("shake256", { outputLength: 32 }).update(z).update(bad).digest());
  }
});

test("ML-KEM-768 input checks: wrong lengths throw RangeError", () => {
  const { encapsulationKey: ek, decapsulationKey: dk } = mlkem768KeyGen(bytes("lengths", 64));
  const ct = mlkem768Encaps(ek).ciphertext;
  assert.throws(() => mlkem768KeyGen(Buffer.alloc(63)), RangeError);
  assert.throws(() => new MlKem768KeyPair(Buffer.alloc(65)), RangeError);
  assert.throws(() => mlkem768Encaps(ek.subarray(1)), RangeError);
  assert.throws(() => mlkem768Encaps(Buffer.concat([ek, Buffer.of(0)])), RangeError);
  assert.throws(() => mlkem768Encaps(ek, Buffer.alloc(31)), RangeError);
  assert.throws(() => mlkem768Decaps(dk, ct.subarray(1)), RangeError);
  assert.throws(() => mlkem768Decaps(dk.subarray(1), ct), RangeError);
  assert.throws(() => new MlKem768KeyPair(bytes("lengths", 64)).decapsulate(Buffer.concat([ct, Buffer.of(0)])), RangeError);
  // The modulus check: a coefficient of t̂ set to q = 3329 (0xd01) in the first 12-bit slot.
  const high = Buffer.from(ek);
  high[0] = 0x01;
  high[1] = (high[1]! & 0xf0) | 0x0d;
  assert.throws(() => mlkem768Encaps(high), /modulus check/);
  high[0] = 0x00; // 3328 = q − 1 is fine
  assert.equal(mlkem768Encaps(high).ciphertext.length, 1088);
  // The hash check: dk's copy of ek changed.
  const tampered = Buffer.from(dk);
  tampered[1152]! ^= 1;
  assert.throws(() => mlkem768Decaps(tampered, ct), /hash check/);
});

test("X25519MLKEM768 and Kyber draft00 key shares with a seed use masq's ML-KEM; a bad server share is TlsError illegal_parameter", () => {
  const seed = bytes("share", 64);
  const x = createKeyShare(NamedGroup.X25519);
  const noble = ml_kem768.keygen(u8(seed));
  const hybrid = createKeyShare(NamedGroup.X25519MLKEM768, { seed });
  assert.deepEqual(hybrid.key.subarray(0, 1184), Buffer.from(noble.publicKey));
  const { cipherText, sharedSecret } = ml_kem768.encapsulate(noble.publicKey, u8(bytes("share m", 32)));
  const secret = hybrid.complete(Buffer.concat([Buffer.from(cipherText), x.key]));
  assert.deepEqual(secret.subarray(0, 32), Buffer.from(sharedSecret));
  const kyber = createKeyShare(NamedGroup.X25519KYBER768DRAFT00, { seed });
  assert.deepEqual(kyber.key.subarray(32), Buffer.from(noble.publicKey));

  const illegal = (e: unknown): boolean => e instanceof TlsError && e.alert === "illegal_parameter";
  for (const share of [createKeyShare(NamedGroup.X25519MLKEM768, { seed }), createKeyShare(NamedGroup.X25519KYBER768DRAFT00, { seed })]) {
    assert.throws(() => share.complete(Buffer.alloc(1088 + 31, 1)), illegal);
    assert.throws(() => share.complete(Buffer.alloc(1088 + 33, 1)), illegal);
    assert.throws(() => share.complete(Buffer.alloc(0)), illegal);
  }
});

/** Node's ML-KEM API (Node >= 24.7), typed here: @types/node 20 predates it. */
interface NodeKem {
  generateKeyPairSync(type: "ml-kem-768"): { publicKey: KeyObject; privateKey: KeyObject };
  encapsulate(key: KeyObject): { sharedKey: Buffer; ciphertext: Buffer };
  decapsulate(key: KeyObject, ciphertext: Buffer): Buffer;
}
const nodeKem = typeof (nodeCrypto as { encapsulate?: unknown }).encapsulate === "function" ? (nodeCrypto as unknown as NodeKem) : undefined;
function nativeKeyPair(k: NodeKem): { publicKey: KeyObject; privateKey: KeyObject } | undefined {
  try {
    return k.generateKeyPairSync("ml-kem-768");
  } catch {
    return undefined; // Node built against an OpenSSL without ML-KEM
  }
}
const nativePair = nodeKem && nativeKeyPair(nodeKem);

test("ML-KEM-768 interoperates with Node's native ML-KEM", { skip: nativePair ? false : `Node ${process.version} has no native ML-KEM (crypto.encapsulate)` }, () => {
  const k = nodeKem!;
  const { publicKey, privateKey } = nativePair!;
  // SPKI for ML-KEM-768 (draft-ietf-lamps-kyber-certificates): a 22-byte header, then ek.
  const spki = publicKey.export({ format: "der", type: "spki" });
  assert.equal(spki.length, 22 + 1184);
  const header = spki.subarray(0, 22);
  for (let n = 0; n < 4; n++) {
    // Our key pair, Node encapsulates.
    const ours = new MlKem768KeyPair(bytes(`native ${n}`, 64));
    const ourKey = createPublicKey({ key: Buffer.concat([header, ours.encapsulationKey]), format: "der", type: "spki" });
    const enc = k.encapsulate(ourKey);
    assert.deepEqual(ours.decapsulate(enc.ciphertext), enc.sharedKey);
    assert.deepEqual(mlkem768Decaps(ours.decapsulationKey, enc.ciphertext), enc.sharedKey);
    // Node's key pair, we encapsulate.
    const mine = mlkem768Encaps(spki.subarray(22), bytes(`native m ${n}`, 32));
    assert.deepEqual(k.decapsulate(privateKey, mine.ciphertext), mine.sharedSecret);
  }
});
