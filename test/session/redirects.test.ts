/**
 * Redirects on the upgrade request (issue 4): 301/302/303/307/308 with relative and absolute
 * Location, chains and `maxRedirects`, ws→wss / wss→ws, Authorization kept to the origin the
 * caller named, Set-Cookie on a redirect, and `ws.response.url` as the final URL.
 *
 * Peers: a node:http "hop" server (plain or TLS, on 127.0.0.1 or ::1) that answers the upgrade
 * request with a scripted redirect or accepts it with an npm `ws` echo, plus the shared ws server.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import net from "node:net";
import { WebSocketServer } from "ws";
import { AsyncSession, HandshakeError, type AsyncWebSocket } from "../../src/index.js";
import { testCerts } from "../helpers/certs.js";
import { startWsServer, type TestWsServer } from "../helpers/ws-server.js";

interface Seen {
  path: string;
  headers: IncomingMessage["headers"];
}

interface HopServer {
  /** ws://host:port or wss://host:port (IPv6 in brackets). */
  url: string;
  port: number;
  seen: Seen[];
  close(): Promise<void>;
}

/**
 * Upgrade paths:
 * - `/redir?status=&to=&cookie=...` answers `status` with `Location: to` (and each `cookie` as a Set-Cookie);
 * - `/chain?n=N` redirects (302, relative Location) to `/chain?n=N-1`, and accepts at n=0;
 * - `/noloc?status=` answers that status without a Location;
 * - anything else: accepted, echo.
 */
