/**
 * Issue 11 item 2 for masq's engine: TLS 1.3 tickets (NewSessionTicket, psk_dhe_ke, single use)
 * from the AsyncSession's own cache, offered in the browser's own resumption hello
 * (pre_shared_key last; Firefox's also drops session_ticket and compress_certificate). Servers
 * confirm the reuse; the resumed hello matches Firefox ESR 153.8's captured one
 * (test/fixtures/resumption/firefox-esr-153.8-wss-h1-retry.hex); tickets never cross hosts or
 * ports; an expired or rejected ticket falls back to a full handshake.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createHttpsServer, type Server } from "node:https";
import net, { type AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { setTimeout as sleep } from "node:timers/promises";
import { WebSocketServer } from "ws";
import { AsyncSession, HandshakeError } from "../../src/index.js";
import { ja4, parseClientHello } from "../helpers/ja4.js";
import { tlsTestPki, type TlsTestPki } from "./helpers/pki.js";
import { hasBinary, startPeer, type Peer } from "./helpers/processes.js";

const FIREFOX_RESUMED = readFileSync(new URL("../fixtures/resumption/firefox-esr-153.8-wss-h1-retry.hex", import.meta.url), "utf8");

interface ResumeServer {
  server: Server;
  port: number;
  reused: boolean[];
  close(): Promise<void>;
}

async function startResumeServer(pki: TlsTestPki, o: { ticketKeys?: Buffer; sessionTimeout?: number; maxVersion?: "TLSv1.2"; ecdhCurve?: string } = {}): Promise<ResumeServer> {
  const server: Server = createHttpsServer({ cert: pki.leaf.cert, key: pki.leaf.key, ...o });
  const reused: boolean[] = [];
  server.on("secureConnection", (s: TLSSocket) => reused.push(s.isSessionReused()));
  const wss = new WebSocketServer({ server });
  wss.on("connection", (ws) => ws.on("message", (d, bin) => ws.send(d, { binary: bin })));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    server,
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

/** A TCP relay to `port` that keeps the first TLS record each client sends (its ClientHello). */
async function startHelloTap(port: number): Promise<{ port: number; hellos: Buffer[]; close(): Promise<void> }> {
  const hellos: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((c) => {
    const up = net.connect(port, "127.0.0.1");
    sockets.add(c).add(up);
    let head: Buffer | null = Buffer.alloc(0);
    c.on("data", (d: Buffer) => {
      if (head) {
        head = Buffer.concat([head, d]);
        if (head.length >= 5 && head.length >= 5 + head.readUInt16BE(3)) {
          hellos.push(head.subarray(0, 5 + head.readUInt16BE(3)));
          head = null;
        }
      }
      up.write(d);
    });
    up.on("data", (d) => c.write(d));
    const end = (): void => {
      c.destroy();
      up.destroy();
    };
    c.on("close", end).on("error", end);
    up.on("close", end).on("error", end);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    port: (srv.address() as AddressInfo).port,
    hellos,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => srv.close(r));
    },
  };
}

async function echoOnce(session: AsyncSession, url: string, opts: Record<string, unknown> = {}): Promise<void> {
  const ws = await session.wsConnect(url, opts);
  await ws.send("hi");
  assert.equal(String((await ws.recv()).data), "hi");
  await ws.close();
}

const extTypes = (hex: Buffer | string): number[] => parseClientHello(hex).extensions.map((e) => e.type).filter((t) => (t & 0x0f0f) !== 0x0a0a);

