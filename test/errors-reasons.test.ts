// Every stable error reason (errors.ts: PROTOCOL_ERROR_REASONS, HANDSHAKE_ERROR_REASONS,
// TLS_ERROR_REASONS; the README's table) is made to occur at least once, without sockets: the
// frame parser, the handshake codec, the TLS engine and validator are fed bytes directly.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { X509Certificate, createHash, generateKeyPairSync, sign } from "node:crypto";
import {
  HANDSHAKE_ERROR_REASONS,
  HandshakeError,
  PROTOCOL_ERROR_REASONS,
  ProtocolError,
  TLS_ERROR_REASONS,
  TlsError,
  type ErrorReason,
} from "../src/errors.js";
import { FrameParser, type FrameParserOptions } from "../src/protocol/parser.js";
import { ResponseHeadParser, parseResponseHead, validateUpgradeResponse, generateKey, acceptFor } from "../src/protocol/handshake.js";
import { negotiateDeflate } from "../src/protocol/extensions.js";
import { H2ConnectionError } from "../src/protocol/http2/frames.js";
import { HpackDecoder } from "../src/protocol/http2/hpack.js";
import { PerMessageDeflate } from "../src/websocket/deflate.js";
import { exchangeHandshake } from "../src/websocket/handshake-io.js";
import { certificateVerifyContent, decompressCertificate, validateChain, verifyCertificateVerify, VERIFIABLE_SCHEMES } from "../src/tls/certificate.js";
import { TlsClientEngine, type HelloBuilder } from "../src/tls/engine.js";
import { createKeyShare } from "../src/tls/key-exchange.js";
import { RecordDecryptor, RecordEncryptor } from "../src/tls/record.js";
import { suiteInfo } from "../src/tls/key-schedule.js";
import { NamedGroup } from "../src/tls/constants.js";
import { nodeTlsError } from "../src/transport/native-tls.js";
import { tlsTestPki, type TlsTestPki } from "./tls/helpers/pki.js";
import { RFC8448, hex } from "./tls/helpers/rfc8448.js";

const seen = new Map<string, Set<ErrorReason>>([
  ["ProtocolError", new Set()],
  ["HandshakeError", new Set()],
  ["TlsError", new Set()],
]);

/** Records the reason of an error of class `cls` and checks it is the one expected. */
function saw(err: unknown, cls: typeof ProtocolError | typeof HandshakeError | typeof TlsError, reason: ErrorReason): void {
  assert.ok(err instanceof cls, `expected ${cls.name} (${reason}), got ${String(err)}`);
  assert.equal((err as { reason: ErrorReason }).reason, reason, (err as Error).message);
  seen.get(cls.name)!.add(reason);
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail("expected a throw");
}

async function rejected(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail("expected a rejection");
}

// ---- ProtocolError: the frame parser, close payloads, permessage-deflate -----------------------

/** The error the parser raises on `bytes` (server frames, RFC 6455 §5.2). */
function parseError(bytes: number[], opts: Partial<FrameParserOptions> = {}): unknown {
  const p = new FrameParser({ maxMessageSize: 1 << 20, ...opts });
  p.push(Buffer.from(bytes));
  return thrown(() => {
    for (let i = 0; i < 8; i++) if (p.next() === null) break;
    assert.fail("the parser accepted the input");
  });
}

