import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { AsyncSession } from "../src/index.js";
import { CookieJar as ToughCookieJar } from "tough-cookie";
import { CookieJar } from "../src/cookies.js";
import { WebSocketError } from "../src/errors.js";

const u = (s: string) => new URL(s);
const header = (jar: CookieJar, url: string, extra?: Record<string, string>) => jar.cookieHeaderFor(u(url), extra);

test("any-host cookies: set without a domain applies to every host, path and scheme", async () => {
  const jar = new CookieJar();
  jar.set("session_id", "xyz");
  assert.equal(await header(jar, "ws://example.com/chat"), "session_id=xyz");
  assert.equal(await header(jar, "wss://other.test:8443/a/b?q=1"), "session_id=xyz");
  assert.equal(await header(jar, "ws://127.0.0.1:9000/"), "session_id=xyz");
  assert.equal(jar.get("session_id"), "xyz");
});

test("constructor seeds any-host cookies from a plain object", async () => {
  const jar = new CookieJar({ a: "1", b: "2" });
  assert.equal(await header(jar, "ws://example.com/"), "a=1; b=2");
});

test("domain cookie: sent to the domain and its subdomains, never to another domain", async () => {
  const jar = new CookieJar();
  jar.set("tok", "secret", { domain: "example.com" });
  assert.equal(await header(jar, "ws://example.com/"), "tok=secret");
  assert.equal(await header(jar, "ws://api.example.com/"), "tok=secret");
  assert.equal(await header(jar, "ws://a.b.example.com/"), "tok=secret");
  for (const other of ["ws://example.org/", "ws://notexample.com/", "ws://example.com.evil.test/", "ws://com/", "ws://127.0.0.1/"]) {
    assert.equal(await header(jar, other), undefined, other);
  }
  // leading dot is the same thing
  const jar2 = new CookieJar();
  jar2.set("x", "1", { domain: ".Example.COM" });
  assert.equal(await header(jar2, "ws://sub.example.com/"), "x=1");
  assert.equal([...jar2][0]!.domain, "example.com");
});

test("host-only cookie: exactly that host, not its subdomains", async () => {
  const jar = new CookieJar();
  jar.set("h", "1", { domain: "example.com", hostOnly: true });
  assert.equal(await header(jar, "ws://example.com/"), "h=1");
  assert.equal(await header(jar, "ws://www.example.com/"), undefined);
  // from Set-Cookie without Domain=
  await jar.storeFromResponse(u("wss://api.example.com/ws"), ["s=2; Path=/"]);
  assert.equal(await header(jar, "wss://api.example.com/"), "s=2");
  assert.equal(await header(jar, "wss://v2.api.example.com/"), undefined);
  assert.equal(await header(jar, "wss://example.com/"), "h=1");
  assert.equal([...jar].find((c) => c.name === "s")!.hostOnly, true);
});

test("Set-Cookie with Domain=: a parent domain is accepted, another domain or a public suffix is ignored", async () => {
  const jar = new CookieJar();
  await jar.storeFromResponse(u("wss://api.example.com/"), [
    "parent=1; Domain=example.com",
    "other=2; Domain=example.org",
    "suffix=3; Domain=com",
    "sibling=4; Domain=www.example.com",
  ]);
  assert.deepEqual([...jar].map((c) => [c.name, c.domain, c.hostOnly]), [["parent", "example.com", false]]);
  assert.equal(await header(jar, "wss://www.example.com/"), "parent=1");
  assert.equal(await header(jar, "wss://example.org/"), undefined);
});

test("set() refuses a public-suffix domain and invalid names or values", () => {
  const jar = new CookieJar();
  const code0 = (e: unknown) => e instanceof WebSocketError && e.code === 0;
  assert.throws(() => jar.set("a", "1", { domain: "com" }), code0);
  assert.throws(() => jar.set("a", "1", { domain: "co.uk" }), code0);
  assert.throws(() => jar.set("", "1"), code0);
  assert.throws(() => jar.set("a b", "1"), code0);
  assert.throws(() => jar.set("a=b", "1"), code0);
  assert.throws(() => jar.set("a", "1;b=2"), code0);
  assert.throws(() => jar.set("a", "x\r\nInjected: 1"), code0);
  assert.throws(() => jar.set("a", "1", { path: "nope" }), code0);
  assert.throws(() => jar.set("a", "1", { sameSite: "weird" as never }), code0);
  assert.throws(() => jar.set("a", "1", { expires: new Date(NaN) }), code0);
  assert.equal([...jar].length, 0);
  // values with spaces, quotes, commas are fine (like requests)
  jar.set("a", 'x y,"z"');
  assert.equal(jar.get("a"), 'x y,"z"');
  // IP addresses and localhost are valid domains
  jar.set("ip", "1", { domain: "127.0.0.1" });
  jar.set("lh", "1", { domain: "localhost" });
  assert.equal(jar.get("ip", { domain: "127.0.0.1" }), "1");
  assert.equal(jar.get("lh", { domain: "localhost" }), "1");
});

