import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { TlsError } from "../../src/errors.js";
import { connectEngine } from "../../src/tls/socket.js";
import { basicHelloBuilder } from "../helpers/basic-hello.js";
import { masqTlsConnect } from "../../src/tls/index.js";
import { AlertDescription, DOWNGRADE_TLS12 } from "../../src/tls/constants.js";
import type { RecordEncryptor } from "../../src/tls/record.js";
import { u16, withLength, handshakeMessage } from "../../src/tls/reader.js";
import { startFakeServer, type FakeServer, type FakeServerOptions } from "./helpers/fake-server.js";
import { tlsTestPki, type TlsTestPki } from "./helpers/pki.js";
import { tcp } from "./helpers/servers.js";

let pki!: TlsTestPki;
const running: FakeServer[] = [];
before(() => {
  pki = tlsTestPki();
});
after(async () => {
  await Promise.all(running.map((s) => s.close()));
});

/** ServerHello body builder for TLS 1.2-style answers. */
function tls12ServerHello(sessionId: Buffer, random: Buffer, withSv?: number): Buffer {
  const exts = withSv !== undefined ? [Buffer.concat([u16(43), withLength(2, u16(withSv))])] : [];
  return Buffer.concat([u16(0x0303), random, withLength(1, sessionId), u16(0xc02f), Buffer.of(0), withLength(2, ...exts)]);
}

function sessionIdOf(shBody: Buffer): Buffer {
  return shBody.subarray(35, 35 + shBody[34]!);
}

function flip(b: Buffer, at: number): Buffer {
  const c = Buffer.from(b);
  c[at < 0 ? c.length + at : at]! ^= 0x01;
  return c;
}

