/**
 * TLS 1.2 crypto pieces without sockets: the PRF (RFC 5246 §5) against a published vector and
 * against OpenSSL's TLS1-PRF, AEAD records (GCM with explicit nonce, ChaCha20-Poly1305) and CBC
 * records (MAC-then-encrypt, padding) sealed and opened, and every tampering refused.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { TlsError } from "../../src/errors.js";
import { finished12, keyBlock12, masterSecret12, prf12 } from "../../src/tls/prf.js";
import { Aead12Opener, Aead12Sealer } from "../../src/tls/record12.js";
import { CbcOpener, CbcSealer } from "../../src/tls/cbc.js";
import type { RecordOpener, RecordSealer } from "../../src/tls/record.js";
import { suite12Info } from "../../src/tls/suites12.js";

const hasOpenssl = spawnSync("sh", ["-c", "command -v openssl"]).status === 0;

function opensslPrf(digest: string, secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  const out = execFileSync("openssl", [
    "kdf", "-keylen", String(length), "-kdfopt", `digest:${digest}`, "-kdfopt", `hexsecret:${secret.toString("hex")}`,
    "-kdfopt", `seed:${label}`, "-kdfopt", `hexseed:${seed.toString("hex")}`, "TLS1-PRF",
  ]).toString();
  return Buffer.from(out.trim().replace(/:/g, ""), "hex");
}

test("PRF: the published TLS 1.2 SHA-256 vector (first 32 bytes)", () => {
  const out = prf12("sha256", Buffer.from("9bbe436ba940f017b17652849a71db35", "hex"), "test label", Buffer.from("a0ba9f936cda311827a6f796ffd5198c", "hex"), 100);
  assert.equal(out.subarray(0, 32).toString("hex"), "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a");
  assert.equal(out.length, 100);
});

test("PRF: equals OpenSSL's TLS1-PRF for SHA-256 and SHA-384 at many lengths", { skip: !hasOpenssl && "openssl not installed" }, () => {
  for (const [hash, digest] of [["sha256", "SHA256"], ["sha384", "SHA384"]] as const) {
    for (const length of [1, 12, 31, 48, 100, 136]) {
      const secret = randomBytes(48);
      const seed = randomBytes(64);
      assert.deepEqual(prf12(hash, secret, "key expansion", seed, length), opensslPrf(digest, secret, "key expansion", seed, length), `${hash} ${length}`);
    }
  }
});

test("PRF users: master secret with and without EMS, key block split, Finished is 12 bytes", () => {
  const pms = randomBytes(32);
  const cr = randomBytes(32);
  const sr = randomBytes(32);
  const a = masterSecret12("sha256", pms, { ems: false, clientRandom: cr, serverRandom: sr });
  assert.deepEqual(a, prf12("sha256", pms, "master secret", Buffer.concat([cr, sr]), 48));
  const h = randomBytes(32);
  assert.deepEqual(masterSecret12("sha256", pms, { ems: true, sessionHash: h }), prf12("sha256", pms, "extended master secret", h, 48));
  const kb = keyBlock12("sha256", a, cr, sr, { mac: 20, key: 16, iv: 0 });
  const whole = prf12("sha256", a, "key expansion", Buffer.concat([sr, cr]), 72);
  assert.deepEqual(Buffer.concat([kb.clientMac, kb.serverMac, kb.clientKey, kb.serverKey]), whole);
  assert.equal(finished12("sha384", a, "client finished", randomBytes(48)).length, 12);
});

function pair(id: number): { seal: RecordSealer; open: RecordOpener } {
  const s = suite12Info(id)!;
  const c = s.cipher;
  const key = randomBytes(c.keyLength);
  const iv = randomBytes(c.fixedIvLength);
  const mac = randomBytes(c.kind === "cbc" ? c.macLength : 0);
  if (c.kind === "cbc") return { seal: new CbcSealer(c, key, mac), open: new CbcOpener(c, key, mac) };
  return { seal: new Aead12Sealer(c, key, iv), open: new Aead12Opener(c, key, iv) };
}

function openRecord(o: RecordOpener, rec: Buffer): { type: number; data: Buffer } {
  return o.open(rec.subarray(0, 5), rec.subarray(5));
}

function badMac(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => e instanceof TlsError && e.alert === "bad_record_mac");
}

const SUITES = [0xc02b, 0xc02c, 0xcca9, 0xc009, 0xc00a, 0xc024, 0x003c, 0xc012];

test("records: every size from 0 to 40 and 2^14 seals and opens in sequence, header says the real type", () => {
  for (const id of SUITES) {
    const { seal, open } = pair(id);
    for (const n of [...Array.from({ length: 41 }, (_, i) => i), 1 << 14]) {
      const data = randomBytes(n);
      const rec = seal.seal(n % 2 === 0 ? 23 : 22, data);
      assert.equal(rec[0], n % 2 === 0 ? 23 : 22);
      assert.equal(rec.readUInt16BE(3), rec.length - 5);
      assert.ok(rec.length - 5 - n <= seal.recordOverhead - 5, "overhead bound");
      const got = openRecord(open, rec);
      assert.equal(got.type, n % 2 === 0 ? 23 : 22);
      assert.deepEqual(got.data, data);
    }
  }
});

test("records: sealInto of many parts equals the concatenation", () => {
  for (const id of SUITES) {
    const { seal, open } = pair(id);
    const parts = [randomBytes(3), randomBytes(1500), randomBytes(0), randomBytes(77)];
    const total = parts.reduce((n, p) => n + p.length, 0);
    const out = Buffer.alloc(total + seal.recordOverhead + 10);
    const end = seal.sealInto(out, 3, 23, parts, total);
    assert.deepEqual(openRecord(open, out.subarray(3, end)).data, Buffer.concat(parts));
  }
});

test("records: a flipped bit anywhere, a replay, a reorder, a changed type or truncation -> bad_record_mac", () => {
  for (const id of SUITES) {
    const data = randomBytes(100);
    for (let at = 5; at < 120; at += 7) {
      const { seal, open } = pair(id);
      const rec = Buffer.from(seal.seal(23, data));
      rec[Math.min(at, rec.length - 1)]! ^= 0x40;
      badMac(() => openRecord(open, rec));
    }
    {
      const { seal, open } = pair(id);
      const r1 = seal.seal(23, data);
      const r2 = seal.seal(23, data);
      badMac(() => openRecord(open, r2)); // out of order: sequence number 0 expected
      void r1;
    }
    {
      const { seal, open } = pair(id);
      const rec = Buffer.from(seal.seal(23, data));
      rec[0] = 22; // the type is authenticated (RFC 5246 §6.2.3.3 additional data / MAC input)
      badMac(() => openRecord(open, rec));
    }
    {
      const { seal, open } = pair(id);
      const rec = seal.seal(23, data);
      badMac(() => openRecord(open, rec.subarray(0, rec.length - 1)));
      badMac(() => openRecord(pair(id).open, rec.subarray(0, 5 + 8)));
    }
  }
});

test("CBC: bad padding and bad MAC give the same error; the IV is fresh per record", () => {
  const { seal, open } = pair(0xc00a);
  const a = seal.seal(23, Buffer.alloc(32));
  const b = seal.seal(23, Buffer.alloc(32));
  assert.notDeepEqual(a.subarray(5, 21), b.subarray(5, 21), "explicit IVs differ");
  assert.equal((a.length - 5) % 16, 0);
  openRecord(open, a);
  openRecord(open, b);
  // Flip the last ciphertext byte: the padding byte decrypts to garbage.
  const { seal: s2, open: o2 } = pair(0xc00a);
  const c = Buffer.from(s2.seal(23, Buffer.alloc(32)));
  c[c.length - 1]! ^= 1;
  assert.throws(() => openRecord(o2, c), (e: unknown) => e instanceof TlsError && e.alert === "bad_record_mac" && /bad_record_mac/.test(e.message));
});
