/**
 * `wsConnect` through real proxies (issue 4): HTTP CONNECT (Debian tinyproxy and the npm `proxy`
 * package, over http:// and https://), SOCKS4 / SOCKS4a / SOCKS5 / SOCKS5h (Debian dante and the
 * in-process SOCKS server), with and without credentials, to ws:// and wss:// echo targets; refusals
 * as ProxyError without the password; `proxies` selection by scheme; `trustEnv` and the
 * HTTP(S)_PROXY / ALL_PROXY / NO_PROXY variables.
 */
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { inspect } from "node:util";
import {
  AsyncSession,
  ProxyError,
  TlsError,
  WebSocketError,
  type AsyncWebSocket,
  type SessionOptions,
} from "../../src/index.js";
import { testCerts } from "../helpers/certs.js";
import {
  hasBinary,
  startDante,
  startHttpProxy,
  startNodeSocks,
  startTinyproxy,
  type Credentials,
  type RunningProxy,
} from "../helpers/proxies.js";
import { startWsServer, type TestWsServer } from "../helpers/ws-server.js";

const closers: Array<() => Promise<void>> = [];
after(async () => {
  await Promise.allSettled(closers.map((c) => c()));
});
function keep<T extends { stop(): Promise<void> } | { close(): Promise<void> }>(x: T): T {
  closers.push(() => ("stop" in x ? x.stop() : x.close()));
  return x;
}

let plain: TestWsServer;
let secure: TestWsServer;
before(async () => {
  plain = keep(await startWsServer());
  secure = keep(await startWsServer({ tls: true }));
});
const ca = (): string => testCerts().ca.cert;

async function closeQuietly(ws: AsyncWebSocket | undefined): Promise<void> {
  if (!ws) return;
  try {
    await ws.close(1000, "", { timeout: 2000 });
  } catch {
    ws.terminate();
  }
}

const BIG = randomBytes(1 << 20);

/** Connects, echoes a text and a 1 MiB binary message, closes cleanly. */
async function echoThrough(url: string, opts: SessionOptions): Promise<void> {
  const s = new AsyncSession({ ca: ca(), timeout: 15_000, ...opts });
  try {
    const ws = await s.wsConnect(url);
    try {
      assert.equal(ws.response.status, 101);
      await ws.sendStr("hello through the tunnel ✓");
      assert.equal(await ws.recvStr({ timeout: 10_000 }), "hello through the tunnel ✓");
      await ws.sendBytes(BIG);
      const got = await ws.recvBytes({ timeout: 20_000 });
      assert.equal(got.length, BIG.length);
      assert.ok(got.equals(BIG), "1 MiB binary intact");
      await ws.close(1000, "bye", { timeout: 5000 });
      assert.equal(ws.closeCode, 1000);
    } finally {
      if (!ws.closed) ws.terminate();
    }
  } finally {
    await s.close();
  }
}

/** Asserts that `secret` appears nowhere in the error: message, stack, cause chain, any property. */
function assertNoSecret(err: unknown, secrets: string[]): void {
  const texts: string[] = [String(err), inspect(err, { depth: 8, showHidden: true })];
  let e: unknown = err;
  for (let i = 0; i < 8 && e; i++) {
    if (e instanceof Error) {
      texts.push(e.message, e.stack ?? "");
      e = e.cause;
    } else {
      texts.push(inspect(e, { depth: 8 }));
      break;
    }
  }
  try {
    texts.push(JSON.stringify(err));
  } catch {
    /* circular: inspect covers it */
  }
  for (const secret of secrets) {
    for (const t of texts) assert.ok(!t.includes(secret), `the secret ${JSON.stringify(secret)} leaked into: ${t.slice(0, 500)}`);
  }
}

const have = { tinyproxy: hasBinary("tinyproxy"), danted: hasBinary("danted") };
const GOOD: Credentials = { username: "alice", password: "s3cret-Pw" };
// Characters that must be percent-encoded in a URL and decoded before use.
const SPECIAL: Credentials = { username: "bob@corp", password: "p@ss:w/rd %41?#" };

