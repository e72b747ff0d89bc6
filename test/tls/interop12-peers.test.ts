/**
 * TLS 1.2 with masq's engine against more real servers: gnutls-serv limited to TLS 1.2, Node's TLS
 * server with maxVersion "TLSv1.2" carrying a `ws` WebSocket server (16 B and 1 MiB both ways,
 * directly, through an HTTP CONNECT proxy and through a SOCKS5 proxy), and nginx with
 * `ssl_protocols TLSv1.2` in front of a ws server. Connections come from the chrome and firefox
 * impersonation profiles, whose own ClientHellos offer TLS 1.3 and 1.2.
 */
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { TLSSocket } from "node:tls";
import type { Socket } from "node:net";
import { WebSocketServer } from "ws";
import { AsyncSession } from "../../src/index.js";
import { connectEngine } from "../../src/tls/socket.js";
import { profileHelloBuilder } from "../../src/tls/hello-builder.js";
import { chrome156Hello } from "../../src/impersonate/chrome.js";
import { firefox153Hello } from "../../src/impersonate/firefox.js";
import { getProfile } from "../../src/impersonate/index.js";
import { testCerts } from "../helpers/certs.js";
import { startHttpProxy, startNodeSocks, type RunningProxy } from "../helpers/proxies.js";
import { nginxBinary, startNginx } from "../helpers/nginx.js";
import { startWsServer } from "../helpers/ws-server.js";
import { tlsTestPki, type TlsTestPki } from "./helpers/pki.js";
import { roundTrip, tcp } from "./helpers/servers.js";
import { hasBinary, startPeer, type Peer } from "./helpers/processes.js";

let pki!: TlsTestPki;
const cleanups: Array<() => Promise<void>> = [];
before(() => {
  pki = tlsTestPki();
});
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

const BIG = randomBytes(1 << 20);

