// tlsEngine "masq" through openTransport: direct and through each tunnel kind, with the same
// verification options. Skipped when src/tls/index.js is not there (the engine is another module).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { openTransport, type TransportOptions } from "../../src/transport/index.js";
import { TlsError, WebSocketError } from "../../src/errors.js";
import { masqTlsLoader } from "../../src/transport/masq-tls.js";
import { transientReadBytes } from "../../src/transport/direct-read.js";
import { createHash, randomBytes } from "node:crypto";
import tls from "node:tls";
import type { Duplex } from "node:stream";
import { testCerts } from "../helpers/certs.js";
import { hasBinary, startHttpProxy, startNodeSocks, startTinyproxy, type RunningProxy } from "../helpers/proxies.js";
import { rejection, roundTrip, startRaw, startTlsEcho, type EchoServer, waitFor } from "./util.js";

let engineMissing: string | false = false;
try {
  const mod = (await import("../../src/tls/index.js" as string)) as { masqTlsConnect?: unknown };
  if (typeof mod.masqTlsConnect !== "function") engineMissing = "masqTlsConnect not exported";
} catch (err) {
  engineMissing = `masq TLS engine not available: ${(err as Error).message}`;
}

describe("masq TLS engine over transport", { skip: engineMissing }, () => {
  const certs = testCerts();
  const base: TransportOptions = { verify: true, tlsEngine: "masq", ca: certs.ca.cert };
  let good: EchoServer;
  let expired: EchoServer;
  const proxies: Record<string, RunningProxy> = {};
  before(async () => {
    good = await startTlsEcho(certs.leaf.cert, certs.leaf.key);
    expired = await startTlsEcho(certs.expired.cert, certs.expired.key);
    proxies.http = await startHttpProxy({ auth: { username: "u", password: "masq-pw-1" } });
    proxies.https = await startHttpProxy({ tls: true });
    proxies.socks5h = await startNodeSocks();
    if (hasBinary("tinyproxy")) proxies.tinyproxy = await startTinyproxy();
  });
  after(async () => {
    await good.close();
    await expired.close();
    for (const p of Object.values(proxies)) await p.stop();
  });

  test("direct: verified with ca, SNI and ALPN", async () => {
    const d = await openTransport({ host: "localhost", port: good.port, secure: true }, base);
    assert.equal(await roundTrip(d, "masq direct"), "masq direct");
    assert.equal(good.servernames.at(-1), "localhost");
    assert.equal(good.alpn.at(-1), "http/1.1");
    d.destroy();
  });

  test("direct: expired certificate -> TlsError; verify:false accepts it", async () => {
    const err = await rejection(openTransport({ host: "localhost", port: expired.port, secure: true }, base));
    assert.ok(err instanceof TlsError, String(err));
    const d = await openTransport({ host: "localhost", port: expired.port, secure: true }, { ...base, verify: false });
    assert.equal(await roundTrip(d, "unverified"), "unverified");
    d.destroy();
  });

  test("direct: reads go straight from the shared read buffer into the engine; 3 MiB in odd pieces arrive intact", async () => {
    // A server that writes odd-sized pieces with pauses, so that records straddle reads.
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const server = tls.createServer({ cert: certs.leaf.cert, key: certs.leaf.key }, (s) => {
      s.on("error", () => {});
      s.once("data", async () => {
        for (let o = 0, i = 0; o < data.length; i++) {
          const n = Math.min(data.length - o, [1, 5, 300, 16_389, 70_000, 123_457][i % 6]!);
          if (!s.write(data.subarray(o, o + n))) await new Promise((r) => s.once("drain", r));
          o += n;
          if (i % 5 === 0) await new Promise((r) => setTimeout(r, 1));
        }
        s.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    try {
      const port = (server.address() as { port: number }).port;
      const before = transientReadBytes();
      const d = await openTransport({ host: "localhost", port, secure: true }, base);
      const got: Buffer[] = [];
      const ended = new Promise<void>((resolve, reject) => {
        d.on("data", (c: Buffer) => got.push(Buffer.from(c)));
        d.on("end", () => resolve());
        d.on("error", reject);
      });
      d.write("go");
      await ended;
      d.destroy();
      const all = Buffer.concat(got);
      assert.equal(all.length, data.length);
      assert.equal(createHash("sha256").update(all).digest("hex"), createHash("sha256").update(data).digest("hex"));
      assert.ok(transientReadBytes() - before > data.length, "read through the shared buffer");
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test("direct: a large output buffer is reused while writes follow each other and given back once idle", async () => {
    const d = (await openTransport({ host: "localhost", port: good.port, secure: true }, base)) as Duplex & { scratchBytes: number };
    let echoed = 0;
    d.on("data", (c: Buffer) => (echoed += c.length));
    const chunk = Buffer.alloc(1024 * 1024, 1);
    for (let i = 0; i < 4; i++) d.write(chunk);
    await new Promise<void>((resolve) => d.write(chunk, () => resolve()));
    await waitFor(() => echoed === 5 * chunk.length, "the echo of 5 MiB");
    // Given back a short while (250 ms) after the last write, not at once: streaming keeps it.
    const t0 = Date.now();
    await waitFor(() => d.scratchBytes <= 64 * 1024, "the output buffer to be given back");
    assert.ok(Date.now() - t0 < 3000);
    d.destroy();
  });

  for (const kind of ["http", "https", "socks5h", "tinyproxy"]) {
    test(`through ${kind}: same verification inside the tunnel`, async (t) => {
      const p = proxies[kind];
      if (!p) return t.skip(`${kind} not available`);
      const d = await openTransport({ host: "localhost", port: good.port, secure: true }, { ...base, proxy: p.url });
      assert.equal(await roundTrip(d, `masq via ${kind}`), `masq via ${kind}`);
      d.destroy();
      const err = await rejection(openTransport({ host: "localhost", port: expired.port, secure: true }, { ...base, proxy: p.url }));
      assert.ok(err instanceof TlsError, String(err));
    });
  }
});

test('tlsEngine "masq" with the engine missing -> WebSocketError saying so, socket closed', async () => {
  const server = await startRaw(() => {}); // the TCP connection is made, then the engine is missing
  const saved = masqTlsLoader.specifier;
  masqTlsLoader.specifier = "../tls/no-such-module.js";
  try {
    const err = await rejection(
      openTransport({ host: "127.0.0.1", port: server.port, secure: true }, { verify: true, tlsEngine: "masq" }),
    );
    assert.ok(err instanceof WebSocketError, String(err));
    assert.equal(err.code, 1006);
    assert.match(err.message, /masq TLS engine is not available/);
    await waitFor(() => server.closed.length > 0, "the server to see the connection");
    assert.equal(server.closed.length, 1);
    await Promise.all(server.closed); // our side closed the connection
  } finally {
    masqTlsLoader.specifier = saved;
    await server.close();
  }
});
