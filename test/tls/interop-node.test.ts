import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { TlsError } from "../../src/errors.js";
import { masqTlsConnect, type MasqTlsSocket } from "../../src/tls/index.js";
import { connectEngine } from "../../src/tls/socket.js";
import { basicHelloBuilder } from "../helpers/basic-hello.js";
import { NamedGroup } from "../../src/tls/constants.js";
import { tlsTestPki, type Issued, type TlsTestPki } from "./helpers/pki.js";
import { roundTrip, startNodeTlsEcho, tcp, type RunningServer } from "./helpers/servers.js";

let pki!: TlsTestPki;
const servers: RunningServer[] = [];
before(() => {
  pki = tlsTestPki();
});
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/**
 * The group a node:tls server picks from chrome156's two shares (X25519MLKEM768, X25519). OpenSSL
 * 3.5 put X25519MLKEM768 at the head of its default group list, so a Node built with OpenSSL >= 3.5
 * (22.23 and 24.22 measured here) chooses the hybrid; Node 20's OpenSSL 3.0 has no ML-KEM: X25519.
 */
const nodeServerGroupForChrome = opensslAtLeast(3, 5) ? NamedGroup.X25519MLKEM768 : NamedGroup.X25519;

/** Whether this Node's bundled OpenSSL (`process.versions.openssl`, "3.5.9") is at least major.minor. */
function opensslAtLeast(major: number, minor: number): boolean {
  const [ma = 0, mi = 0] = (process.versions.openssl ?? "0.0").split(".").map((p) => Number.parseInt(p, 10));
  return ma > major || (ma === major && mi >= minor);
}

/** tlsClientError messages per server port (they name the alert our client sent). */
const clientErrors = new Map<number, string[]>();

async function server(cert: Issued, extra: Record<string, unknown> = {}, chain: Issued[] = []): Promise<number> {
  const s = await startNodeTlsEcho({ key: cert.key, cert: cert.cert + chain.map((c) => c.cert).join(""), ...extra });
  servers.push(s);
  const errs: string[] = [];
  clientErrors.set(s.port, errs);
  s.server.on("tlsClientError", (e: Error) => errs.push(e.message));
  return s.port;
}

async function connect(port: number, o: { host?: string; ca?: string; rejectUnauthorized?: boolean; alpn?: string[] } = {}): Promise<MasqTlsSocket> {
  const sock = await tcp(port);
  return masqTlsConnect(sock, {
    host: o.host ?? "localhost",
    rejectUnauthorized: o.rejectUnauthorized ?? true,
    ca: o.ca ?? pki.root.cert,
    ...(o.alpn ? { alpn: o.alpn } : {}),
  });
}

async function echoBothSizes(t: MasqTlsSocket): Promise<void> {
  const small = randomBytes(16);
  assert.deepEqual(await roundTrip(t, small), small);
  const big = randomBytes(1 << 20);
  assert.deepEqual(await roundTrip(t, big), big);
}

function closeQuietly(t: MasqTlsSocket): Promise<void> {
  return new Promise((r) => {
    if (t.closed) return r();
    t.once("close", () => r());
    t.on("error", () => {});
    t.end();
    t.resume();
  });
}

test("node:tls: each TLS 1.3 cipher suite, 16 B and 1 MiB echoed", async () => {
  for (const suite of ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]) {
    const port = await server(pki.leaf, { ciphers: suite, ALPNProtocols: ["http/1.1"] });
    const t = await connect(port, { alpn: ["http/1.1"] });
    assert.equal(t.getCipher().name, suite);
    assert.equal(t.alpnProtocol, "http/1.1");
    assert.equal(t.authorized, true);
    assert.equal(t.encrypted, true);
    await echoBothSizes(t);
    await closeQuietly(t);
  }
});

