/**
 * No local TLS server speaks X25519MLKEM768 (Node 20, OpenSSL 3.0 and GnuTLS 3.7 predate it), so
 * the hybrid's wire layout is cross-checked the other way round: BoringSSL (inside wreq-js,
 * emulating Chrome) completes handshakes with the scripted server that masq's client tests use.
 * If BoringSSL and that server agree on X25519MLKEM768, CompressedCertificate and the HRR
 * transcript, and masq's client agrees with the same server, masq agrees with BoringSSL.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { NamedGroup } from "../../src/tls/constants.js";
import { startFakeServer, type FakeServer } from "./helpers/fake-server.js";
import { tlsTestPki, type TlsTestPki } from "./helpers/pki.js";

type WreqFetch = (url: string, init: Record<string, unknown>) => Promise<{ status: number; text(): Promise<string> }>;
let wreqFetch: WreqFetch | undefined;
let pki!: TlsTestPki;
const running: FakeServer[] = [];

before(async () => {
  pki = tlsTestPki();
  try {
    // Optional peer (installed by scripts/install-peers.mjs): a variable specifier keeps the
    // type checker from requiring it.
    const specifier = "wreq-js";
    wreqFetch = ((await import(specifier)) as { fetch: WreqFetch }).fetch;
  } catch {
    wreqFetch = undefined; // no native binding for this platform
  }
});
after(async () => {
  await Promise.all(running.map((s) => s.close()));
});

const cases: Array<[string, number, "brotli" | undefined, number | undefined]> = [
  ["X25519MLKEM768 + brotli CompressedCertificate", NamedGroup.X25519MLKEM768, "brotli", undefined],
  ["X25519", NamedGroup.X25519, undefined, 0x1302],
  ["P-256 through HelloRetryRequest", NamedGroup.SECP256R1, undefined, 0x1303],
];

for (const [name, group, compress, suite] of cases) {
  test(`BoringSSL (wreq-js chrome) handshakes with the scripted server: ${name}`, async (t) => {
    if (!wreqFetch) return t.skip("wreq-js native binding not available");
    const s = await startFakeServer({ chain: [pki.leaf.cert], key: pki.leaf.key, group, alpn: "http/1.1", http: true, ...(compress ? { compress } : {}), ...(suite ? { suite } : {}) });
    running.push(s);
    const res = await wreqFetch(`https://127.0.0.1:${s.port}/`, { browser: "chrome_149", insecure: true, timeout: 10000 });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "fake-ok");
    const core = s.cores.at(-1)!;
    assert.equal(core.done, true, "the server verified BoringSSL's Finished");
    if (group === NamedGroup.X25519MLKEM768) assert.equal(core.hello!.shares.get(group)!.length, 1184 + 32);
  });
}
