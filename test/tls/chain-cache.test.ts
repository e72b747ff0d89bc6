import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { TlsError } from "../../src/errors.js";
import { chainCacheStats, clearChainCache, parseChain, validateChainCached, VALIDATION_TTL_MS, CHAIN_CACHE_ENTRIES } from "../../src/tls/chain-cache.js";
import { masqTlsConnect, type MasqTlsSocket } from "../../src/tls/index.js";
import { tlsTestPki, type Issued, type TlsTestPki } from "./helpers/pki.js";
import { startNodeTlsEcho, tcp, type RunningServer } from "./helpers/servers.js";

let pki!: TlsTestPki;
let soon!: Issued; // a leaf that expires 10 minutes after it was issued
const servers: RunningServer[] = [];
before(() => {
  pki = tlsTestPki();
  const end = new Date(Date.now() + 10 * 60_000).toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
  soon = pki.pki.issue({ name: "expires-soon", issuer: pki.root, end });
});
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});
beforeEach(() => clearChainCache());

const der = (c: Issued): Buffer => new X509Certificate(c.cert).raw;
const code = (c: string) => (e: unknown) => e instanceof TlsError && e.alert === c;

test("parseChain: the same bytes give the same frozen objects; other bytes and bad DER do not", () => {
  const a = parseChain([der(pki.leafViaInter), der(pki.inter)]);
  const b = parseChain([Buffer.from(der(pki.leafViaInter)), Buffer.from(der(pki.inter))]);
  assert.equal(a, b, "a copy of the same chain is a hit");
  assert.ok(Object.isFrozen(a.certs));
  assert.equal(a.leafKey.asymmetricKeyType, "ec");
  assert.deepEqual(chainCacheStats, { parseHits: 1, parseMisses: 1, validationHits: 0, validationMisses: 0 });
  // The leaf alone, or the two certificates in another order, are other chains.
  assert.notEqual(parseChain([der(pki.leafViaInter)]), a);
  assert.notEqual(parseChain([der(pki.inter), der(pki.leafViaInter)]).certs[0]!.raw, a.certs[0]!.raw);
  // A certificate that does not parse fails every time (nothing cached).
  const bad = Buffer.from(der(pki.leaf));
  bad[10]! ^= 0xff;
  for (let i = 0; i < 2; i++) assert.throws(() => parseChain([bad]), code("bad_certificate"));
  assert.equal(chainCacheStats.parseMisses, 5);
});

test("parseChain: bounded to CHAIN_CACHE_ENTRIES chains, least recently used evicted first", () => {
  const first = parseChain([der(pki.leaf)]);
  // Distinct byte strings that still parse: the same certificate followed by one other cert of
  // a growing list is enough to make distinct keys, but real distinct chains are cheaper to name:
  const pool = [pki.leaf, pki.inter, pki.root, pki.leafRsa, pki.leafViaInter, pki.otherRoot, pki.selfSigned, pki.wrongHost].map(der);
  let made = 0;
  outer: for (const x of pool) for (const y of pool) for (const z of pool) {
    if (made >= CHAIN_CACHE_ENTRIES) break outer;
    parseChain([der(pki.leafP384), x, y, z]);
    made++;
  }
  assert.equal(made, CHAIN_CACHE_ENTRIES);
  const misses = chainCacheStats.parseMisses;
  assert.notEqual(parseChain([der(pki.leaf)]), first, "the oldest chain was evicted");
  assert.equal(chainCacheStats.parseMisses, misses + 1);
});

test("validateChainCached: a hit only for the same chain, host and trust anchors", () => {
  const ca = pki.root.cert;
  const { certs } = parseChain([der(pki.leaf)]);
  validateChainCached(certs, { host: "localhost", ca });
  validateChainCached(certs, { host: "localhost", ca });
  assert.equal(chainCacheStats.validationHits, 1);
  assert.equal(chainCacheStats.validationMisses, 1);
  // Another name: validated again, and the leaf does not cover it.
  assert.throws(() => validateChainCached(certs, { host: "other.example", ca }), code("ERR_TLS_CERT_ALTNAME_INVALID"));
  // Another trust configuration: the default roots do not know this root; other anchors neither.
  assert.throws(() => validateChainCached(certs, { host: "localhost" }), code("UNABLE_TO_VERIFY_LEAF_SIGNATURE"));
  assert.throws(() => validateChainCached(certs, { host: "localhost", ca: pki.otherRoot.cert }), code("UNABLE_TO_VERIFY_LEAF_SIGNATURE"));
  // No identity check is its own key too: it validates and is cached separately.
  validateChainCached(certs, { host: undefined, ca });
  assert.equal(chainCacheStats.validationHits, 1);
  assert.equal(chainCacheStats.validationMisses, 5);
  validateChainCached(certs, { host: "localhost", ca });
  assert.equal(chainCacheStats.validationHits, 2);
});

test("validateChainCached: failures are not cached, a failing chain fails every time", () => {
  const ca = pki.root.cert;
  for (const [chain, alert] of [
    [[pki.expired], "CERT_HAS_EXPIRED"],
    [[pki.unknownCaLeaf], "UNABLE_TO_VERIFY_LEAF_SIGNATURE"],
    [[pki.leafViaInterNoCa, pki.interNoCa], "INVALID_CA"],
  ] as const) {
    const { certs } = parseChain(chain.map(der));
    for (let i = 0; i < 3; i++) assert.throws(() => validateChainCached(certs, { host: "localhost", ca }), code(alert));
  }
  assert.equal(chainCacheStats.validationHits, 0);
  assert.equal(chainCacheStats.validationMisses, 9);
});