test("node:tls: each group; P-256 and P-384 via HelloRetryRequest and via a direct share", async () => {
  for (const [curve, group] of [["X25519", NamedGroup.X25519], ["P-256", NamedGroup.SECP256R1], ["P-384", NamedGroup.SECP384R1]] as const) {
    const port = await server(pki.leaf, { ecdhCurve: curve });
    // Default hello: one X25519 share, so P-256 / P-384 need a HelloRetryRequest.
    const t = await connect(port);
    assert.equal(t.engine.negotiatedGroup, group);
    assert.equal(t.engine.helloRetried, group !== NamedGroup.X25519);
    await echoBothSizes(t);
    await closeQuietly(t);
    // A hello that carries a share for the group directly.
    const t2 = await connectEngine(await tcp(port), {
      hello: basicHelloBuilder({ servername: "localhost", keyShareGroups: [group] }),
      verifyHost: "localhost",
      rejectUnauthorized: true,
      ca: pki.root.cert,
    });
    assert.equal(t2.engine.negotiatedGroup, group);
    assert.equal(t2.engine.helloRetried, false);
    assert.deepEqual(await roundTrip(t2, Buffer.from("x")), Buffer.from("x"));
    await closeQuietly(t2);
  }
});

test("node:tls: certificate key types (ECDSA P-256/P-384, RSA-PSS rsae and pss, Ed25519) and a chain via an intermediate", async () => {
  for (const [cert, chain] of [
    [pki.leaf, []],
    [pki.leafP384, []],
    [pki.leafRsa, []],
    [pki.leafRsaPss, []],
    [pki.leafEd25519, []],
    [pki.leafViaInter, [pki.inter]],
  ] as Array<[Issued, Issued[]]>) {
    const port = await server(cert, {}, chain);
    // masq's default hello (like browsers) offers no rsa_pss_pss_*; the plain hello does.
    const t =
      cert === pki.leafRsaPss
        ? await connectEngine(await tcp(port), { hello: basicHelloBuilder({ servername: "localhost" }), verifyHost: "localhost", rejectUnauthorized: true, ca: pki.root.cert })
        : await connect(port);
    assert.equal(t.authorized, true, cert.name);
    assert.equal((t.getPeerCertificate() as { subject: { CN: string } }).subject.CN, "localhost");
    assert.deepEqual(await roundTrip(t, Buffer.from(cert.name)), Buffer.from(cert.name));
    await closeQuietly(t);
  }
});

test("node:tls: IP address identity and servername", async () => {
  const port = await server(pki.leaf);
  const t = await connect(port, { host: "127.0.0.1" });
  assert.equal(t.authorized, true);
  await closeQuietly(t);
});

test("node:tls: many small writes are batched and arrive in order", async () => {
  const port = await server(pki.leaf);
  const t = await connect(port);
  const parts: Buffer[] = [];
  for (let i = 0; i < 2000; i++) parts.push(Buffer.from(`${i},`));
  const expected = Buffer.concat(parts);
  const got = new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    let n = 0;
    t.on("data", (c: Buffer) => {
      chunks.push(c);
      n += c.length;
      if (n >= expected.length) resolve(Buffer.concat(chunks));
    });
  });
  t.cork();
  for (const p of parts) t.write(p);
  t.uncork();
  assert.deepEqual(await got, expected);
  await closeQuietly(t);
});

