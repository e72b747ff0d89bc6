// SOCKS4 / 4a / 5 / 5h tunnels: Debian's dante-server (socks4, socks5, username/password) and the
// in-process test server (socks4a, where the name is resolved, scripted refusals).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import { openTransport, type TransportOptions } from "../../src/transport/index.js";
import { ProxyError, TlsError, WebSocketError } from "../../src/errors.js";
import { testCerts } from "../helpers/certs.js";
import { DANTE_PASSWORD, DANTE_USER, hasBinary, startDante, startNodeSocks, type RunningProxy } from "../helpers/proxies.js";
import { assertNoSecret, hasIpv6Loopback, rejection, roundTrip, startEcho, startTlsEcho, type EchoServer, waitFor } from "./util.js";

const certs = testCerts();
const PASSWORD = "S0cks-Pa55-qq81";
const base: TransportOptions = { verify: true, tlsEngine: "native", ca: certs.ca.cert };
const canRunDante = hasBinary("danted") && process.getuid?.() === 0;

let echo: EchoServer;
let tlsEcho: EchoServer;
before(async () => {
  echo = await startEcho();
  tlsEcho = await startTlsEcho(certs.leaf.cert, certs.leaf.key);
});
after(async () => {
  await echo.close();
  await tlsEcho.close();
});

describe("dante-server (Debian)", { skip: !canRunDante && "danted missing or not root" }, () => {
  let open: RunningProxy;
  let authed: RunningProxy;
  before(async () => {
    open = await startDante();
    authed = await startDante({ auth: true });
  });
  after(async () => {
    await open?.stop();
    await authed?.stop();
  });

  for (const scheme of ["socks4", "socks5", "socks5h"]) {
    for (const host of ["127.0.0.1", "localhost"]) {
      test(`${scheme} to ${host}: plain tunnel`, async () => {
        const d = await openTransport({ host, port: echo.port, secure: false }, { ...base, proxy: open.urlWith(null, scheme) });
        assert.equal(await roundTrip(d, `${scheme} ${host}`), `${scheme} ${host}`);
        d.destroy();
      });
    }
  }

  test("socks5h: TLS to the target through the tunnel (SNI, verification)", async () => {
    const d = await openTransport({ host: "localhost", port: tlsEcho.port, secure: true }, { ...base, proxy: open.urlWith(null, "socks5h") });
    assert.ok(d instanceof tls.TLSSocket);
    assert.equal(d.authorized, true);
    assert.equal(await roundTrip(d, "tls over socks"), "tls over socks");
    assert.equal(tlsEcho.servernames.at(-1), "localhost");
    d.destroy();
    const err = await rejection(
      openTransport({ host: "localhost", port: tlsEcho.port, secure: true }, { verify: true, tlsEngine: "native", proxy: open.url }),
    );
    assert.ok(err instanceof TlsError, String(err));
  });

  test("socks5 IPv6 target through dante", async (t) => {
    if (!(await hasIpv6Loopback())) return t.skip("no IPv6 loopback here");
    const e6 = await startEcho("::1");
    try {
      const d = await openTransport({ host: "[::1]", port: e6.port, secure: false }, { ...base, proxy: open.url });
      assert.equal(await roundTrip(d, "six"), "six");
      d.destroy();
    } finally {
      await e6.close();
    }
  });

  test("socks5 username/password: right credentials", async () => {
    for (const scheme of ["socks5", "socks5h"]) {
      const d = await openTransport({ host: "localhost", port: echo.port, secure: false }, { ...base, proxy: authed.urlWith(authed.credentials!, scheme) });
      assert.equal(await roundTrip(d, "authed"), "authed");
      d.destroy();
    }
  });

  test("socks5 without credentials -> ProxyError", async () => {
    const err = await rejection(openTransport({ host: "127.0.0.1", port: echo.port, secure: false }, { ...base, proxy: authed.urlWith(null) }));
    assert.ok(err instanceof ProxyError, String(err));
    assert.equal(err.proxyPort, authed.port);
    assert.match(err.message, new RegExp(`SOCKS5 proxy 127\\.0\\.0\\.1:${authed.port}`));
  });

  test("socks5 wrong password -> ProxyError, no password anywhere", async () => {
    const wrong = "Wr0ng-S0cks-55";
    const err = await rejection(
      openTransport({ host: "127.0.0.1", port: echo.port, secure: false }, { ...base, proxy: authed.urlWith({ username: DANTE_USER, password: wrong }) }),
    );
    assert.ok(err instanceof ProxyError, String(err));
    assert.match(err.message, /Authentication failed/i);
    assertNoSecret(err, wrong);
    assertNoSecret(err, DANTE_PASSWORD);
  });

  test("target refused behind the proxy -> ProxyError with the SOCKS answer", async () => {
    const gone = await startEcho();
    const port = gone.port;
    await gone.close();
    for (const scheme of ["socks4", "socks5"]) {
      const err = await rejection(openTransport({ host: "127.0.0.1", port, secure: false }, { ...base, proxy: open.urlWith(null, scheme) }));
      assert.ok(err instanceof ProxyError, `${scheme}: ${String(err)}`);
      assert.match(err.message, /rejected/i);
    }
  });
});