test("path matching (RFC 6265 §5.1.4) and ordering: longer paths first", async () => {
  const jar = new CookieJar();
  jar.set("root", "r", { domain: "example.com" });
  jar.set("api", "a", { domain: "example.com", path: "/api" });
  jar.set("deep", "d", { domain: "example.com", path: "/api/v1/" });
  assert.equal(await header(jar, "ws://example.com/"), "root=r");
  assert.equal(await header(jar, "ws://example.com/api"), "api=a; root=r");
  assert.equal(await header(jar, "ws://example.com/api/v1/stream"), "deep=d; api=a; root=r");
  assert.equal(await header(jar, "ws://example.com/apiary"), "root=r"); // not a path-segment match
  assert.equal(await header(jar, "ws://example.com/api/v1"), "api=a; root=r"); // "/api/v1/" needs the slash
  // any-host cookies follow paths too
  const j2 = new CookieJar();
  j2.set("p", "1", { path: "/chat" });
  assert.equal(await header(j2, "ws://h.test/chat/room"), "p=1");
  assert.equal(await header(j2, "ws://h.test/"), undefined);
  // default path from Set-Cookie: the directory of the request path
  await jar.storeFromResponse(u("ws://example.com/a/b/socket"), ["dflt=1"]);
  assert.equal(await header(jar, "ws://example.com/a/b/other"), "dflt=1; root=r");
  assert.equal(await header(jar, "ws://example.com/a/"), "root=r");
});

test("Secure cookies go over wss:// only, never ws:// (localhost included)", async () => {
  const jar = new CookieJar();
  jar.set("sec", "1", { domain: "localhost", secure: true });
  jar.set("plain", "2", { domain: "localhost" });
  jar.set("anysec", "3", { secure: true });
  assert.equal(await header(jar, "wss://localhost:8443/"), "sec=1; plain=2; anysec=3");
  assert.equal(await header(jar, "ws://localhost:8080/"), "plain=2");
  assert.equal(await header(jar, "ws://127.0.0.1/"), undefined);
  // A Secure Set-Cookie received over ws:// is not stored; over wss:// it is, and only sent over wss://.
  const j2 = new CookieJar();
  await j2.storeFromResponse(u("ws://127.0.0.1:9000/"), ["s1=1; Secure", "p1=2"]);
  await j2.storeFromResponse(u("wss://127.0.0.1:9001/"), ["s2=3; Secure"]);
  assert.deepEqual([...j2].map((c) => c.name).sort(), ["p1", "s2"]);
  assert.equal(await header(j2, "ws://127.0.0.1:9000/"), "p1=2");
  assert.equal(await header(j2, "wss://127.0.0.1:9001/"), "p1=2; s2=3");
});

test("expiry: expired cookies are not sent, not returned, not iterated", async () => {
  const jar = new CookieJar();
  const past = new Date(Date.now() - 1000);
  const future = new Date(Date.now() + 3_600_000);
  jar.set("old", "1", { domain: "example.com", expires: past });
  jar.set("oldany", "1", { expires: past });
  jar.set("fresh", "2", { domain: "example.com", expires: future });
  assert.equal(await header(jar, "ws://example.com/"), "fresh=2");
  assert.equal(jar.get("old"), undefined);
  assert.equal(jar.get("oldany"), undefined);
  assert.deepEqual([...jar].map((c) => c.name), ["fresh"]);
  assert.equal([...jar][0]!.expires!.getTime(), future.getTime());
  // setting an expired cookie deletes the live one
  jar.set("fresh", "x", { domain: "example.com", expires: past });
  jar.set("k", "v");
  jar.set("k", "v", { expires: past });
  assert.equal(await header(jar, "ws://example.com/"), undefined);
  // Set-Cookie with a past Expires removes the stored cookie
  await jar.storeFromResponse(u("ws://example.com/"), ["gone=1"]);
  assert.equal(await header(jar, "ws://example.com/"), "gone=1");
  await jar.storeFromResponse(u("ws://example.com/"), ["gone=; Expires=Thu, 01 Jan 1970 00:00:00 GMT"]);
  assert.equal(await header(jar, "ws://example.com/"), undefined);
});

