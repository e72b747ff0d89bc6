// WebSockets over HTTP/2 through an HTTP CONNECT proxy: Firefox's profile and `http2: true` speak
// h2 inside the tunnel (as Firefox does); a Chromium profile stays on HTTP/1.1 (Chromium tries h2
// WebSockets on direct connections only).
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { AsyncSession } from "../../src/session.js";
import { testCerts } from "../helpers/certs.js";
import { startHttpProxy, type RunningProxy } from "../helpers/proxies.js";
import { pythonH2Available, startPythonH2Server, type PythonH2Server } from "../helpers/h2-python-server.js";
import { startAlpnProxy, type AlpnProxy } from "../helpers/h2-alpn-proxy.js";

const skip = pythonH2Available() ? false : "python3-h2 / python3-websockets not installed (apt-get install python3-h2 python3-websockets)";
let srv: PythonH2Server;
let sniff: AlpnProxy;
let proxy: RunningProxy;
before(async () => {
  if (skip) return;
  srv = await startPythonH2Server();
  sniff = await startAlpnProxy(srv.port);
  proxy = await startHttpProxy();
});
after(async () => {
  await proxy?.stop();
  await sniff?.close();
  await srv?.close();
});

const cases: Array<{ name: string; opts: Record<string, unknown>; alpn: string[]; status: number }> = [
  { name: "impersonate firefox", opts: { impersonate: "firefox" }, alpn: ["h2", "http/1.1"], status: 200 },
  { name: "http2: true (no profile)", opts: { http2: true }, alpn: ["h2", "http/1.1"], status: 200 },
  { name: "impersonate chrome + http2: true", opts: { impersonate: "chrome", http2: true }, alpn: ["http/1.1"], status: 101 },
];

for (const c of cases) {
  test(`through an HTTP proxy, ${c.name}: ALPN ${c.alpn.join(", ")}, WebSocket answered ${c.status}`, { skip }, async () => {
    const before = sniff.offers.length;
    await using s = new AsyncSession({ ca: testCerts().ca.cert, proxy: proxy.url, timeout: 10_000, ...c.opts });
    const ws = await s.wsConnect(`wss://127.0.0.1:${sniff.port}/echo`);
    assert.deepEqual(sniff.offers.slice(before), [c.alpn]);
    assert.equal(ws.response.status, c.status);
    await ws.sendStr("via proxy");
    assert.equal(await ws.recvStr({ timeout: 5000 }), "via proxy");
    await ws.close();
  });
}
