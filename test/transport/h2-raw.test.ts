// Malformed or hostile HTTP/2 from a scripted TLS server (frames written by hand): the client
// answers with GOAWAY / RST_STREAM carrying the right error code, and the WebSocket gets a typed
// error; the WebSocket layer's own limits (maxMessageSize) hold on an h2 stream.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type TLSSocket } from "node:tls";
import { AsyncSession } from "../../src/session.js";
import { ProtocolError, WebSocketError } from "../../src/errors.js";
import {
  ErrorCode, Flag, FrameReader, FrameType, HpackEncoder, PREFACE, encodeFrame, encodeGoaway, encodeRstStream, encodeSettings, type Frame,
} from "../../src/protocol/http2/index.js";
import { testCerts } from "../helpers/certs.js";

type Script = (sock: TLSSocket, streamId: number) => void;

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});

/** A TLS server that sends SETTINGS and then only PINGs (`count`), never reading. */
async function pingFlood(count: number): Promise<string> {
  const c = testCerts();
  const socks = new Set<TLSSocket>();
  const server = createServer({ cert: c.leaf.cert, key: c.leaf.key, ALPNProtocols: ["h2"] }, (sock) => {
    socks.add(sock);
    sock.on("error", () => {});
    sock.pause(); // never read: our answers pile up in the client's write buffer
    const ping = encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8));
    const batch = Buffer.concat(Array.from({ length: 10_000 }, () => ping));
    sock.write(encodeSettings([[8, 1]]));
    for (let i = 0; i < count / 10_000; i++) sock.write(batch);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(async () => {
    for (const s of socks) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return `wss://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** A TLS server speaking just enough HTTP/2: SETTINGS with ENABLE_CONNECT_PROTOCOL, then `script` on the client's HEADERS. */
async function rawH2(script: Script): Promise<{ url: string; received: Frame[] }> {
  const c = testCerts();
  const received: Frame[] = [];
  const socks = new Set<TLSSocket>();
  const server = createServer({ cert: c.leaf.cert, key: c.leaf.key, ALPNProtocols: ["h2"] }, (sock) => {
    socks.add(sock);
    sock.on("error", () => {});
    sock.write(encodeSettings([[8, 1]]));
    const reader = new FrameReader(1 << 20);
    let head = Buffer.alloc(0);
    let prefaced = false;
    sock.on("data", (d: Buffer) => {
      let data = d;
      if (!prefaced) {
        head = Buffer.concat([head, d]);
        if (head.length < PREFACE.length) return;
        prefaced = true;
        data = head.subarray(PREFACE.length);
      }
      reader.push(data, (f) => {
        received.push({ ...f, payload: Buffer.from(f.payload) });
        if (f.type === FrameType.HEADERS) script(sock, f.streamId);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(async () => {
    for (const s of socks) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `wss://127.0.0.1:${(server.address() as { port: number }).port}`, received };
}

const ok200 = (id: number): Buffer => encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, id, new HpackEncoder().encode([[":status", "200"]]));

function session(extra: ConstructorParameters<typeof AsyncSession>[0] = {}): AsyncSession {
  return new AsyncSession({ ca: testCerts().ca.cert, http2: true, timeout: 5000, ...extra });
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
}

test("a header block that does not decode: GOAWAY COMPRESSION_ERROR, a ProtocolError (1002)", async () => {
  const srv = await rawH2((sock, id) => sock.write(encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, id, Buffer.from([0xff, 0xff, 0xff]))));
  await using s = session();
  await assert.rejects(s.wsConnect(`${srv.url}/`), (e: unknown) => e instanceof ProtocolError && e.code === 1002 && /COMPRESSION_ERROR/.test(e.message));
  await until(() => srv.received.some((f) => f.type === FrameType.GOAWAY));
  const g = srv.received.find((f) => f.type === FrameType.GOAWAY)!;
  assert.equal(g.payload.readUInt32BE(4), ErrorCode.COMPRESSION_ERROR);
});

test("PUSH_PROMISE although push is disabled: GOAWAY PROTOCOL_ERROR", async () => {
  const srv = await rawH2((sock, id) => sock.write(encodeFrame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, id, Buffer.from([0, 0, 0, 2]))));
  await using s = session();
  await assert.rejects(s.wsConnect(`${srv.url}/`), (e: unknown) => e instanceof ProtocolError && /PROTOCOL_ERROR/.test(e.message));
  await until(() => srv.received.some((f) => f.type === FrameType.GOAWAY));
  assert.equal(srv.received.find((f) => f.type === FrameType.GOAWAY)!.payload.readUInt32BE(4), ErrorCode.PROTOCOL_ERROR);
});