test("gnutls-serv limited to TLS 1.2: GCM, ChaCha20, CBC and (Safari's) 3DES suites with ECDSA and RSA certificates, 16 B and 1 MiB echoed", { skip: !hasBinary("gnutls-serv") && "gnutls-serv not installed" }, async () => {
  const safari = getProfile("safari18_0").tls;
  const runs: Array<[string, string, typeof chrome156Hello, string]> = [
    ["+ECDHE-ECDSA:+AES-128-GCM", "ecdsa", chrome156Hello, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
    ["+ECDHE-RSA:+AES-256-GCM", "rsa", firefox153Hello, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"],
    ["+ECDHE-RSA:+CHACHA20-POLY1305", "rsa", chrome156Hello, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"],
    ["+ECDHE-ECDSA:+AES-256-CBC:+SHA1", "ecdsa", firefox153Hello, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"],
    ["+ECDHE-RSA:+AES-128-CBC:+SHA1", "rsa", chrome156Hello, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"],
    ["+RSA:+AES-128-GCM", "rsa", chrome156Hello, "TLS_RSA_WITH_AES_128_GCM_SHA256"],
    ["+RSA:+AES-256-CBC:+SHA1", "rsa", firefox153Hello, "TLS_RSA_WITH_AES_256_CBC_SHA"],
    // 3DES, offered (last) by the Safari profiles only; Debian's OpenSSL cannot serve it.
    ["+ECDHE-ECDSA:+3DES-CBC:+SHA1", "ecdsa", safari, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"],
    ["+ECDHE-RSA:+3DES-CBC:+SHA1", "rsa", safari, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"],
    ["+RSA:+3DES-CBC:+SHA1", "rsa", safari, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"],
  ];
  for (const [alg, auth, profile, suiteName] of runs) {
    const cert = auth === "ecdsa" ? pki.leaf : pki.leafRsa;
    const priority = `NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:-CIPHER-ALL:-MAC-ALL:+AEAD:${alg}`;
    const peer: Peer = await startPeer("gnutls-serv", ["--echo", "-p", "{port}", "-a", "--x509certfile", cert.certPath, "--x509keyfile", cert.keyPath, "--priority", priority]);
    cleanups.push(() => peer.stop());
    const t = await connectEngine(await tcp(peer.port), {
      hello: profileHelloBuilder(profile, "localhost", undefined),
      verifyHost: "localhost",
      rejectUnauthorized: true,
      ca: pki.root.cert,
    });
    assert.equal(t.getProtocol(), "TLSv1.2");
    assert.equal(t.getCipher().name, suiteName);
    for (const size of [16, 1 << 20]) {
      // gnutls-serv --echo answers per line: printable bytes ending in one newline.
      const data = Buffer.from(randomBytes(size / 2).toString("hex"));
      data[size - 1] = 0x0a;
      assert.deepEqual(await roundTrip(t, data), data);
    }
    t.destroy();
    await peer.stop();
  }
});

/** An https server limited to TLS 1.2 with a ws echo server on it; records each TLS version used. */
async function startWs12(cert: { key: string; cert: string }): Promise<{ port: number; protocols: string[]; close(): Promise<void> }> {
  const protocols: string[] = [];
  const sockets = new Set<Socket>();
  const http: HttpsServer = createHttpsServer({ key: cert.key, cert: cert.cert, maxVersion: "TLSv1.2", minVersion: "TLSv1.2" });
  http.on("secureConnection", (s: TLSSocket) => {
    protocols.push(`${s.getProtocol()} ${s.getCipher().standardName}`);
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 64 << 20 });
  wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  const port = (http.address() as { port: number }).port;
  return {
    port,
    protocols,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        wss.close();
        http.close(() => r());
      }),
  };
}

async function echoOverWebSocket(url: string, impersonate: string, proxy?: string): Promise<void> {
  const s = new AsyncSession({ ca: testCerts().ca.cert, timeout: 15_000, impersonate, ...(proxy ? { proxy } : {}) });
  try {
    const ws = await s.wsConnect(url);
    try {
      const small = randomBytes(16);
      await ws.sendBytes(small);
      assert.ok((await ws.recvBytes({ timeout: 10_000 })).equals(small), "16 B echoed");
      await ws.sendBytes(BIG);
      const got = await ws.recvBytes({ timeout: 20_000 });
      assert.equal(got.length, BIG.length);
      assert.ok(got.equals(BIG), "1 MiB echoed");
      await ws.close(1000, "", { timeout: 5000 });
    } finally {
      if (!ws.closed) ws.terminate();
    }
  } finally {
    await s.close();
  }
}

test("Node TLS server (maxVersion TLSv1.2) + ws: chrome and firefox, RSA and ECDSA, direct / HTTP CONNECT / SOCKS5, 16 B and 1 MiB both ways", async () => {
  const certs = testCerts();
  const http = await startHttpProxy();
  cleanups.push(() => http.stop());
  const socks = await startNodeSocks();
  cleanups.push(() => socks.stop());
  const routes: Array<[string, RunningProxy | undefined, string | undefined]> = [
    ["direct", undefined, undefined],
    ["HTTP CONNECT", http, undefined],
    ["SOCKS5", socks, "socks5"],
  ];
  for (const [cname, cert] of [["ECDSA", certs.leaf], ["RSA", certs.leafRsa]] as const) {
    const srv = await startWs12(cert);
    cleanups.push(() => srv.close());
    for (const browser of ["chrome", "firefox"]) {
      for (const [rname, proxy, scheme] of routes) {
        const before = srv.protocols.length;
        const socksBefore = socks.requests?.length ?? 0;
        await echoOverWebSocket(`wss://127.0.0.1:${srv.port}/`, browser, proxy ? (scheme ? proxy.urlWith(proxy.credentials ?? null, scheme) : proxy.url) : undefined);
        assert.equal(srv.protocols.length, before + 1, `${cname} ${browser} ${rname}: one TLS connection`);
        assert.match(srv.protocols.at(-1)!, /^TLSv1\.2 TLS_ECDHE_/, `${cname} ${browser} ${rname}`);
        if (proxy === socks) assert.equal(socks.requests?.length, socksBefore + 1, "went through the SOCKS5 proxy");
      }
    }
    await srv.close();
  }
});

const nginx = nginxBinary();
test("nginx with ssl_protocols TLSv1.2 in front of a ws server: chrome and firefox echo 16 B and 1 MiB", { skip: !nginx && "nginx not installed" }, async () => {
  const upstream = await startWsServer();
  cleanups.push(() => upstream.close());
  const own = await startNginx({ upstreams: { "/": `http://127.0.0.1:${upstream.port}` }, tls: true, tlsProtocols: "TLSv1.2" });
  cleanups.push(() => own.stop());
  for (const browser of ["chrome", "firefox"]) await echoOverWebSocket(`${own.url}/echo`, browser);
  await own.stop();
});