test("node:tls: end() sends close_notify and the server sees a clean end", async () => {
  let serverSawEnd = false;
  const s = await startNodeTlsEcho({ key: pki.leaf.key, cert: pki.leaf.cert });
  servers.push(s);
  s.server.prependListener("secureConnection", (c) => c.on("end", () => (serverSawEnd = true)));
  const t = await connect(s.port);
  assert.deepEqual(await roundTrip(t, Buffer.from("bye")), Buffer.from("bye"));
  await closeQuietly(t);
  for (let i = 0; i < 100 && !serverSawEnd; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(serverSawEnd, true);
});

// [name, leaf, extra chain, TlsError.alert, the alert OpenSSL reports receiving from us]
const negative: Array<[string, () => Issued, () => Issued[], string, string]> = [
  ["expired", () => pki.expired, () => [], "CERT_HAS_EXPIRED", "certificate expired"],
  ["not yet valid", () => pki.notYetValid, () => [], "CERT_NOT_YET_VALID", "bad certificate"],
  ["wrong host", () => pki.wrongHost, () => [], "ERR_TLS_CERT_ALTNAME_INVALID", "bad certificate"],
  ["self-signed", () => pki.selfSigned, () => [], "DEPTH_ZERO_SELF_SIGNED_CERT", "unknown ca"],
  ["unknown CA", () => pki.unknownCaLeaf, () => [], "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unknown ca"],
  ["leaf via unknown intermediate", () => pki.leafViaInter, () => [], "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unknown ca"],
  ["intermediate without CA bit", () => pki.leafViaInterNoCa, () => [pki.interNoCa], "INVALID_CA", "bad certificate"],
  ["leaf without serverAuth", () => pki.clientAuthOnly, () => [], "INVALID_PURPOSE", "bad certificate"],
  ["pathLen exceeded", () => pki.leafViaPathLen, () => [pki.inter2, pki.interPathLen0], "PATH_LENGTH_EXCEEDED", "bad certificate"],
];

for (const [name, cert, chain, code, sentAlert] of negative) {
  test(`node:tls negative: ${name} -> TlsError ${code}, never connected`, async () => {
    const port = await server(cert(), {}, chain());
    await assert.rejects(connect(port), (e: unknown) => {
      assert.ok(e instanceof TlsError, String(e));
      assert.equal(e.alert, code);
      return true;
    });
    // The server saw our alert (e.g. "sslv3 alert certificate expired").
    const errs = clientErrors.get(port)!;
    for (let i = 0; i < 100 && errs.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(errs.join("\n"), new RegExp(`alert ${sentAlert}`));
    // Opting out connects, with authorized = false and the reason kept.
    const t = await connect(port, { rejectUnauthorized: false });
    assert.equal(t.authorized, false);
    assert.equal(t.authorizationError?.alert, code);
    await closeQuietly(t);
  });
}

test("node:tls negative: the same chain without `ca` is unknown (ca adds to the default roots)", async () => {
  const port = await server(pki.leaf);
  const sock = await tcp(port);
  await assert.rejects(masqTlsConnect(sock, { host: "localhost", rejectUnauthorized: true }), (e: unknown) => e instanceof TlsError && e.alert === "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
});

test("node:tls: AbortSignal aborts the handshake with the signal's reason", async () => {
  const port = await server(pki.leaf);
  const sock = await tcp(port);
  const ac = new AbortController();
  const reason = new Error("stop");
  ac.abort(reason);
  await assert.rejects(masqTlsConnect(sock, { host: "localhost", rejectUnauthorized: true, ca: pki.root.cert, signal: ac.signal }), (e) => e === reason);
  assert.equal(sock.destroyed, true);
});

test("node:tls: the chrome156 profile (GREASE, X25519MLKEM768 + X25519 shares, ECH GREASE) connects and echoes", async () => {
  const { chrome156Hello } = await import("../../src/impersonate/chrome.js");
  const port = await server(pki.leaf, { ALPNProtocols: ["http/1.1"] });
  for (let i = 0; i < 3; i++) {
    const sock = await tcp(port);
    const t = await masqTlsConnect(sock, { host: "localhost", rejectUnauthorized: true, ca: pki.root.cert, alpn: ["http/1.1"], profile: chrome156Hello });
    assert.equal(t.engine.negotiatedGroup, nodeServerGroupForChrome);
    assert.equal(t.alpnProtocol, "http/1.1");
    await echoBothSizes(t);
    await closeQuietly(t);
  }
});

test("node:tls: a CertificateRequest is answered with an empty Certificate", async () => {
  const port = await server(pki.leaf, { requestCert: true, rejectUnauthorized: false });
  const t = await connect(port);
  assert.deepEqual(await roundTrip(t, Buffer.from("no client cert")), Buffer.from("no client cert"));
  await closeQuietly(t);
});

test("node:tls: a server that requires a client certificate fails the handshake with a TlsError", async () => {
  const port = await server(pki.leaf, { requestCert: true, rejectUnauthorized: true, ca: pki.root.cert });
  // TLS 1.3: the server checks our (empty) Certificate after its Finished; our handshake is done
  // by then, so the failure arrives as an alert on the first read.
  const t = await connect(port);
  const err = await new Promise<unknown>((resolve) => {
    t.on("error", resolve);
    t.on("close", () => resolve(undefined));
    t.write("x");
    t.resume();
  });
  assert.ok(err instanceof TlsError, String(err));
  assert.match(String(err.alert), /certificate_required|handshake_failure/);
});

test("node:tls: AbortSignal fired mid-handshake rejects with its reason and closes the socket", async () => {
  const net = await import("node:net");
  const silent = net.createServer((c) => c.on("data", () => {}));
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  try {
    const sock = await tcp((silent.address() as import("node:net").AddressInfo).port);
    const ac = new AbortController();
    const reason = new Error("too slow");
    setTimeout(() => ac.abort(reason), 50);
    await assert.rejects(masqTlsConnect(sock, { host: "localhost", rejectUnauthorized: true, signal: ac.signal }), (e) => e === reason);
    assert.equal(sock.destroyed, true);
  } finally {
    silent.close();
  }
});

test("node:tls: a whole browser profile ({ tls, headers, ... }) is accepted as `profile`", async () => {
  const { chrome156 } = await import("../../src/impersonate/chrome.js");
  const port = await server(pki.leaf, { ALPNProtocols: ["http/1.1"] });
  const t = await masqTlsConnect(await tcp(port), { host: "localhost", rejectUnauthorized: true, ca: pki.root.cert, profile: chrome156 });
  assert.equal(t.alpnProtocol, "http/1.1");
  await closeQuietly(t);
});

test("node:tls: P-521 via HelloRetryRequest (offered by the Firefox profile)", async () => {
  const port = await server(pki.leaf, { ecdhCurve: "P-521" });
  const t = await connectEngine(await tcp(port), {
    hello: basicHelloBuilder({ servername: "localhost", groups: [NamedGroup.X25519, NamedGroup.SECP521R1] }),
    verifyHost: "localhost",
    rejectUnauthorized: true,
    ca: pki.root.cert,
  });
  assert.equal(t.engine.negotiatedGroup, NamedGroup.SECP521R1);
  assert.equal(t.engine.helloRetried, true);
  assert.deepEqual(await roundTrip(t, Buffer.from("521")), Buffer.from("521"));
  await closeQuietly(t);
});

test("node:tls: the firefox153 profile connects and echoes", async () => {
  const { firefox153Hello } = await import("../../src/impersonate/firefox.js");
  const port = await server(pki.leaf, { ALPNProtocols: ["http/1.1"] });
  const t = await masqTlsConnect(await tcp(port), { host: "localhost", rejectUnauthorized: true, ca: pki.root.cert, alpn: ["http/1.1"], profile: firefox153Hello });
  assert.equal(t.alpnProtocol, "http/1.1");
  await echoBothSizes(t);
  await closeQuietly(t);
});

test("node:tls: over a non-socket Duplex that delivers 1-7 byte chunks (any Duplex works, tunnels included)", async () => {
  const { Duplex } = await import("node:stream");
  const port = await server(pki.leaf);
  const raw = await tcp(port);
  let seed = 7;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 7;
  const choppy = new Duplex({
    read() {
      raw.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      raw.write(chunk, cb);
    },
    final(cb) {
      raw.end();
      cb();
    },
    destroy(err, cb) {
      raw.destroy();
      cb(err);
    },
  });
  raw.on("data", (d: Buffer) => {
    for (let o = 0; o < d.length; ) {
      const n = 1 + rnd();
      if (!choppy.push(Buffer.from(d.subarray(o, o + n)))) raw.pause();
      o += n;
    }
  });
  raw.on("end", () => choppy.push(null));
  const t = await masqTlsConnect(choppy, { host: "localhost", rejectUnauthorized: true, ca: pki.root.cert });
  const data = randomBytes(64 * 1024);
  assert.deepEqual(await roundTrip(t, data), data);
  await closeQuietly(t);
});