test("ProtocolError reasons from the frame parser and close payloads", () => {
  const cases: Array<[ErrorReason, number, number[], Partial<FrameParserOptions>?]> = [
    ["masked_frame", 1002, [0x82, 0x81, 1, 2, 3, 4, 0]],
    ["reserved_bits", 1002, [0xa2, 0x00]], // RSV2
    ["reserved_bits", 1002, [0xc2, 0x00]], // RSV1 without permessage-deflate
    ["bad_opcode", 1002, [0x83, 0x00]],
    ["bad_opcode", 1002, [0x8b, 0x00]],
    ["bad_length", 1002, [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]],
    ["control_too_long", 1002, [0x89, 0x7e, 0x00, 0x7e, ...new Array<number>(126).fill(0)]],
    ["fragmented_control", 1002, [0x09, 0x00]],
    ["bad_continuation", 1002, [0x80, 0x00]],
    ["bad_continuation", 1002, [0x01, 0x01, 0x61, 0x81, 0x01, 0x62]],
    ["invalid_utf8", 1007, [0x81, 0x01, 0xff]],
    ["message_too_big", 1009, [0x82, 0x05, 1, 2, 3, 4, 5], { maxMessageSize: 4 }],
    ["bad_close_code", 1002, [0x88, 0x02, 0x03, 0xed]], // 1005 may not be sent (§7.4.1)
    ["bad_close_payload", 1002, [0x88, 0x01, 0x03]],
    ["invalid_utf8", 1007, [0x88, 0x03, 0x03, 0xe8, 0xff]], // close reason
  ];
  for (const [reason, code, bytes, opts] of cases) {
    const e = parseError(bytes, opts);
    saw(e, ProtocolError, reason);
    assert.equal((e as ProtocolError).code, code, reason);
  }
});

test("ProtocolError reasons from permessage-deflate and the default", async () => {
  const params = negotiateDeflate("permessage-deflate", {})!;
  const codec = new PerMessageDeflate(params, { maxMessageSize: 1 << 20 });
  saw(await rejected(codec.decompress(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00]))), ProtocolError, "bad_compression");
  const small = new PerMessageDeflate(params, { maxMessageSize: 16, threshold: 0 });
  const big = new PerMessageDeflate(params, { maxMessageSize: 1 << 20, threshold: 0 });
  const packed = await big.compress(Buffer.alloc(4096, 0x61));
  saw(await rejected(small.decompress(packed)), ProtocolError, "message_too_big");
  for (const c of [codec, small, big]) c.close();
  // HTTP/2 under a WebSocket (RFC 8441): a connection error, and an HPACK block that does not decode
  // (an indexed field 0 is invalid, RFC 7541 §6.1).
  saw(new H2ConnectionError(1, "bad frame"), ProtocolError, "http2_violation");
  saw(thrown(() => new HpackDecoder().decode(Buffer.from([0x80]))), ProtocolError, "http2_violation");
  // A failure the reader cannot name (reader.ts wraps it) keeps the catch-all reason.
  saw(new ProtocolError("failed to read a message", 1002), ProtocolError, "protocol_violation");
});

// ---- HandshakeError: the response codec and the I/O around it ----------------------------------

function head(lines: string[]): ReturnType<typeof parseResponseHead> {
  return parseResponseHead(lines.join("\r\n"));
}

test("HandshakeError reasons from the response head and RFC 6455 §4.1 checks", async () => {
  saw(thrown(() => new ResponseHeadParser().push(Buffer.from("SSH-2.0-OpenSSH\r\n"))), HandshakeError, "not_http");
  const huge = new ResponseHeadParser();
  saw(
    thrown(() => {
      huge.push(Buffer.from("HTTP/1.1 101 Switching Protocols\r\nX: "));
      for (let i = 0; i < 80; i++) huge.push(Buffer.alloc(1024, 0x61));
    }),
    HandshakeError,
    "head_too_large",
  );
  saw(thrown(() => parseResponseHead("HTTP/1.1 abc")), HandshakeError, "malformed_response");
  saw(thrown(() => parseResponseHead("HTTP/1.1 101 OK\r\nno colon here")), HandshakeError, "malformed_response");

  const key = generateKey();
  const ok = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", `Sec-WebSocket-Accept: ${acceptFor(key)}`];
  const check = (lines: string[], protocols?: string[]): unknown =>
    thrown(() => validateUpgradeResponse(head(lines), { key, ...(protocols ? { protocols } : {}), extensionsOffered: false }));
  const refused = check(["HTTP/1.1 403 Forbidden", "Content-Length: 0"]);
  saw(refused, HandshakeError, "unexpected_status");
  assert.equal((refused as HandshakeError).status, 403);
  saw(check([ok[0]!, ok[2]!, ok[3]!]), HandshakeError, "missing_upgrade");
  saw(check([ok[0]!, ok[1]!, ok[3]!]), HandshakeError, "missing_upgrade");
  saw(check([ok[0]!, ok[1]!, ok[2]!]), HandshakeError, "bad_accept");
  saw(check([...ok.slice(0, 3), "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA="]), HandshakeError, "bad_accept");
  saw(check([...ok, "Sec-WebSocket-Protocol: chat"]), HandshakeError, "bad_subprotocol");
  saw(check([...ok, "Sec-WebSocket-Protocol: chat"], ["superchat"]), HandshakeError, "bad_subprotocol");
  saw(check([...ok, "Sec-WebSocket-Extensions: permessage-deflate"]), HandshakeError, "bad_extension");
  saw(thrown(() => negotiateDeflate('permessage-deflate; x="unterminated', {})), HandshakeError, "bad_extension");
  saw(thrown(() => negotiateDeflate("x-unknown-extension", {})), HandshakeError, "bad_extension");
  assert.deepEqual(validateUpgradeResponse(head(ok), { key, extensionsOffered: false }), { protocol: "", extensions: "" });

  // A server that hangs up before answering (an in-memory Duplex, no socket).
  const hangUp = new Duplex({
    read() {},
    write(_chunk, _enc, cb) {
      cb();
      setImmediate(() => this.destroy());
    },
  });
  saw(await rejected(exchangeHandshake(hangUp, Buffer.from("GET / HTTP/1.1\r\n\r\n"), undefined)), HandshakeError, "connection_closed");
});

