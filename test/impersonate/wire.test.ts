/**
 * The catalogue on real sockets. (1) Every target's ClientHello as masq's TLS engine sends it,
 * captured by a TCP tap in front of Node's TLS server, against the target's reference JA4 /
 * JA4_r, with the handshake and an echo completing. (2) Every family, plus the Kyber-draft and
 * oldest Safari shapes, completes a wss echo through AsyncSession against `openssl s_server`
 * (TLS 1.3 and TLS 1.2), nginx and Node's TLS server.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import net from "node:net";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { WebSocketServer } from "ws";
import { AsyncSession } from "../../src/index.js";
import { getProfile, targetNames } from "../../src/impersonate/index.js";
import { masqTlsConnect } from "../../src/tls/index.js";
import { ja4, ja4r, parseClientHello } from "../helpers/ja4.js";
import { testCerts } from "../helpers/certs.js";
import { nginxBinary, startNginx, type RunningNginx } from "../helpers/nginx.js";
import { canConnect, freePort } from "../helpers/ports.js";
import { hasBinary } from "../helpers/proxies.js";

const DIR = fileURLToPath(new URL("../fixtures/profiles", import.meta.url));
const REF = JSON.parse(readFileSync(`${DIR}/curl_cffi.json`, "utf8")).targets as Record<string, { wss: { ja4: string[]; ja4_r: string[] }; https: { ja4: string[]; ja4_r: string[] } }>;
const CURL_NAME: Record<string, string> = {
  safari15_3: "safari153", safari15_5: "safari155", safari17_0: "safari170", safari18_0: "safari180", safari18_4: "safari184",
  safari26_0: "safari260", safari26_0_1: "safari2601", safari17_2_ios: "safari172_ios", safari18_0_ios: "safari180_ios",
  safari18_4_ios: "safari184_ios", safari26_0_ios: "safari260_ios",
};
const realHello = (f: string) => parseClientHello(readFileSync(`${DIR}/${f}`, "utf8").trim());
const REAL: Record<string, ReturnType<typeof realHello>> = {
  chrome156: realHello("chromium-156-headless-wss.hex"),
  edge156: realHello("chromium-156-headless-wss.hex"),
  chrome156_android: realHello("chromium-156-headless-wss.hex"),
  firefox153: realHello("firefox-esr-153.8-wss.hex"),
};

/** JA4 / JA4_r a target may show: its own references plus those of targets sharing its shape. */
function expected(name: string): { ja4: Set<string>; ja4r: Set<string> } {
  const real = REAL[name];
  if (real) return { ja4: new Set([ja4(real)]), ja4r: new Set([ja4r(real)]) };
  const shape = getProfile(name).tls;
  const out = { ja4: new Set<string>(), ja4r: new Set<string>() };
  for (const other of targetNames()) {
    if (getProfile(other).tls !== shape || REAL[other]) continue;
    const r = REF[CURL_NAME[other] ?? other]![shape.alpn.includes("h2") ? "https" : "wss"];
    r.ja4.forEach((j) => out.ja4.add(j));
    r.ja4_r.forEach((j) => out.ja4r.add(j));
  }
  return out;
}

const certs = testCerts();
const cleanup: Array<() => Promise<unknown> | void> = [];
after(async () => {
  for (const c of cleanup.reverse()) await Promise.resolve(c()).catch(() => {});
});

// ---------------------------------------------------------------- (1) every target on the wire

let tlsPort = 0;
let tapPort = 0;
const flights: Buffer[] = [];

before(async () => {
  const server = tls.createServer({ cert: certs.leaf.cert, key: certs.leaf.key, ALPNProtocols: ["http/1.1"] }, (s) => {
    s.on("error", () => {});
    s.pipe(s);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  tlsPort = (server.address() as net.AddressInfo).port;
  const open = new Set<net.Socket>();
  const tap = net.createServer((client) => {
    const index = flights.push(Buffer.alloc(0)) - 1;
    const upstream = net.connect(tlsPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      open.add(s);
      s.on("error", () => {});
      s.on("close", () => open.delete(s));
    }
    client.on("data", (d: Buffer) => {
      if (flights[index]!.length < 8192) flights[index] = Buffer.concat([flights[index]!, d]);
    });
    client.pipe(upstream).pipe(client);
  });
  tap.listen(0, "127.0.0.1");
  await once(tap, "listening");
  tapPort = (tap.address() as net.AddressInfo).port;
  cleanup.push(
    () => new Promise<void>((r) => server.close(() => r())),
    () => {
      for (const s of open) s.destroy();
      return new Promise<void>((r) => tap.close(() => r()));
    },
  );
});

/** An AbortSignal that aborts after 15 s with an error saying what did not finish. */
function timed(what: string): AbortSignal {
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error(`${what} did not finish within 15 s`)), 15_000).unref();
  return ac.signal;
}

