/**
 * TLS 1.2 negative matrix against the scripted TLS 1.2 server: each case fails with a clear
 * TlsError, sends the matching alert, and never delivers application data. Also the happy paths
 * the matrix is measured against (GCM, ChaCha20, CBC; a session ticket reported to the callback).
 */
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { TlsError } from "../../src/errors.js";
import { AlertDescription, ContentType, DOWNGRADE_TLS11, DOWNGRADE_TLS12, HandshakeType, NamedGroup } from "../../src/tls/constants.js";
import { masqTlsConnect } from "../../src/tls/index.js";
import { connectEngine, type MasqTlsSocket } from "../../src/tls/socket.js";
import { profileHelloBuilder } from "../../src/tls/hello-builder.js";
import { handshakeMessage } from "../../src/tls/reader.js";
import type { TlsSession12 } from "../../src/tls/session-ticket.js";
import { chrome156Hello } from "../../src/impersonate/chrome.js";
import { firefox153Hello } from "../../src/impersonate/firefox.js";
import { startFake12Server, type Fake12Options, type Fake12Server } from "./helpers/fake-server12.js";
import { tlsTestPki, type TlsTestPki } from "./helpers/pki.js";
import { tcp } from "./helpers/servers.js";

let pki!: TlsTestPki;
const running: Fake12Server[] = [];
before(() => {
  pki = tlsTestPki();
});
after(async () => {
  await Promise.all(running.map((s) => s.close()));
});

async function server(o: Partial<Fake12Options>): Promise<Fake12Server> {
  const s = await startFake12Server({ chain: [pki.leaf.cert], key: pki.leaf.key, ...o });
  running.push(s);
  return s;
}

async function connect(port: number, profile = chrome156Hello, onSessionTicket?: (s: TlsSession12) => void): Promise<MasqTlsSocket> {
  return connectEngine(await tcp(port), {
    hello: profileHelloBuilder(profile, "localhost", undefined),
    verifyHost: "localhost",
    rejectUnauthorized: true,
    ca: pki.root.cert,
    ...(onSessionTicket ? { engine: { onSessionTicket } } : {}),
  });
}