describe("TLS 1.3 resumption, masq's engine", { timeout: 60_000 }, () => {
  let pki: TlsTestPki;
  before(() => {
    pki = tlsTestPki();
  });

  for (const impersonate of ["chrome", "firefox"]) {
    it(`${impersonate}: the second and third connects resume (Node's isSessionReused)`, async () => {
      const srv = await startResumeServer(pki);
      const session = new AsyncSession({ ca: pki.root.cert, impersonate });
      try {
        for (let i = 0; i < 3; i++) await echoOnce(session, `wss://localhost:${srv.port}/`);
        assert.deepEqual(srv.reused, [false, true, true]);
      } finally {
        await session.close();
        await srv.close();
      }
    });
  }

  for (const impersonate of ["chrome", "firefox"]) {
    it(`${impersonate}: TLS 1.2 tickets (RFC 5077) resume too, in the session_ticket extension`, async () => {
      const srv = await startResumeServer(pki, { maxVersion: "TLSv1.2" });
      const tap = await startHelloTap(srv.port);
      const session = new AsyncSession({ ca: pki.root.cert, impersonate, http2: false });
      try {
        for (let i = 0; i < 3; i++) await echoOnce(session, `wss://localhost:${tap.port}/`);
        assert.deepEqual(srv.reused, [false, true, true]);
        const ticketExt = (h: Buffer): Buffer | undefined => parseClientHello(h).extensions.find((e) => e.type === 35)?.data;
        assert.equal(ticketExt(tap.hellos[0]!)?.length, 0, "first hello: empty session_ticket");
        assert.ok((ticketExt(tap.hellos[1]!)?.length ?? 0) > 0, "second hello carries the ticket");
        assert.ok(!extTypes(tap.hellos[1]!).includes(41), "no pre_shared_key for a TLS 1.2 session");
      } finally {
        await session.close();
        await tap.close();
        await srv.close();
      }
    });
  }

  it("the resumed Firefox hello has the captured browser's JA4 and extension list", async () => {
    const srv = await startResumeServer(pki);
    const tap = await startHelloTap(srv.port);
    // http2: false gives the http/1.1-only offer of Firefox's retry connection.
    const session = new AsyncSession({ ca: pki.root.cert, impersonate: "firefox", http2: false });
    try {
      await echoOnce(session, `wss://localhost:${tap.port}/`);
      await echoOnce(session, `wss://localhost:${tap.port}/`);
      assert.deepEqual(srv.reused, [false, true]);
      const [full, resumed] = tap.hellos;
      assert.ok(full && resumed);
      assert.ok(!extTypes(full).includes(41), "the first hello offers no PSK");
      assert.equal(extTypes(resumed).at(-1), 41, "pre_shared_key is last");
      assert.deepEqual(extTypes(resumed), extTypes(FIREFOX_RESUMED));
      assert.equal(ja4(parseClientHello(resumed)), "t13d1616h1_86a278354501_e6d2851837fd");
      assert.equal(ja4(parseClientHello(FIREFOX_RESUMED)), "t13d1616h1_86a278354501_e6d2851837fd");
    } finally {
      await session.close();
      await tap.close();
      await srv.close();
    }
  });

  it("the resumed Chrome hello is its full hello plus pre_shared_key, last", async () => {
    const srv = await startResumeServer(pki);
    const tap = await startHelloTap(srv.port);
    const session = new AsyncSession({ ca: pki.root.cert, impersonate: "chrome" });
    try {
      await echoOnce(session, `wss://localhost:${tap.port}/`);
      await echoOnce(session, `wss://localhost:${tap.port}/`);
      assert.deepEqual(srv.reused, [false, true]);
      const [full, resumed] = tap.hellos.map((h) => extTypes(h));
      assert.equal(resumed!.at(-1), 41);
      assert.deepEqual([...resumed!.slice(0, -1)].sort(), [...full!].sort(), "same extensions (permuted), plus pre_shared_key");
    } finally {
      await session.close();
      await tap.close();
      await srv.close();
    }
  });

  it("never offers a ticket to another port, host name or AsyncSession; tlsSessionCache: false offers none", async () => {
    const ticketKeys = randomBytes(48);
    const a = await startResumeServer(pki, { ticketKeys });
    const b = await startResumeServer(pki, { ticketKeys });
    const s1 = new AsyncSession({ ca: pki.root.cert, impersonate: "chrome" });
    const s2 = new AsyncSession({ ca: pki.root.cert, impersonate: "chrome" });
    const off = new AsyncSession({ ca: pki.root.cert, impersonate: "chrome", tlsSessionCache: false });
    try {
      await echoOnce(s1, `wss://localhost:${a.port}/`);
      await echoOnce(s1, `wss://localhost:${b.port}/`); // another port
      await echoOnce(s2, `wss://localhost:${a.port}/`); // another session
      await echoOnce(s1, `wss://127.0.0.1:${a.port}/`); // another host name
      await echoOnce(off, `wss://localhost:${a.port}/`);
      await echoOnce(off, `wss://localhost:${a.port}/`);
      assert.deepEqual(a.reused, [false, false, false, false, false]);
      assert.deepEqual(b.reused, [false]);
      await echoOnce(s1, `wss://localhost:${b.port}/`); // control: these servers accept each other's tickets
      assert.deepEqual(b.reused, [false, true]);
    } finally {
      for (const s of [s1, s2, off]) await s.close();
      await a.close();
      await b.close();
    }
  });

  it("after a HelloRetryRequest the retry hello offers the ticket again (new binder) and resumes", async () => {
    // Chrome sends X25519MLKEM768 and X25519 shares; a P-256-only server asks for a retry.
    const srv = await startResumeServer(pki, { ecdhCurve: "prime256v1" });
    const tap = await startHelloTap(srv.port);
    const session = new AsyncSession({ ca: pki.root.cert, impersonate: "chrome" });
    try {
      await echoOnce(session, `wss://localhost:${tap.port}/`);
      await echoOnce(session, `wss://localhost:${tap.port}/`);
      assert.deepEqual(srv.reused, [false, true]);
      assert.equal(tap.hellos.length, 2, "one ClientHello record per connection seen first");
    } finally {
      await session.close();
      await tap.close();
      await srv.close();
    }
  });

  it("an expired or rejected ticket falls back to a full handshake", async () => {
    const srv = await startResumeServer(pki, { sessionTimeout: 1 }); // tickets live 1 s
    const session = new AsyncSession({ ca: pki.root.cert, impersonate: "chrome" });
    try {
      await echoOnce(session, `wss://localhost:${srv.port}/`);
      await sleep(1200);
      await echoOnce(session, `wss://localhost:${srv.port}/`); // expired: not offered
      srv.server.setTicketKeys(randomBytes(48));
      await echoOnce(session, `wss://localhost:${srv.port}/`); // offered, rejected by the server
      assert.deepEqual(srv.reused, [false, false, false]);
      await echoOnce(session, `wss://localhost:${srv.port}/`);
      assert.deepEqual(srv.reused, [false, false, false, true]);
    } finally {
      await session.close();
      await srv.close();
    }
  });

  it("openssl s_server reports the reuse", { skip: hasBinary("openssl") ? false : "openssl not installed" }, async () => {
    let peer: Peer | undefined;
    const session = new AsyncSession({ ca: pki.root.cert, impersonate: "chrome" });
    try {
      peer = await startPeer("openssl", ["s_server", "-accept", "{port}", "-cert", pki.leaf.certPath, "-key", pki.leaf.keyPath, "-www", "-quiet"]);
      const page = async (): Promise<string> => {
        const err = await session.wsConnect(`wss://localhost:${peer!.port}/`).then(() => assert.fail("s_server -www cannot upgrade"), (e: unknown) => e);
        assert.ok(err instanceof HandshakeError, String(err));
        return Buffer.from(err.body ?? []).toString("latin1");
      };
      assert.match(await page(), /New, TLSv1\.3/);
      assert.match(await page(), /Reused, TLSv1\.3/);
    } finally {
      await session.close();
      await peer?.stop();
    }
  });
});