async function startHopServer(o: { host?: string; tls?: boolean } = {}): Promise<HopServer | undefined> {
  const host = o.host ?? "127.0.0.1";
  let server: Server;
  if (o.tls) {
    const c = testCerts();
    server = createHttpsServer({ cert: c.leaf.cert, key: c.leaf.key });
  } else {
    server = createHttpServer();
  }
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const seen: Seen[] = [];
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  };
  server.on("connection", track);
  server.on("secureConnection", track);
  server.on("upgrade", (req: IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on("error", () => {});
    const u = new URL(req.url ?? "/", "http://x");
    seen.push({ path: u.pathname + u.search, headers: req.headers });
    const answer = (status: number, lines: string[]): void => {
      socket.end(`HTTP/1.1 ${status} Moved\r\n${lines.map((l) => l + "\r\n").join("")}Content-Length: 0\r\nConnection: close\r\n\r\n`);
    };
    if (u.pathname === "/redir") {
      const lines = [`Location: ${u.searchParams.get("to")}`];
      for (const c of u.searchParams.getAll("cookie")) lines.push(`Set-Cookie: ${c}`);
      answer(Number(u.searchParams.get("status") ?? 302), lines);
      return;
    }
    if (u.pathname === "/chain" && Number(u.searchParams.get("n")) > 0) {
      answer(302, [`Location: /chain?n=${Number(u.searchParams.get("n")) - 1}`]);
      return;
    }
    if (u.pathname === "/noloc") {
      answer(Number(u.searchParams.get("status") ?? 302), []);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on("error", () => {});
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, host, () => resolve());
    });
  } catch {
    return undefined; // e.g. no IPv6 loopback on this machine
  }
  const port = (server.address() as net.AddressInfo).port;
  const h = host.includes(":") ? `[${host}]` : host;
  return {
    url: `${o.tls ? "wss" : "ws"}://${h}:${port}`,
    port,
    seen,
    async close() {
      for (const c of wss.clients) c.terminate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const redir = (status: number, to: string, cookies: string[] = []): string =>
  `/redir?status=${status}&to=${encodeURIComponent(to)}` + cookies.map((c) => `&cookie=${encodeURIComponent(c)}`).join("");

async function closeQuietly(ws: AsyncWebSocket | undefined): Promise<void> {
  if (!ws) return;
  try {
    await ws.close(1000, "", { timeout: 1000 });
  } catch {
    ws.terminate();
  }
}

async function echoOnce(ws: AsyncWebSocket, text = "hello"): Promise<void> {
  await ws.sendStr(text);
  assert.equal(await ws.recvStr({ timeout: 5000 }), text);
}

// Shared peers for the whole file, closed at the end (also when a test fails).
const closers: Array<() => Promise<void>> = [];
after(async () => {
  await Promise.allSettled(closers.map((c) => c()));
});
async function hop(o: { host?: string; tls?: boolean } = {}): Promise<HopServer | undefined> {
  const s = await startHopServer(o);
  if (s) closers.push(() => s.close());
  return s;
}
async function wsPeer(tls = false): Promise<TestWsServer> {
  const s = await startWsServer({ tls });
  closers.push(() => s.close());
  return s;
}
const ca = (): string => testCerts().ca.cert;

for (const status of [301, 302, 303, 307, 308]) {
  test(`${status} with a relative Location is followed on the same server; response.url is the final URL`, async () => {
    const a = (await hop())!;
    const s = new AsyncSession();
    try {
      const ws = await s.wsConnect(`${a.url}${redir(status, "/landed?x=1#frag")}`);
      assert.equal(ws.response.status, 101);
      assert.equal(ws.response.url, `${a.url}/landed?x=1`);
      await echoOnce(ws);
      await closeQuietly(ws);
      assert.deepEqual(a.seen.map((x) => x.path), [redir(status, "/landed?x=1#frag"), "/landed?x=1"]);
    } finally {
      await s.close();
    }
  });

  test(`${status} with an absolute Location to another server is followed`, async () => {
    const a = (await hop())!;
    const target = await wsPeer();
    const s = new AsyncSession();
    try {
      const ws = await s.wsConnect(`${a.url}${redir(status, `${target.url}/headers`)}`);
      assert.equal(ws.response.url, `${target.url}/headers`);
      const info = JSON.parse(await ws.recvStr({ timeout: 5000 })) as { url: string; headers: Record<string, string> };
      assert.equal(info.url, "/headers");
      assert.equal(info.headers.host, new URL(target.url).host, "Host is re-evaluated for the new target");
      await echoOnce(ws);
      await closeQuietly(ws);
    } finally {
      await s.close();
    }
  });
}

test("an http:// Location maps to ws:// (RFC 6455 §3 scheme mapping)", async () => {
  const a = (await hop())!;
  const target = await wsPeer();
  const s = new AsyncSession();
  try {
    const httpUrl = target.url.replace(/^ws:/, "http:") + "/echo";
    const ws = await s.wsConnect(`${a.url}${redir(302, httpUrl)}`);
    assert.equal(ws.response.url, `${target.url}/echo`);
    await echoOnce(ws);
    await closeQuietly(ws);
  } finally {
    await s.close();
  }
});

test("a chain of 10 redirects is followed by default; 11 fail with a HandshakeError carrying the 3xx", async () => {
  const a = (await hop())!;
  const s = new AsyncSession();
  try {
    const ws = await s.wsConnect(`${a.url}/chain?n=10`);
    assert.equal(ws.response.url, `${a.url}/chain?n=0`);
    await echoOnce(ws);
    await closeQuietly(ws);
    a.seen.length = 0;
    await assert.rejects(s.wsConnect(`${a.url}/chain?n=11`), (err: unknown) => {
      assert.ok(err instanceof HandshakeError, String(err));
      assert.equal(err.status, 302);
      assert.equal(err.headers.location, "/chain?n=0");
      assert.match(err.message, /redirect/i);
      return true;
    });
    assert.equal(a.seen.length, 11, "exactly 11 requests: the original and 10 redirects");
  } finally {
    await s.close();
  }
});

test("maxRedirects bounds the chain (session default and per call)", async () => {
  const a = (await hop())!;
  const s = new AsyncSession({ maxRedirects: 3 });
  try {
    const ws = await s.wsConnect(`${a.url}/chain?n=3`);
    await closeQuietly(ws);
    await assert.rejects(s.wsConnect(`${a.url}/chain?n=4`), HandshakeError);
    const ws2 = await s.wsConnect(`${a.url}/chain?n=4`, { maxRedirects: 4 });
    await closeQuietly(ws2);
  } finally {
    await s.close();
  }
});

test("maxRedirects: 0 disables redirects: HandshakeError with the 3xx status and its headers", async () => {
  const a = (await hop())!;
  const target = await wsPeer();
  const s = new AsyncSession({ maxRedirects: 0 });
  try {
    for (const status of [301, 307]) {
      const before = target.connections.length;
      await assert.rejects(s.wsConnect(`${a.url}${redir(status, `${target.url}/echo`)}`), (err: unknown) => {
        assert.ok(err instanceof HandshakeError, String(err));
        assert.equal(err.status, status);
        assert.equal(err.headers.location, `${target.url}/echo`);
        assert.ok(err.rawHeaders.includes("Location"));
        return true;
      });
      assert.equal(target.connections.length, before, "the redirect target was never contacted");
    }
  } finally {
    await s.close();
  }
});

test("a 3xx without Location is a refused upgrade (HandshakeError with that status)", async () => {
  const a = (await hop())!;
  const s = new AsyncSession();
  try {
    await assert.rejects(s.wsConnect(`${a.url}/noloc?status=302`), (err: unknown) => {
      assert.ok(err instanceof HandshakeError, String(err));
      assert.equal(err.status, 302);
      return true;
    });
  } finally {
    await s.close();
  }
});

test("a redirect to a non-WebSocket scheme is refused with a HandshakeError", async () => {
  const a = (await hop())!;
  const s = new AsyncSession();
  try {
    for (const to of ["ftp://127.0.0.1/x", "file:///etc/passwd", "javascript:alert(1)"]) {
      await assert.rejects(s.wsConnect(`${a.url}${redir(302, to)}`), (err: unknown) => {
        assert.ok(err instanceof HandshakeError, `${to}: ${String(err)}`);
        assert.equal(err.status, 302);
        return true;
      });
    }
  } finally {
    await s.close();
  }
});

test("ws→wss is followed (TLS verified with ca)", async () => {
  const a = (await hop())!;
  const secure = await wsPeer(true);
  const s = new AsyncSession({ ca: ca() });
  try {
    const ws = await s.wsConnect(`${a.url}${redir(302, `${secure.url}/echo`)}`);
    assert.equal(ws.response.url, `${secure.url}/echo`);
    assert.ok(ws.response.url.startsWith("wss://"));
    await echoOnce(ws);
    await closeQuietly(ws);
  } finally {
    await s.close();
  }
});

test("wss→ws is refused unless allowInsecureRedirect is set", async () => {
  const a = (await hop({ tls: true }))!;
  const plain = await wsPeer();
  const s = new AsyncSession({ ca: ca() });
  try {
    const url = `${a.url}${redir(301, `${plain.url}/echo`)}`;
    const before = plain.connections.length;
    await assert.rejects(s.wsConnect(url), (err: unknown) => {
      assert.ok(err instanceof HandshakeError, String(err));
      assert.equal(err.status, 301);
      assert.match(err.message, /allowInsecureRedirect/);
      return true;
    });
    assert.equal(plain.connections.length, before, "the insecure target was never contacted");
    // http:// in Location is the same downgrade
    await assert.rejects(s.wsConnect(`${a.url}${redir(302, `${plain.url.replace(/^ws:/, "http:")}/echo`)}`), HandshakeError);
    const ws = await s.wsConnect(url, { allowInsecureRedirect: true });
    assert.equal(ws.response.url, `${plain.url}/echo`);
    await echoOnce(ws);
    await closeQuietly(ws);
    // wss→wss (same server, relative) needs no opt-in
    const ws2 = await s.wsConnect(`${a.url}${redir(308, "/echo")}`);
    assert.equal(ws2.response.url, `${a.url}/echo`);
    await closeQuietly(ws2);
  } finally {
    await s.close();
  }
});

const basic = (user: string, pass: string): string => "Basic " + Buffer.from(`${user}:${pass}`, "utf8").toString("base64");

test("Authorization (auth option) goes to the original origin on every hop there, never to another port", async () => {
  const a = (await hop())!;
  const b = (await hop())!;
  const s = new AsyncSession({ auth: ["alice", "s3cret"] });
  try {
    // same origin, two hops: sent each time
    const ws = await s.wsConnect(`${a.url}${redir(302, `${a.url}${redir(307, "/echo")}`)}`);
    await closeQuietly(ws);
    assert.equal(a.seen.length, 3);
    for (const x of a.seen) assert.equal(x.headers.authorization, basic("alice", "s3cret"), x.path);
    // another port on the same host is another origin
    const ws2 = await s.wsConnect(`${a.url}${redir(302, `${b.url}/echo`)}`);
    await closeQuietly(ws2);
    assert.equal(a.seen.at(-1)!.headers.authorization, basic("alice", "s3cret"));
    assert.equal(b.seen.length, 1);
    assert.equal(b.seen[0]!.headers.authorization, undefined);
  } finally {
    await s.close();
  }
});

test("Authorization is not forwarded to another host (127.0.0.1 → localhost, 127.0.0.1 → [::1]) nor back", async () => {
  const a = (await hop())!;
  const v6 = await hop({ host: "::1" });
  const s = new AsyncSession({ auth: ["bob", "hunter2"] });
  try {
    // localhost resolves to 127.0.0.1 here: same server, another host name, so another origin
    const viaName = `ws://localhost:${a.port}`;
    const ws = await s.wsConnect(`${a.url}${redir(302, `${viaName}/echo`)}`);
    assert.equal(ws.response.url, `${viaName}/echo`);
    await closeQuietly(ws);
    assert.equal(a.seen.at(-2)!.headers.authorization, basic("bob", "hunter2"));
    assert.equal(a.seen.at(-1)!.headers.host, `localhost:${a.port}`);
    assert.equal(a.seen.at(-1)!.headers.authorization, undefined);
    if (v6) {
      // there and back again: the credentials belong to the URL the caller named only
      const back = `${a.url}/echo`;
      const ws2 = await s.wsConnect(`${a.url}${redir(302, `${v6.url}${redir(302, back)}`)}`);
      await closeQuietly(ws2);
      assert.equal(v6.seen.at(-1)!.headers.authorization, undefined);
      assert.equal(a.seen.at(-1)!.path, "/echo");
      assert.equal(
        a.seen.at(-1)!.headers.authorization,
        basic("bob", "hunter2"),
        "back on the original origin the credentials apply again",
      );
    }
  } finally {
    await s.close();
  }
});

test("Authorization is not forwarded to another scheme (ws→wss on another port), an explicit header neither", async () => {
  const a = (await hop())!;
  const secure = (await hop({ tls: true }))!;
  const s = new AsyncSession({ ca: ca() });
  try {
    const ws = await s.wsConnect(`${a.url}${redir(302, `${secure.url}/echo`)}`, { auth: ["carol", "pw"] });
    await closeQuietly(ws);
    assert.equal(a.seen.at(-1)!.headers.authorization, basic("carol", "pw"));
    assert.equal(secure.seen.at(-1)!.headers.authorization, undefined);
    const ws2 = await s.wsConnect(`${a.url}${redir(302, `${secure.url}/echo`)}`, {
      headers: { Authorization: "Bearer token-123" },
    });
    await closeQuietly(ws2);
    assert.equal(a.seen.at(-1)!.headers.authorization, "Bearer token-123");
    assert.equal(secure.seen.at(-1)!.headers.authorization, undefined);
  } finally {
    await s.close();
  }
});

test("Set-Cookie on a redirect is stored and sent on the next hop when in scope (host and path)", async () => {
  const a = (await hop())!;
  const v6 = await hop({ host: "::1" });
  const s = new AsyncSession();
  try {
    const ws = await s.wsConnect(
      `${a.url}${redir(302, "/app/echo", ["hop=1; Path=/", "apponly=2; Path=/app", "elsewhere=3; Path=/other"])}`,
    );
    await closeQuietly(ws);
    assert.equal(a.seen.at(-1)!.path, "/app/echo");
    assert.equal(a.seen.at(-1)!.headers.cookie, "apponly=2; hop=1");
    assert.equal(s.cookies.get("elsewhere", { domain: "127.0.0.1" }), "3", "stored even though not sent");
    if (v6) {
      // a cookie set by a redirect on 127.0.0.1 is not sent to ::1
      const ws2 = await s.wsConnect(`${a.url}${redir(307, `${v6.url}/echo`, ["v4only=1; Path=/"])}`);
      await closeQuietly(ws2);
      assert.equal(v6.seen.at(-1)!.headers.cookie, undefined);
      assert.equal(s.cookies.get("v4only", { domain: "127.0.0.1" }), "1");
    }
  } finally {
    await s.close();
  }
});

test("the redirect budget is shared with timeout: a chain into a silent server times out", async () => {
  // A server that accepts TCP and never answers, reached through a redirect.
  const silent = net.createServer((sock) => sock.on("error", () => {}));
  const held = new Set<net.Socket>();
  silent.on("connection", (c) => held.add(c));
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
  closers.push(async () => {
    for (const c of held) c.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });
  const a = (await hop())!;
  const s = new AsyncSession({ timeout: 500 });
  try {
    const port = (silent.address() as net.AddressInfo).port;
    const started = Date.now();
    await assert.rejects(s.wsConnect(`${a.url}${redir(302, `ws://127.0.0.1:${port}/x`)}`), (err: unknown) => {
      assert.equal((err as Error).name, "WebSocketTimeout", String(err));
      return true;
    });
    assert.ok(Date.now() - started < 10_000);
  } finally {
    await s.close();
  }
});

const COOKIE_BUG =
  "bug: src/session.ts:189 removes only Authorization from the user's headers on a cross-origin hop; a Cookie header given in `headers` is sent to the other origin";
test("an explicit Cookie header is not forwarded to another origin either", async () => {
  const a = (await hop())!;
  const b = (await hop())!;
  const v6 = await hop({ host: "::1" });
  const s = new AsyncSession();
  try {
    const ws = await s.wsConnect(`${a.url}${redir(302, `${a.url}/echo`)}`, { headers: { Cookie: "sid=top-secret" } });
    await closeQuietly(ws);
    assert.equal(a.seen.at(-1)!.headers.cookie, "sid=top-secret", "same origin: kept");
    const others = [b, ...(v6 ? [v6] : [])];
    for (const other of others) {
      const ws2 = await s.wsConnect(`${a.url}${redir(302, `${other.url}/echo`)}`, { headers: { Cookie: "sid=top-secret" } });
      await closeQuietly(ws2);
      assert.equal(a.seen.at(-1)!.headers.cookie, "sid=top-secret");
      assert.equal(other.seen.at(-1)!.headers.cookie, undefined, `leaked to ${other.url}`);
    }
  } finally {
    await s.close();
  }
});

test(
  "an invalid maxRedirects (NaN, negative) is refused up front instead of following a loop",
  async () => {
    const a = (await hop())!;
    // 50 hops: with NaN all of them are followed today (a true loop would only end at the timeout).
    for (const bad of [Number.NaN, -1]) {
      const s = new AsyncSession({ timeout: 3000 });
      const before = a.seen.length;
      try {
        await assert.rejects(s.wsConnect(`${a.url}/chain?n=50`, { maxRedirects: bad }), (err: unknown) => {
          assert.equal((err as { code?: number }).code, 0, `maxRedirects ${bad}: expected an option error (code 0), got ${String(err)}`);
          return true;
        });
        assert.equal(a.seen.length, before, `maxRedirects ${bad}: nothing should be sent`);
      } finally {
        await s.close();
      }
    }
  },
);

test("wss→ws with allowInsecureRedirect: a Secure cookie set on the wss hop is not sent over ws", async () => {
  const a = (await hop({ tls: true }))!;
  const b = (await hop())!;
  const s = new AsyncSession({ ca: ca(), allowInsecureRedirect: true });
  try {
    const ws = await s.wsConnect(`${a.url}${redir(302, `${b.url}/echo`, ["sec=1; Secure; Path=/", "plain=2; Path=/"])}`);
    await closeQuietly(ws);
    // same host (cookies ignore ports, RFC 6265 §8.5), but ws:// is not a secure channel
    assert.equal(b.seen.at(-1)!.headers.cookie, "plain=2");
    assert.equal(s.cookies.get("sec", { domain: "127.0.0.1" }), "1");
    // and back over wss both go
    const ws2 = await s.wsConnect(`${a.url}/echo`);
    await closeQuietly(ws2);
    assert.equal(a.seen.at(-1)!.headers.cookie, "sec=1; plain=2");
  } finally {
    await s.close();
  }
});

test(
  "credentials in the URL (ws://user:pass@host/) act like `auth` for that origin and are not echoed in response.url",
  async () => {
    const a = (await hop())!;
    const b = (await hop())!;
    const s = new AsyncSession();
    try {
      const withCreds = a.url.replace("ws://", "ws://dave:p%40ss@");
      const ws = await s.wsConnect(`${withCreds}${redir(302, `${b.url}/echo`)}`);
      await closeQuietly(ws);
      assert.equal(a.seen.at(-1)!.headers.authorization, basic("dave", "p@ss"));
      assert.equal(b.seen.at(-1)!.headers.authorization, undefined);
      assert.ok(!ws.response.url.includes("p%40ss") && !ws.response.url.includes("dave"), ws.response.url);
      const ws2 = await s.wsConnect(`${withCreds}/echo`);
      await closeQuietly(ws2);
      assert.equal(ws2.response.url, `${a.url}/echo`);
    } finally {
      await s.close();
    }
  },
);