// ---- TlsError: the engine, the record layer, the validator, Node's errors ----------------------

let pki!: TlsTestPki;
before(() => {
  pki = tlsTestPki();
});

const rfcHello: HelloBuilder = { keyShareGroups: [NamedGroup.X25519], recordVersion: 0x0301, build: () => hex(RFC8448.clientHello) };

/** An engine that has sent its ClientHello and waits for the ServerHello; the alerts it sends are kept. */
function startedEngine(): { engine: TlsClientEngine; sent: Buffer[] } {
  const sent: Buffer[] = [];
  const engine = new TlsClientEngine(
    { hello: rfcHello, verifyChain: () => {}, keyShare: (g) => createKeyShare(g, { privateKey: hex(RFC8448.clientPrivateKey) }) },
    { send: (b) => sent.push(b), data: () => {}, connected: () => {}, closed: () => {} },
  );
  engine.start();
  return { engine, sent };
}

test("TlsError reasons from the engine and the record layer", () => {
  const alerted = thrown(() => startedEngine().engine.receive(Buffer.from([21, 3, 3, 0, 2, 2, 40])));
  saw(alerted, TlsError, "alert_received");
  assert.equal((alerted as TlsError).alert, "handshake_failure");
  saw(thrown(() => startedEngine().engine.receive(Buffer.from([21, 3, 3, 0, 2, 1, 0]))), TlsError, "connection_closed");
  saw(thrown(() => startedEngine().engine.receive(Buffer.from([21, 3, 3, 0, 1, 2]))), TlsError, "decode_error");
  saw(thrown(() => startedEngine().engine.receive(Buffer.from([23, 3, 3, 0, 1, 0]))), TlsError, "unexpected_message");

  const suite = suiteInfo(0x1301)!;
  const secret = Buffer.alloc(32, 7);
  const rec = new RecordEncryptor(suite, secret).seal(23, Buffer.from("hello"));
  rec[rec.length - 1]! ^= 1;
  saw(thrown(() => new RecordDecryptor(suite, secret).open(rec.subarray(0, 5), rec.subarray(5))), TlsError, "bad_record");
});

