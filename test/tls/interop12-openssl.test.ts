/**
 * TLS 1.2 interop with `openssl s_server -tls1_2`: every TLS 1.2 suite the chrome and firefox
 * profiles offer, forced on the server with `-cipher`, reached from the profile's own ClientHello;
 * RSA and ECDSA certificates; X25519, P-256 and P-384; RSA-PSS and PKCS#1 ServerKeyExchange
 * signatures; 16 B and 1 MiB both ways; the server's session ticket reaches onSessionTicket;
 * OCSP stapling; a renegotiation request refused.
 */
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { TlsError } from "../../src/errors.js";
import { connectEngine, type MasqTlsSocket } from "../../src/tls/socket.js";
import { profileHelloBuilder } from "../../src/tls/hello-builder.js";
import { NamedGroup } from "../../src/tls/constants.js";
import { suite12Info } from "../../src/tls/suites12.js";
import type { ClientHelloProfile } from "../../src/tls/client-hello.js";
import type { TlsSession12 } from "../../src/tls/session-ticket.js";
import { chrome156Hello } from "../../src/impersonate/chrome.js";
import { firefox153Hello } from "../../src/impersonate/firefox.js";
import { getProfile, targetNames } from "../../src/impersonate/index.js";
import { tlsTestPki, type TlsTestPki, type Issued } from "./helpers/pki.js";
import { tcp } from "./helpers/servers.js";
import { hasBinary, startPeer, until, type Peer } from "./helpers/processes.js";

const skip = !hasBinary("openssl") && "openssl not installed";
let pki!: TlsTestPki;
const peers: Peer[] = [];
before(() => {
  pki = tlsTestPki();
});
after(async () => {
  await Promise.all(peers.map((p) => p.stop()));
});

/** OpenSSL's names for the TLS 1.2 suites masq implements. */
const OPENSSL_NAMES: Record<number, string> = {
  0xc02b: "ECDHE-ECDSA-AES128-GCM-SHA256",
  0xc02c: "ECDHE-ECDSA-AES256-GCM-SHA384",
  0xc02f: "ECDHE-RSA-AES128-GCM-SHA256",
  0xc030: "ECDHE-RSA-AES256-GCM-SHA384",
  0xcca9: "ECDHE-ECDSA-CHACHA20-POLY1305",
  0xcca8: "ECDHE-RSA-CHACHA20-POLY1305",
  0xc009: "ECDHE-ECDSA-AES128-SHA",
  0xc00a: "ECDHE-ECDSA-AES256-SHA",
  0xc013: "ECDHE-RSA-AES128-SHA",
  0xc014: "ECDHE-RSA-AES256-SHA",
  0x009c: "AES128-GCM-SHA256",
  0x009d: "AES256-GCM-SHA384",
  0x002f: "AES128-SHA",
  0x0035: "AES256-SHA",
  0xc023: "ECDHE-ECDSA-AES128-SHA256",
  0xc024: "ECDHE-ECDSA-AES256-SHA384",
  0xc027: "ECDHE-RSA-AES128-SHA256",
  0xc028: "ECDHE-RSA-AES256-SHA384",
  0x003c: "AES128-SHA256",
  0x003d: "AES256-SHA256",
};

const PROFILES: Array<[string, ClientHelloProfile]> = [
  ["chrome", chrome156Hello],
  ["firefox", firefox153Hello],
];

/** Every TLS 1.2 suite a profile offers, with the profiles that offer it. */
function offeredSuites(): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const [name, p] of PROFILES) {
    for (const id of p.cipherSuites) {
      if (id >> 8 === 0x13 || (id & 0x0f0f) === 0x0a0a) continue; // TLS 1.3 suites, GREASE
      out.set(id, [...(out.get(id) ?? []), name]);
    }
  }
  return out;
}

function readBytes(t: MasqTlsSocket, n: number, timeoutMs = 20000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => reject(new Error(`read timed out at ${got}/${n}`)), timeoutMs);
    const onData = (c: Buffer): void => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        clearTimeout(timer);
        t.off("data", onData);
        resolve(Buffer.concat(chunks));
      }
    };
    t.on("data", onData);
  });
}

