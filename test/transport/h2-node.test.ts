// WebSockets over HTTP/2 (RFC 8441) against Node's http2 server handing each stream to the ws
// library: message sizes both ways with and without permessage-deflate, 100 WebSockets on one
// connection, closes from either side, GOAWAY / RST_STREAM mid-message, a server that never sends
// SETTINGS, windows that stay at zero, and Firefox's fallback to HTTP/1.1.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { randomBytes } from "node:crypto";
import { AsyncSession } from "../../src/session.js";
import { WsFlag } from "../../src/websocket/flags.js";
import { WebSocketClosed, WebSocketError, WebSocketTimeout } from "../../src/errors.js";
import { testCerts } from "../helpers/certs.js";
import { startNodeH2Server, type NodeH2Server } from "../helpers/h2-node-server.js";
import { startAlpnProxy } from "../helpers/h2-alpn-proxy.js";

const MIB = 1024 * 1024;
const servers: Array<{ close(): Promise<void> }> = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function server(opts?: Parameters<typeof startNodeH2Server>[0]): Promise<NodeH2Server> {
  const s = await startNodeH2Server(opts);
  servers.push(s);
  return s;
}

function session(extra: ConstructorParameters<typeof AsyncSession>[0] = {}): AsyncSession {
  return new AsyncSession({ ca: testCerts().ca.cert, http2: true, timeout: 10_000, maxMessageSize: 32 * MIB, ...extra });
}

/** Compressible but not trivial: 64 KiB of random bytes repeated. */
function payload(size: number): Buffer {
  const unit = randomBytes(Math.min(size, 64 * 1024));
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += unit.length) unit.copy(out, i);
  return out;
}

for (const compress of [false, true]) {
  test(`echo 16 B, 1 MiB and 20 MiB both ways over one h2 stream (compress: ${compress})`, async () => {
    const srv = await server();
    await using s = session({ compress });
    const ws = await s.wsConnect(`${srv.url}/echo`);
    assert.equal(srv.requests.at(-1)?.proto, "h2");
    assert.equal(ws.extensions.includes("permessage-deflate"), compress);
    for (const size of [16, MIB, 20 * MIB]) {
      const msg = payload(size);
      await ws.send(msg);
      const back = await ws.recv({ timeout: 30_000 });
      assert.equal(back.data.length, size);
      assert.ok(Buffer.from(back.data).equals(msg), `${size} B echoed intact`);
    }
    await ws.close();
  });
}

test("100 concurrent WebSockets share one h2 connection; no message lost or reordered", async () => {
  const srv = await server();
  await using s = session();
  const conns = await Promise.all(Array.from({ length: 100 }, (_, i) => s.wsConnect(`${srv.url}/echo?i=${i}`)));
  assert.equal(srv.connections.length, 1, "one TLS connection");
  assert.equal(srv.requests.filter((r) => r.proto === "h2").length, 100);
  await Promise.all(
    conns.map(async (ws, i) => {
      for (let k = 0; k < 20; k++) await ws.sendStr(`${i}:${k}`);
      for (let k = 0; k < 20; k++) assert.equal(await ws.recvStr({ timeout: 10_000 }), `${i}:${k}`);
    }),
  );
  await Promise.all(conns.map((ws) => ws.close()));
});

test("close from the client (END_STREAM after the close handshake) and from the server", async () => {
  const srv = await server();
  await using s = session();
  const a = await s.wsConnect(`${srv.url}/echo`);
  const serverSide = srv.sockets.at(-1)!;
  const closed = new Promise<number>((r) => serverSide.once("close", (code: number) => r(code)));
  await a.close(1000, "done");
  assert.equal(await closed, 1000);
  const b = await s.wsConnect(`${srv.url}/close?code=4001`);
  // The peer's close frame is delivered as a CLOSE item (curl_cffi's model), then recv rejects.
  const item = await b.recv({ timeout: 5000 });
  assert.ok(item.flags & WsFlag.CLOSE);
  await assert.rejects(b.recv({ timeout: 5000 }), (e: unknown) => e instanceof WebSocketClosed && e.code === 4001);
  assert.equal(b.closeCode, 4001);
});

test("RFC 8441 §5 on the wire: close() ends the stream with END_STREAM, terminate() resets it with CANCEL", async () => {
  const srv = await server();
  await using s = session();
  const a = await s.wsConnect(`${srv.url}/echo?a`);
  await a.close();
  assert.equal((await srv.streams.at(-1)!.ended).rstCode, 0, "orderly: no RST_STREAM");
  const b = await s.wsConnect(`${srv.url}/echo?b`);
  b.terminate();
  assert.equal((await srv.streams.at(-1)!.ended).rstCode, 8, "abort: RST_STREAM(CANCEL)");
});