test("Max-Age: counts from receipt (not sliding), takes precedence over Expires, <= 0 deletes", async () => {
  const jar = new CookieJar();
  const t0 = Date.now();
  await jar.storeFromResponse(u("wss://example.com/"), [
    "ma=1; Max-Age=3600; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    "short=1; Max-Age=60",
  ]);
  const ma = [...jar].find((c) => c.name === "ma")!;
  assert.ok(ma.expires!.getTime() >= t0 + 3_600_000 && ma.expires!.getTime() <= Date.now() + 3_600_000);
  // reading the cookies does not push the expiry forward
  await header(jar, "wss://example.com/");
  await header(jar, "wss://example.com/");
  assert.equal([...jar].find((c) => c.name === "ma")!.expires!.getTime(), ma.expires!.getTime());
  assert.equal(await header(jar, "wss://example.com/"), "ma=1; short=1");
  await jar.storeFromResponse(u("wss://example.com/"), ["short=1; Max-Age=0", "ma=1; Max-Age=-5"]);
  assert.equal(await header(jar, "wss://example.com/"), undefined);
  assert.equal([...jar].length, 0);
});

test("per-call cookies merge over the session's by name, for that request only", async () => {
  const jar = new CookieJar({ session_id: "xyz", lang: "en" });
  jar.set("tok", "t", { domain: "example.com" });
  assert.equal(await header(jar, "ws://example.com/", { lang: "fr", extra: "1" }), "tok=t; session_id=xyz; lang=fr; extra=1");
  assert.equal(await header(jar, "ws://example.com/", { tok: "override" }), "tok=override; session_id=xyz; lang=en");
  // the session is unchanged
  assert.equal(await header(jar, "ws://example.com/"), "tok=t; session_id=xyz; lang=en");
  assert.equal(jar.get("lang"), "en");
  // per-call only
  assert.equal(await header(new CookieJar(), "ws://example.com/", { a: "1" }), "a=1");
  // duplicates of the merged name (different paths) collapse into the per-call value
  const j2 = new CookieJar();
  j2.set("d", "deep", { domain: "example.com", path: "/x" });
  j2.set("d", "root", { domain: "example.com" });
  assert.equal(await header(j2, "ws://example.com/x/y"), "d=deep; d=root");
  assert.equal(await header(j2, "ws://example.com/x/y", { d: "call" }), "d=call");
  // invalid per-call cookies are refused
  await assert.rejects(header(j2, "ws://example.com/", { "bad name": "1" }), WebSocketError);
  await assert.rejects(header(j2, "ws://example.com/", { ok: "a\r\nb" }), WebSocketError);
});

test("a cookie the server set for the host wins over an any-host cookie of the same name", async () => {
  const jar = new CookieJar({ session_id: "from-user" });
  await jar.storeFromResponse(u("ws://example.com/"), ["session_id=from-server"]);
  assert.equal(await header(jar, "ws://example.com/"), "session_id=from-server");
  assert.equal(await header(jar, "ws://other.test/"), "session_id=from-user");
});

test("storeFromResponse: several headers, attributes, invalid ones ignored without throwing", async () => {
  const jar = new CookieJar();
  await jar.storeFromResponse(u("wss://example.com/ws"), [
    "a=1; Path=/; HttpOnly; SameSite=Strict",
    "b=2; Path=/; Secure",
    "", // empty
    "=novalue", // no name (strict mode)
    "justtext", // no "="
    "ctl=a\u0001b", // control character
    "c=3; Domain=evil.test",
    "__Host-x=1; Path=/sub; Secure", // prefix rules violated: silently refused
    "d=4; Path=/ws",
  ]);
  const got = [...jar].map((c) => ({ name: c.name, httpOnly: c.httpOnly, secure: c.secure, sameSite: c.sameSite, path: c.path }));
  assert.deepEqual(got, [
    { name: "a", httpOnly: true, secure: false, sameSite: "strict", path: "/" },
    { name: "b", httpOnly: false, secure: true, sameSite: undefined, path: "/" },
    { name: "d", httpOnly: false, secure: false, sameSite: undefined, path: "/ws" },
  ]);
  assert.equal(await header(jar, "wss://example.com/ws"), "d=4; a=1; b=2");
  // a later Set-Cookie replaces the value
  await jar.storeFromResponse(u("wss://example.com/"), ["a=9; Path=/"]);
  assert.equal(jar.get("a"), "9");
});

