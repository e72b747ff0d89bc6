// HTTP and HTTPS CONNECT proxies: Debian tinyproxy, the npm `proxy` package (http and https), and
// scripted refusals from a raw TCP server.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { openTransport, type TransportOptions } from "../../src/transport/index.js";
import { ProxyError, TlsError, WebSocketError } from "../../src/errors.js";
import { testCerts } from "../helpers/certs.js";
import { hasBinary, startHttpProxy, startTinyproxy, type RunningProxy } from "../helpers/proxies.js";
import { assertNoSecret, rejection, roundTrip, startEcho, startRaw, startTlsEcho, type EchoServer, waitFor } from "./util.js";

const certs = testCerts();
const PASSWORD = "Pa55-w0rd-zX9q";
const auth = { username: "alice", password: PASSWORD };
const base: TransportOptions = { verify: true, tlsEngine: "native", ca: certs.ca.cert };

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

function plainTarget() {
  return { host: "127.0.0.1", port: echo.port, secure: false };
}
function tlsTarget() {
  return { host: "localhost", port: tlsEcho.port, secure: true };
}

describe("tinyproxy (Debian)", { skip: !hasBinary("tinyproxy") && "tinyproxy not installed" }, () => {
  let open: RunningProxy;
  let authed: RunningProxy;
  before(async () => {
    open = await startTinyproxy();
    authed = await startTinyproxy({ auth });
  });
  after(async () => {
    await open?.stop();
    await authed?.stop();
  });

  test("tunnel without credentials, plain and TLS through it", async () => {
    const d = await openTransport(plainTarget(), { ...base, proxy: open.url });
    assert.equal(await roundTrip(d, "via tinyproxy"), "via tinyproxy");
    d.destroy();
    const t = await openTransport(tlsTarget(), { ...base, proxy: open.url });
    assert.ok(t instanceof tls.TLSSocket);
    assert.equal(t.authorized, true);
    assert.equal(await roundTrip(t, "tls via tinyproxy"), "tls via tinyproxy");
    assert.equal(tlsEcho.servernames.at(-1), "localhost"); // SNI is the target's, through the tunnel
    t.destroy();
  });

  test("TLS through the tunnel keeps verification: unknown CA is refused", async () => {
    const err = await rejection(openTransport(tlsTarget(), { verify: true, tlsEngine: "native", proxy: open.url }));
    assert.ok(err instanceof TlsError, String(err));
    assert.equal(err.alert, "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
  });

  test("BasicAuth: right credentials work", async () => {
    const d = await openTransport(tlsTarget(), { ...base, proxy: authed.url });
    assert.equal(await roundTrip(d, "authed"), "authed");
    d.destroy();
  });

  test("BasicAuth: no credentials -> ProxyError 407", async () => {
    const err = await rejection(openTransport(plainTarget(), { ...base, proxy: authed.urlWith(null) }));
    assert.ok(err instanceof ProxyError, String(err));
    assert.equal(err.status, 407);
    assert.equal(err.code, 1006);
    assert.equal(err.proxyHost, "127.0.0.1");
    assert.equal(err.proxyPort, authed.port);
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${authed.port}`));
    assert.match(err.message, /407 Proxy Authentication Required/);
  });

  test("BasicAuth: wrong password -> ProxyError, password nowhere in it", async () => {
    const wrong = "Wr0ng-Secret-77";
    const err = await rejection(openTransport(plainTarget(), { ...base, proxy: authed.urlWith({ username: "alice", password: wrong }) }));
    assert.ok(err instanceof ProxyError, String(err));
    assert.ok(err.status === 401 || err.status === 407, `status ${err.status}`);
    assertNoSecret(err, wrong);
    assertNoSecret(err, PASSWORD);
  });

  test("target unreachable behind the proxy -> ProxyError with the proxy's 5xx", async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
    const { port } = s.address() as net.AddressInfo;
    await new Promise<void>((r) => s.close(() => r()));
    const err = await rejection(openTransport({ host: "127.0.0.1", port, secure: false }, { ...base, proxy: authed.url }));
    assert.ok(err instanceof ProxyError, String(err));
    assert.ok(err.status >= 500 && err.status <= 599, `status ${err.status}`);
    assertNoSecret(err, PASSWORD);
  });
});

describe("npm proxy over http", () => {
  let open: RunningProxy;
  let authed: RunningProxy;
  before(async () => {
    open = await startHttpProxy();
    authed = await startHttpProxy({ auth });
  });
  after(async () => {
    await open.stop();
    await authed.stop();
  });

  test("tunnel without credentials", async () => {
    const d = await openTransport(plainTarget(), { ...base, proxy: open.url });
    assert.equal(await roundTrip(d, "npm proxy"), "npm proxy");
    d.destroy();
  });

  test("credentials are percent-decoded from the URL", async () => {
    const odd = { username: "al ice@corp", password: "p@ss:w/rd%?#" };
    const p = await startHttpProxy({ auth: odd });
    try {
      assert.match(p.url, /al%20ice%40corp:p%40ss%3Aw%2Frd%25%3F%23@/);
      const d = await openTransport(tlsTarget(), { ...base, proxy: p.url });
      assert.equal(await roundTrip(d, "odd creds"), "odd creds");
      d.destroy();
    } finally {
      await p.stop();
    }
  });

  test("right / missing / wrong credentials", async () => {
    const d = await openTransport(tlsTarget(), { ...base, proxy: authed.url });
    assert.equal(await roundTrip(d, "ok"), "ok");
    d.destroy();
    for (const url of [authed.urlWith(null), authed.urlWith({ username: "alice", password: "Wr0ng-Secret-77" })]) {
      const err = await rejection(openTransport(plainTarget(), { ...base, proxy: url }));
      assert.ok(err instanceof ProxyError, String(err));
      assert.equal(err.status, 407);
      assert.match(err.message, /407 Proxy Authentication Required/);
      assertNoSecret(err, "Wr0ng-Secret-77");
      assertNoSecret(err, PASSWORD);
    }
  });
});

describe("npm proxy over https", () => {
  let p: RunningProxy;
  before(async () => {
    p = await startHttpProxy({ tls: true, auth });
  });
  after(() => p.stop());

  test("proxy certificate verified with `ca`; TLS to the target inside TLS to the proxy", async () => {
    const d = await openTransport(tlsTarget(), { ...base, proxy: p.url });
    assert.ok(d instanceof tls.TLSSocket);
    assert.equal(d.authorized, true);
    assert.equal(await roundTrip(d, "tls in tls"), "tls in tls");
    d.destroy();
    const plain = await openTransport(plainTarget(), { ...base, proxy: p.url });
    assert.equal(await roundTrip(plain, "plain in tls"), "plain in tls");
    plain.destroy();
  });

  test("proxy certificate not trusted -> TlsError naming the HTTPS proxy", async () => {
    const err = await rejection(openTransport(plainTarget(), { verify: true, tlsEngine: "native", proxy: p.url }));
    assert.ok(err instanceof TlsError, String(err));
    assert.equal(err.alert, "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    assert.match(err.message, new RegExp(`HTTPS proxy 127\\.0\\.0\\.1:${p.port}`));
    assertNoSecret(err, PASSWORD);
  });

  test("verify:false skips the proxy's (and the target's) certificate check", async () => {
    const d = await openTransport(tlsTarget(), { verify: false, tlsEngine: "native", proxy: p.url });
    assert.equal(await roundTrip(d, "unverified"), "unverified");
    d.destroy();
  });

  test("wrong credentials -> ProxyError 407", async () => {
    const err = await rejection(
      openTransport(plainTarget(), { ...base, proxy: p.urlWith({ username: "alice", password: "Wr0ng-Secret-77" }) }),
    );
    assert.ok(err instanceof ProxyError, String(err));
    assert.equal(err.status, 407);
    assertNoSecret(err, "Wr0ng-Secret-77");
  });
});

describe("scripted CONNECT answers", () => {
  /** A fake proxy answering the CONNECT head with `answer` (then acting per `after`). */
  async function fake(answer: string | Buffer | null, then: "close" | "echo" | "hang" = "close") {
    const requests: string[] = [];
    const raw = await startRaw((s) => {
      let head = "";
      const onData = (d: Buffer) => {
        head += d.toString("latin1");
        if (!head.includes("\r\n\r\n")) return;
        s.removeListener("data", onData);
        requests.push(head);
        if (answer === null) {
          if (then === "close") s.end();
          return;
        }
        if (then === "close") s.end(answer);
        else if (then === "echo") {
          s.write(answer);
          s.pipe(s);
        }
        else s.write(answer);
      };
      s.on("data", onData);
    });
    return { ...raw, requests };
  }

  for (const [answer, status] of [
    ["HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", 403],
    ["HTTP/1.1 502 Bad Gateway\r\n\r\n", 502],
    ["HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=x\r\n\r\n", 407],
  ] as const) {
    test(`${status} -> ProxyError with status and answer, no credentials`, async () => {
      const f = await fake(answer);
      try {
        const url = `http://alice:${PASSWORD}@127.0.0.1:${f.port}`;
        const err = await rejection(openTransport(plainTarget(), { ...base, proxy: url }));
        assert.ok(err instanceof ProxyError, String(err));
        assert.equal(err.status, status);
        assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${f.port}.*${status} ${answer.split("\r\n")[0]!.split(" ").slice(2).join(" ")}`));
        assertNoSecret(err, PASSWORD);
        // The request itself: CONNECT with Host and Basic credentials.
        const req = f.requests[0]!;
        assert.match(req, new RegExp(`^CONNECT 127\\.0\\.0\\.1:${echo.port} HTTP/1\\.1\\r\\n`));
        assert.match(req, new RegExp(`\\r\\nHost: 127\\.0\\.0\\.1:${echo.port}\\r\\n`));
        const b64 = Buffer.from(`alice:${PASSWORD}`).toString("base64");
        assert.ok(req.includes(`\r\nProxy-Authorization: Basic ${b64}\r\n`));
      } finally {
        await f.close();
      }
    });
  }

  test("200 without a reason phrase is accepted; HTTP/1.0 too", async () => {
    for (const head of ["HTTP/1.1 200\r\n\r\n", "HTTP/1.0 200 OK\r\nProxy-Agent: x\r\n\r\n"]) {
      const f = await fake(head, "echo");
      try {
        const d = await openTransport(plainTarget(), { ...base, proxy: `http://127.0.0.1:${f.port}` });
        assert.equal(await roundTrip(d, "bare"), "bare");
        d.destroy();
      } finally {
        await f.close();
      }
    }
  });

  test("oversized answer head -> ProxyError", async () => {
    const f = await fake("HTTP/1.1 200 OK\r\n" + "X-Pad: " + "a".repeat(70 * 1024) + "\r\n\r\n");
    try {
      const err = await rejection(openTransport(plainTarget(), { ...base, proxy: `http://127.0.0.1:${f.port}` }));
      assert.ok(err instanceof ProxyError, String(err));
      assert.match(err.message, /oversized/);
    } finally {
      await f.close();
    }
  });

  test("connection reset during CONNECT -> ProxyError with errno", async () => {
    const raw = await startRaw((s) => s.once("data", () => s.resetAndDestroy()));
    try {
      const err = await rejection(openTransport(plainTarget(), { ...base, proxy: `http://u:${PASSWORD}@127.0.0.1:${raw.port}` }));
      assert.ok(err instanceof ProxyError, String(err));
      assert.ok(err.errno === "ECONNRESET" || /closed the connection/.test(err.message), err.message);
      assertNoSecret(err, PASSWORD);
    } finally {
      await raw.close();
    }
  });

  test("abort during the TLS handshake with an https:// proxy", async () => {
    let onConn!: () => void;
    const connected = new Promise<void>((r) => (onConn = r));
    const raw = await startRaw(() => onConn()); // never answers the ClientHello
    try {
      const ac = new AbortController();
      const p = openTransport(plainTarget(), { ...base, proxy: `https://127.0.0.1:${raw.port}`, signal: ac.signal });
      await connected;
      const reason = new Error("abort proxy tls");
      ac.abort(reason);
      assert.equal(await rejection(p), reason);
      await Promise.all(raw.closed);
    } finally {
      await raw.close();
    }
  });

  test("tunnel closed by the proxy during the target's TLS handshake -> TlsError", async () => {
    const f = await fake("HTTP/1.1 200 Connection established\r\n\r\n", "hang");
    try {
      const p = openTransport({ host: "localhost", port: 443, secure: true }, { ...base, proxy: `http://127.0.0.1:${f.port}` });
      await waitFor(() => f.requests.length > 0, "the CONNECT request");
      await new Promise((r) => setTimeout(r, 20));
      await f.close(); // destroys the tunnel
      const err = await rejection(p);
      assert.ok(err instanceof TlsError, String(err));
    } finally {
      await f.close();
    }
  });

  test("connection closed without an answer -> ProxyError", async () => {
    const f = await fake(null, "close");
    try {
      const err = await rejection(openTransport(plainTarget(), { ...base, proxy: `http://127.0.0.1:${f.port}` }));
      assert.ok(err instanceof ProxyError, String(err));
      assert.equal(err.status, 0);
      assert.match(err.message, /closed the connection/);
    } finally {
      await f.close();
    }
  });

  test("garbage answer -> ProxyError", async () => {
    const f = await fake("SSH-2.0-OpenSSH\r\n\r\n");
    try {
      const err = await rejection(openTransport(plainTarget(), { ...base, proxy: `http://127.0.0.1:${f.port}` }));
      assert.ok(err instanceof ProxyError, String(err));
      assert.match(err.message, /malformed/);
    } finally {
      await f.close();
    }
  });

  test("bytes after the 200 head reach the reader; head split across packets", async () => {
    const raw = await startRaw((s) => {
      s.once("data", async () => {
        // The answer in three writes with pauses, the last one carrying early tunnel bytes.
        s.write("HTTP/1.1 200 Conn");
        await new Promise((r) => setTimeout(r, 20));
        s.write("ection established\r\nX-A: b\r");
        await new Promise((r) => setTimeout(r, 20));
        s.write("\n\r\nEARLY");
        s.pipe(s);
      });
    });
    try {
      const d = await openTransport(plainTarget(), { ...base, proxy: `http://127.0.0.1:${raw.port}` });
      const first = await new Promise<Buffer>((r) => d.once("data", r));
      assert.equal(first.toString(), "EARLY");
      assert.equal(await roundTrip(d, "after"), "after");
      d.destroy();
    } finally {
      await raw.close();
    }
  });

  test("IPv6 target literal is bracketed in CONNECT", async () => {
    const f = await fake("HTTP/1.1 403 Forbidden\r\n\r\n");
    try {
      await rejection(openTransport({ host: "[::1]", port: 443, secure: false }, { ...base, proxy: `http://127.0.0.1:${f.port}` }));
      assert.match(f.requests[0]!, /^CONNECT \[::1\]:443 HTTP\/1\.1\r\nHost: \[::1\]:443\r\n/);
      assert.ok(!f.requests[0]!.includes("Proxy-Authorization"));
    } finally {
      await f.close();
    }
  });

  test("abort while waiting for the CONNECT answer", async () => {
    const f = await fake(null, "hang");
    try {
      const ac = new AbortController();
      const p = openTransport(plainTarget(), { ...base, proxy: `http://127.0.0.1:${f.port}`, signal: ac.signal });
      await waitFor(() => f.requests.length > 0, "the CONNECT request");
      const reason = new Error("enough");
      ac.abort(reason);
      assert.equal(await rejection(p), reason);
      await Promise.all(f.closed);
    } finally {
      await f.close();
    }
  });

  test("proxy unreachable -> ProxyError with errno, naming host:port, no credentials", async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
    const { port } = s.address() as net.AddressInfo;
    await new Promise<void>((r) => s.close(() => r()));
    for (const scheme of ["http", "https", "socks5"]) {
      const err = await rejection(openTransport(plainTarget(), { ...base, proxy: `${scheme}://bob:${PASSWORD}@127.0.0.1:${port}` }));
      assert.ok(err instanceof ProxyError, String(err));
      assert.equal(err.errno, "ECONNREFUSED");
      assert.equal(err.proxyPort, port);
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assertNoSecret(err, PASSWORD);
    }
  });

  test("unsupported proxy scheme -> WebSocketError without credentials", async () => {
    const err = await rejection(openTransport(plainTarget(), { ...base, proxy: `ftp://bob:${PASSWORD}@127.0.0.1:1` }));
    assert.ok(err instanceof WebSocketError);
    assert.match(err.message, /Unsupported proxy scheme/);
    assertNoSecret(err, PASSWORD);
  });
});