interface Kind {
  name: string;
  skip?: string | false;
  /** Starts (once) and returns the proxy URL to use, and the proxy for extra checks. */
  start(): Promise<{ url: string; proxy: RunningProxy }>;
  /** Host name to use for the target (socks4a/socks5h: a name the proxy must resolve). */
  targetHost?: string;
  /** Expected `requests` entry prefix on the node SOCKS server ("localhost" for remote DNS). */
  expectRequestHost?: string;
}

function once(f: () => Promise<RunningProxy>): () => Promise<RunningProxy> {
  let p: Promise<RunningProxy> | undefined;
  return () => (p ??= f().then(keep));
}
const tinyNoAuth = once(() => startTinyproxy());
const tinyAuth = once(() => startTinyproxy({ auth: GOOD }));
const nodeHttp = once(() => startHttpProxy());
const nodeHttpAuth = once(() => startHttpProxy({ auth: SPECIAL }));
const nodeHttps = once(() => startHttpProxy({ tls: true }));
const nodeHttpsAuth = once(() => startHttpProxy({ tls: true, auth: GOOD }));
const dante = once(() => startDante());
const danteAuth = once(() => startDante({ auth: true }));
const socks = once(() => startNodeSocks());
const socksAuth = once(() => startNodeSocks({ auth: SPECIAL }));

const url = (p: RunningProxy, scheme?: string): string => p.urlWith(p.credentials ?? null, scheme);
const kinds: Kind[] = [
  { name: "tinyproxy http:// CONNECT", skip: !have.tinyproxy && "tinyproxy not installed", start: async () => { const p = await tinyNoAuth(); return { url: url(p), proxy: p }; } },
  { name: "tinyproxy http:// CONNECT with BasicAuth", skip: !have.tinyproxy && "tinyproxy not installed", start: async () => { const p = await tinyAuth(); return { url: url(p), proxy: p }; } },
  { name: "npm proxy http:// CONNECT", start: async () => { const p = await nodeHttp(); return { url: url(p), proxy: p }; } },
  { name: "npm proxy http:// CONNECT with percent-encoded credentials", start: async () => { const p = await nodeHttpAuth(); return { url: url(p), proxy: p }; } },
  { name: "npm proxy https:// (TLS to the proxy, verified with ca)", start: async () => { const p = await nodeHttps(); return { url: url(p), proxy: p }; } },
  { name: "npm proxy https:// with credentials", start: async () => { const p = await nodeHttpsAuth(); return { url: url(p), proxy: p }; } },
  { name: "dante socks5", skip: !have.danted && "danted not installed", start: async () => { const p = await dante(); return { url: url(p, "socks5"), proxy: p }; } },
  { name: "dante socks4", skip: !have.danted && "danted not installed", start: async () => { const p = await dante(); return { url: url(p, "socks4"), proxy: p }; } },
  { name: "dante socks5h (proxy resolves localhost)", skip: !have.danted && "danted not installed", targetHost: "localhost", start: async () => { const p = await dante(); return { url: url(p, "socks5h"), proxy: p }; } },
  { name: "dante socks5 with username/password", skip: !have.danted && "danted not installed", start: async () => { const p = await danteAuth(); return { url: url(p, "socks5"), proxy: p }; } },
  { name: "node socks4", start: async () => { const p = await socks(); return { url: url(p, "socks4"), proxy: p }; } },
  { name: "node socks4a (proxy resolves localhost)", targetHost: "localhost", expectRequestHost: "localhost", start: async () => { const p = await socks(); return { url: url(p, "socks4a"), proxy: p }; } },
  { name: "node socks5 (local DNS: localhost sent as an address)", targetHost: "localhost", expectRequestHost: "127.0.0.1", start: async () => { const p = await socks(); return { url: url(p, "socks5"), proxy: p }; } },
  { name: "node socks5h (proxy resolves localhost)", targetHost: "localhost", expectRequestHost: "localhost", start: async () => { const p = await socks(); return { url: url(p, "socks5h"), proxy: p }; } },
  { name: "node socks5 with percent-encoded username/password", start: async () => { const p = await socksAuth(); return { url: url(p, "socks5"), proxy: p }; } },
];

