import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connectEngine, type MasqTlsSocket } from "../../src/tls/socket.js";
import { profileHelloBuilder } from "../../src/tls/hello-builder.js";
import { basicHelloBuilder } from "../helpers/basic-hello.js";
import { masqTlsConnect } from "../../src/tls/index.js";
import { NamedGroup } from "../../src/tls/constants.js";
import type { BasicHelloOptions } from "../helpers/basic-hello.js";
import { chrome156Hello } from "../../src/impersonate/chrome.js";
import { startFakeServer, type FakeServer, type FakeServerOptions } from "./helpers/fake-server.js";
import { tlsTestPki, type TlsTestPki } from "./helpers/pki.js";
import { roundTrip, tcp } from "./helpers/servers.js";

let pki!: TlsTestPki;
const running: FakeServer[] = [];
before(() => {
  pki = tlsTestPki();
});
after(async () => {
  await Promise.all(running.map((s) => s.close()));
});

async function fake(o: Partial<FakeServerOptions> = {}): Promise<FakeServer> {
  const s = await startFakeServer({ chain: [pki.leaf.cert], key: pki.leaf.key, ...o });
  running.push(s);
  return s;
}

async function connect(port: number, hello: BasicHelloOptions = {}): Promise<MasqTlsSocket> {
  return connectEngine(await tcp(port), {
    hello: basicHelloBuilder({ servername: "localhost", ...hello }),
    verifyHost: "localhost",
    rejectUnauthorized: true,
    ca: pki.root.cert,
  });
}

function close(t: MasqTlsSocket): Promise<void> {
  return new Promise((r) => {
    if (t.closed) return r();
    t.once("close", () => r());
    t.on("error", () => {});
    t.end();
    t.resume();
  });
}

test("fake server: X25519MLKEM768 with a direct hybrid share (chrome156 profile)", async () => {
  const s = await fake({ group: NamedGroup.X25519MLKEM768 });
  const t = await masqTlsConnect(await tcp(s.port), { host: "localhost", rejectUnauthorized: true, ca: pki.root.cert, profile: chrome156Hello });
  assert.equal(t.engine.negotiatedGroup, NamedGroup.X25519MLKEM768);
  assert.equal(t.engine.helloRetried, false);
  const share = s.cores[0]!.hello!.shares.get(NamedGroup.X25519MLKEM768)!;
  assert.equal(share.length, 1184 + 32);
  const big = randomBytes(1 << 20);
  assert.deepEqual(await roundTrip(t, big), big);
  await close(t);
});

test("fake server: HelloRetryRequest to X25519MLKEM768 with a cookie", async () => {
  const cookie = randomBytes(40);
  const s = await fake({ group: NamedGroup.X25519MLKEM768, hrrCookie: cookie });
  const t = await connect(s.port, { groups: [NamedGroup.X25519MLKEM768, NamedGroup.X25519], keyShareGroups: [NamedGroup.X25519] });
  assert.equal(t.engine.negotiatedGroup, NamedGroup.X25519MLKEM768);
  assert.equal(t.engine.helloRetried, true);
  assert.deepEqual(s.cores[0]!.hello!.cookie, cookie);
  assert.deepEqual(await roundTrip(t, Buffer.from("pq")), Buffer.from("pq"));
  await close(t);
});

test("fake server: HRR with cookie only (same group) keeps the shares and echoes the cookie", async () => {
  const cookie = randomBytes(16);
  const s = await fake({ group: NamedGroup.X25519, hrrCookie: cookie });
  const t = await connect(s.port);
  assert.equal(t.engine.helloRetried, true);
  assert.deepEqual(s.cores[0]!.hello!.cookie, cookie);
  await close(t);
});