describe("node SOCKS server (socks4a, name resolution, refusals)", () => {
  let open: RunningProxy;
  let authed: RunningProxy;
  before(async () => {
    open = await startNodeSocks();
    authed = await startNodeSocks({ auth: { username: "carol", password: PASSWORD } });
  });
  after(async () => {
    await open.stop();
    await authed.stop();
  });

  // Where the name is resolved: socks4 and socks5 locally (the proxy sees an IP), socks4a and
  // socks5h by the proxy (it sees the name).
  for (const [scheme, seen] of [
    ["socks4", "127.0.0.1"],
    ["socks4a", "localhost"],
    ["socks5", null],
    ["socks5h", "localhost"],
  ] as const) {
    test(`${scheme}: localhost reaches the proxy as ${seen ?? "an IP"}`, async () => {
      const before = open.requests!.length;
      const d = await openTransport({ host: "localhost", port: echo.port, secure: false }, { ...base, proxy: open.urlWith(null, scheme) });
      assert.equal(await roundTrip(d, scheme), scheme);
      d.destroy();
      const req = open.requests![before]!;
      if (seen) assert.equal(req, `${seen}:${echo.port}`);
      else assert.match(req, new RegExp(`^(127\\.0\\.0\\.1|\\[::1\\]):${echo.port}$`));
    });
  }

  test("socks4/socks4a cannot carry an IPv6 literal -> WebSocketError before asking", async () => {
    for (const scheme of ["socks4", "socks4a"]) {
      const before = open.requests!.length;
      const err = await rejection(openTransport({ host: "[::1]", port: echo.port, secure: false }, { ...base, proxy: open.urlWith(null, scheme) }));
      assert.ok(err instanceof WebSocketError && !(err instanceof ProxyError), String(err));
      assert.match(err.message, /IPv6/);
      assert.equal(open.requests!.length, before);
    }
  });

  test("socks4a: TLS through the tunnel", async () => {
    const d = await openTransport({ host: "localhost", port: tlsEcho.port, secure: true }, { ...base, proxy: open.urlWith(null, "socks4a") });
    assert.equal(await roundTrip(d, "tls 4a"), "tls 4a");
    d.destroy();
  });

  test("socks4 user id from the URL", async () => {
    const ok = await openTransport(
      { host: "127.0.0.1", port: echo.port, secure: false },
      { ...base, proxy: authed.urlWith({ username: "carol", password: "" }, "socks4") },
    );
    assert.equal(await roundTrip(ok, "uid"), "uid");
    ok.destroy();
    const err = await rejection(
      openTransport({ host: "127.0.0.1", port: echo.port, secure: false }, { ...base, proxy: authed.urlWith({ username: "mallory", password: "" }, "socks4a") }),
    );
    assert.ok(err instanceof ProxyError, String(err));
    assert.match(err.message, new RegExp(`SOCKS4a proxy 127\\.0\\.0\\.1:${authed.port}`));
  });

  test("socks5h username/password: right, missing, wrong", async () => {
    const d = await openTransport({ host: "localhost", port: echo.port, secure: false }, { ...base, proxy: authed.url });
    assert.equal(await roundTrip(d, "5h auth"), "5h auth");
    d.destroy();
    const wrong = "Wr0ng-S0cks-55";
    for (const url of [authed.urlWith(null), authed.urlWith({ username: "carol", password: wrong })]) {
      const err = await rejection(openTransport({ host: "localhost", port: echo.port, secure: false }, { ...base, proxy: url }));
      assert.ok(err instanceof ProxyError, String(err));
      assertNoSecret(err, wrong);
      assertNoSecret(err, PASSWORD);
    }
  });

  test("SOCKS5 failure codes -> ProxyError naming the answer", async () => {
    for (const [code, word] of [
      [1, "Failure"],
      [2, "NotAllowed"],
      [4, "HostUnreachable"],
      [5, "ConnectionRefused"],
    ] as const) {
      const p = await startNodeSocks({ refuseWith: code, auth: { username: "dave", password: PASSWORD } });
      try {
        const err = await rejection(openTransport({ host: "localhost", port: echo.port, secure: false }, { ...base, proxy: p.url }));
        assert.ok(err instanceof ProxyError, String(err));
        assert.match(err.message, new RegExp(word));
        assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${p.port}`));
        assertNoSecret(err, PASSWORD);
      } finally {
        await p.stop();
      }
    }
  });

  test("SOCKS4 rejection -> ProxyError", async () => {
    const p = await startNodeSocks({ refuseWith: 1 });
    try {
      const err = await rejection(openTransport({ host: "127.0.0.1", port: echo.port, secure: false }, { ...base, proxy: p.urlWith(null, "socks4") }));
      assert.ok(err instanceof ProxyError, String(err));
      assert.match(err.message, /rejected/i);
    } finally {
      await p.stop();
    }
  });

  test("abort during the SOCKS negotiation rejects with the reason", async () => {
    // A "proxy" that accepts and never answers the greeting.
    const net = await import("node:net");
    const sockets: import("node:net").Socket[] = [];
    const srv = net.createServer((s) => {
      sockets.push(s);
      s.resume();
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    const port = (srv.address() as import("node:net").AddressInfo).port;
    try {
      const ac = new AbortController();
      const p = openTransport({ host: "127.0.0.1", port: echo.port, secure: false }, { ...base, proxy: `socks5://127.0.0.1:${port}`, signal: ac.signal });
      await waitFor(() => sockets.length > 0, "the proxy connection");
      const reason = new Error("abort socks");
      ac.abort(reason);
      assert.equal(await rejection(p), reason);
      await new Promise<void>((r) => (sockets[0]!.destroyed ? r() : sockets[0]!.once("close", () => r())));
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});