for (const k of kinds) {
  for (const tls of [false, true]) {
    test(`${k.name} → ${tls ? "wss" : "ws"}:// echo (text + 1 MiB binary, close handshake)`, { skip: k.skip }, async () => {
      const { url: proxyUrl, proxy } = await k.start();
      const server = tls ? secure : plain;
      const host = k.targetHost ?? "127.0.0.1";
      const target = `${tls ? "wss" : "ws"}://${host}:${server.port}/echo`;
      const before = server.connections.length;
      await echoThrough(target, { proxy: proxyUrl });
      assert.equal(server.connections.length, before + 1);
      if (k.expectRequestHost && proxy.requests) {
        assert.equal(proxy.requests.at(-1), `${k.expectRequestHost}:${server.port}`);
      }
    });
  }
}

// ------------------------------------------------------------------ refusals

async function proxyFailure(target: string, opts: SessionOptions): Promise<unknown> {
  const s = new AsyncSession({ ca: ca(), timeout: 15_000, ...opts });
  try {
    await s.wsConnect(target);
  } catch (err) {
    return err;
  } finally {
    await s.close();
  }
  assert.fail("the connection through the proxy should have failed");
}

function assertProxyError(err: unknown, p: { host: string; port: number }, status: number | undefined, secrets: string[]): void {
  assert.ok(err instanceof ProxyError, `expected ProxyError, got ${inspect(err)}`);
  assert.ok(err instanceof WebSocketError);
  assert.equal(err.proxyHost, p.host);
  assert.equal(err.proxyPort, p.port);
  assert.ok(err.message.includes(`${p.host}:${p.port}`), `message names host:port: ${err.message}`);
  if (status !== undefined) {
    assert.equal(err.status, status);
    assert.ok(err.message.includes(String(status)), `message names the status: ${err.message}`);
  }
  assertNoSecret(err, secrets);
}

const WRONG = "Wr0ng-Pa55%word!";
const secretsOf = (c: Credentials): string[] => [WRONG, encodeURIComponent(WRONG), c.password, encodeURIComponent(c.password)];

test("wrong or missing credentials on HTTP proxies -> ProxyError with the 407 naming host:port, no password anywhere", async (t) => {
  const proxies: RunningProxy[] = [await nodeHttpAuth(), await nodeHttpsAuth()];
  if (have.tinyproxy) proxies.push(await tinyAuth());
  else t.diagnostic("tinyproxy not installed: skipped");
  for (const p of proxies) {
    for (const tls of [false, true]) {
      const target = `${tls ? secure.url : plain.url}/echo`;
      const wrong = await proxyFailure(target, { proxy: p.urlWith({ username: p.credentials!.username, password: WRONG }) });
      // tinyproxy 1.11 answers wrong (as opposed to missing) credentials with 401: its answer is reported as is
      assertProxyError(wrong, p, p.kind === "tinyproxy" ? 401 : 407, secretsOf(p.credentials!));
      const none = await proxyFailure(target, { proxy: p.urlWith(null) });
      assertProxyError(none, p, 407, secretsOf(p.credentials!));
    }
  }
});

test("wrong credentials on SOCKS5 proxies -> ProxyError naming host:port, no password anywhere", async (t) => {
  const proxies: RunningProxy[] = [await socksAuth()];
  if (have.danted) proxies.push(await danteAuth());
  else t.diagnostic("danted not installed: skipped");
  for (const p of proxies) {
    const err = await proxyFailure(`${plain.url}/echo`, {
      proxy: p.urlWith({ username: p.credentials!.username, password: WRONG }, "socks5"),
    });
    assertProxyError(err, p, undefined, secretsOf(p.credentials!));
    // no credentials offered to a proxy that requires them
    const none = await proxyFailure(`${plain.url}/echo`, { proxy: p.urlWith(null, "socks5") });
    assertProxyError(none, p, undefined, secretsOf(p.credentials!));
  }
});

test("a SOCKS proxy refusing the CONNECT (reply 2, not allowed) -> ProxyError", async () => {
  const p = keep(await startNodeSocks({ refuseWith: 2 }));
  for (const scheme of ["socks5", "socks5h", "socks4", "socks4a"]) {
    const err = await proxyFailure(`${plain.url}/echo`, { proxy: p.urlWith(null, scheme) });
    assertProxyError(err, p, undefined, []);
  }
});

