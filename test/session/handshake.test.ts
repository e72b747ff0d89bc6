/**
 * The opening handshake as a session user sees it (issue 4): refused upgrades as HandshakeError
 * (status, headers in order and case, at most 64 KiB of body), subprotocol negotiation
 * (RFC 6455 §4.1 client requirement 6: a protocol we did not offer fails the connection),
 * `ws.response`, request options reaching the server, header injection refused before anything
 * is written, `timeout` and `signal`.
 *
 * Peers: the scripted raw server (test/helpers/raw-server.ts), the npm `ws` server
 * (test/helpers/ws-server.ts) and plain node:net servers.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import {
  AsyncSession,
  HandshakeError,
  WebSocketError,
  WebSocketTimeout,
  type AsyncWebSocket,
} from "../../src/index.js";
import { acceptKey, startRawServer, type RawConn, type RawServer } from "../helpers/raw-server.js";
import { startWsServer, type TestWsServer } from "../helpers/ws-server.js";

const closers: Array<() => Promise<void>> = [];
after(async () => {
  await Promise.allSettled(closers.map((c) => c()));
});

async function raw(handler: (c: RawConn) => void | Promise<void>, upgrade = false, extraHeaders: string[] = []): Promise<RawServer> {
  const s = await startRawServer(handler, { upgrade, extraHeaders });
  closers.push(() => s.close());
  return s;
}

let shared: TestWsServer | undefined;
async function wsPeer(): Promise<TestWsServer> {
  if (!shared) {
    shared = await startWsServer();
    const s = shared;
    closers.push(() => s.close());
  }
  return shared;
}

/** A TCP server that accepts, counts the bytes it receives and never answers. */
async function silentServer(): Promise<{ url: string; bytes: () => number; accepted: () => number; closedCount: () => number }> {
  let bytes = 0;
  let accepted = 0;
  let closed = 0;
  const socks = new Set<net.Socket>();
  const server = net.createServer((s) => {
    accepted++;
    socks.add(s);
    s.on("error", () => {});
    s.on("data", (d) => (bytes += d.length));
    s.on("close", () => {
      closed++;
      socks.delete(s);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  closers.push(async () => {
    for (const s of socks) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return {
    url: `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    bytes: () => bytes,
    accepted: () => accepted,
    closedCount: () => closed,
  };
}

async function closeQuietly(ws: AsyncWebSocket | undefined): Promise<void> {
  if (!ws) return;
  try {
    await ws.close(1000, "", { timeout: 1000 });
  } catch {
    ws.terminate();
  }
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function refusal(url: string, opts = {}): Promise<HandshakeError> {
  const s = new AsyncSession();
  try {
    await s.wsConnect(url, opts);
  } catch (err) {
    assert.ok(err instanceof HandshakeError, `expected a HandshakeError, got ${String(err)}`);
    assert.ok(err instanceof WebSocketError);
    assert.equal(err.code, 1006);
    return err;
  } finally {
    await s.close();
  }
  assert.fail("the connection should have been refused");
}

// ------------------------------------------------------------------ refused upgrades

test("403 with a body: status, raw headers in order and case, lookup, body", async () => {
  const body = "forbidden: your token expired\n";
  const srv = await raw((c) =>
    c.write(
      "HTTP/1.1 403 Forbidden\r\n" +
        "X-Zeta: z\r\n" +
        "content-TYPE: text/plain\r\n" +
        "Set-Cookie: a=1\r\n" +
        "x-alpha: first\r\n" +
        "Set-Cookie: b=2\r\n" +
        "X-Alpha: second\r\n" +
        `Content-Length: ${body.length}\r\n` +
        "\r\n" +
        body,
    ),
  );
  const err = await refusal(`${srv.url}/x`);
  assert.equal(err.status, 403);
  assert.deepEqual(err.rawHeaders, [
    "X-Zeta", "z",
    "content-TYPE", "text/plain",
    "Set-Cookie", "a=1",
    "x-alpha", "first",
    "Set-Cookie", "b=2",
    "X-Alpha", "second",
    "Content-Length", String(body.length),
  ]);
  assert.equal(err.headers["content-type"], "text/plain");
  assert.equal(err.headers["x-alpha"], "first, second");
  assert.equal(err.headers["set-cookie"], "a=1\nb=2");
  assert.equal(err.body.toString(), body);
  assert.match(err.message, /403/);
});

test("401 with WWW-Authenticate and an empty body, connection kept open: fails at once", async () => {
  const srv = await raw((c) =>
    c.write(
      'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="masq"\r\nWWW-Authenticate: Bearer\r\nContent-Length: 0\r\n\r\n',
    ),
  );
  const err = await refusal(srv.url);
  assert.equal(err.status, 401);
  assert.deepEqual(err.rawHeaders, ["WWW-Authenticate", 'Basic realm="masq"', "WWW-Authenticate", "Bearer", "Content-Length", "0"]);
  assert.equal(err.headers["www-authenticate"], 'Basic realm="masq", Bearer');
  assert.equal(err.body.length, 0);
  const conn = await srv.connection(0);
  await conn.closed; // the client drops the connection (bounded by the test timeout)
});

test("500 without Content-Length, body until the server closes (several writes)", async () => {
  const srv = await raw(async (c) => {
    await c.write("HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\npart one, ");
    await new Promise((r) => setTimeout(r, 30));
    await c.write("part two");
    c.socket.end();
  });
  const err = await refusal(srv.url);
  assert.equal(err.status, 500);
  assert.equal(err.body.toString(), "part one, part two");
});

test("a page and the server's close right behind the head (as openssl s_server -www does): the body is kept", async () => {
  for (let i = 0; i < 20; i++) {
    const srv = await raw((c) => {
      // One write and the FIN at once: head, body and close usually arrive before the client's
      // continuation reads on, which once turned the refusal into "closed right after the upgrade".
      c.socket.end("HTTP/1.0 200 ok\r\nContent-type: text/html\r\n\r\n<pre>TLSv1.2 page</pre>\r\n");
    });
    const err = await refusal(srv.url);
    assert.equal(err.status, 200, `round ${i}`);
    assert.equal(err.body.toString(), "<pre>TLSv1.2 page</pre>\r\n", `round ${i}`);
  }
});

test("200 with a 1 MiB body (Content-Length): at most 64 KiB of it is kept", async () => {
  const big = Buffer.alloc(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = 0x41 + (i % 26);
  const srv = await raw(async (c) => {
    await c.write(`HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: ${big.length}\r\n\r\n`);
    await c.write(big);
  });
  const err = await refusal(srv.url);
  assert.equal(err.status, 200);
  assert.equal(err.body.length, 64 * 1024);
  assert.ok(err.body.equals(big.subarray(0, 64 * 1024)));
});

test("200 streaming without Content-Length and never closing: 64 KiB kept, no hang", async () => {
  const srv = await raw(async (c) => {
    await c.write("HTTP/1.1 200 OK\r\n\r\n");
    // Keep writing (bounded) until the client goes away.
    for (let i = 0; i < 200 && !c.socket.destroyed && !c.clientEnded; i++) {
      await c.write(Buffer.alloc(16 * 1024, 0x62));
    }
  });
  const err = await refusal(srv.url);
  assert.equal(err.status, 200);
  assert.equal(err.body.length, 64 * 1024);
});

test("a body shorter than its Content-Length on a connection left open: the error still comes, with what arrived", async () => {
  const srv = await raw((c) => c.write("HTTP/1.1 404 Not Found\r\nContent-Length: 1000\r\n\r\nshort"));
  const started = Date.now();
  const err = await refusal(srv.url);
  assert.equal(err.status, 404);
  assert.equal(err.body.toString(), "short");
  assert.ok(Date.now() - started < 15_000);
});

test("the ws server's /reject answer is surfaced as a HandshakeError", async () => {
  const peer = await wsPeer();
  const err = await refusal(`${peer.url}/reject?status=451`);
  assert.equal(err.status, 451);
  assert.equal(err.headers["x-reject"], "yes");
  assert.equal(err.body.toString(), "nope");
});

test("a response that is not HTTP at all is a HandshakeError with status 0", async () => {
  const srv = await raw((c) => c.write("SSH-2.0-OpenSSH_9.6\r\n\r\n"));
  const err = await refusal(srv.url);
  assert.equal(err.status, 0);
});

// ------------------------------------------------------------------ subprotocols

test("subprotocols: the offered list is sent in order; ws.protocol is the server's choice", async () => {
  const peer = await wsPeer(); // picks the first offered protocol
  const s = new AsyncSession({ protocols: ["chat.v2", "chat.v1"] });
  try {
    const ws = await s.wsConnect(`${peer.url}/headers`);
    const info = JSON.parse(await ws.recvStr({ timeout: 5000 })) as { headers: Record<string, string> };
    assert.equal(info.headers["sec-websocket-protocol"], "chat.v2, chat.v1");
    assert.equal(ws.protocol, "chat.v2");
    assert.equal(ws.response.headers["sec-websocket-protocol"], "chat.v2");
    await closeQuietly(ws);
    // per call overrides the session's list
    const ws2 = await s.wsConnect(`${peer.url}/echo`, { protocols: ["mqtt"] });
    assert.equal(ws2.protocol, "mqtt");
    await closeQuietly(ws2);
  } finally {
    await s.close();
  }
});

test("subprotocols: none offered -> no header sent and ws.protocol is \"\"", async () => {
  const srv = await raw(() => {}, true);
  const s = new AsyncSession();
  try {
    const ws = await s.wsConnect(srv.url);
    const conn = await srv.connection(0);
    assert.equal(conn.request.headers["sec-websocket-protocol"], undefined);
    assert.equal(ws.protocol, "");
    ws.terminate();
  } finally {
    await s.close();
  }
});

test("subprotocols: the server picks none of the offered ones -> ws.protocol is \"\"", async () => {
  const srv = await raw(() => {}, true);
  const s = new AsyncSession();
  try {
    const ws = await s.wsConnect(srv.url, { protocols: ["a", "b"] });
    const conn = await srv.connection(0);
    assert.equal(conn.request.headers["sec-websocket-protocol"], "a, b");
    assert.equal(ws.protocol, "");
    ws.terminate();
  } finally {
    await s.close();
  }
});

for (const [name, offered, answer] of [
  ["a protocol we did not offer", ["chat"], "superchat"],
  ["a protocol when we offered none", undefined, "chat"],
  ["two protocols at once", ["a", "b"], "a, b"],
  ["a case variant of an offered protocol", ["chat"], "CHAT"],
] as const) {
  test(`subprotocols: a server that answers ${name} fails the handshake`, async () => {
    const srv = await raw(() => {}, true, [`Sec-WebSocket-Protocol: ${answer}`]);
    const s = new AsyncSession();
    try {
      await assert.rejects(s.wsConnect(srv.url, offered ? { protocols: [...offered] } : {}), (err: unknown) => {
        assert.ok(err instanceof HandshakeError, String(err));
        assert.equal(err.status, 101);
        return true;
      });
      const conn = await srv.connection(0);
      await conn.closed; // the client drops the connection
    } finally {
      await s.close();
    }
  });
}

// ------------------------------------------------------------------ ws.response

test("ws.response: status 101, status text, raw headers in order and case, lookup, url", async () => {
  const extra = ["X-Zeta: 1", "x-alpha: 2", "Set-Cookie: k=v; Path=/", "X-ALPHA: 3"];
  const srv = await raw(() => {}, false);
  // The 101 is written by hand below so that the full header list is known.
  const s = new AsyncSession();
  try {
    const pending = s.wsConnect(`${srv.url}/path?q=1`);
    const conn = await srv.connection(0);
    const accept = acceptKey(conn.request.headers["sec-websocket-key"]!);
    await conn.write(
      "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nCONNECTION: upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\n${extra.join("\r\n")}\r\n\r\n`,
    );
    const ws = await pending;
    assert.equal(ws.response.status, 101);
    assert.equal(ws.response.statusText, "Switching Protocols");
    assert.deepEqual(ws.response.rawHeaders, [
      "upgrade", "WebSocket",
      "CONNECTION", "upgrade",
      "Sec-WebSocket-Accept", accept,
      "X-Zeta", "1",
      "x-alpha", "2",
      "Set-Cookie", "k=v; Path=/",
      "X-ALPHA", "3",
    ]);
    assert.equal(ws.response.headers["x-alpha"], "2, 3");
    assert.equal(ws.response.headers["sec-websocket-accept"], accept);
    assert.equal(ws.response.url, `${srv.url}/path?q=1`);
    assert.equal(ws.extensions, "");
    ws.terminate();
  } finally {
    await s.close();
  }
});

// ------------------------------------------------------------------ request options

test("headers (object and pairs, order kept), params, auth and origin reach the server", async () => {
  const peer = await wsPeer();
  const s = new AsyncSession({
    headers: [["X-First", "1"], ["X-Second", "2"]],
    params: new URLSearchParams([["tag", "a"], ["tag", "b"]]),
    auth: ["ünï", "pa:ss word"],
    origin: "https://app.example",
  });
  try {
    const ws = await s.wsConnect(`${peer.url}/headers?keep=1`, {
      headers: { "x-third": "3", "X-First": "override" },
      params: [["n", "1"], ["sp ace", "a&b=c"]],
    });
    const info = JSON.parse(await ws.recvStr({ timeout: 5000 })) as { url: string; rawHeaders: string[] };
    await closeQuietly(ws);
    const u = new URL(info.url, "http://x");
    assert.deepEqual([...u.searchParams], [["keep", "1"], ["tag", "a"], ["tag", "b"], ["n", "1"], ["sp ace", "a&b=c"]]);
    const names = info.rawHeaders.filter((_, i) => i % 2 === 0);
    const get = (n: string): string[] =>
      info.rawHeaders.flatMap((v, i) => (i % 2 === 1 && info.rawHeaders[i - 1]!.toLowerCase() === n ? [v] : []));
    assert.deepEqual(get("x-first"), ["override"]);
    assert.deepEqual(get("x-second"), ["2"]);
    assert.deepEqual(get("x-third"), ["3"]);
    assert.ok(names.indexOf("X-Second") < names.indexOf("x-third"), "session headers before per-call ones");
    assert.ok(names.includes("x-third"), "header name case is kept");
    assert.deepEqual(get("authorization"), ["Basic " + Buffer.from("ünï:pa:ss word", "utf8").toString("base64")]);
    assert.deepEqual(get("origin"), ["https://app.example"]);
    // per-call origin wins; no origin at all without the option (and without impersonation)
    const ws2 = await s.wsConnect(`${peer.url}/headers`, { origin: "http://other.example" });
    const info2 = JSON.parse(await ws2.recvStr({ timeout: 5000 })) as { headers: Record<string, string> };
    await closeQuietly(ws2);
    assert.equal(info2.headers.origin, "http://other.example");
    const s2 = new AsyncSession();
    try {
      const ws3 = await s2.wsConnect(`${peer.url}/headers`);
      const info3 = JSON.parse(await ws3.recvStr({ timeout: 5000 })) as { headers: Record<string, string> };
      await closeQuietly(ws3);
      assert.equal(info3.headers.origin, undefined);
      assert.equal(info3.headers.authorization, undefined);
    } finally {
      await s2.close();
    }
  } finally {
    await s.close();
  }
});

for (const [name, opts] of [
  ["a header value with CR/LF", { headers: { "X-Evil": "a\r\nInjected: 1" } }],
  ["a header value with a bare LF", { headers: { "X-Evil": "a\nInjected: 1" } }],
  ["a header value with NUL", { headers: { "X-Evil": "a\0b" } }],
  ["a header name with a space", { headers: { "X Evil": "1" } }],
  ["an origin with CR/LF", { origin: "http://a.example\r\nInjected: 1" }],
  ["a subprotocol with CR/LF", { protocols: ["chat\r\nInjected: 1"] }],
] as const) {
  test(`${name} is rejected with a WebSocketError before anything is sent`, async () => {
    const srv = await silentServer();
    const s = new AsyncSession();
    try {
      await assert.rejects(s.wsConnect(`${srv.url}/`, opts as object), (err: unknown) => {
        assert.ok(err instanceof WebSocketError, String(err));
        assert.ok(!(err instanceof HandshakeError), "a local refusal, not the server's");
        return true;
      });
      // Give any stray bytes a moment to arrive, then check nothing was written.
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(srv.bytes(), 0);
    } finally {
      await s.close();
    }
  });
}

test("per-call cookies with CR/LF are rejected before anything is sent", async () => {
  const srv = await silentServer();
  const s = new AsyncSession();
  try {
    await assert.rejects(s.wsConnect(`${srv.url}/`, { cookies: { a: "x\r\nInjected: 1" } }), WebSocketError);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(srv.bytes(), 0);
  } finally {
    await s.close();
  }
});

// ------------------------------------------------------------------ timeout and abort

test("timeout: a server that accepts TCP but never answers -> WebSocketTimeout, connection dropped", async () => {
  const srv = await silentServer();
  const s = new AsyncSession({ timeout: 300 });
  try {
    const started = Date.now();
    await assert.rejects(s.wsConnect(`${srv.url}/`), (err: unknown) => {
      assert.ok(err instanceof WebSocketTimeout, String(err));
      assert.ok(err instanceof WebSocketError);
      return true;
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250, `gave up after ${elapsed} ms, before the timeout`);
    assert.ok(elapsed < 10_000, `took ${elapsed} ms`);
    assert.ok(srv.bytes() > 0, "the request was sent");
    await waitFor(() => srv.closedCount() === srv.accepted());
  } finally {
    await s.close();
  }
});

test("signal: aborting during the handshake rejects with the signal's reason and drops the connection", async () => {
  const srv = await silentServer();
  const s = new AsyncSession();
  try {
    const ac = new AbortController();
    const reason = new Error("user gave up");
    const pending = s.wsConnect(`${srv.url}/`, { signal: ac.signal });
    await waitFor(() => srv.bytes() > 0);
    ac.abort(reason);
    await assert.rejects(pending, (err: unknown) => err === reason);
    await waitFor(() => srv.closedCount() === srv.accepted());
  } finally {
    await s.close();
  }
});

test("signal: an already aborted signal rejects without connecting; a session signal applies too", async () => {
  const srv = await silentServer();
  const reason = new Error("too late");
  const s = new AsyncSession();
  try {
    await assert.rejects(s.wsConnect(`${srv.url}/`, { signal: AbortSignal.abort(reason) }), (err: unknown) => err === reason);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(srv.accepted(), 0);
  } finally {
    await s.close();
  }
  const ac = new AbortController();
  const s2 = new AsyncSession({ signal: ac.signal });
  try {
    const pending = s2.wsConnect(`${srv.url}/`);
    await waitFor(() => srv.bytes() > 0);
    ac.abort(new Error("session-wide abort"));
    await assert.rejects(pending, /session-wide abort/);
  } finally {
    await s2.close();
  }
});

// ------------------------------------------------------------------ more edges

test("aborting while a refusal's body is still arriving rejects with the signal's reason", async () => {
  const srv = await raw((c) => c.write("HTTP/1.1 403 Forbidden\r\nContent-Length: 100000\r\n\r\nthe start of a long body"));
  const s = new AsyncSession();
  try {
    const ac = new AbortController();
    const reason = new Error("stop waiting");
    const pending = s.wsConnect(srv.url, { signal: ac.signal });
    const conn = await srv.connection(0);
    await new Promise((r) => setTimeout(r, 200)); // the head has been read by now
    ac.abort(reason);
    await assert.rejects(pending, (err: unknown) => {
      assert.equal(err, reason, `got ${String(err)}`);
      return true;
    });
    await conn.closed;
  } finally {
    await s.close();
  }
});

test("IPv6 literal URL: Host is [::1]:port and response.url keeps the brackets", async (t) => {
  const probe = net.createServer();
  const ok = await new Promise<boolean>((r) => {
    probe.once("error", () => r(false));
    probe.listen(0, "::1", () => r(true));
  });
  if (!ok) {
    t.skip("no IPv6 loopback");
    return;
  }
  let seenHost: string | undefined;
  probe.on("connection", (sock) => {
    sock.on("error", () => {});
    let buf = "";
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const key = /sec-websocket-key: *(.+)\r\n/i.exec(buf)![1]!.trim();
      seenHost = /\r\nhost: *(.+)\r\n/i.exec(buf)![1]!.trim();
      sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`);
    });
  });
  const socks = new Set<net.Socket>();
  probe.on("connection", (c) => socks.add(c));
  closers.push(async () => {
    for (const c of socks) c.destroy();
    await new Promise<void>((r) => probe.close(() => r()));
  });
  const port = (probe.address() as net.AddressInfo).port;
  const s = new AsyncSession();
  try {
    const ws = await s.wsConnect(`ws://[::1]:${port}/v6?x=1`);
    assert.equal(seenHost, `[::1]:${port}`);
    assert.equal(ws.response.url, `ws://[::1]:${port}/v6?x=1`);
    ws.terminate();
  } finally {
    await s.close();
  }
});

for (const name of ["Sec-WebSocket-Key", "sec-websocket-version", "Upgrade", "Connection"]) {
  test(`a user header that would break the handshake (${name}) is refused before anything is sent`, async () => {
    const srv = await silentServer();
    const s = new AsyncSession();
    try {
      await assert.rejects(s.wsConnect(`${srv.url}/`, { headers: { [name]: "x" } }), (err: unknown) => {
        assert.ok(err instanceof WebSocketError, String(err));
        assert.equal(err.code, 0);
        return true;
      });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(srv.bytes(), 0);
    } finally {
      await s.close();
    }
  });
}

test("credentials never appear in errors: auth option, URL userinfo, refused and failed connections", async () => {
  const secret = "Very-S3cret-Pw";
  const srv = await raw((c) => c.write("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"));
  const dead = net.createServer();
  await new Promise<void>((r) => dead.listen(0, "127.0.0.1", () => r()));
  const deadPort = (dead.address() as net.AddressInfo).port;
  await new Promise<void>((r) => dead.close(() => r()));
  const s = new AsyncSession({ auth: ["user", secret], timeout: 5000 });
  try {
    const attempts: Array<() => Promise<unknown>> = [
      () => s.wsConnect(srv.url),
      () => s.wsConnect(`ws://127.0.0.1:${deadPort}/`),
      () => s.wsConnect(`ws://user:${secret}@127.0.0.1:${deadPort}/`),
      () => s.wsConnect(`ws://user:${secret}@127.0.0.1:${srv.port}/`),
      () => s.wsConnect(`ftp://user:${secret}@127.0.0.1/`),
      () => s.wsConnect(`ws://user:${secret}@[bad/`),
    ];
    for (const attempt of attempts) {
      const err = await attempt().then(
        () => assert.fail("should fail"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WebSocketError, String(err));
      const texts = [String(err), (err as Error).stack ?? "", JSON.stringify(err), String((err as Error).cause ?? "")];
      for (const t of texts) assert.ok(!t.includes(secret), `leak: ${t.slice(0, 300)}`);
      const b64 = Buffer.from(`user:${secret}`).toString("base64");
      for (const t of texts) assert.ok(!t.includes(b64), `leak (base64): ${t.slice(0, 300)}`);
    }
  } finally {
    await s.close();
  }
});

test(
  "a chunked refusal body (Transfer-Encoding: chunked, connection kept open) is de-chunked and ends at the last chunk",
  async () => {
    const srv = await raw((c) =>
      c.write("HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n6\r\ndenied\r\n8\r\n: no key\r\n0\r\n\r\n"),
    );
    const err = await refusal(srv.url);
    assert.equal(err.status, 403);
    assert.equal(err.body.toString(), "denied: no key");
  },
);

const DUP_BUG =
  "bug: src/session.ts mergeOptions (lines 279-281) calls removeHeader(h, name) for every per-call header, which also deletes the per-call list's own earlier value: [[X-Dup,c1],[X-Dup,c2]] sends only c2";
test("repeated headers given as pairs are all sent (session and per call); per call replaces the session's of that name", async () => {
  const srv = await raw(() => {}, true);
  const s = new AsyncSession({ headers: [["X-Dup", "s1"], ["X-Dup", "s2"], ["X-Keep", "k"]] });
  try {
    const ws1 = await s.wsConnect(srv.url);
    ws1.terminate();
    const ws2 = await s.wsConnect(srv.url, { headers: [["X-Dup", "c1"], ["X-Dup", "c2"]] });
    ws2.terminate();
    const values = (i: number, name: string): string[] =>
      srv.connections[i]!.request.rawHeaders.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
    await srv.connection(1);
    assert.deepEqual(values(0, "x-dup"), ["s1", "s2"]);
    assert.deepEqual(values(1, "x-keep"), ["k"]);
    assert.deepEqual(values(1, "x-dup"), ["c1", "c2"], "both per-call values, none of the session's");
  } finally {
    await s.close();
  }
});

for (const protocols of [[""], ["a b"], ["a,b"], ["a;b"], ['"q"'], ["ü"], ["chat", "chat"]]) {
  test(`protocols ${JSON.stringify(protocols)} (not unique non-empty tokens) are refused before anything is sent`, async () => {
    const srv = await silentServer();
    const s = new AsyncSession({ timeout: 2000 });
    try {
      await assert.rejects(s.wsConnect(`${srv.url}/`, { protocols }), (err: unknown) => {
        assert.ok(err instanceof WebSocketError, String(err));
        assert.ok(!(err instanceof HandshakeError) && !(err instanceof WebSocketTimeout), `a local refusal, got ${String(err)}`);
        assert.equal(err.code, 0);
        return true;
      });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(srv.bytes(), 0);
    } finally {
      await s.close();
    }
  });
}