test("get: by name, by domain, by path; any-host first when no domain", () => {
  const jar = new CookieJar();
  jar.set("n", "any");
  jar.set("n", "ex", { domain: "example.com" });
  jar.set("n", "exapi", { domain: "example.com", path: "/api" });
  jar.set("m", "org", { domain: "example.org" });
  assert.equal(jar.get("n"), "any");
  assert.equal(jar.get("n", { domain: "" }), "any");
  assert.equal(jar.get("n", { domain: "example.com" }), "ex");
  assert.equal(jar.get("n", { domain: "example.com", path: "/api" }), "exapi");
  assert.equal(jar.get("n", { domain: "sub.example.com" }), undefined); // stored domain, exactly
  assert.equal(jar.get("m"), "org");
  assert.equal(jar.get("m", { domain: "" }), undefined);
  assert.equal(jar.get("missing"), undefined);
});

test("delete: by domain and path, everywhere without a domain; clear()", async () => {
  const jar = new CookieJar();
  jar.set("n", "any");
  jar.set("n", "ex", { domain: "example.com" });
  jar.set("n", "exapi", { domain: "example.com", path: "/api" });
  jar.set("n", "org", { domain: "example.org" });
  jar.set("keep", "1", { domain: "example.com" });
  jar.delete("n", { domain: "example.com", path: "/api" });
  assert.equal(await header(jar, "ws://example.com/api"), "n=ex; keep=1");
  jar.delete("n", { domain: "example.org" });
  assert.equal(jar.get("n", { domain: "example.org" }), undefined);
  assert.equal(jar.get("n"), "any");
  jar.delete("n", { domain: "" });
  assert.equal(jar.get("n"), "ex");
  jar.set("n", "any2");
  jar.delete("n");
  assert.equal(jar.get("n"), undefined);
  assert.deepEqual([...jar].map((c) => c.name), ["keep"]);
  jar.delete("nothing-here");
  jar.clear();
  assert.deepEqual([...jar], []);
  assert.equal(await header(jar, "ws://example.com/"), undefined);
});

test("iteration yields every live cookie with its attributes; jar exposes tough-cookie", async () => {
  const jar = new CookieJar();
  const exp = new Date(Date.UTC(2100, 0, 1));
  jar.set("g", "1", { path: "/p", secure: true });
  jar.set("d", "2", { domain: "example.com", httpOnly: true, expires: exp, sameSite: "Lax" });
  const all = [...jar];
  assert.deepEqual(all, [
    { name: "g", value: "1", domain: "", path: "/p", secure: true, httpOnly: false, expires: undefined, hostOnly: false, sameSite: undefined },
    { name: "d", value: "2", domain: "example.com", path: "/", secure: false, httpOnly: true, expires: exp, hostOnly: false, sameSite: "lax" },
  ]);
  assert.ok(jar.jar instanceof ToughCookieJar);
  // the underlying jar is live: cookies added through it are used
  await jar.jar.setCookie("t=3", "https://tough.test/");
  assert.equal(await header(jar, "wss://tough.test/"), "t=3");
  assert.ok([...jar].some((c) => c.name === "t" && c.domain === "tough.test"));
});

test("ws/wss ports and query strings do not matter for matching; IPv6 hosts work", async () => {
  const jar = new CookieJar();
  await jar.storeFromResponse(u("ws://[::1]:9000/x?y=1"), ["v6=1; Path=/"]);
  assert.equal(await header(jar, "ws://[::1]:9999/"), "v6=1");
  assert.equal(await header(jar, "ws://127.0.0.1:9000/"), undefined);
  jar.set("v6b", "2", { domain: "::1" });
  assert.equal(await header(jar, "wss://[::1]/"), "v6=1; v6b=2");
});

// ------------------------------------------------------------------ through AsyncSession, against real servers
// Two hosts over loopback: 127.0.0.1 and [::1] are different hosts for cookies.