test("DATA beyond the stream's window: RST_STREAM FLOW_CONTROL_ERROR and a typed error on the WebSocket", async () => {
  // masq's own fingerprint: 4 MiB stream windows. The client reads nothing (receive queue of 1,
  // never drained), so it grants nothing more; 300 DATA frames of one 16 KiB message each overrun it.
  const srv = await rawH2((sock, id) => {
    sock.write(ok200(id));
    const msg = Buffer.concat([Buffer.from([0x82, 126, 0x3f, 0xfc]), Buffer.alloc(16380)]);
    for (let i = 0; i < 300; i++) sock.write(encodeFrame(FrameType.DATA, 0, id, msg));
  });
  await using s = session({ recvQueueSize: 1 });
  const ws = await s.wsConnect(`${srv.url}/`);
  await until(() => srv.received.some((f) => f.type === FrameType.RST_STREAM));
  const r = srv.received.find((f) => f.type === FrameType.RST_STREAM)!;
  assert.equal(r.payload.readUInt32BE(0), ErrorCode.FLOW_CONTROL_ERROR);
  // What was received in time is still delivered; then the reset surfaces as a typed error.
  await assert.rejects(
    (async () => {
      for (let i = 0; i < 400; i++) await ws.recv({ timeout: 5000 });
    })(),
    (e: unknown) => e instanceof WebSocketError && /reset HTTP\/2 stream|FLOW_CONTROL_ERROR/.test(e.message),
  );
});

test("maxMessageSize holds on an h2 stream: close 1009 in DATA, then the stream ends", async () => {
  const srv = await rawH2((sock, id) => {
    sock.write(ok200(id));
    // A BINARY frame header announcing 2 MiB, then 64 KiB of it.
    const head = Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 0x20, 0, 0]);
    sock.write(encodeFrame(FrameType.DATA, 0, id, Buffer.concat([head, Buffer.alloc(16000)])));
  });
  await using s = session({ maxMessageSize: 1 << 20 });
  const ws = await s.wsConnect(`${srv.url}/`);
  await assert.rejects(ws.recv({ timeout: 5000 }), (e: unknown) => e instanceof ProtocolError && e.code === 1009);
  await until(() => srv.received.some((f) => f.type === FrameType.DATA && f.payload.length >= 4));
  const d = srv.received.find((f) => f.type === FrameType.DATA && f.payload.length >= 4)!;
  // A masked client close frame: opcode 8, then the unmasked code 1009.
  assert.equal(d.payload[0], 0x88);
  const mask = d.payload.subarray(2, 6);
  assert.equal(((d.payload[6]! ^ mask[0]!) << 8) | (d.payload[7]! ^ mask[1]!), 1009);
});

test("a PING flood from a server that does not read: ENHANCE_YOUR_CALM instead of an unbounded write buffer", async () => {
  const url = await pingFlood(1_000_000);
  await using s = session({ timeout: 20_000 });
  const rss0 = process.memoryUsage().rss;
  await assert.rejects(s.wsConnect(`${url}/`), (e: unknown) => e instanceof ProtocolError && /ENHANCE_YOUR_CALM/.test(e.message));
  assert.ok(process.memoryUsage().rss - rss0 < 200 * 1024 * 1024);
});

test("a refused stream (RST_STREAM REFUSED_STREAM before any answer) is a WebSocketError saying so", async () => {
  const srv = await rawH2((sock, id) => sock.write(encodeRstStream(id, ErrorCode.REFUSED_STREAM)));
  await using s = session();
  await assert.rejects(s.wsConnect(`${srv.url}/`), (e: unknown) => e instanceof WebSocketError && /refused the WebSocket's HTTP\/2 stream \(RST_STREAM REFUSED_STREAM/.test(e.message));
});

test("GOAWAY below our stream before the answer: the stream was not processed, said so", async () => {
  const srv = await rawH2((sock) => sock.write(encodeGoaway(0, ErrorCode.NO_ERROR)));
  await using s = session();
  await assert.rejects(s.wsConnect(`${srv.url}/`), (e: unknown) => e instanceof WebSocketError && /GOAWAY NO_ERROR .*was not processed/.test(e.message));
});
