/**
 * Issue 11 item 2 for Node's TLS engine: each AsyncSession resumes TLS sessions from its own
 * cache (Node's `session` option / 'session' event), partitioned by host, port, profile and proxy.
 * The server side confirms every reuse: Node's `isSessionReused()` and openssl s_server's page.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer as createHttpsServer, type Server } from "node:https";
import type { TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { AsyncSession, HandshakeError } from "../../src/index.js";
import { TlsSessionCache, sessionCacheKey } from "../../src/tls/session-cache.js";
import { tlsTestPki, type TlsTestPki } from "./helpers/pki.js";
import { hasBinary, startPeer, type Peer } from "./helpers/processes.js";

interface ResumeServer {
  port: number;
  /** isSessionReused() of every TLS connection, in order. */
  reused: boolean[];
  close(): Promise<void>;
}

/** An https + ws echo server that records whether each TLS connection resumed. */
async function startResumeServer(pki: TlsTestPki, o: { maxVersion?: "TLSv1.2" | "TLSv1.3"; ticketKeys?: Buffer } = {}): Promise<ResumeServer> {
  const server: Server = createHttpsServer({
    cert: pki.leaf.cert,
    key: pki.leaf.key,
    ...(o.maxVersion ? { maxVersion: o.maxVersion } : {}),
    ...(o.ticketKeys ? { ticketKeys: o.ticketKeys } : {}),
  });
  const reused: boolean[] = [];
  server.on("secureConnection", (s: TLSSocket) => reused.push(s.isSessionReused()));
  const wss = new WebSocketServer({ server });
  wss.on("connection", (ws) => ws.on("message", (d, bin) => ws.send(d, { binary: bin })));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    reused,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** One connect with an echo (so the TLS 1.3 tickets sent after the handshake have arrived) and a close. */
async function echoOnce(session: AsyncSession, url: string): Promise<void> {
  const ws = await session.wsConnect(url);
  await ws.send("hi");
  assert.equal(String((await ws.recv()).data), "hi");
  await ws.close();
}

describe("TLS session resumption, Node's engine", { timeout: 60_000 }, () => {
  let pki: TlsTestPki;
  before(() => {
    pki = tlsTestPki();
  });

  for (const maxVersion of ["TLSv1.3", "TLSv1.2"] as const) {
    it(`resumes the second connect to the same server (${maxVersion})`, async () => {
      const srv = await startResumeServer(pki, { maxVersion });
      const session = new AsyncSession({ ca: pki.root.cert, tls: "native" });
      try {
        for (let i = 0; i < 3; i++) await echoOnce(session, `wss://localhost:${srv.port}/`);
        assert.deepEqual(srv.reused, [false, true, true]);
      } finally {
        await session.close();
        await srv.close();
      }
    });
  }

  it("tlsSessionCache: false never resumes (session-wide and per call)", async () => {
    const srv = await startResumeServer(pki);
    const off = new AsyncSession({ ca: pki.root.cert, tlsSessionCache: false });
    const on = new AsyncSession({ ca: pki.root.cert });
    try {
      await echoOnce(off, `wss://localhost:${srv.port}/`);
      await echoOnce(off, `wss://localhost:${srv.port}/`);
      assert.deepEqual(srv.reused, [false, false]);
      await echoOnce(on, `wss://localhost:${srv.port}/`);
      const ws = await on.wsConnect(`wss://localhost:${srv.port}/`, { tlsSessionCache: false });
      await ws.close();
      assert.deepEqual(srv.reused, [false, false, false, false]);
    } finally {
      await off.close();
      await on.close();
      await srv.close();
    }
  });

  it("never offers a session to another AsyncSession, port or host name", async () => {
    // Two servers that would accept each other's tickets (same ticket keys): only the cache's
    // partitioning keeps a ticket for one from being offered to the other.
    const ticketKeys = randomBytes(48);
    const a = await startResumeServer(pki, { ticketKeys, maxVersion: "TLSv1.2" });
    const b = await startResumeServer(pki, { ticketKeys, maxVersion: "TLSv1.2" });
    const s1 = new AsyncSession({ ca: pki.root.cert });
    const s2 = new AsyncSession({ ca: pki.root.cert });
    try {
      await echoOnce(s1, `wss://localhost:${a.port}/`);
      await echoOnce(s1, `wss://localhost:${b.port}/`); // another port
      await echoOnce(s2, `wss://localhost:${a.port}/`); // another session
      await echoOnce(s1, `wss://127.0.0.1:${a.port}/`); // another host (same server)
      assert.deepEqual(a.reused, [false, false, false]);
      assert.deepEqual(b.reused, [false]);
      // ...while the same key does resume (the servers do accept these tickets).
      await echoOnce(s1, `wss://localhost:${b.port}/`);
      assert.deepEqual(b.reused, [false, true]);
    } finally {
      await s1.close();
      await s2.close();
      await a.close();
      await b.close();
    }
  });

  it("openssl s_server reports the reuse", { skip: hasBinary("openssl") ? false : "openssl not installed" }, async () => {
    // -www answers with a status page that says "New, ..." or "Reused, ..." for the TLS session;
    // masq then fails the upgrade (HTTP 200) and the page is the HandshakeError's body.
    let peer: Peer | undefined;
    const session = new AsyncSession({ ca: pki.root.cert });
    try {
      peer = await startPeer("openssl", ["s_server", "-accept", "{port}", "-cert", pki.leaf.certPath, "-key", pki.leaf.keyPath, "-www", "-quiet"]);
      const page = async (): Promise<string> => {
        const err = await session.wsConnect(`wss://localhost:${peer!.port}/`).then(
          () => assert.fail("s_server -www cannot upgrade"),
          (e: unknown) => e,
        );
        assert.ok(err instanceof HandshakeError, String(err));
        return Buffer.from(err.body ?? []).toString("latin1");
      };
      const first = await page();
      assert.match(first, /New, TLSv1\.3/);
      const second = await page();
      assert.match(second, /Reused, TLSv1\.3/);
    } finally {
      await session.close();
      await peer?.stop();
    }
  });
});

describe("TlsSessionCache", () => {
  const key = sessionCacheKey({ engine: "native", host: "h", port: 1, verify: true });
  it("takes single-use entries once, keeps reusable ones, expires and clears", () => {
    let now = 1000;
    const c = new TlsSessionCache(() => now);
    c.store(key, "a", { lifetimeMs: 100, singleUse: true });
    c.store(key, "b", { lifetimeMs: 100, singleUse: true });
    assert.equal(c.take(key), "b");
    assert.equal(c.take(key), "a");
    assert.equal(c.take(key), undefined);
    c.store(key, "r", { lifetimeMs: 100, singleUse: false });
    assert.equal(c.take(key), "r");
    assert.equal(c.take(key), "r");
    now += 100;
    assert.equal(c.take(key), undefined, "expired");
    c.store(key, "x", { lifetimeMs: 100, singleUse: false });
    c.clear();
    assert.equal(c.take(key), undefined);
    assert.equal(c.size, 0);
  });

  it("keys differ by every part that partitions the cache", () => {
    const base = { engine: "native", host: "h", port: 1, verify: true } as const;
    const keys = [
      sessionCacheKey(base),
      sessionCacheKey({ ...base, engine: "masq" }),
      sessionCacheKey({ ...base, host: "g" }),
      sessionCacheKey({ ...base, port: 2 }),
      sessionCacheKey({ ...base, profile: "chrome156" }),
      sessionCacheKey({ ...base, proxy: "http://p:1" }),
      sessionCacheKey({ ...base, verify: false }),
      sessionCacheKey({ ...base, ca: "x" }),
      sessionCacheKey({ ...base, cert: "y" }),
      sessionCacheKey({ ...base, servername: "s" }),
    ];
    assert.equal(new Set(keys).size, keys.length);
    assert.equal(sessionCacheKey({ ...base, host: "H" }), keys[0], "host names compare case-insensitively");
  });
});
