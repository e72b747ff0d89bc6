/**
 * Interop with OpenSSL's `openssl s_server` (Debian openssl) and GnuTLS's `gnutls-serv` (Debian
 * gnutls-bin): each TLS 1.3 cipher suite and group forced on the server side, a HelloRetryRequest
 * forced through `-groups`, 16 B and 1 MiB both ways.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { masqTlsConnect, type MasqTlsSocket } from "../../src/tls/index.js";
import { NamedGroup } from "../../src/tls/constants.js";
import { tlsTestPki, type TlsTestPki } from "./helpers/pki.js";
import { roundTrip, tcp } from "./helpers/servers.js";
import { hasBinary, startPeer, until, type Peer } from "./helpers/processes.js";

let pki!: TlsTestPki;
const peers: Peer[] = [];
before(() => {
  pki = tlsTestPki();
});
after(async () => {
  await Promise.all(peers.map((p) => p.stop()));
});

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

function connect(port: number): Promise<MasqTlsSocket> {
  return tcp(port).then((s) => masqTlsConnect(s, { host: "localhost", rejectUnauthorized: true, ca: pki.root.cert }));
}

const SUITES = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"];
const GROUPS: Array<[string, number, boolean]> = [
  ["X25519", NamedGroup.X25519, false],
  ["P-256", NamedGroup.SECP256R1, true], // masq's default hello has only an X25519 share: HRR
  ["P-384", NamedGroup.SECP384R1, true],
];

test("openssl s_server: each suite x each group (HRR for P-256/P-384), 16 B and 1 MiB both ways", { skip: !hasBinary("openssl") }, async () => {
  for (const suite of SUITES) {
    for (const [gname, group, hrr] of GROUPS) {
      const peer = await startPeer("openssl", [
        "s_server", "-accept", "127.0.0.1:{port}", "-cert", pki.leaf.certPath, "-key", pki.leaf.keyPath,
        "-tls1_3", "-ciphersuites", suite, "-groups", gname, "-quiet",
      ]);
      peers.push(peer);
      const t = await connect(peer.port);
      assert.equal(t.getCipher().name, suite);
      assert.equal(t.engine.negotiatedGroup, group, `${suite} ${gname}`);
      assert.equal(t.engine.helloRetried, hrr);
      for (const size of [16, 1 << 20]) {
        // server -> client: s_server forwards its stdin
        const down = randomBytes(size);
        const got = readBytes(t, size);
        peer.child.stdin!.write(down);
        assert.deepEqual(await got, down);
        // client -> server: s_server prints what it receives
        const before = peer.stdoutBytes();
        const up = randomBytes(size);
        t.write(up);
        await until(() => peer.stdoutBytes() - before >= size, 20000, "s_server to receive the data");
        assert.deepEqual(Buffer.concat(peer.stdout).subarray(-size), up);
      }
      t.destroy();
      await peer.stop();
    }
  }
});

test("openssl s_server: KeyUpdate with update_requested ('K') is answered and data keeps flowing", { skip: !hasBinary("openssl") }, async () => {
  const peer = await startPeer("openssl", ["s_server", "-accept", "127.0.0.1:{port}", "-cert", pki.leafRsa.certPath, "-key", pki.leafRsa.keyPath, "-tls1_3"]);
  peers.push(peer);
  const t = await connect(peer.port);
  const got = readBytes(t, 5);
  peer.child.stdin!.write("K\n");
  await new Promise((r) => setTimeout(r, 200));
  peer.child.stdin!.write("hello");
  assert.equal((await got).toString(), "hello");
  t.write("marker-after-update");
  await until(() => Buffer.concat(peer.stdout).includes("marker-after-update"), 20000, "s_server to read after KeyUpdate");
  t.destroy();
  await peer.stop();
});

test("gnutls-serv: each suite x each group, 16 B and 1 MiB echoed", { skip: !hasBinary("gnutls-serv") }, async () => {
  const ciphers: Record<string, string> = {
    TLS_AES_128_GCM_SHA256: "AES-128-GCM",
    TLS_AES_256_GCM_SHA384: "AES-256-GCM",
    TLS_CHACHA20_POLY1305_SHA256: "CHACHA20-POLY1305",
  };
  const groups: Record<string, string> = { X25519: "GROUP-X25519", "P-256": "GROUP-SECP256R1", "P-384": "GROUP-SECP384R1" };
  for (const suite of SUITES) {
    for (const [gname, group, hrr] of GROUPS) {
      const priority = `NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+${ciphers[suite]}:-GROUP-ALL:+${groups[gname]}`;
      const peer = await startPeer("gnutls-serv", ["--echo", "-p", "{port}", "-a", "--x509certfile", pki.leaf.certPath, "--x509keyfile", pki.leaf.keyPath, "--priority", priority]);
      peers.push(peer);
      const t = await connect(peer.port);
      assert.equal(t.getCipher().name, suite);
      assert.equal(t.engine.negotiatedGroup, group);
      assert.equal(t.engine.helloRetried, hrr);
      for (const size of [16, 1 << 20]) {
        // gnutls-serv --echo answers per line: printable bytes ending in one newline.
        const data = Buffer.from(randomBytes(size / 2).toString("hex"));
        data[size - 1] = 0x0a;
        assert.deepEqual(await roundTrip(t, data), data);
      }
      t.destroy();
      await peer.stop();
    }
  }
});

test("openssl s_server / gnutls-serv: FFDHE groups (RFC 7919, offered by the Firefox profile) via HelloRetryRequest", { skip: !hasBinary("openssl") }, async () => {
  const { connectEngine } = await import("../../src/tls/socket.js");
  const { basicHelloBuilder } = await import("../helpers/basic-hello.js");
  const runs: Array<[string, string[], number]> = [
    ["openssl", ["s_server", "-accept", "127.0.0.1:{port}", "-cert", pki.leaf.certPath, "-key", pki.leaf.keyPath, "-tls1_3", "-groups", "ffdhe2048", "-rev"], NamedGroup.FFDHE2048],
    ["openssl", ["s_server", "-accept", "127.0.0.1:{port}", "-cert", pki.leaf.certPath, "-key", pki.leaf.keyPath, "-tls1_3", "-groups", "ffdhe3072", "-rev"], NamedGroup.FFDHE3072],
  ];
  if (hasBinary("gnutls-serv")) {
    runs.push(["gnutls-serv", ["--echo", "-p", "{port}", "-a", "--x509certfile", pki.leaf.certPath, "--x509keyfile", pki.leaf.keyPath, "--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-FFDHE2048"], NamedGroup.FFDHE2048]);
  }
  for (const [cmd, args, group] of runs) {
    const peer = await startPeer(cmd, args);
    peers.push(peer);
    const t = await connectEngine(await tcp(peer.port), {
      hello: basicHelloBuilder({ servername: "localhost", groups: [NamedGroup.X25519, NamedGroup.FFDHE2048, NamedGroup.FFDHE3072] }),
      verifyHost: "localhost",
      rejectUnauthorized: true,
      ca: pki.root.cert,
    });
    assert.equal(t.engine.negotiatedGroup, group);
    assert.equal(t.engine.helloRetried, true);
    // -rev answers each line reversed; --echo echoes it.
    const got = readBytes(t, 6);
    t.write("abcde\n");
    const text = (await got).toString();
    assert.ok(text === "edcba\n" || text === "abcde\n", text);
    t.destroy();
    await peer.stop();
  }
});