test("TlsError reasons from certificate validation and CertificateVerify", () => {
  const x = (pem: string): X509Certificate => new X509Certificate(pem);
  const ca = pki.root.cert;
  const expired = thrown(() => validateChain([x(pki.expired.cert)], { host: "localhost", ca }));
  saw(expired, TlsError, "certificate_expired");
  // The verification code has its own field; `alert` keeps it too, as before the split.
  assert.equal((expired as TlsError).verifyCode, "CERT_HAS_EXPIRED");
  assert.equal((expired as TlsError).alert, "CERT_HAS_EXPIRED");
  saw(thrown(() => validateChain([x(pki.notYetValid.cert)], { host: "localhost", ca })), TlsError, "certificate_expired");
  saw(thrown(() => validateChain([x(pki.leaf.cert)], { host: "localhost", ca: pki.otherRoot.cert })), TlsError, "certificate_untrusted");
  saw(thrown(() => validateChain([x(pki.selfSigned.cert)], { host: "localhost", ca })), TlsError, "certificate_untrusted");
  const wrong = thrown(() => validateChain([x(pki.wrongHost.cert)], { host: "localhost", ca }));
  saw(wrong, TlsError, "hostname_mismatch");
  assert.equal((wrong as TlsError).verifyCode, "ERR_TLS_CERT_ALTNAME_INVALID");
  saw(thrown(() => validateChain([x(pki.leafViaInterNoCa.cert), x(pki.interNoCa.cert)], { host: "localhost", ca })), TlsError, "bad_certificate");
  // A CompressedCertificate (RFC 8879) whose brotli data does not decompress.
  saw(thrown(() => decompressCertificate(Buffer.from([0, 2, 0, 0, 10, 0, 0, 3, 1, 2, 3]), [2])), TlsError, "bad_certificate");

  const th = createHash("sha256").update("transcript").digest();
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const sig = sign("sha256", certificateVerifyContent(th), ec.privateKey);
  const other = createHash("sha256").update("another transcript").digest();
  saw(thrown(() => verifyCertificateVerify(ec.publicKey, 0x0403, sig, other, VERIFIABLE_SCHEMES)), TlsError, "handshake_failure");
  saw(thrown(() => verifyCertificateVerify(ec.publicKey, 0x0403, sig, th, [0x0804])), TlsError, "illegal_parameter");
});

test("TlsError reasons for Node's TLS failures (native engine), sorted by nodeTlsError", () => {
  const node = (code: string): TlsError => nodeTlsError(`failed (${code})`, Object.assign(new Error(code), { code }));
  const cases: Array<[string, ErrorReason, { alert?: string; verifyCode?: string }]> = [
    ["CERT_HAS_EXPIRED", "certificate_expired", { verifyCode: "CERT_HAS_EXPIRED", alert: "CERT_HAS_EXPIRED" }],
    ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "certificate_untrusted", { verifyCode: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" }],
    ["DEPTH_ZERO_SELF_SIGNED_CERT", "certificate_untrusted", { verifyCode: "DEPTH_ZERO_SELF_SIGNED_CERT" }],
    ["ERR_TLS_CERT_ALTNAME_INVALID", "hostname_mismatch", { verifyCode: "ERR_TLS_CERT_ALTNAME_INVALID" }],
    ["ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE", "alert_received", { alert: "handshake_failure" }],
    ["ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "alert_received", { alert: "unknown_ca" }],
    ["ECONNRESET", "connection_closed", { alert: "ECONNRESET" }],
    ["ERR_SSL_WRONG_VERSION_NUMBER", "tls_failure", { alert: "ERR_SSL_WRONG_VERSION_NUMBER" }],
  ];
  for (const [code, reason, fields] of cases) {
    const e = node(code);
    saw(e, TlsError, reason);
    assert.equal(e.code, 1015);
    if (fields.alert !== undefined) assert.equal(e.alert, fields.alert, code);
    assert.equal(e.verifyCode, fields.verifyCode, code);
  }
});

test("every listed reason occurred in the tests above", () => {
  // Tests in a file run in order, so this one runs last.
  const want: Array<[string, readonly ErrorReason[]]> = [
    ["ProtocolError", PROTOCOL_ERROR_REASONS],
    ["HandshakeError", HANDSHAKE_ERROR_REASONS],
    ["TlsError", TLS_ERROR_REASONS],
  ];
  for (const [cls, reasons] of want) {
    const missing = reasons.filter((r) => !seen.get(cls)!.has(r));
    assert.deepEqual(missing, [], `${cls} reasons that no test produced`);
  }
});
