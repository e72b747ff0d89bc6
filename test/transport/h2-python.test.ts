// WebSockets over HTTP/2 (RFC 8441) against a server neither masq nor Node wrote: Debian's
// python3-h2 for HTTP/2 and python3-websockets' sans-I/O connection for the WebSocket.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { AsyncSession } from "../../src/session.js";
import { WebSocketClosed, WebSocketError } from "../../src/errors.js";
import { WsFlag } from "../../src/websocket/flags.js";
import { testCerts } from "../helpers/certs.js";
import { pythonH2Available, startPythonH2Server, type PythonH2Server } from "../helpers/h2-python-server.js";
import { startAlpnProxy } from "../helpers/h2-alpn-proxy.js";

const MIB = 1024 * 1024;
const skip = pythonH2Available() ? false : "python3-h2 / python3-websockets not installed (apt-get install python3-h2 python3-websockets)";
let srv: PythonH2Server;
const cleanups: Array<() => Promise<void>> = [];
before(async () => {
  if (!skip) srv = await startPythonH2Server();
});
after(async () => {
  for (const c of cleanups) await c();
  await srv?.close();
});

function session(extra: ConstructorParameters<typeof AsyncSession>[0] = {}): AsyncSession {
  return new AsyncSession({ ca: testCerts().ca.cert, http2: true, timeout: 10_000, maxMessageSize: 32 * MIB, ...extra });
}

function payload(size: number): Buffer {
  const unit = randomBytes(Math.min(size, 64 * 1024));
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += unit.length) unit.copy(out, i);
  return out;
}

for (const compress of [false, true]) {
  test(`python3-h2: echo 16 B, 1 MiB and 20 MiB both ways (compress: ${compress})`, { skip }, async () => {
    await using s = session({ compress });
    const ws = await s.wsConnect(`${srv.url}/echo`);
    assert.equal(ws.response.status, 200);
    assert.equal(ws.extensions.includes("permessage-deflate"), compress);
    for (const size of [16, MIB, 20 * MIB]) {
      const msg = payload(size);
      await ws.send(msg);
      const back = await ws.recv({ timeout: 60_000 });
      assert.ok(Buffer.from(back.data).equals(msg), `${size} B echoed intact`);
    }
    await ws.sendStr("text stays text");
    const t = await ws.recv({ timeout: 5000 });
    assert.ok(t.flags & WsFlag.TEXT);
    await ws.close();
  });
}

test("python3-h2: 100 concurrent WebSockets on one connection, none lost or reordered", { skip }, async () => {
  const proxy = await startAlpnProxy(srv.port);
  cleanups.push(() => proxy.close());
  await using s = session();
  const conns = await Promise.all(Array.from({ length: 100 }, (_, i) => s.wsConnect(`wss://127.0.0.1:${proxy.port}/echo?i=${i}`)));
  assert.equal(proxy.offers.length, 1, "one TLS connection");
  await Promise.all(
    conns.map(async (ws, i) => {
      for (let k = 0; k < 20; k++) await ws.sendStr(`${i}:${k}`);
      for (let k = 0; k < 20; k++) assert.equal(await ws.recvStr({ timeout: 10_000 }), `${i}:${k}`);
    }),
  );
  await Promise.all(conns.map((ws) => ws.close()));
});

test("python3-h2: close from either side", { skip }, async () => {
  await using s = session();
  const a = await s.wsConnect(`${srv.url}/echo`);
  await a.close(1000);
  assert.equal(a.closeCode, 1000);
  const b = await s.wsConnect(`${srv.url}/close?code=4002`);
  const item = await b.recv({ timeout: 5000 });
  assert.ok(item.flags & WsFlag.CLOSE);
  await assert.rejects(b.recv({ timeout: 5000 }), (e: unknown) => e instanceof WebSocketClosed && e.code === 4002);
});

test("python3-h2: RST_STREAM(CANCEL) and GOAWAY(INTERNAL_ERROR) mid-message", { skip }, async () => {
  await using s = session();
  const a = await s.wsConnect(`${srv.url}/rst-mid`);
  await assert.rejects(a.recv({ timeout: 5000 }), (e: unknown) => e instanceof WebSocketError && /RST_STREAM CANCEL/.test(e.message));
  const b = await s.wsConnect(`${srv.url}/goaway-mid`);
  await assert.rejects(b.recv({ timeout: 5000 }), (e: unknown) => e instanceof WebSocketError && /GOAWAY INTERNAL_ERROR \(0x2\) \(test goaway\)/.test(e.message));
});

test("python3-h2 without ENABLE_CONNECT_PROTOCOL: http/1.1-only reconnect, websockets' own upgrade", { skip }, async () => {
  const plain = await startPythonH2Server({ extendedConnect: false });
  cleanups.push(() => plain.close());
  const proxy = await startAlpnProxy(plain.port);
  cleanups.push(() => proxy.close());
  await using s = session();
  const ws = await s.wsConnect(`wss://127.0.0.1:${proxy.port}/echo`);
  assert.deepEqual(proxy.offers, [["h2", "http/1.1"], ["http/1.1"]]);
  assert.equal(ws.response.status, 101);
  await ws.sendStr("hi");
  assert.equal(await ws.recvStr({ timeout: 5000 }), "hi");
  await ws.close();
});

test("python3-h2: impersonate firefox (masq's TLS, Firefox's windows and acknowledgement steps): 20 MiB both ways", { skip }, async () => {
  await using s = new AsyncSession({ ca: testCerts().ca.cert, impersonate: "firefox", timeout: 10_000, maxMessageSize: 32 * MIB });
  const ws = await s.wsConnect(`${srv.url}/echo`);
  assert.equal(ws.response.status, 200);
  const msg = payload(20 * MIB);
  await ws.send(msg);
  const back = await ws.recv({ timeout: 60_000 });
  assert.ok(Buffer.from(back.data).equals(msg));
  await ws.close();
});