async function sServer(cert: Issued, extra: string[]): Promise<Peer> {
  // @SECLEVEL=0 only lets OpenSSL itself use the SHA-1 MAC / RSA key exchange suites the profiles offer.
  const peer = await startPeer("openssl", ["s_server", "-accept", "127.0.0.1:{port}", "-cert", cert.certPath, "-key", cert.keyPath, "-tls1_2", "-quiet", ...extra]);
  peers.push(peer);
  return peer;
}

function connect(port: number, profile: ClientHelloProfile, onSessionTicket?: (s: TlsSession12) => void): Promise<MasqTlsSocket> {
  return tcp(port).then((s) =>
    connectEngine(s, {
      hello: profileHelloBuilder(profile, "localhost", undefined),
      verifyHost: "localhost",
      rejectUnauthorized: true,
      ca: pki.root.cert,
      ...(onSessionTicket ? { engine: { onSessionTicket } } : {}),
    }),
  );
}

async function bothWays(t: MasqTlsSocket, peer: Peer, sizes: number[]): Promise<void> {
  for (const size of sizes) {
    const down = randomBytes(size);
    const got = readBytes(t, size);
    peer.child.stdin!.write(down);
    assert.deepEqual(await got, down);
    const before = peer.stdoutBytes();
    const up = randomBytes(size);
    t.write(up);
    await until(() => peer.stdoutBytes() - before >= size, 20000, "s_server to receive the data");
    assert.deepEqual(Buffer.concat(peer.stdout).subarray(-size), up);
  }
}

test("openssl s_server -tls1_2: every suite the chrome and firefox profiles offer, forced by -cipher; 16 B and 1 MiB both ways", { skip }, async () => {
  const verified: string[] = [];
  for (const [id, profiles] of offeredSuites()) {
    const suite = suite12Info(id);
    assert.ok(suite, `a profile offers 0x${id.toString(16)}, which masq does not implement`);
    const cert = suite.auth === "ecdsa" ? pki.leaf : pki.leafRsa;
    const peer = await sServer(cert, ["-cipher", `${OPENSSL_NAMES[id]}:@SECLEVEL=0`]);
    for (const [i, name] of profiles.entries()) {
      const profile = PROFILES.find(([n]) => n === name)![1];
      const tickets: TlsSession12[] = [];
      const t = await connect(peer.port, profile, (s) => tickets.push(s));
      assert.equal(t.getProtocol(), "TLSv1.2");
      assert.equal(t.getCipher().name, suite.name);
      // The first profile moves 16 B and 1 MiB; the second 16 B (the record layer is the same).
      await bothWays(t, peer, i === 0 ? [16, 1 << 20] : [16]);
      // s_server issues a ticket when the hello offers session_ticket (both profiles do).
      assert.equal(tickets.length, 1, `${name} ${suite.name}: ticket`);
      assert.equal(tickets[0]!.extendedMasterSecret, true);
      assert.equal(tickets[0]!.cipherSuite, id);
      t.destroy();
      verified.push(`${name}:${suite.name}`);
    }
    await peer.stop();
  }
  // chrome 12 + firefox 13 suites
  assert.equal(verified.length, 25, verified.join(" "));
});

test("openssl s_server -tls1_2: ECDHE over X25519, P-256 and P-384; RSA-PSS and PKCS#1 ServerKeyExchange signatures", { skip }, async () => {
  const groups: Array<[string, number]> = [
    ["X25519", NamedGroup.X25519],
    ["P-256", NamedGroup.SECP256R1],
    ["P-384", NamedGroup.SECP384R1],
  ];
  for (const [gname, group] of groups) {
    for (const [pname, profile] of PROFILES) {
      const peer = await sServer(pki.leafP384, ["-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", "-groups", gname]);
      const t = await connect(peer.port, profile);
      assert.equal(t.engine.negotiatedGroup, group, `${pname} ${gname}`);
      await bothWays(t, peer, [16]);
      t.destroy();
      await peer.stop();
    }
  }
  for (const sigalg of ["RSA-PSS+SHA256", "RSA+SHA256", "RSA+SHA384", "RSA-PSS+SHA512"]) {
    const peer = await sServer(pki.leafRsa, ["-cipher", "ECDHE-RSA-AES128-GCM-SHA256", "-sigalgs", sigalg]);
    const t = await connect(peer.port, chrome156Hello);
    await bothWays(t, peer, [16]);
    t.destroy();
    await peer.stop();
  }
});