test("every target: masq's hello captured on the wire matches its reference; handshake and echo complete", async (t) => {
  let attempts = 0;
  let stalls = 0;
  for (const name of targetNames()) {
    const p = getProfile(name);
    // Every wait is bounded and names its target and stage. A stall is retried once on a fresh
    // connection and reported as a diagnostic: a rare stall under heavy CPU load was seen once
    // (Node 20, CI dry run with other work on both cores) and could not be reproduced in 18
    // loaded runs nor with the server's bytes re-chunked at random; a second stall fails.
    const attempt = async (): Promise<void> => {
      attempts++;
      const stage = (what: string): { signal: AbortSignal } => ({ signal: timed(`${name}: ${what}`) });
      const socket = net.connect(tapPort, "127.0.0.1");
      try {
        await once(socket, "connect", stage("TCP connect"));
        const tls13 = await masqTlsConnect(socket, { host: "localhost", rejectUnauthorized: true, ca: certs.ca.cert, profile: p, ...stage("TLS handshake") });
        tls13.write(`hello ${name}`);
        const [echo] = (await once(tls13, "data", stage("echo"))) as [Buffer];
        assert.equal(echo.toString(), `hello ${name}`);
      } finally {
        socket.destroy();
      }
    };
    try {
      await attempt();
    } catch (err) {
      if (!/did not finish within/.test(String((err as Error).message))) throw err;
      stalls++;
      t.diagnostic(`stall, retried once: ${(err as Error).message}`);
      await attempt();
    }
    const hello = parseClientHello(flights.at(-1)!);
    const want = expected(name);
    assert.ok(want.ja4.has(ja4(hello)), `${name}: JA4 ${ja4(hello)} not in ${[...want.ja4]}`);
    assert.ok(want.ja4r.has(ja4r(hello)), `${name}: JA4_r ${ja4r(hello)}`);
  }
  assert.equal(flights.length, attempts);
  assert.ok(stalls <= 1, `${stalls} handshakes stalled`);
});

// ---------------------------------------------------------------- (2) wss echo per family

const FAMILIES = ["chrome", "chrome_android", "edge", "safari", "safari_ios", "firefox", "tor", "chrome124", "safari15_3"];

/** A plain ws echo server (the upstream of nginx and of the s_server bridge). */
async function plainEcho(): Promise<number> {
  const http = createHttpServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: true });
  wss.on("connection", (ws) => ws.on("message", (m, binary) => ws.send(m, { binary })));
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  cleanup.push(() => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(); http.close(() => r()); }));
  return (http.address() as net.AddressInfo).port;
}

async function echoAll(url: string, label: string, families: string[] = FAMILIES): Promise<void> {
  for (const family of families) {
    const session = new AsyncSession();
    try {
      const ws = await session.wsConnect(url, { impersonate: family, ca: certs.ca.cert, timeout: 15_000 });
      await ws.sendStr(`${label} ${family}`);
      assert.equal(await ws.recvStr({ timeout: 15_000 }), `${label} ${family}`);
      await ws.sendBytes(Buffer.alloc(70_000, 7));
      assert.equal((await ws.recvBytes({ timeout: 15_000 })).length, 70_000);
      await ws.close();
    } catch (e) {
      throw new Error(`${label} / ${family}: ${(e as Error).message}`, { cause: e });
    } finally {
      await session.close();
    }
  }
}

test("every family: wss echo against Node's TLS server", async () => {
  const https: HttpsServer = createHttpsServer({ cert: certs.leaf.cert, key: certs.leaf.key });
  const wss = new WebSocketServer({ server: https, perMessageDeflate: true });
  wss.on("connection", (ws) => ws.on("message", (m, binary) => ws.send(m, { binary })));
  https.listen(0, "127.0.0.1");
  await once(https, "listening");
  cleanup.push(() => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(); https.close(() => r()); }));
  await echoAll(`wss://localhost:${(https.address() as net.AddressInfo).port}/echo`, "node");
});

test("every family: wss echo through nginx (TLS-terminating)", { skip: nginxBinary() ? false : "nginx is not installed" }, async () => {
  const upstream = await plainEcho();
  const ng: RunningNginx = await startNginx({ upstreams: { "/": `http://127.0.0.1:${upstream}` }, tls: true });
  cleanup.push(() => ng.stop());
  await echoAll(`wss://localhost:${ng.port}/echo`, "nginx");
});

for (const version of ["-tls1_3", "-tls1_2"] as const) {
  test(`every family: wss echo against openssl s_server (${version})`, { skip: hasBinary("openssl") ? false : "openssl is not installed" }, async () => {
    const upstream = await plainEcho();
    const port = await freePort();
    // s_server -quiet relays the decrypted stream on stdin/stdout: a TCP bridge to the ws server
    // makes it a TLS-terminating front, one connection at a time.
    const child: ChildProcess = spawn("openssl", [
      "s_server", "-accept", `127.0.0.1:${port}`, "-cert", certs.leaf.certPath, "-key", certs.leaf.keyPath, version, "-quiet",
    ], { stdio: ["pipe", "pipe", "pipe"] });
    cleanup.push(() => { child.kill("SIGKILL"); });
    child.stdin!.on("error", () => {});
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(port))) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error("openssl s_server did not start");
      await new Promise((r) => setTimeout(r, 50));
    }
    let bridge: net.Socket | undefined;
    child.stdout!.on("data", (d: Buffer) => bridge?.write(d));
    for (const family of FAMILIES) {
      bridge = net.connect(upstream, "127.0.0.1");
      await once(bridge, "connect");
      const b = bridge;
      b.on("data", (d: Buffer) => child.stdin!.write(d));
      b.on("error", () => {});
      try {
        await echoAll(`wss://localhost:${port}/echo`, `openssl ${version}`, [family]);
      } finally {
        b.destroy();
        // s_server goes back to accept once the client has closed its TLS connection.
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
}