async function expectFailure(o: Partial<FakeServerOptions>, alert: string, sentAlert?: number, useProfile = false): Promise<TlsError> {
  const s = await startFakeServer({ chain: [pki.leaf.cert], key: pki.leaf.key, ...o });
  running.push(s);
  const sock = await tcp(s.port);
  let connected = false;
  const p = useProfile
    ? masqTlsConnect(sock, { host: "localhost", rejectUnauthorized: true, ca: pki.root.cert })
    : connectEngine(sock, { hello: basicHelloBuilder({ servername: "localhost", alpn: ["http/1.1"] }), verifyHost: "localhost", rejectUnauthorized: true, ca: pki.root.cert });
  let err: unknown;
  try {
    await p;
    connected = true;
  } catch (e) {
    err = e;
  }
  assert.equal(connected, false, "must never connect");
  assert.ok(err instanceof TlsError, `expected TlsError, got ${String(err)}`);
  assert.equal(err.alert, alert, err.message);
  if (sentAlert !== undefined) {
    // The server core sees the alert the client sent before closing.
    for (let i = 0; i < 100 && s.cores[0]!.clientAlerts.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(s.cores[0]!.clientAlerts, [sentAlert]);
  }
  for (let i = 0; i < 200 && !sock.destroyed; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(sock.destroyed, true, "socket closed");
  return err;
}

test("negative: bad CertificateVerify signature -> decrypt_error", async () => {
  await expectFailure({ badSignature: true }, "decrypt_error", AlertDescription.decrypt_error);
});

test("negative: tampered server Finished -> decrypt_error", async () => {
  await expectFailure({ mutateFlight: (m) => [m[0]!, m[1]!, m[2]!, flip(m[3]!, -1)] }, "decrypt_error", AlertDescription.decrypt_error);
});

test("negative: tampered record authentication tag -> bad_record_mac", async () => {
  await expectFailure(
    { rawAfterServerHello: (enc: RecordEncryptor) => [flip(enc.seal(22, handshakeMessage(8, Buffer.of(0, 0))), -1)] },
    "bad_record_mac",
    AlertDescription.bad_record_mac,
  );
});

test("negative: downgrade sentinel in a TLS 1.2 ServerHello -> illegal_parameter", async () => {
  const random = Buffer.concat([Buffer.alloc(24, 7), DOWNGRADE_TLS12]);
  await expectFailure({ mutateServerHello: (b) => tls12ServerHello(sessionIdOf(b), random) }, "illegal_parameter", AlertDescription.illegal_parameter, true);
  await expectFailure({ mutateServerHello: (b) => tls12ServerHello(sessionIdOf(b), random, 0x0303) }, "illegal_parameter", AlertDescription.illegal_parameter, true);
});

test("negative: a TLS 1.2 ServerHello with a suite the hello did not offer -> illegal_parameter", async () => {
  const sh = (b: Buffer): Buffer => {
    const body = tls12ServerHello(sessionIdOf(b), Buffer.alloc(32, 9));
    body.writeUInt16BE(0x009c, 35 + body[34]!); // TLS_RSA_WITH_AES_128_GCM_SHA256: not in masq's default hello
    return body;
  };
  const err = await expectFailure({ mutateServerHello: sh }, "illegal_parameter", AlertDescription.illegal_parameter, true);
  assert.equal(err.message, "server selected cipher suite 0x9c that was not offered");
});

test("negative: out-of-order handshake messages -> unexpected_message", async () => {
  const orders: Array<(m: Buffer[]) => Buffer[]> = [
    (m) => [m[1]!, m[0]!, m[2]!, m[3]!], // Certificate before EncryptedExtensions
    (m) => [m[0]!, m[2]!, m[1]!, m[3]!], // CertificateVerify before Certificate
    (m) => [m[0]!, m[1]!, m[3]!], // Finished without CertificateVerify
    (m) => [m[0]!, m[3]!], // Finished without Certificate
    (m) => [m[0]!, m[0]!, m[1]!, m[2]!, m[3]!], // EncryptedExtensions twice
    (m) => [m[0]!, m[1]!, m[2]!, m[3]!, handshakeMessage(2, Buffer.alloc(40))], // ServerHello after Finished
  ];
  for (const mutateFlight of orders) await expectFailure({ mutateFlight }, "unexpected_message", AlertDescription.unexpected_message);
});

test("negative: oversized records -> record_overflow", async () => {
  // A ciphertext longer than 2^14 + 256.
  await expectFailure(
    { rawAfterServerHello: () => [Buffer.concat([Buffer.from([23, 3, 3, 0x41, 0x01]), Buffer.alloc(0x4101)])] },
    "record_overflow",
    AlertDescription.record_overflow,
  );
  // A protected record whose inner plaintext exceeds 2^14 + 1 (content + padding).
  await expectFailure(
    { rawAfterServerHello: (enc) => [enc.seal(22, Buffer.alloc(1 << 14, 1), 8)] },
    "record_overflow",
    AlertDescription.record_overflow,
  );
});

test("negative: application data before the server Finished -> unexpected_message", async () => {
  await expectFailure({ rawAfterServerHello: (enc) => [enc.seal(23, Buffer.from("early"))] }, "unexpected_message", AlertDescription.unexpected_message);
});

test("negative: plaintext handshake record after the handshake keys -> unexpected_message", async () => {
  await expectFailure({ rawAfterServerHello: () => [Buffer.from([22, 3, 3, 0, 6, 8, 0, 0, 2, 0, 0])] }, "unexpected_message", AlertDescription.unexpected_message);
});

test("negative: ServerHello field checks -> illegal_parameter", async () => {
  // Session id not echoed.
  await expectFailure({ mutateServerHello: (b) => flip(b, 36) }, "illegal_parameter", AlertDescription.illegal_parameter);
  // Cipher suite not offered (0x1304 TLS_AES_128_CCM_SHA256).
  await expectFailure({ mutateServerHello: (b) => { const c = Buffer.from(b); c.writeUInt16BE(0x1304, 35 + c[34]!); return c; } }, "illegal_parameter", AlertDescription.illegal_parameter);
});

test("negative: EncryptedExtensions with an unoffered extension -> unsupported_extension; unoffered ALPN -> illegal_parameter", async () => {
  await expectFailure({ extraEE: [[0x1234, Buffer.alloc(0)]] }, "unsupported_extension", AlertDescription.unsupported_extension);
  await expectFailure({ alpn: "h2" }, "illegal_parameter", AlertDescription.illegal_parameter);
});

test("negative: truncated handshake message -> decode_error", async () => {
  await expectFailure({ mutateFlight: (m) => [handshakeMessage(8, Buffer.of(0, 5, 0)), ...m.slice(1)] }, "decode_error", AlertDescription.decode_error);
});

test("negative: a server alert mid-handshake is reported by name", async () => {
  await expectFailure({ rawAfterServerHello: (enc) => [enc.seal(21, Buffer.of(2, 40))] }, "handshake_failure");
});

test("negative: the server closing mid-handshake is a TlsError, never connected", async () => {
  const net = await import("node:net");
  const server = net.createServer((c) => c.once("data", () => c.end(Buffer.from([22, 3, 3, 0, 4, 2, 0, 0, 80]))));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const sock = await tcp((server.address() as import("node:net").AddressInfo).port);
    await assert.rejects(masqTlsConnect(sock, { host: "localhost", rejectUnauthorized: true }), (e: unknown) => e instanceof TlsError && e.alert === "ECONNRESET");
  } finally {
    server.close();
  }
});

test("negative: a socket error after a failed handshake is not an uncaught exception", async () => {
  const net = await import("node:net");
  const server = net.createServer((c) => {
    c.on("error", () => {});
    c.once("data", () => {
      c.write(Buffer.from([99, 3, 3, 0, 1, 0])); // unknown record type -> we fail
      setTimeout(() => c.resetAndDestroy(), 20);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const sock = await tcp((server.address() as import("node:net").AddressInfo).port);
    await assert.rejects(masqTlsConnect(sock, { host: "localhost", rejectUnauthorized: true }), (e: unknown) => e instanceof TlsError && e.alert === "unexpected_message");
    await new Promise((r) => setTimeout(r, 150)); // let the RST arrive
  } finally {
    server.close();
  }
});

test("negative: endless empty records (33 CCS, then 33 empty application records) -> unexpected_message", async () => {
  const ccs = Buffer.from([20, 3, 3, 0, 1, 1]);
  await expectFailure({ rawAfterServerHello: () => Array.from({ length: 33 }, () => ccs) }, "unexpected_message", AlertDescription.unexpected_message);
  const s = await startFakeServer({
    chain: [pki.leaf.cert],
    key: pki.leaf.key,
    echo: false,
    afterHandshake: (api) => {
      for (let i = 0; i < 33; i++) api.send(23, Buffer.alloc(0));
    },
  });
  running.push(s);
  const t = await connectEngine(await tcp(s.port), { hello: basicHelloBuilder({ servername: "localhost" }), verifyHost: "localhost", rejectUnauthorized: true, ca: pki.root.cert });
  const err = await new Promise<unknown>((r) => {
    t.on("error", r);
    t.resume();
  });
  assert.ok(err instanceof TlsError && err.alert === "unexpected_message", String(err));
});
