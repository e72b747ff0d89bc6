/**
 * Issue 11 item 3: client certificates (`cert`, `key`, `passphrase`) for Node's engine and for
 * masq's engine under TLS 1.3 (Certificate + CertificateVerify with ECDSA P-256 / P-384, RSA-PSS
 * and Ed25519 keys). Real servers judge them: Node's TLS server with requestCert and
 * `openssl s_server -Verify 1`. No certificate, or one the server does not trust, fails with a
 * TlsError and delivers nothing.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer as createHttpsServer, type Server } from "node:https";
import type { TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { AsyncSession, HandshakeError, TlsError, WebSocketError } from "../../src/index.js";
import { tlsTestPki, type Issued, type KeyKind, type TlsTestPki } from "./helpers/pki.js";
import { hasBinary, startPeer, type Peer } from "./helpers/processes.js";

interface MtlsServer {
  url: string;
  /** Subject CN of each client certificate the server accepted. */
  accepted: string[];
  close(): Promise<void>;
}

/** https + ws echo server that requires a client certificate issued by `ca`. */
async function startMtlsServer(pki: TlsTestPki, ca: string, maxVersion: "TLSv1.3" | "TLSv1.2" = "TLSv1.3"): Promise<MtlsServer> {
  const server: Server = createHttpsServer({ cert: pki.leaf.cert, key: pki.leaf.key, ca, requestCert: true, rejectUnauthorized: true, maxVersion });
  const accepted: string[] = [];
  const wss = new WebSocketServer({ server });
  wss.on("connection", (ws, req) => {
    accepted.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN));
    ws.on("message", (d, bin) => ws.send(d, { binary: bin }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `wss://localhost:${(server.address() as AddressInfo).port}/`,
    accepted,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

async function echo(session: AsyncSession, url: string, opts: Record<string, unknown> = {}): Promise<void> {
  const ws = await session.wsConnect(url, opts);
  await ws.send("ping");
  assert.equal(String((await ws.recv()).data), "ping");
  await ws.close();
}

/** A connect that must fail without delivering anything; returns the error. */
async function refused(session: AsyncSession, url: string): Promise<unknown> {
  return session.wsConnect(url).then(
    async (ws) => {
      await ws.close().catch(() => {});
      assert.fail("the server accepted a connection it must refuse");
    },
    (e: unknown) => e,
  );
}

describe("client certificates", { timeout: 60_000 }, () => {
  let pki: TlsTestPki;
  const clients = new Map<KeyKind, Issued>();
  let untrusted: Issued;
  let encrypted: { cert: string; key: string };
  before(() => {
    pki = tlsTestPki();
    for (const kind of ["ec256", "ec384", "rsa", "rsapss", "ed25519"] as const) {
      clients.set(kind, pki.pki.issue({ name: `client-${kind}`, key: kind, issuer: pki.root, cn: `client-${kind}`, extKeyUsage: "clientAuth" }));
    }
    untrusted = pki.pki.issue({ name: "client-untrusted", issuer: pki.otherRoot, cn: "client-untrusted", extKeyUsage: "clientAuth" });
    const ec = clients.get("ec256")!;
    const key = execFileSync("openssl", ["pkey", "-in", ec.keyPath, "-aes-128-cbc", "-passout", "pass:s3cret"], { encoding: "utf8" });
    encrypted = { cert: ec.cert, key };
  });

  for (const engine of ["native", "masq"] as const) {
    describe(`${engine} engine`, () => {
      let srv: MtlsServer;
      before(async () => {
        srv = await startMtlsServer(pki, pki.root.cert);
      });
      after(() => srv.close());

      for (const kind of ["ec256", "ec384", "rsa", "rsapss", "ed25519"] as const) {
        it(`the server accepts a ${kind} client certificate (session option)`, async () => {
          const c = clients.get(kind)!;
          const session = new AsyncSession({ tls: engine, ca: pki.root.cert, cert: c.cert, key: c.key, tlsSessionCache: false });
          try {
            await echo(session, srv.url);
            assert.equal(srv.accepted.at(-1), `client-${kind}`);
          } finally {
            await session.close();
          }
        });
      }

      it("takes cert / key / passphrase per call, as Buffers too", async () => {
        const session = new AsyncSession({ tls: engine, ca: pki.root.cert, tlsSessionCache: false });
        try {
          await echo(session, srv.url, { cert: Buffer.from(encrypted.cert), key: Buffer.from(encrypted.key), passphrase: "s3cret" });
          assert.equal(srv.accepted.at(-1), "client-ec256");
        } finally {
          await session.close();
        }
      });

      it("without a certificate the connection fails with a TlsError", async () => {
        const session = new AsyncSession({ tls: engine, ca: pki.root.cert, tlsSessionCache: false });
        const before = srv.accepted.length;
        try {
          const err = await refused(session, srv.url);
          assert.ok(err instanceof TlsError, `expected a TlsError, got ${String(err)}`);
          assert.equal(srv.accepted.length, before);
        } finally {
          await session.close();
        }
      });

      it("a certificate the server does not trust fails with a TlsError", async () => {
        const session = new AsyncSession({ tls: engine, ca: pki.root.cert, cert: untrusted.cert, key: untrusted.key, tlsSessionCache: false });
        try {
          const err = await refused(session, srv.url);
          assert.ok(err instanceof TlsError, `expected a TlsError, got ${String(err)}`);
        } finally {
          await session.close();
        }
      });

      it("a wrong passphrase or a key of another certificate is a clear error before connecting", async () => {
        const session = new AsyncSession({ tls: engine, ca: pki.root.cert, tlsSessionCache: false });
        try {
          const wrongPass = await session.wsConnect(srv.url, { ...encrypted, passphrase: "nope" }).then(() => assert.fail("connected"), (e: unknown) => e);
          assert.ok(wrongPass instanceof TlsError, String(wrongPass));
          assert.doesNotMatch((wrongPass as Error).message, /s3cret|nope|PRIVATE KEY/);
          const ec = clients.get("ec256")!;
          const other = clients.get("ec384")!;
          const mismatch = await session.wsConnect(srv.url, { cert: ec.cert, key: other.key }).then(() => assert.fail("connected"), (e: unknown) => e);
          assert.ok(mismatch instanceof TlsError, String(mismatch));
          const half = await session.wsConnect(srv.url, { cert: ec.cert }).then(() => assert.fail("connected"), (e: unknown) => e);
          assert.ok(half instanceof WebSocketError && /both "cert" and "key"/.test(half.message), String(half));
        } finally {
          await session.close();
        }
      });
    });
  }

  describe("masq engine, TLS 1.2 (Certificate + CertificateVerify over the handshake messages)", () => {
    let srv: MtlsServer;
    before(async () => {
      srv = await startMtlsServer(pki, pki.root.cert, "TLSv1.2");
    });
    after(() => srv.close());

    for (const kind of ["ec256", "ec384", "rsa", "rsapss", "ed25519"] as const) {
      it(`the server accepts a ${kind} client certificate`, async () => {
        const c = clients.get(kind)!;
        const session = new AsyncSession({ tls: "masq", impersonate: "chrome", ca: pki.root.cert, cert: c.cert, key: c.key, tlsSessionCache: false });
        try {
          await echo(session, srv.url);
          assert.equal(srv.accepted.at(-1), `client-${kind}`);
        } finally {
          await session.close();
        }
      });
    }

    it("without a certificate, or with an untrusted one, the handshake fails with a TlsError", async () => {
      for (const creds of [{}, { cert: untrusted.cert, key: untrusted.key }]) {
        const session = new AsyncSession({ tls: "masq", impersonate: "chrome", ca: pki.root.cert, tlsSessionCache: false, ...creds });
        try {
          const err = await refused(session, srv.url);
          assert.ok(err instanceof TlsError, `expected a TlsError, got ${String(err)}`);
        } finally {
          await session.close();
        }
      }
    });
  });

  it("openssl s_server -tls1_2 -Verify 1 accepts the masq engine's certificate", { skip: hasBinary("openssl") ? false : "openssl not installed" }, async () => {
    let peer: Peer | undefined;
    try {
      peer = await startPeer("openssl", ["s_server", "-accept", "{port}", "-tls1_2", "-cert", pki.leaf.certPath, "-key", pki.leaf.keyPath, "-CAfile", pki.root.certPath, "-Verify", "1", "-www", "-quiet"]);
      const url = `wss://localhost:${peer.port}/`;
      for (const kind of ["ec256", "rsa"] as const) {
        const c = clients.get(kind)!;
        const session = new AsyncSession({ tls: "masq", impersonate: "chrome", ca: pki.root.cert, cert: c.cert, key: c.key, tlsSessionCache: false });
        try {
          const err = await session.wsConnect(url).then(() => assert.fail("s_server -www cannot upgrade"), (e: unknown) => e);
          assert.ok(err instanceof HandshakeError, `${kind}: ${String(err)}`);
          const page = Buffer.from(err.body ?? []).toString("latin1");
          assert.match(page, /TLSv1\.2/);
          assert.match(page, new RegExp(`client-${kind}`));
        } finally {
          await session.close();
        }
      }
    } finally {
      await peer?.stop();
    }
  });

  it("openssl s_server -Verify 1 accepts the right certificate and refuses none (masq engine)", { skip: hasBinary("openssl") ? false : "openssl not installed" }, async () => {
    let peer: Peer | undefined;
    try {
      peer = await startPeer("openssl", ["s_server", "-accept", "{port}", "-cert", pki.leaf.certPath, "-key", pki.leaf.keyPath, "-CAfile", pki.root.certPath, "-Verify", "1", "-www", "-quiet"]);
      const url = `wss://localhost:${peer.port}/`;
      for (const kind of ["ec256", "rsa", "ed25519"] as const) {
        const c = clients.get(kind)!;
        const session = new AsyncSession({ tls: "masq", ca: pki.root.cert, cert: c.cert, key: c.key, tlsSessionCache: false });
        try {
          // -www answers the upgrade with its status page: the TLS handshake (and the client
          // certificate) passed when the error is the HTTP one.
          const err = await session.wsConnect(url).then(() => assert.fail("s_server -www cannot upgrade"), (e: unknown) => e);
          assert.ok(err instanceof HandshakeError, `${kind}: ${String(err)}`);
          assert.match(Buffer.from(err.body ?? []).toString("latin1"), new RegExp(`client-${kind}`));
        } finally {
          await session.close();
        }
      }
      const none = new AsyncSession({ tls: "masq", ca: pki.root.cert, tlsSessionCache: false });
      try {
        const err = await refused(none, url);
        assert.ok(err instanceof TlsError, `expected a TlsError, got ${String(err)}`);
      } finally {
        await none.close();
      }
    } finally {
      await peer?.stop();
    }
  });
});