interface CookiePeer {
  url: string;
  /** Cookie header of each upgrade request, "" when absent. */
  seen: string[];
  /** Set-Cookie values to send on the next 101 responses. */
  setCookie: string[];
  close(): Promise<void>;
}

async function cookiePeer(host: string): Promise<CookiePeer | null> {
  const wss = new WebSocketServer({ host, port: 0 });
  const ok = await new Promise<boolean>((r) => {
    wss.once("listening", () => r(true));
    wss.once("error", () => r(false));
  });
  if (!ok) return null;
  const peer: CookiePeer = {
    url: `ws://${host.includes(":") ? `[${host}]` : host}:${(wss.address() as AddressInfo).port}`,
    seen: [],
    setCookie: [],
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
  wss.on("headers", (headers, req) => {
    peer.seen.push(String(req.headers.cookie ?? ""));
    for (const c of peer.setCookie) headers.push(`Set-Cookie: ${c}`);
  });
  wss.on("connection", (ws) => ws.on("message", (d, isBinary) => ws.send(d, { binary: isBinary })));
  return peer;
}

/** An HTTP server answering every request with a redirect (and optional Set-Cookie). */
async function redirector(status: number, location: () => string, setCookie: string[] = []): Promise<{ url: string; seen: string[]; server: HttpServer }> {
  const seen: string[] = [];
  const server = createHttpServer((req, res) => {
    seen.push(String(req.headers.cookie ?? ""));
    res.writeHead(status, { Location: location(), "Set-Cookie": setCookie, "Content-Length": "0" });
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

async function connectOnce(session: AsyncSession, url: string, opts: Parameters<AsyncSession["wsConnect"]>[1] = {}): Promise<void> {
  const ws = await session.wsConnect(url, opts);
  await ws.close();
}

test("session: any-host cookies go to every host; a host's cookies never to another host", async () => {
  const v4 = (await cookiePeer("127.0.0.1"))!;
  const v6 = await cookiePeer("::1");
  const session = new AsyncSession({ cookies: { seeded: "1" } });
  try {
    session.cookies.set("session_id", "xyz");
    session.cookies.set("only4", "a", { domain: "127.0.0.1" });
    await connectOnce(session, `${v4.url}/chat`);
    assert.equal(v4.seen.at(-1), "only4=a; seeded=1; session_id=xyz");
    if (v6) {
      await connectOnce(session, `${v6.url}/chat`);
      assert.equal(v6.seen.at(-1), "seeded=1; session_id=xyz");
    }
  } finally {
    await session.close();
    await v4.close();
    await v6?.close();
  }
});

test("session: Set-Cookie on the 101 is stored and sent next time to that host only; Max-Age=0 deletes it", async () => {
  const v4 = (await cookiePeer("127.0.0.1"))!;
  const v6 = await cookiePeer("::1");
  const session = new AsyncSession();
  try {
    v4.setCookie = ["sid=abc; Path=/; HttpOnly", "scoped=1; Path=/api", "sec=1; Secure"];
    await connectOnce(session, `${v4.url}/`);
    assert.equal(v4.seen.at(-1), "");
    assert.equal(session.cookies.get("sid", { domain: "127.0.0.1" }), "abc");
    assert.equal(session.cookies.get("sec"), undefined, "a Secure cookie over ws:// is not stored");
    v4.setCookie = [];
    await connectOnce(session, `${v4.url}/`);
    assert.equal(v4.seen.at(-1), "sid=abc");
    await connectOnce(session, `${v4.url}/api/stream`);
    assert.equal(v4.seen.at(-1), "scoped=1; sid=abc");
    if (v6) {
      await connectOnce(session, `${v6.url}/api/stream`);
      assert.equal(v6.seen.at(-1), "");
    }
    v4.setCookie = ["sid=; Max-Age=0; Path=/"];
    await connectOnce(session, `${v4.url}/`);
    v4.setCookie = [];
    await connectOnce(session, `${v4.url}/`);
    assert.equal(v4.seen.at(-1), "");
  } finally {
    await session.close();
    await v4.close();
    await v6?.close();
  }
});

test("session: per-call cookies merge over the jar's by name, for that request only", async () => {
  const v4 = (await cookiePeer("127.0.0.1"))!;
  const session = new AsyncSession({ cookies: { lang: "en", sid: "s" } });
  try {
    await connectOnce(session, v4.url, { cookies: { lang: "fr", extra: "1" } });
    assert.equal(v4.seen.at(-1), "lang=fr; sid=s; extra=1");
    await connectOnce(session, v4.url);
    assert.equal(v4.seen.at(-1), "lang=en; sid=s");
  } finally {
    await session.close();
    await v4.close();
  }
});

test("session: Set-Cookie on a redirect is stored and re-evaluated for the new host", async () => {
  const v4 = (await cookiePeer("127.0.0.1"))!;
  const v6 = await cookiePeer("::1");
  const session = new AsyncSession();
  // same host (another port): the cookie set by the redirect goes along
  const r1 = await redirector(302, () => `${v4.url}/landed`, ["fromredirect=1; Path=/"]);
  try {
    await connectOnce(session, `${r1.url}/start`, { cookies: { percall: "p" } });
    assert.equal(r1.seen.at(-1), "percall=p");
    assert.equal(v4.seen.at(-1), "fromredirect=1");
    assert.equal(session.cookies.get("fromredirect", { domain: "127.0.0.1" }), "1");
    if (v6) {
      // another host: neither the redirect's cookie nor the per-call ones are forwarded
      const r2 = await redirector(307, () => `${v6.url}/elsewhere`, ["r2=1"]);
      try {
        await connectOnce(session, `${r2.url}/start`, { cookies: { percall: "p" } });
        assert.equal(r2.seen.at(-1), "fromredirect=1; percall=p");
        assert.equal(v6.seen.at(-1), "");
        assert.equal(session.cookies.get("r2", { domain: "127.0.0.1" }), "1");
      } finally {
        r2.server.close();
      }
    }
  } finally {
    r1.server.close();
    await session.close();
    await v4.close();
    await v6?.close();
  }
});

// ------------------------------------------------------------------ the empty-jar fast path (no tough-cookie lookup)

test("an empty jar gives no Cookie header; a seeded one, one added through `jar`, and per-call cookies still do", async () => {
  const jar = new CookieJar();
  assert.equal(await header(jar, "ws://example.com/"), undefined, "empty jar");
  assert.equal(await header(jar, "wss://example.com/a"), undefined);
  assert.equal(await header(jar, "ws://example.com/", { call: "1" }), "call=1", "per-call cookies without a jar");
  // A cookie added through the public tough-cookie jar (bypassing set()) is seen at once.
  await jar.jar.setCookie("raw=1", "https://example.com/");
  assert.equal(await header(jar, "wss://example.com/"), "raw=1");
  assert.equal(await header(jar, "ws://other.test/"), undefined, "still matched by domain");
  // Deleted again: the emptied store entries do not resurrect anything.
  jar.delete("raw");
  assert.equal(await header(jar, "wss://example.com/"), undefined);
  jar.set("dom", "2", { domain: "example.com" });
  assert.equal(await header(jar, "ws://example.com/"), "dom=2");
  jar.clear();
  assert.equal(await header(jar, "ws://example.com/"), undefined);
  // Expired stored cookies are still dropped (the store is not empty, the lookup expires them).
  await jar.storeFromResponse(u("ws://example.com/"), ["gone=1; Max-Age=0", "old=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT"]);
  assert.equal(await header(jar, "ws://example.com/"), undefined);
  // Any-host cookies alone (the store empty) keep their Secure and path rules.
  jar.set("sec", "s", { secure: true });
  jar.set("deep", "d", { path: "/a/b" });
  assert.equal(await header(jar, "ws://example.com/a/b/c"), "deep=d");
  assert.equal(await header(jar, "wss://example.com/a/b"), "deep=d; sec=s");
  assert.equal(await header(jar, "wss://example.com/"), "sec=s");
});

test("session: an empty jar sends no Cookie header; a seeded one does", async () => {
  const v4 = (await cookiePeer("127.0.0.1"))!;
  const empty = new AsyncSession();
  const seeded = new AsyncSession({ cookies: { s: "1" } });
  try {
    await connectOnce(empty, `${v4.url}/`);
    assert.equal(v4.seen.at(-1), "", "no Cookie header at all");
    await connectOnce(seeded, `${v4.url}/`);
    assert.equal(v4.seen.at(-1), "s=1");
    await connectOnce(empty, `${v4.url}/`, { cookies: { c: "2" } });
    assert.equal(v4.seen.at(-1), "c=2", "per-call cookies on an empty jar");
  } finally {
    await empty.close();
    await seeded.close();
    await v4.close();
  }
});