test("an HTTP proxy that cannot reach the target -> ProxyError with its 5xx", async () => {
  const p = await nodeHttp();
  const dead = await closedPort();
  const err = await proxyFailure(`ws://127.0.0.1:${dead}/echo`, { proxy: p.url });
  assert.ok(err instanceof ProxyError, inspect(err));
  assert.ok(err.status >= 500 && err.status < 600, `status ${err.status}`);
});

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test("proxy down (nothing listening) -> ProxyError naming host:port, for every scheme, no password", async () => {
  const port = await closedPort();
  for (const scheme of ["http", "https", "socks4", "socks4a", "socks5", "socks5h"]) {
    const err = await proxyFailure(`${plain.url}/echo`, { proxy: `${scheme}://u:${encodeURIComponent(WRONG)}@127.0.0.1:${port}` });
    assertProxyError(err, { host: "127.0.0.1", port }, undefined, [WRONG, encodeURIComponent(WRONG)]);
    assert.equal((err as ProxyError).errno, "ECONNREFUSED", `${scheme}: errno`);
  }
});

test("https:// proxy whose certificate is not trusted is refused (TLS error), target never reached", async () => {
  const p = await nodeHttps();
  const before = plain.connections.length;
  const s = new AsyncSession({ timeout: 15_000 }); // no ca
  try {
    await assert.rejects(s.wsConnect(`${plain.url}/echo`, { proxy: p.url }), (err: unknown) => {
      assert.ok(err instanceof WebSocketError, inspect(err));
      const tlsish = err instanceof TlsError || (err instanceof ProxyError && err.cause instanceof TlsError);
      assert.ok(tlsish, `a TLS failure, got ${inspect(err)}`);
      return true;
    });
  } finally {
    await s.close();
  }
  assert.equal(plain.connections.length, before);
  // verify: false accepts it (and the target's certificate)
  await echoThrough(`${secure.url}/echo`, { proxy: p.url, verify: false, ca: undefined });
});

// ------------------------------------------------------------------ selection

/** Three recording SOCKS proxies; returns which ones saw a request during `f`. */
async function whichProxy(
  p: Record<"A" | "B" | "C", RunningProxy>,
  f: () => Promise<void>,
): Promise<string> {
  const before = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.requests!.length]));
  await f();
  const used = Object.entries(p)
    .filter(([k, v]) => v.requests!.length > before[k]!)
    .map(([k]) => k);
  return used.join(",") || "direct";
}

async function threeSocks(): Promise<Record<"A" | "B" | "C", RunningProxy>> {
  return { A: keep(await startNodeSocks()), B: keep(await startNodeSocks()), C: keep(await startNodeSocks()) };
}

async function connectVia(target: string, opts: SessionOptions): Promise<void> {
  const s = new AsyncSession({ ca: ca(), timeout: 15_000 });
  try {
    const ws = await s.wsConnect(target, opts);
    await ws.sendStr("x");
    assert.equal(await ws.recvStr({ timeout: 5000 }), "x");
    await closeQuietly(ws);
  } finally {
    await s.close();
  }
}

test("proxies: chosen by the target's scheme (wss → wss ?? https ?? all, ws → ws ?? http ?? all); proxy wins", async () => {
  const p = await threeSocks();
  const ws = `${plain.url}/echo`;
  const wss = `${secure.url}/echo`;
  const m = (x: RunningProxy): string => x.urlWith(null, "socks5");
  const cases: Array<[SessionOptions, string, string]> = [
    [{ proxies: { ws: m(p.A), wss: m(p.B) } }, "A", "B"],
    [{ proxies: { http: m(p.A), https: m(p.B) } }, "A", "B"],
    [{ proxies: { all: m(p.C) } }, "C", "C"],
    [{ proxies: { ws: m(p.A), http: m(p.B), all: m(p.C) } }, "A", "C"],
    [{ proxies: { wss: m(p.B), https: m(p.A), all: m(p.C) } }, "C", "B"],
    [{ proxies: { https: m(p.B) } }, "direct", "B"],
    [{ proxies: { http: m(p.A) } }, "A", "direct"],
    [{ proxy: m(p.C), proxies: { all: m(p.A), ws: m(p.B) } }, "C", "C"],
  ];
  for (const [opts, forWs, forWss] of cases) {
    assert.equal(await whichProxy(p, () => connectVia(ws, opts)), forWs, `ws with ${JSON.stringify(opts)}`);
    assert.equal(await whichProxy(p, () => connectVia(wss, opts)), forWss, `wss with ${JSON.stringify(opts)}`);
  }
  // a session's proxies apply to every call; a per-call map replaces it
  const s = new AsyncSession({ ca: ca(), proxies: { all: m(p.A) } });
  try {
    assert.equal(await whichProxy(p, async () => closeQuietly(await s.wsConnect(ws))), "A");
    assert.equal(await whichProxy(p, async () => closeQuietly(await s.wsConnect(ws, { proxies: { ws: m(p.B) } }))), "B");
  } finally {
    await s.close();
  }
});