test("fake server: profile retry hello after HRR (chrome156 asked for P-256)", async () => {
  const s = await fake({ group: NamedGroup.SECP256R1 });
  const t = await connectEngine(await tcp(s.port), {
    hello: profileHelloBuilder(chrome156Hello, "localhost", ["http/1.1"]),
    verifyHost: "localhost",
    rejectUnauthorized: true,
    ca: pki.root.cert,
  });
  assert.equal(t.engine.negotiatedGroup, NamedGroup.SECP256R1);
  assert.equal(t.engine.helloRetried, true);
  await close(t);
});

for (const alg of ["brotli", "zlib"] as const) {
  test(`fake server: CompressedCertificate (${alg}, RFC 8879)`, async () => {
    const s = await fake({ compress: alg, chain: [pki.leafViaInter.cert, pki.inter.cert], key: pki.leafViaInter.key });
    const t = await connect(s.port, { certCompression: [2, 1] });
    assert.equal(t.authorized, true);
    assert.equal(t.engine.peerCertificates.length, 2);
    await close(t);
  });
}

test("fake server: each suite, one record per message, ALPN, P-384 and Ed25519 / RSA certificates", async () => {
  for (const suite of [0x1301, 0x1302, 0x1303]) {
    for (const cert of [pki.leaf, pki.leafP384, pki.leafRsa, pki.leafEd25519]) {
      const s = await fake({ suite, chain: [cert.cert], key: cert.key, recordPerMessage: true, alpn: "h2", group: NamedGroup.SECP384R1 });
      const t = await connect(s.port, { alpn: ["http/1.1", "h2"], keyShareGroups: [NamedGroup.X25519, NamedGroup.SECP384R1] });
      assert.equal(t.alpnProtocol, "h2");
      assert.equal(t.getCipher().name, ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"][suite - 0x1301]);
      assert.deepEqual(await roundTrip(t, Buffer.from("x")), Buffer.from("x"));
      await close(t);
    }
  }
});

test("fake server: NewSessionTicket ignored, KeyUpdate(update_requested) answered, data flows with the new keys", async () => {
  const s = await fake({
    afterHandshake: (api) => {
      api.send(22, Buffer.from("04000011" + "00001c20" + "01020304" + "00" + "0004deadbeef" + "0000", "hex"));
      api.keyUpdate(true);
      api.send(23, Buffer.from("after-update"));
    },
  });
  const t = await connect(s.port);
  const first = await new Promise<Buffer>((r) => t.once("data", r));
  assert.equal(first.toString(), "after-update");
  assert.deepEqual(await roundTrip(t, Buffer.from("echo")), Buffer.from("echo"));
  assert.equal(s.cores[0]!.clientKeyUpdates, 1);
  // Our own KeyUpdate, then more data.
  (t.rawSocket as import("node:net").Socket).write(t.engine.keyUpdate(false));
  assert.deepEqual(await roundTrip(t, Buffer.from("echo2")), Buffer.from("echo2"));
  assert.equal(s.cores[0]!.clientKeyUpdates, 2);
  await close(t);
});

test("fake server: close_notify from the server ends the stream", async () => {
  const s = await fake({ afterHandshake: (api) => api.send(21, Buffer.of(1, 0)), echo: false });
  const t = await connect(s.port);
  await new Promise<void>((r) => {
    t.on("end", () => r());
    t.resume();
  });
  await close(t);
});

test("fake server: record_size_limit (RFC 8449) from EncryptedExtensions bounds our records", async () => {
  const { firefox153Hello } = await import("../../src/impersonate/firefox.js");
  const s = await fake({ extraEE: [[28, Buffer.from([0x04, 0x01])]] }); // 1025 -> 1024 bytes of content
  const t = await masqTlsConnect(await tcp(s.port), { host: "localhost", rejectUnauthorized: true, ca: pki.root.cert, profile: firefox153Hello });
  assert.equal(t.engine.maxRecordPlaintext, 1024);
  const data = randomBytes(100_000);
  assert.deepEqual(await roundTrip(t, data), data);
  assert.equal(s.cores[0]!.maxClientRecord, 1024);
  await close(t);
});
