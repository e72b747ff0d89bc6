/**
 * masq through Debian's nginx as a WebSocket reverse proxy (issue 4), plain and TLS-terminating,
 * in front of the npm `ws` server: messages of every kind, both close handshakes, subprotocols,
 * headers, a redirect issued by nginx, and nginx's own refusal (502) as a HandshakeError.
 * Skipped with a message when nginx is not installed.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import net from "node:net";
import { WebSocketServer } from "ws";
import {
  AsyncSession,
  HandshakeError,
  WebSocketClosed,
  WsFlag,
  type AsyncWebSocket,
} from "../../src/index.js";
import { testCerts } from "../helpers/certs.js";
import { nginxBinary, startNginx, type RunningNginx } from "../helpers/nginx.js";
import { startWsServer, type TestWsServer } from "../helpers/ws-server.js";

const skip = nginxBinary() ? false : "nginx is not installed (Debian package nginx): skipping the reverse-proxy tests";
if (skip) console.log(`# ${skip}`);

let upstream: TestWsServer;
let deflateServer: { port: number; close(): Promise<void> } | undefined;
let deadPort: number;
const fronts: Record<"plain" | "tls", RunningNginx | undefined> = { plain: undefined, tls: undefined };

before(async () => {
  if (skip) return;
  upstream = await startWsServer();
  deflateServer = await startDeflateEcho();
  // A port with nothing behind it, for nginx's 502.
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  deadPort = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const opts = {
    upstreams: {
      "/": `http://127.0.0.1:${upstream.port}`,
      "/down/": `http://127.0.0.1:${deadPort}`,
      "/deflate/": `http://127.0.0.1:${deflateServer.port}`,
    },
    serverExtra: ["location = /moved { return 301 /echo; }", "location = /forbidden { return 403 'no sockets here'; }"],
  };
  fronts.plain = await startNginx(opts);
  fronts.tls = await startNginx({ ...opts, tls: true });
});

after(async () => {
  await Promise.allSettled([fronts.plain?.stop(), fronts.tls?.stop(), upstream?.close(), deflateServer?.close()]);
});

/** An npm `ws` echo server with permessage-deflate on (every message compressed). */
async function startDeflateEcho(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: { threshold: 0 }, maxPayload: 8 << 20 });
  wss.on("connection", (ws) => {
    ws.on("error", () => {});
    ws.on("message", (d, isBinary) => ws.send(d, { binary: isBinary }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function closeQuietly(ws: AsyncWebSocket | undefined): Promise<void> {
  if (!ws) return;
  try {
    await ws.close(1000, "", { timeout: 2000 });
  } catch {
    ws.terminate();
  }
}

const BIG = randomBytes(1 << 20);

for (const mode of ["plain", "tls"] as const) {
  const front = (): RunningNginx => fronts[mode]!;
  const session = (): AsyncSession => new AsyncSession({ ca: testCerts().ca.cert, timeout: 15_000 });

  test(`${mode}: text, binary, empty and 1 MiB messages echo through nginx; client close handshake`, { skip }, async () => {
    const s = session();
    try {
      const before = upstream.connections.length;
      const ws = await s.wsConnect(`${front().url}/echo`);
      assert.equal(ws.response.status, 101);
      assert.equal(ws.response.url, `${front().url}/echo`);
      assert.match(ws.response.headers.server ?? "", /nginx/i, "the 101 came through nginx");
      const rec = await upstream.connection(before);
      await ws.sendStr("héllo nginx");
      assert.equal(await ws.recvStr({ timeout: 5000 }), "héllo nginx");
      await ws.sendBytes(Buffer.from([0, 1, 2, 255]));
      const bin = await ws.recv({ timeout: 5000 });
      assert.equal(bin.flags & WsFlag.BINARY, WsFlag.BINARY);
      assert.deepEqual([...bin.data], [0, 1, 2, 255]);
      await ws.sendStr("");
      assert.equal(await ws.recvStr({ timeout: 5000 }), "");
      await ws.sendBytes(BIG);
      const got = await ws.recvBytes({ timeout: 20_000 });
      assert.ok(got.equals(BIG), "1 MiB intact");
      // several messages in a row keep their order
      for (let i = 0; i < 50; i++) await ws.sendStr(`m${i}`);
      for (let i = 0; i < 50; i++) assert.equal(await ws.recvStr({ timeout: 5000 }), `m${i}`);
      await ws.close(4000, "done here", { timeout: 5000 });
      assert.equal(ws.closeCode, 4000);
      const closed = await rec.closed;
      assert.deepEqual(closed, { code: 4000, reason: "done here" }, "the upstream saw our close frame");
    } finally {
      await s.close();
    }
  });

  test(`${mode}: server-initiated close passes through nginx with its code and reason`, { skip }, async () => {
    const s = session();
    try {
      const ws = await s.wsConnect(`${front().url}/close?code=4001&reason=bye%20now`);
      await assert.rejects(
        (async () => {
          for (let i = 0; i < 10; i++) await ws.recv({ timeout: 5000 });
        })(),
        (err: unknown) => {
          assert.ok(err instanceof WebSocketClosed, String(err));
          assert.equal(err.code, 4001);
          assert.equal(err.reason, "bye now");
          return true;
        },
      );
      assert.equal(ws.closeCode, 4001);
    } finally {
      await s.close();
    }
  });

  test(`${mode}: many messages from the server, subprotocol, headers and params reach the upstream`, { skip }, async () => {
    const s = session();
    try {
      const ws = await s.wsConnect(`${front().url}/headers`, {
        protocols: ["chat.v1", "chat.v0"],
        headers: { "X-Through": "nginx" },
        params: { q: "a b" },
      });
      assert.equal(ws.protocol, "chat.v1");
      const info = JSON.parse(await ws.recvStr({ timeout: 5000 })) as { url: string; headers: Record<string, string> };
      assert.equal(info.url, "/headers?q=a+b");
      assert.equal(info.headers["x-through"], "nginx");
      assert.equal(info.headers["sec-websocket-protocol"], "chat.v1, chat.v0");
      assert.equal(info.headers.upgrade?.toLowerCase(), "websocket");
      await closeQuietly(ws);
      const ws2 = await s.wsConnect(`${front().url}/send?count=200&size=3000&type=binary&close=1000`);
      let n = 0;
      for await (const msg of ws2) {
        assert.equal(msg.length, 3000);
        n++;
        if (n > 500) break;
      }
      assert.equal(n, 200);
    } finally {
      await s.close();
    }
  });

  test(`${mode}: permessage-deflate negotiated end to end through nginx (compressible and random 1 MiB)`, { skip }, async () => {
    const s = session();
    try {
      const ws = await s.wsConnect(`${front().url}/deflate/`, { compress: true });
      assert.match(ws.extensions, /^permessage-deflate/);
      const text = "nginx passes compressed frames through untouched. ".repeat(20_000);
      await ws.sendStr(text);
      assert.equal(await ws.recvStr({ timeout: 10_000 }), text);
      await ws.sendBytes(BIG);
      assert.ok((await ws.recvBytes({ timeout: 20_000 })).equals(BIG));
      await ws.sendStr("small");
      assert.equal(await ws.recvStr({ timeout: 5000 }), "small");
      await ws.close(1000, "", { timeout: 5000 });
    } finally {
      await s.close();
    }
  });

  test(`${mode}: a redirect issued by nginx is followed`, { skip }, async () => {
    const s = session();
    try {
      const ws = await s.wsConnect(`${front().url}/moved`);
      assert.equal(ws.response.url, `${front().url}/echo`);
      await ws.sendStr("after redirect");
      assert.equal(await ws.recvStr({ timeout: 5000 }), "after redirect");
      await closeQuietly(ws);
    } finally {
      await s.close();
    }
  });

  test(`${mode}: nginx's own refusals are HandshakeErrors (502 upstream down, 403 with body)`, { skip }, async () => {
    const s = session();
    try {
      await assert.rejects(s.wsConnect(`${front().url}/down/x`), (err: unknown) => {
        assert.ok(err instanceof HandshakeError, String(err));
        assert.equal(err.status, 502);
        assert.match(err.headers.server ?? "", /nginx/i);
        assert.match(err.body.toString(), /502 Bad Gateway/);
        return true;
      });
      await assert.rejects(s.wsConnect(`${front().url}/forbidden`), (err: unknown) => {
        assert.ok(err instanceof HandshakeError, String(err));
        assert.equal(err.status, 403);
        assert.equal(err.body.toString(), "no sockets here");
        return true;
      });
    } finally {
      await s.close();
    }
  });
}

test("tls: without the CA, nginx's certificate is rejected", { skip }, async () => {
  const s = new AsyncSession({ timeout: 15_000 });
  try {
    await assert.rejects(s.wsConnect(`${fronts.tls!.url}/echo`), (err: unknown) => (err as Error).name === "TlsError");
  } finally {
    await s.close();
  }
});

test("nginx stopping under an open connection ends it with an error, not a hang", { skip }, async () => {
  const own = await startNginx({ upstreams: { "/": `http://127.0.0.1:${upstream.port}` } });
  const s = new AsyncSession({ timeout: 15_000 });
  try {
    const ws = await s.wsConnect(`${own.url}/echo`);
    await ws.sendStr("x");
    assert.equal(await ws.recvStr({ timeout: 5000 }), "x");
    await own.stop();
    await assert.rejects(ws.recv({ timeout: 10_000 }), (err: unknown) => {
      assert.ok(err instanceof WebSocketClosed || (err as Error).name === "WebSocketError", String(err));
      assert.notEqual((err as Error).name, "WebSocketTimeout");
      return true;
    });
  } finally {
    await s.close();
    await own.stop();
  }
});

test("tls: masq's TLS engine and browser impersonation against nginx's TLS (echo 1 MiB, deflate as the profile offers)", { skip }, async () => {
  for (const extra of [{ tls: "masq" as const }, { impersonate: "chrome" }, { impersonate: "firefox" }]) {
    const s = new AsyncSession({ ca: testCerts().ca.cert, timeout: 15_000, ...extra });
    try {
      const ws = await s.wsConnect(`${fronts.tls!.url}/deflate/`);
      await ws.sendBytes(BIG);
      assert.ok((await ws.recvBytes({ timeout: 20_000 })).equals(BIG), JSON.stringify(extra));
      await ws.sendStr("via nginx");
      assert.equal(await ws.recvStr({ timeout: 5000 }), "via nginx");
      await ws.close(1000, "", { timeout: 5000 });
    } finally {
      await s.close();
    }
  }
});

test("tls: an nginx limited to TLS 1.2 works with Node's engine; masq's engine works or fails clearly (it speaks TLS 1.3 only today)", { skip }, async () => {
  const own = await startNginx({ upstreams: { "/": `http://127.0.0.1:${upstream.port}` }, tls: true, tlsProtocols: "TLSv1.2" });
  try {
    const native = new AsyncSession({ ca: testCerts().ca.cert, timeout: 15_000 });
    try {
      const ws = await native.wsConnect(`${own.url}/echo`);
      await ws.sendStr("tls12");
      assert.equal(await ws.recvStr({ timeout: 5000 }), "tls12");
      await ws.close();
    } finally {
      await native.close();
    }
    const masq = new AsyncSession({ ca: testCerts().ca.cert, timeout: 15_000, impersonate: "chrome" });
    try {
      // Either masq's engine speaks TLS 1.2 by now (then it must work), or it says so clearly.
      const outcome = await masq.wsConnect(`${own.url}/echo`).then(
        (ws) => ws,
        (err: unknown) => err as Error,
      );
      if (outcome instanceof Error) {
        assert.equal(outcome.name, "TlsError", String(outcome));
        assert.match(outcome.message, /TLS 1\.2/);
      } else {
        await outcome.sendStr("tls12");
        assert.equal(await outcome.recvStr({ timeout: 5000 }), "tls12");
        await outcome.close();
      }
    } finally {
      await masq.close();
    }
  } finally {
    await own.stop();
  }
});

test("through a SOCKS5h proxy to nginx's TLS front (name resolved by the proxy, SNI localhost)", { skip }, async () => {
  const { startNodeSocks } = await import("../helpers/proxies.js");
  const socks = await startNodeSocks();
  const s = new AsyncSession({ ca: testCerts().ca.cert, timeout: 15_000, proxy: socks.urlWith(null, "socks5h") });
  try {
    const ws = await s.wsConnect(`wss://localhost:${fronts.tls!.port}/echo`);
    assert.equal(socks.requests!.at(-1), `localhost:${fronts.tls!.port}`);
    await ws.sendBytes(BIG);
    assert.ok((await ws.recvBytes({ timeout: 20_000 })).equals(BIG));
    await ws.close(1000, "", { timeout: 5000 });
  } finally {
    await s.close();
    await socks.stop();
  }
});