const ENV_KEYS = ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"];

async function withEnv(vars: Record<string, string>, f: () => Promise<void>): Promise<void> {
  const saved = new Map(ENV_KEYS.map((k) => [k, process.env[k]]));
  for (const k of ENV_KEYS) delete process.env[k];
  Object.assign(process.env, vars);
  try {
    await f();
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test("trustEnv: HTTP_PROXY / HTTPS_PROXY / ALL_PROXY / NO_PROXY apply only when opted in", async () => {
  const p = await threeSocks();
  const ws = `${plain.url}/echo`;
  const wss = `${secure.url}/echo`;
  const e = (x: RunningProxy): string => x.urlWith(null, "socks5");
  await withEnv({ HTTP_PROXY: e(p.A), HTTPS_PROXY: e(p.B), ALL_PROXY: e(p.C) }, async () => {
    assert.equal(await whichProxy(p, () => connectVia(ws, {})), "direct", "env ignored without trustEnv");
    assert.equal(await whichProxy(p, () => connectVia(wss, { trustEnv: false })), "direct");
    assert.equal(await whichProxy(p, () => connectVia(ws, { trustEnv: true })), "A");
    assert.equal(await whichProxy(p, () => connectVia(wss, { trustEnv: true })), "B");
    // explicit options win over the environment
    assert.equal(await whichProxy(p, () => connectVia(ws, { trustEnv: true, proxy: e(p.C) })), "C");
  });
  await withEnv({ ALL_PROXY: e(p.C) }, async () => {
    assert.equal(await whichProxy(p, () => connectVia(ws, { trustEnv: true })), "C");
    assert.equal(await whichProxy(p, () => connectVia(wss, { trustEnv: true })), "C");
  });
  await withEnv({ http_proxy: e(p.A), https_proxy: e(p.B) }, async () => {
    assert.equal(await whichProxy(p, () => connectVia(ws, { trustEnv: true })), "A", "lower-case names");
    assert.equal(await whichProxy(p, () => connectVia(wss, { trustEnv: true })), "B");
  });
  for (const noProxy of ["127.0.0.1", "127.0.0.0/8", `127.0.0.1:${plain.port}, 127.0.0.1:${secure.port}`, "*"]) {
    await withEnv({ HTTP_PROXY: e(p.A), HTTPS_PROXY: e(p.B), NO_PROXY: noProxy }, async () => {
      assert.equal(await whichProxy(p, () => connectVia(ws, { trustEnv: true })), "direct", `NO_PROXY=${noProxy}`);
      assert.equal(await whichProxy(p, () => connectVia(wss, { trustEnv: true })), "direct", `NO_PROXY=${noProxy}`);
    });
  }
  await withEnv({ HTTP_PROXY: e(p.A), NO_PROXY: "localhost,10.0.0.0/8,127.0.0.1:1" }, async () => {
    assert.equal(await whichProxy(p, () => connectVia(ws, { trustEnv: true })), "A", "NO_PROXY entries that do not match");
  });
  // a session-level trustEnv applies to its calls
  await withEnv({ HTTPS_PROXY: e(p.B) }, async () => {
    const s = new AsyncSession({ ca: ca(), trustEnv: true });
    try {
      assert.equal(await whichProxy(p, async () => closeQuietly(await s.wsConnect(wss))), "B");
    } finally {
      await s.close();
    }
  });
});

test("trustEnv: a proxy from the environment with credentials; its password is not in errors either", async () => {
  const p = await socksAuth();
  await withEnv({ ALL_PROXY: p.urlWith(p.credentials!, "socks5") }, async () => {
    await echoThrough(`${plain.url}/echo`, { trustEnv: true });
  });
  await withEnv({ ALL_PROXY: p.urlWith({ username: p.credentials!.username, password: WRONG }, "socks5") }, async () => {
    const err = await proxyFailure(`${plain.url}/echo`, { trustEnv: true });
    assertProxyError(err, p, undefined, secretsOf(p.credentials!));
  });
});

// ------------------------------------------------------------------ more edges

test("an IPv6 proxy literal (http://[::1]:port) works and is named with brackets when it refuses", async (t) => {
  const { createServer } = await import("node:http");
  const { createProxy } = await import("proxy");
  const server = createServer();
  const proxy = createProxy(server);
  proxy.authenticate = (req) => req.headers["proxy-authorization"] === "Basic " + Buffer.from("v6:pw6").toString("base64");
  const ok = await new Promise<boolean>((r) => {
    server.once("error", () => r(false));
    server.listen(0, "::1", () => r(true));
  });
  if (!ok) {
    t.skip("no IPv6 loopback");
    return;
  }
  const sockets = new Set<net.Socket>();
  server.on("connection", (c: net.Socket) => sockets.add(c));
  closers.push(async () => {
    for (const c of sockets) c.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const port = (server.address() as net.AddressInfo).port;
  await echoThrough(`${secure.url}/echo`, { proxy: `http://v6:pw6@[::1]:${port}` });
  const err = await proxyFailure(`${plain.url}/echo`, { proxy: `http://v6:${encodeURIComponent(WRONG)}@[::1]:${port}` });
  assert.ok(err instanceof ProxyError, inspect(err));
  assert.equal(err.proxyHost, "::1");
  assert.equal(err.proxyPort, port);
  assert.equal(err.status, 407);
  assert.ok(err.message.includes(`[::1]:${port}`), err.message);
  assertNoSecret(err, [WRONG, encodeURIComponent(WRONG)]);
});

test("IPv6 targets through proxies: CONNECT and SOCKS5 carry them; SOCKS4 cannot and fails cleanly", async (t) => {
  const v6 = await startWsServerOn6();
  if (!v6) {
    t.skip("no IPv6 loopback");
    return;
  }
  const target = `ws://[::1]:${v6.port}/echo`;
  await echoThrough(target, { proxy: (await nodeHttp()).url });
  const s5 = await socks();
  await echoThrough(target, { proxy: s5.urlWith(null, "socks5") });
  assert.equal(s5.requests!.at(-1), `[::1]:${v6.port}`);
  const err = await proxyFailure(target, { proxy: s5.urlWith(null, "socks4") });
  assert.ok(err instanceof WebSocketError, inspect(err));
});

/** A tiny echo WebSocket server on ::1 (the shared helper listens on 127.0.0.1 only). */
async function startWsServerOn6(): Promise<{ port: number } | undefined> {
  const { createServer } = await import("node:http");
  const { WebSocketServer } = await import("ws");
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 8 << 20 });
  wss.on("connection", (ws) => {
    ws.on("error", () => {});
    ws.on("message", (d, isBinary) => ws.send(d, { binary: isBinary }));
  });
  const ok = await new Promise<boolean>((r) => {
    server.once("error", () => r(false));
    server.listen(0, "::1", () => r(true));
  });
  if (!ok) return undefined;
  closers.push(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((r) => wss.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as net.AddressInfo).port };
}

/** A proxy that accepts TCP and never answers. */
async function silentProxy(): Promise<{ port: number; accepted: () => number; closed: () => number }> {
  let accepted = 0;
  let closed = 0;
  const socks = new Set<net.Socket>();
  const server = net.createServer((c) => {
    accepted++;
    socks.add(c);
    c.on("error", () => {});
    c.on("close", () => closed++);
    c.resume(); // read (and drop) what the client sends, so that its FIN is seen
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  closers.push(async () => {
    for (const c of socks) c.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as net.AddressInfo).port, accepted: () => accepted, closed: () => closed };
}

test("timeout and abort apply while a proxy never answers (every scheme); the socket is dropped", async () => {
  const p = await silentProxy();
  for (const scheme of ["http", "https", "socks4", "socks4a", "socks5", "socks5h"]) {
    const err = await proxyFailure(`${plain.url}/echo`, { proxy: `${scheme}://127.0.0.1:${p.port}`, timeout: 300 });
    assert.equal((err as Error).name, "WebSocketTimeout", `${scheme}: ${inspect(err)}`);
    const ac = new AbortController();
    const reason = new Error(`abort ${scheme}`);
    const s = new AsyncSession();
    try {
      const pending = s.wsConnect(`${plain.url}/echo`, { proxy: `${scheme}://127.0.0.1:${p.port}`, signal: ac.signal });
      const before = p.accepted();
      for (let i = 0; i < 100 && p.accepted() === before; i++) await new Promise((r) => setTimeout(r, 10));
      ac.abort(reason);
      await assert.rejects(pending, (e: unknown) => e === reason);
    } finally {
      await s.close();
    }
  }
  for (let i = 0; i < 200 && p.closed() < p.accepted(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(p.closed(), p.accepted(), "every connection to the proxy was closed");
});

test("redirects: the proxy is chosen again for each hop (ws→wss switches proxies; NO_PROXY per hop)", async () => {
  const p = await threeSocks();
  const m = (x: RunningProxy): string => x.urlWith(null, "socks5");
  // ws:// /reject-free redirect: the plain ws server has no redirect path, so use a tiny redirector.
  const { createServer } = await import("node:http");
  const red = createServer();
  red.on("upgrade", (req, sock: net.Socket) => {
    sock.on("error", () => {});
    const to = new URL(req.url ?? "/", "http://x").searchParams.get("to")!;
    sock.end(`HTTP/1.1 302 Found\r\nLocation: ${to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
  await new Promise<void>((r) => red.listen(0, "127.0.0.1", () => r()));
  closers.push(() => new Promise<void>((r) => red.close(() => r())));
  const redUrl = `ws://127.0.0.1:${(red.address() as net.AddressInfo).port}`;
  const toSecure = `${redUrl}/?to=${encodeURIComponent(`${secure.url}/echo`)}`;
  const used = await whichProxy(p, () => connectVia(toSecure, { proxies: { ws: m(p.A), wss: m(p.B) } }));
  assert.equal(used, "A,B");
  assert.equal(p.B.requests!.at(-1), `127.0.0.1:${secure.port}`);
  // NO_PROXY=localhost: the first hop (127.0.0.1) goes through the proxy, the second (localhost) does not
  const toLocalhost = `${redUrl}/?to=${encodeURIComponent(`ws://localhost:${plain.port}/echo`)}`;
  await withEnv({ ALL_PROXY: m(p.C), NO_PROXY: "localhost" }, async () => {
    const before = p.C.requests!.length;
    await connectVia(toLocalhost, { trustEnv: true });
    assert.deepEqual(p.C.requests!.slice(before), [`127.0.0.1:${(red.address() as net.AddressInfo).port}`]);
  });
});

test("Proxy-Authorization goes to the proxy only; the target never sees it (tunnel) ", async () => {
  for (const p of [await nodeHttpAuth(), await nodeHttpsAuth()]) {
    const s = new AsyncSession({ ca: ca(), proxy: p.url, timeout: 15_000 });
    try {
      const ws = await s.wsConnect(`${plain.url}/headers`);
      const info = JSON.parse(await ws.recvStr({ timeout: 5000 })) as { headers: Record<string, string> };
      await closeQuietly(ws);
      assert.equal(info.headers["proxy-authorization"], undefined);
      assert.equal(info.headers.host, `127.0.0.1:${plain.port}`);
    } finally {
      await s.close();
    }
  }
});

test("a target refusing the upgrade behind a working tunnel is a HandshakeError, not a ProxyError", async () => {
  const kindsToTry: RunningProxy[] = [await nodeHttp(), await socks()];
  if (have.tinyproxy) kindsToTry.push(await tinyNoAuth());
  for (const p of kindsToTry) {
    const err = await proxyFailure(`${plain.url}/reject?status=403`, {
      proxy: p.kind === "node-socks" ? p.urlWith(null, "socks5") : p.url,
    });
    assert.ok(!(err instanceof ProxyError), `${p.kind}: ${inspect(err)}`);
    assert.equal((err as Error).name, "HandshakeError", `${p.kind}: ${inspect(err)}`);
    assert.equal((err as { status: number }).status, 403);
  }
});

test("malformed or unsupported proxy URLs fail with a WebSocketError that does not contain the password", async () => {
  const secret = "Pr0xy-Secret-77";
  const bad = [
    `http://user:${secret}@[not-an-ip`,
    `ftp://user:${secret}@127.0.0.1:21`,
    `socks6://user:${secret}@127.0.0.1:1080`,
    `http://user:${secret}@:8080`,
  ];
  for (const proxy of bad) {
    for (const opts of [{ proxy }, { proxies: { all: proxy } }] as SessionOptions[]) {
      const err = await proxyFailure(`${plain.url}/echo`, opts);
      assert.ok(err instanceof WebSocketError, `${proxy}: ${inspect(err)}`);
      assertNoSecret(err, [secret]);
    }
  }
});

test("non-ASCII credentials (UTF-8, percent-encoded in the URL) work for SOCKS5 (RFC 1929 byte lengths) and HTTP Basic", async () => {
  const creds: Credentials = { username: "üser-名前", password: "pässwörd-✓-𝄞" };
  const s5 = keep(await startNodeSocks({ auth: creds }));
  await echoThrough(`${plain.url}/echo`, { proxy: s5.urlWith(creds, "socks5") });
  const h = keep(await startHttpProxy({ auth: creds }));
  await echoThrough(`${secure.url}/echo`, { proxy: h.url });
});

test("NO_PROXY matches IPv6 targets (::1, [::1]:port) and leaves others proxied", async (t) => {
  const v6 = await startWsServerOn6();
  if (!v6) {
    t.skip("no IPv6 loopback");
    return;
  }
  const p = await threeSocks();
  const target = `ws://[::1]:${v6.port}/echo`;
  const e = (x: RunningProxy): string => x.urlWith(null, "socks5");
  for (const noProxy of ["::1", "[::1]", `[::1]:${v6.port}`, "::1/128"]) {
    await withEnv({ ALL_PROXY: e(p.A), NO_PROXY: noProxy }, async () => {
      assert.equal(await whichProxy(p, () => connectVia(target, { trustEnv: true })), "direct", `NO_PROXY=${noProxy}`);
    });
  }
  await withEnv({ ALL_PROXY: e(p.A), NO_PROXY: `127.0.0.1,[::1]:1` }, async () => {
    assert.equal(await whichProxy(p, () => connectVia(target, { trustEnv: true })), "A");
  });
});

test("masq's TLS engine and browser impersonation run through tunnels with the same verification", async () => {
  const https = await nodeHttps();
  const s5h = await socks();
  const engines = [{ tls: "masq" }, { impersonate: "chrome" }, { impersonate: "firefox" }] as SessionOptions[];
  for (const proxy of [https.url, s5h.urlWith(null, "socks5h")]) {
    for (const extra of engines) {
      // localhost: SNI is sent and the certificate is checked against the name
      await echoThrough(`wss://localhost:${secure.port}/echo`, { proxy, ...extra });
    }
  }
  // Without the CA, the target's certificate is refused inside the tunnel by every engine.
  for (const extra of engines) {
    const s = new AsyncSession({ proxy: s5h.urlWith(null, "socks5h"), timeout: 15_000, ...extra });
    try {
      await assert.rejects(s.wsConnect(`wss://localhost:${secure.port}/echo`), (err: unknown) => {
        assert.equal((err as Error).name, "TlsError", `${JSON.stringify(extra)}: ${inspect(err)}`);
        return true;
      });
    } finally {
      await s.close();
    }
  }
});

test("40 connections at once through one proxy (tinyproxy or npm proxy, and SOCKS5): no cross-talk", async () => {
  const http = have.tinyproxy ? await tinyNoAuth() : await nodeHttp();
  const s5 = await socks();
  for (const proxy of [http.url, s5.urlWith(null, "socks5")]) {
    const s = new AsyncSession({ ca: ca(), proxy, timeout: 20_000 });
    try {
      const all = await Promise.all(
        Array.from({ length: 40 }, (_, i) => s.wsConnect(`${i % 2 ? secure.url : plain.url}/echo`)),
      );
      await Promise.all(
        all.map(async (ws, i) => {
          for (let j = 0; j < 5; j++) {
            const msg = `conn ${i} msg ${j} ` + "x".repeat(i * 100);
            await ws.sendStr(msg);
            assert.equal(await ws.recvStr({ timeout: 10_000 }), msg);
          }
        }),
      );
      assert.equal(s.connections.size, 40);
    } finally {
      await s.close();
    }
    assert.equal(s.connections.size, 0);
  }
});