test("RST_STREAM and GOAWAY in the middle of a message are typed errors naming them", async () => {
  const srv = await server();
  await using s = session();
  const a = await s.wsConnect(`${srv.url}/rst-mid`);
  await assert.rejects(a.recv({ timeout: 5000 }), (e: unknown) => e instanceof WebSocketError && /reset the WebSocket's HTTP\/2 stream \(RST_STREAM/.test(e.message));
  const b = await s.wsConnect(`${srv.url}/goaway-mid`);
  await assert.rejects(b.recv({ timeout: 5000 }), (e: unknown) => e instanceof WebSocketError && /GOAWAY INTERNAL_ERROR/.test(e.message));
});

test("cookies: Set-Cookie on the 200 goes to the jar and the next CONNECT carries it", async () => {
  const srv = await server();
  await using s = session();
  const a = await s.wsConnect(`${srv.url}/cookie`);
  assert.equal(s.cookies.get("h2c"), "yes");
  const b = await s.wsConnect(`${srv.url}/echo`);
  assert.equal(srv.requests.at(-1)?.headers["cookie"], "h2c=yes");
  await a.close();
  await b.close();
});

test("a redirect answering the extended CONNECT is followed, on the same h2 connection", async () => {
  const srv = await server();
  await using s = session();
  const ws = await s.wsConnect(`${srv.url}/redirect`);
  assert.equal(new URL(ws.response.url).search, "?redirected=1");
  assert.equal(srv.connections.length, 1);
  await ws.sendStr("after redirect");
  assert.equal(await ws.recvStr({ timeout: 5000 }), "after redirect");
  await ws.close();
});

test("a refused extended CONNECT is a HandshakeError with the status", async () => {
  const srv = await server();
  await using s = session();
  await assert.rejects(s.wsConnect(`${srv.url}/reject`), (e: unknown) => e instanceof WebSocketError && (e as { status?: number }).status === 403);
});

test("a server that picks h2 and never sends SETTINGS: the connect timeout applies and names the wait", async () => {
  const c = testCerts();
  const sockets = new Set<TLSSocket>();
  const silent = createTlsServer({ cert: c.leaf.cert, key: c.leaf.key, ALPNProtocols: ["h2"] }, (sock) => {
    sockets.add(sock);
    sock.on("error", () => {});
  });
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  servers.push({ close: async () => { for (const k of sockets) k.destroy(); await new Promise<void>((r) => silent.close(() => r())); } });
  const port = (silent.address() as { port: number }).port;
  await using s = session({ timeout: 500 });
  const t0 = Date.now();
  await assert.rejects(s.wsConnect(`wss://127.0.0.1:${port}/`), (e: unknown) => e instanceof WebSocketTimeout && /SETTINGS/.test(e.message));
  assert.ok(Date.now() - t0 < 5000);
});

test("windows that stay at zero: sends wait (send timeout) with bounded queues, nothing is lost locally", async () => {
  const srv = await server({ settings: { initialWindowSize: 0 } });
  await using s = session({ sendQueueSize: 8 });
  const ws = await s.wsConnect(`${srv.url}/stall`);
  const msg = Buffer.alloc(256 * 1024, 1);
  let accepted = 0;
  const rss0 = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < 200; i++) {
    try {
      await ws.send(msg, 0, { timeout: 200 });
      accepted++;
    } catch (e) {
      assert.ok(e instanceof WebSocketTimeout, String(e));
      break;
    }
  }
  // Bounded by the WebSocket layer's own limits, as over TCP: the send queue (8) plus what its
  // writer hands the socket (a 4 MiB budget) plus the stream's 64 KiB buffer.
  assert.ok(accepted >= 1 && accepted * msg.length <= 8 * msg.length + 4 * MIB + 2 * msg.length, `accepted ${accepted} messages before blocking`);
  const grown = process.memoryUsage().arrayBuffers - rss0;
  assert.ok(grown < 16 * MIB, `buffers grew by ${grown} bytes`);
  ws.terminate();
});

test("session sharing: a second WebSocket to the origin is a new stream; idle timeout and session.close() close the connection", async () => {
  const srv = await server();
  const s = session({ http2IdleTimeout: 300 });
  const a = await s.wsConnect(`${srv.url}/echo`);
  const b = await s.wsConnect(`${srv.url}/echo`);
  assert.equal(srv.connections.length, 1);
  await a.close();
  await b.close();
  for (let i = 0; i < 100 && srv.openSessions() > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(srv.openSessions(), 0, "idle connection closed after the timeout");
  const c = await s.wsConnect(`${srv.url}/echo`);
  assert.equal(srv.connections.length, 2, "a new connection after the idle close");
  await c.close();
  await s.close();
  for (let i = 0; i < 100 && srv.openSessions() > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(srv.openSessions(), 0, "session.close() closed the idle h2 connection at once");
});

test("h2 without ENABLE_CONNECT_PROTOCOL: reconnect with an http/1.1-only hello and upgrade there", async () => {
  const srv = await server({ extendedConnect: false, http1: true });
  const proxy = await startAlpnProxy(srv.port);
  servers.push(proxy);
  await using s = session();
  const ws = await s.wsConnect(`wss://127.0.0.1:${proxy.port}/echo`);
  assert.deepEqual(proxy.offers, [["h2", "http/1.1"], ["http/1.1"]]);
  assert.deepEqual(srv.connections, ["h2", "http/1.1"]);
  assert.equal(srv.requests.at(-1)?.proto, "http/1.1");
  await ws.sendStr("over 1.1");
  assert.equal(await ws.recvStr({ timeout: 5000 }), "over 1.1");
  await ws.close();
});

test("default (no http2 option, no profile) offers http/1.1 only", async () => {
  const srv = await server({ http1: true });
  const proxy = await startAlpnProxy(srv.port);
  servers.push(proxy);
  await using s = new AsyncSession({ ca: testCerts().ca.cert, timeout: 10_000 });
  const ws = await s.wsConnect(`wss://127.0.0.1:${proxy.port}/echo`);
  assert.deepEqual(proxy.offers, [["http/1.1"]]);
  await ws.close();
});