test("openssl s_server -tls1_2 -no_ticket: connects, no ticket reported", { skip }, async () => {
  const peer = await sServer(pki.leaf, ["-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", "-no_ticket"]);
  const tickets: TlsSession12[] = [];
  const t = await connect(peer.port, chrome156Hello, (s) => tickets.push(s));
  await bothWays(t, peer, [16]);
  assert.equal(tickets.length, 0);
  t.destroy();
  await peer.stop();
});

test("openssl s_server -tls1_2: ALPN chosen in ServerHello", { skip }, async () => {
  const peer = await sServer(pki.leaf, ["-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", "-alpn", "http/1.1"]);
  const t = await connect(peer.port, firefox153Hello);
  assert.equal(t.alpnProtocol, "http/1.1");
  t.destroy();
  await peer.stop();
});

test("openssl s_server -tls1_2: every other TLS 1.2 suite a catalogue target offers (Safari's SHA-256/384 CBC suites), from that target's hello", { skip }, async () => {
  const covered = new Set(offeredSuites().keys());
  const byTarget = new Map<number, string>();
  for (const name of targetNames()) {
    for (const id of getProfile(name).tls.cipherSuites) {
      if (id >> 8 === 0x13 || (id & 0x0f0f) === 0x0a0a || covered.has(id) || byTarget.has(id)) continue;
      byTarget.set(id, name);
    }
  }
  const verified: string[] = [];
  for (const [id, target] of byTarget) {
    const suite = suite12Info(id);
    assert.ok(suite, `${target} offers 0x${id.toString(16)}, which masq does not implement`);
    const opensslName = OPENSSL_NAMES[id];
    if (!opensslName) continue; // 3DES: Debian's OpenSSL has none; gnutls-serv covers them (interop12-peers)
    const cert = suite.auth === "ecdsa" ? pki.leaf : pki.leafRsa;
    const peer = await sServer(cert, ["-cipher", `${opensslName}:@SECLEVEL=0`]);
    const t = await connect(peer.port, getProfile(target).tls);
    assert.equal(t.getCipher().name, suite.name);
    await bothWays(t, peer, [16, 1 << 20]);
    t.destroy();
    await peer.stop();
    verified.push(`${target}:${suite.name}`);
  }
  assert.ok(verified.length >= 6, verified.join(" "));
});

test("openssl s_server -tls1_2 -status_file: a stapled OCSP response is accepted (chrome and firefox ask for one)", { skip }, async () => {
  const ocsp = pki.pki.ocspResponse(pki.leaf, pki.root);
  for (const [, profile] of PROFILES) {
    const peer = await sServer(pki.leaf, ["-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", "-status_file", ocsp]);
    const t = await connect(peer.port, profile);
    await bothWays(t, peer, [16]);
    t.destroy();
    await peer.stop();
  }
});

test("openssl s_server -tls1_2: a renegotiation request ('r': HelloRequest) gets our no_renegotiation warning; s_server then aborts -> TlsError, nothing delivered", { skip }, async () => {
  const peer = await startPeer("openssl", ["s_server", "-accept", "127.0.0.1:{port}", "-cert", pki.leaf.certPath, "-key", pki.leaf.keyPath, "-tls1_2"]);
  peers.push(peer);
  const t = await connect(peer.port, chrome156Hello);
  const data: Buffer[] = [];
  t.on("data", (d: Buffer) => data.push(d));
  const failed = new Promise<unknown>((r) => t.once("error", r));
  peer.child.stdin!.write("r\n");
  const err = await failed;
  peer.child.stdin!.write("must not arrive\n");
  assert.ok(err instanceof TlsError, String(err));
  assert.equal(err.alert, "handshake_failure");
  await until(() => Buffer.concat(peer.stdout).includes("no renegotiation") || Buffer.concat(peer.stderr).includes("no renegotiation"), 5000, "s_server to report our refusal");
  assert.deepEqual(data, []);
  t.destroy();
  await peer.stop();
});