/** Waits (bounded) for `pred`. */
async function until(pred: () => boolean, ms = 2000): Promise<void> {
  for (let i = 0; i < ms / 10 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
}

async function expectFailure(o: Partial<Fake12Options>, alert: string, sentAlert: number | undefined, message?: RegExp): Promise<TlsError> {
  const s = await server(o);
  let err: unknown;
  let connected = false;
  try {
    const t = await connect(s.port);
    connected = true;
    t.destroy();
  } catch (e) {
    err = e;
  }
  assert.equal(connected, false, "must never connect");
  assert.ok(err instanceof TlsError, `expected TlsError, got ${String(err)}`);
  assert.equal(err.alert, alert, err.message);
  if (message) assert.match(err.message, message);
  if (sentAlert !== undefined) {
    await until(() => (s.cores[0]?.clientAlerts.length ?? 0) > 0);
    assert.deepEqual(s.cores[0]!.clientAlerts, [[2, sentAlert]]);
  }
  assert.deepEqual(s.cores[0]?.received ?? [], [], "no application data either way");
  return err;
}

test("tls1.2 fake: GCM, ChaCha20 and CBC suites connect and move data both ways; the ticket reaches onSessionTicket", async () => {
  for (const suite of [0xc02b, 0xcca9, 0xc00a]) {
    const profile = suite === 0xc00a ? firefox153Hello : chrome156Hello;
    const s = await server({ suite, ticket: Buffer.from("ticket-" + suite), afterHandshake: (seal) => [seal(ContentType.APPLICATION_DATA, Buffer.from("from server"))] });
    const tickets: TlsSession12[] = [];
    const t = await connect(s.port, profile, (x) => tickets.push(x));
    assert.equal(t.getProtocol(), "TLSv1.2");
    const got = await new Promise<Buffer>((r) => t.once("data", r));
    assert.equal(got.toString(), "from server");
    t.write("from client");
    await until(() => s.cores[0]!.received.length > 0);
    assert.equal(Buffer.concat(s.cores[0]!.received).toString(), "from client");
    assert.equal(tickets.length, 1);
    assert.equal(tickets[0]!.ticket.toString(), "ticket-" + suite);
    assert.equal(tickets[0]!.cipherSuite, suite);
    assert.equal(tickets[0]!.extendedMasterSecret, true);
    assert.equal(tickets[0]!.masterSecret.length, 48);
    assert.equal(tickets[0]!.lifetimeHintSeconds, 7200);
    t.destroy();
  }
});

test("tls1.2 fake: a server without extended_master_secret is accepted for a full handshake (as browsers do); the ticket says so", async () => {
  const s = await server({ ems: false, ticket: Buffer.from("no-ems") });
  const tickets: TlsSession12[] = [];
  const t = await connect(s.port, chrome156Hello, (x) => tickets.push(x));
  assert.equal(t.getProtocol(), "TLSv1.2");
  assert.equal(tickets.length, 1);
  assert.equal(tickets[0]!.extendedMasterSecret, false);
  t.destroy();
});

test("tls1.2 fake: a stapled OCSP response (CertificateStatus) and an SCT list are accepted; CertificateStatus without status_request is not", async () => {
  const ocsp = readFileSync(pki.pki.ocspResponse(pki.leaf, pki.root));
  const sct = Buffer.concat([Buffer.of(0, 6, 0, 4), Buffer.from("sct!")]);
  for (const profile of [chrome156Hello, firefox153Hello]) {
    const s = await server({ ocsp, sct });
    const t = await connect(s.port, profile);
    assert.equal(t.getProtocol(), "TLSv1.2");
    t.destroy();
  }
  await expectFailure({ ocsp, ocspUnasked: true }, "unexpected_message", AlertDescription.unexpected_message);
});

test("tls1.2 negative: downgrade sentinel (DOWNGRD\\x01 and \\x00) when 1.3 was offered -> illegal_parameter", async () => {
  for (const tail of [DOWNGRADE_TLS12, DOWNGRADE_TLS11]) {
    await expectFailure({ random: Buffer.concat([Buffer.alloc(24, 5), tail]) }, "illegal_parameter", AlertDescription.illegal_parameter, /downgrade/);
  }
});

test("tls1.2 negative: a suite the profile did not offer -> illegal_parameter", async () => {
  // TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: neither Chrome nor masq's Chrome profile offers it.
  await expectFailure({ suite: 0xc009 }, "illegal_parameter", AlertDescription.illegal_parameter, /not offered/);
});

test("tls1.2 negative: a group not offered (P-521), or one TLS 1.2 cannot use (X25519MLKEM768) -> illegal_parameter", async () => {
  await expectFailure({ group: NamedGroup.SECP521R1 }, "illegal_parameter", AlertDescription.illegal_parameter, /not offered/);
  await expectFailure({ advertiseGroup: NamedGroup.X25519MLKEM768 }, "illegal_parameter", AlertDescription.illegal_parameter, /cannot use/);
});

test("tls1.2 negative: bad ServerKeyExchange signature (ECDSA and RSA-PSS) -> decrypt_error", async () => {
  await expectFailure({ badSignature: true }, "decrypt_error", AlertDescription.decrypt_error, /ServerKeyExchange signature/);
  await expectFailure({ badSignature: true, suite: 0xc02f, chain: [pki.leafRsa.cert], key: pki.leafRsa.key }, "decrypt_error", AlertDescription.decrypt_error);
  // RSA PKCS#1 v1.5 (0x0401), which Chrome offers for TLS 1.2.
  await expectFailure({ badSignature: true, scheme: 0x0401, suite: 0xc02f, chain: [pki.leafRsa.cert], key: pki.leafRsa.key }, "decrypt_error", AlertDescription.decrypt_error);
});

test("tls1.2 negative: a signature scheme not offered (ECDSA-SHA1 to Chrome) -> illegal_parameter", async () => {
  await expectFailure({ scheme: 0x0203 }, "illegal_parameter", AlertDescription.illegal_parameter, /not offered/);
});

test("tls1.2 negative: tampered server Finished -> decrypt_error; tampered Finished record -> bad_record_mac (GCM and CBC)", async () => {
  await expectFailure({ badFinished: true }, "decrypt_error", AlertDescription.decrypt_error, /Finished/);
  await expectFailure({ badFinishedRecord: true }, "bad_record_mac", AlertDescription.bad_record_mac);
  await expectFailure({ badFinishedRecord: true, suite: 0xc014, chain: [pki.leafRsa.cert], key: pki.leafRsa.key }, "bad_record_mac", AlertDescription.bad_record_mac);
});

test("tls1.2 negative: a tampered application data record (GCM, ChaCha20, CBC) -> bad_record_mac, nothing delivered", async () => {
  for (const [suite, cert] of [[0xc02b, pki.leaf], [0xcca9, pki.leaf], [0xc014, pki.leafRsa]] as const) {
    const s = await server({
      suite,
      chain: [cert.cert],
      key: cert.key,
      afterHandshake: (seal) => {
        const rec = Buffer.from(seal(ContentType.APPLICATION_DATA, Buffer.from("tampered payload")));
        rec[rec.length - 3]! ^= 0x80;
        return [rec];
      },
    });
    const t = await connect(s.port);
    const data: Buffer[] = [];
    t.on("data", (d: Buffer) => data.push(d));
    const err = await new Promise<unknown>((r) => t.once("error", r));
    assert.ok(err instanceof TlsError && err.alert === "bad_record_mac", String(err));
    await until(() => s.cores[0]!.clientAlerts.length > 0);
    assert.deepEqual(s.cores[0]!.clientAlerts, [[2, AlertDescription.bad_record_mac]], "the alert goes out protected");
    assert.deepEqual(data, []);
  }
});

test("tls1.2 negative: an RSA server key under 2048 bits -> insufficient_security", async () => {
  const err = await expectFailure({ suite: 0xc02f, chain: [pki.leafRsa1024.cert], key: pki.leafRsa1024.key }, "insufficient_security", AlertDescription.insufficient_security, /1024 bits/);
  assert.equal(err.reason, "bad_certificate");
});

test("tls1.2 negative: a certificate key that does not fit the suite (RSA cert for ECDHE_ECDSA) -> illegal_parameter", async () => {
  await expectFailure({ suite: 0xc02b, chain: [pki.leafRsa.cert], key: pki.leafRsa.key }, "illegal_parameter", AlertDescription.illegal_parameter);
});

test("tls1.2 negative: a certificate that does not verify is as fatal as under 1.3 (unknown CA, wrong host, expired)", async () => {
  const a = await expectFailure({ chain: [pki.unknownCaLeaf.cert], key: pki.unknownCaLeaf.key }, "UNABLE_TO_VERIFY_LEAF_SIGNATURE", AlertDescription.unknown_ca);
  assert.match(a.message, /certificate/i);
  await expectFailure({ chain: [pki.wrongHost.cert], key: pki.wrongHost.key }, "ERR_TLS_CERT_ALTNAME_INVALID", AlertDescription.bad_certificate);
  await expectFailure({ chain: [pki.expired.cert], key: pki.expired.key }, "CERT_HAS_EXPIRED", AlertDescription.certificate_expired);
});

test("tls1.2 negative: a non-empty renegotiation_info in ServerHello -> handshake_failure", async () => {
  await expectFailure(
    {
      mutateServerHello: (b) => {
        const i = b.indexOf(Buffer.from([0xff, 0x01, 0x00, 0x01, 0x00]));
        const c = Buffer.from(b);
        c[i + 4] = 0x01; // renegotiated_connection length 1, no byte: also malformed, but checked as non-empty
        return c;
      },
    },
    "handshake_failure",
    AlertDescription.handshake_failure,
  );
});

test("tls1.2 negative: renegotiation — HelloRequest gets a no_renegotiation warning, the server's abort is a TlsError, nothing delivered", async () => {
  const s = await server({
    afterHandshake: (seal) => [
      seal(ContentType.HANDSHAKE, handshakeMessage(HandshakeType.HELLO_REQUEST, Buffer.alloc(0))),
      seal(ContentType.ALERT, Buffer.of(2, AlertDescription.handshake_failure)),
      seal(ContentType.APPLICATION_DATA, Buffer.from("must not arrive")),
    ],
  });
  const t = await connect(s.port);
  const data: Buffer[] = [];
  t.on("data", (d: Buffer) => data.push(d));
  const err = await new Promise<unknown>((r) => t.once("error", r));
  assert.ok(err instanceof TlsError, String(err));
  assert.equal(err.alert, "handshake_failure");
  await until(() => s.cores[0]!.clientAlerts.length > 0);
  assert.deepEqual(s.cores[0]!.clientAlerts[0], [1, AlertDescription.no_renegotiation]);
  assert.deepEqual(data, []);
});

test("a fatal alert in the same read as the server Finished: the caller gets the socket and then its error (no unhandled 'error')", async () => {
  const s = await server({
    afterHandshakeAtOnce: true,
    afterHandshake: (seal) => [seal(ContentType.ALERT, Buffer.of(2, AlertDescription.internal_error))],
  });
  const t = await connect(s.port);
  const err = await new Promise<unknown>((r) => (t.destroyed && t.errored ? r(t.errored) : t.once("error", r)));
  assert.ok(err instanceof TlsError, String(err));
  assert.equal(err.alert, "internal_error");
});

test("tls1.2 negative: a ServerHello after the handshake (renegotiation without HelloRequest) -> unexpected_message", async () => {
  const s = await server({
    afterHandshake: (seal) => [seal(ContentType.HANDSHAKE, handshakeMessage(HandshakeType.SERVER_HELLO, Buffer.alloc(38)))],
  });
  const t = await connect(s.port);
  const data: Buffer[] = [];
  t.on("data", (d: Buffer) => data.push(d));
  const err = await new Promise<unknown>((r) => t.once("error", r));
  assert.ok(err instanceof TlsError, String(err));
  assert.equal(err.alert, "unexpected_message");
  assert.deepEqual(data, []);
});

test("tls1.2 negative: missing NewSessionTicket after session_ticket was acknowledged, out-of-order messages -> unexpected_message", async () => {
  await expectFailure({ ticket: Buffer.from("t"), skipTicket: true }, "unexpected_message", AlertDescription.unexpected_message, /NewSessionTicket/);
  await expectFailure({ mutateFlight: (m) => [m[0]!, m[2]!, m[1]!, m[3]!] }, "unexpected_message", AlertDescription.unexpected_message);
  await expectFailure({ mutateFlight: (m) => [m[0]!, m[1]!, m[3]!] }, "unexpected_message", AlertDescription.unexpected_message);
});

test("tls1.2 negative: masqTlsConnect's default hello also refuses a downgrade", async () => {
  const s = await server({ random: Buffer.concat([Buffer.alloc(24, 5), DOWNGRADE_TLS12]) });
  await assert.rejects(
    masqTlsConnect(await tcp(s.port), { host: "localhost", rejectUnauthorized: true, ca: pki.root.cert }),
    (e: unknown) => e instanceof TlsError && e.alert === "illegal_parameter",
  );
});
