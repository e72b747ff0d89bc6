/**
 * Fingerprint test: masq's TLS engine with the Chrome profile against a local Node TLS server
 * that records every ClientHello (read-tls-client-hello's `trackClientHellos`). A byte tap between
 * client and server also keeps the raw first record, for our own JA4_r.
 */
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { once } from "node:events";
import { trackClientHellos, type TlsClientHelloMessage } from "read-tls-client-hello";
import { masqTlsConnect } from "../../src/tls/index.js";
import { isGrease } from "../../src/tls/constants.js";
import { ja4, ja4r, parseClientHello } from "../helpers/ja4.js";
import { chrome156, firefox153 } from "../../src/impersonate/index.js";
import { testCerts } from "../helpers/certs.js";

const CHROME_JA4 = "t13d1516h1_8daaf6152771_5b37b36a67c0";
const CHROME_JA4_R =
  "t13d1516h1_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,ca34,fe0d,ff01_0904,0905,0906,0403,0804,0401,0503,0805,0501,0806,0601";

type Seen = TlsClientHelloMessage & { ja3: string; ja4: string };

let server: tls.Server;
let tap: net.Server;
const seen: Seen[] = [];
/** The first bytes each tapped connection sent, in connection order. */
const firstFlights: Buffer[] = [];
const open = new Set<net.Socket>();

before(async () => {
  const certs = testCerts();
  server = tls.createServer({ cert: certs.leaf.cert, key: certs.leaf.key, ALPNProtocols: ["http/1.1"] }, (s) => {
    s.on("error", () => {});
    s.pipe(s); // echo
  });
  trackClientHellos(server);
  server.on("secureConnection", (s: tls.TLSSocket) => {
    if (s.tlsClientHello) seen.push(s.tlsClientHello);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const serverPort = (server.address() as net.AddressInfo).port;

  // A transparent TCP tap in front of the TLS server that keeps the client's first flight.
  tap = net.createServer((client) => {
    open.add(client);
    const chunks: Buffer[] = [];
    const index = firstFlights.length;
    firstFlights.push(Buffer.alloc(0));
    const upstream = net.connect(serverPort, "127.0.0.1");
    open.add(upstream);
    client.on("data", (d: Buffer) => {
      if (chunks.reduce((n, c) => n + c.length, 0) < 8192) {
        chunks.push(d);
        firstFlights[index] = Buffer.concat(chunks);
      }
    });
    client.pipe(upstream).pipe(client);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  });
  tap.listen(0, "127.0.0.1");
  await once(tap, "listening");
});

after(async () => {
  for (const s of open) s.destroy();
  tap?.close();
  server?.close();
});

/** One connection through the tap with `profile`: handshake, echo one message, close. */
async function connectAndEcho(profile: typeof chrome156, servername: string, message: string, alpn?: string[]): Promise<string | false | null> {
  const port = (tap.address() as net.AddressInfo).port;
  const raw = net.connect(port, "127.0.0.1");
  open.add(raw);
  await once(raw, "connect");
  const tlsSocket = await masqTlsConnect(raw, {
    host: servername,
    servername,
    ...(alpn ? { alpn } : {}),
    rejectUnauthorized: true,
    ca: testCerts().ca.cert,
    profile: profile.tls,
  });
  try {
    tlsSocket.write(message);
    let got = "";
    for await (const chunk of tlsSocket) {
      got += chunk.toString();
      if (got.length >= message.length) break;
    }
    assert.equal(got, message);
    return tlsSocket.alpnProtocol;
  } finally {
    tlsSocket.destroy();
    raw.destroy();
  }
}

/** First TLS record of a tapped flight. */
function firstRecord(flight: Buffer): Buffer {
  assert.equal(flight[0], 22, "first record is a handshake record");
  return flight.subarray(0, 5 + flight.readUInt16BE(3));
}

test("20 Chrome-profile connections: server-side JA4 equals Chromium's, order and GREASE vary, echo works", async () => {
  const start = seen.length;
  const flightStart = firstFlights.length;
  for (let i = 0; i < 20; i++) {
    assert.equal(await connectAndEcho(chrome156, "localhost", `hello ${i}`, ["http/1.1"]), "http/1.1");
  }
  const hellos = seen.slice(start);
  assert.equal(hellos.length, 20);
  const ja3s = new Set<string>();
  const cipherGrease = new Set<number>();
  const extGrease = new Set<number>();
  for (const h of hellos) {
    assert.equal(h.ja4, CHROME_JA4);
    ja3s.add(h.ja3);
    const ids = h.extensions.map((e) => e.id);
    assert.ok(isGrease(ids[0]!) && isGrease(ids.at(-1)!), "GREASE first and last");
    assert.ok(isGrease(h.cipherSuites[0]!));
    cipherGrease.add(h.cipherSuites[0]!);
    extGrease.add(ids[0]!);
  }
  assert.ok(ja3s.size >= 19, `extension order differs per connection (${ja3s.size} distinct JA3)`);
  assert.ok(cipherGrease.size >= 3 && extGrease.size >= 3, "GREASE values vary");

  // Our own JA4 / JA4_r over the tapped bytes agree with the server and with the reference.
  const flights = firstFlights.slice(flightStart);
  assert.equal(flights.length, 20);
  for (const f of flights) {
    const record = firstRecord(f);
    assert.ok(record.length >= 1905 && record.length <= 2001, `ClientHello record of ${record.length} bytes`);
    const h = parseClientHello(record);
    assert.equal(ja4(h), CHROME_JA4);
    assert.equal(ja4r(h), CHROME_JA4_R);
  }
});

test("Chrome profile to an IP literal: no SNI, JA4 t13i1515h1, certificate checked against the IP", async () => {
  const start = seen.length;
  await connectAndEcho(chrome156, "127.0.0.1", "ip", ["http/1.1"]);
  const h = seen[start]!;
  assert.equal(h.ja4, "t13i1515h1_8daaf6152771_5b37b36a67c0");
  assert.ok(!h.extensions.some((e) => e.id === 0));
});

test("Firefox profile (its own ALPN h2, http/1.1) completes a handshake with the documented JA4", async () => {
  const start = seen.length;
  // The server only speaks http/1.1, so it picks that from Firefox's offer.
  assert.equal(await connectAndEcho(firefox153, "localhost", "firefox"), "http/1.1");
  assert.equal(seen[start]!.ja4, "t13d1617h2_86a278354501_3cbfd9057e0d");
});