test("validateChainCached: a result lives 30 minutes at most, and never past a notAfter", () => {
  const ca = pki.root.cert;
  const t0 = Date.now();
  const { certs } = parseChain([der(pki.leaf)]);
  validateChainCached(certs, { host: "localhost", ca, now: t0 });
  validateChainCached(certs, { host: "localhost", ca, now: t0 + VALIDATION_TTL_MS - 1000 });
  assert.equal(chainCacheStats.validationHits, 1);
  validateChainCached(certs, { host: "localhost", ca, now: t0 + VALIDATION_TTL_MS + 1000 });
  assert.equal(chainCacheStats.validationMisses, 2, "expired entry: validated again");
  // A clock that went back before the validation's notBefore is a miss as well.
  assert.throws(() => validateChainCached(certs, { host: "localhost", ca, now: t0 - 7200_000 }), code("CERT_NOT_YET_VALID"));
  // A leaf that expires in 10 minutes: cached, then refused once it has expired (< 30 min later).
  const s = parseChain([der(soon)]).certs;
  validateChainCached(s, { host: "localhost", ca, now: t0 });
  validateChainCached(s, { host: "localhost", ca, now: t0 + 60_000 });
  assert.throws(() => validateChainCached(s, { host: "localhost", ca, now: t0 + 15 * 60_000 }), code("CERT_HAS_EXPIRED"));
});

test("validateChainCached: an array that parseChain did not return is validated every time", () => {
  const certs = [new X509Certificate(pki.leaf.cert)];
  validateChainCached(certs, { host: "localhost", ca: pki.root.cert });
  validateChainCached(certs, { host: "localhost", ca: pki.root.cert });
  assert.deepEqual(chainCacheStats, { parseHits: 0, parseMisses: 0, validationHits: 0, validationMisses: 0 });
});

async function server(cert: Issued, chain: Issued[] = []): Promise<number> {
  const s = await startNodeTlsEcho({ key: cert.key, cert: cert.cert + chain.map((c) => c.cert).join("") });
  servers.push(s);
  return s.port;
}

async function connect(port: number, o: { host?: string; ca?: string; rejectUnauthorized?: boolean } = {}): Promise<MasqTlsSocket> {
  return masqTlsConnect(await tcp(port), {
    host: o.host ?? "localhost",
    rejectUnauthorized: o.rejectUnauthorized ?? true,
    ...(o.ca !== undefined ? { ca: o.ca } : {}),
  });
}

test("over the wire: the second connect to a server reuses the validation; the signature is still checked", async () => {
  const port = await server(pki.leafViaInter, [pki.inter]);
  for (let i = 0; i < 3; i++) {
    const t = await connect(port, { ca: pki.root.cert });
    assert.equal(t.authorized, true);
    assert.equal(t.getPeerCertificate().subject?.CN, "localhost");
    t.destroy();
  }
  assert.deepEqual(chainCacheStats, { parseHits: 2, parseMisses: 1, validationHits: 2, validationMisses: 1 });
  // The same chain under another name or without the anchor still fails.
  await assert.rejects(connect(port, { ca: pki.root.cert, host: "other.example" }), code("ERR_TLS_CERT_ALTNAME_INVALID"));
  await assert.rejects(connect(port, {}), code("UNABLE_TO_GET_ISSUER_CERT_LOCALLY"));
});

test("over the wire: a chain that fails validation fails on every connect; a changed leaf is validated anew", async () => {
  const bad = await server(pki.unknownCaLeaf);
  for (let i = 0; i < 2; i++) await assert.rejects(connect(bad, { ca: pki.root.cert }), code("UNABLE_TO_VERIFY_LEAF_SIGNATURE"));
  const good = await server(pki.leaf);
  (await connect(good, { ca: pki.root.cert })).destroy();
  const misses = chainCacheStats.validationMisses;
  // Another leaf for the same name (another key, issued by the same root): a new chain.
  const other = await server(pki.pki.issue({ name: "leaf-again", issuer: pki.root }));
  (await connect(other, { ca: pki.root.cert })).destroy();
  assert.equal(chainCacheStats.validationMisses, misses + 1);
});

test("over the wire: with rejectUnauthorized false the chain is validated only when `authorized` is read", async () => {
  const port = await server(pki.selfSigned);
  const t = await connect(port, { rejectUnauthorized: false });
  assert.equal(chainCacheStats.validationMisses, 0, "nothing validated during the handshake");
  assert.equal(t.authorized, false);
  assert.equal(t.authorizationError?.alert, "DEPTH_ZERO_SELF_SIGNED_CERT");
  assert.equal(chainCacheStats.validationMisses, 1);
  t.destroy();
  const ok = await connect(await server(pki.leaf), { rejectUnauthorized: false, ca: pki.root.cert });
  assert.equal(ok.authorizationError, undefined);
  assert.equal(ok.authorized, true);
  ok.destroy();
});
