// The sans-I/O HTTP/2 client connection: bytes it writes (byte for byte), events from bytes it
// reads, flow control in both directions, and connection / stream errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ErrorCode, Flag, FrameReader, FrameType, H2ConnectionError, HpackDecoder, HpackEncoder, Http2ClientConnection, PREFACE,
  encodeFrame, encodeGoaway, encodeSettings, encodeWindowUpdate, encodeRstStream, type Frame, type Http2Event,
} from "../../../src/protocol/http2/index.js";

const FIREFOX = {
  settings: [[1, 65536], [2, 0], [4, 131072], [5, 16384]] as Array<[number, number]>,
  connectionWindowUpdate: 12517377,
  streamWindowUpdate: 12451840,
  firstStreamId: 3,
};

function frames(bufs: Buffer[]): Frame[] {
  const all = Buffer.concat(bufs);
  const out: Frame[] = [];
  const body = all.subarray(0, PREFACE.length).equals(PREFACE) ? all.subarray(PREFACE.length) : all;
  new FrameReader(1 << 24).push(body, (f) => out.push({ ...f, payload: Buffer.from(f.payload) }));
  return out;
}

function serverSettings(s: Array<[number, number]> = [[8, 1]]): Buffer {
  return encodeSettings(s);
}

function open(opts = FIREFOX): { c: Http2ClientConnection; id: number } {
  const c = new Http2ClientConnection(opts);
  c.takeOutput();
  c.receive(serverSettings([[8, 1], [4, 65535]]));
  c.takeOutput();
  const id = c.openStream([[":method", "CONNECT"], [":protocol", "websocket"]], { exclusive: false, dependency: 0, weight: 21 });
  c.takeOutput();
  return { c, id };
}

function response(id: number, status = "200", endStream = false): Buffer {
  const block = new HpackEncoder().encode([[":status", status]]);
  return encodeFrame(FrameType.HEADERS, Flag.END_HEADERS | (endStream ? Flag.END_STREAM : 0), id, block);
}

test("preface: magic, SETTINGS in the given order, connection WINDOW_UPDATE — byte for byte", () => {
  const c = new Http2ClientConnection(FIREFOX);
  const out = Buffer.concat(c.takeOutput());
  const expected = Buffer.concat([
    Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    Buffer.from("000018040000000000" + "000100010000" + "000200000000" + "000400020000" + "000500004000", "hex"),
    Buffer.from("00000408000000000000bf0001", "hex"),
  ]);
  assert.equal(out.toString("hex"), expected.toString("hex"));
});

test("server SETTINGS: ACK, ready, extended CONNECT; PING answered with the same 8 bytes", () => {
  const c = new Http2ClientConnection(FIREFOX);
  c.takeOutput();
  assert.equal(c.ready, false);
  const ev = c.receive(Buffer.concat([serverSettings(), encodeFrame(FrameType.PING, 0, 0, Buffer.from("12345678"))]));
  assert.deepEqual(ev, [{ type: "settings", first: true }]);
  assert.ok(c.ready && c.extendedConnect);
  const out = frames(c.takeOutput());
  assert.deepEqual(out.map((f) => [f.type, f.flags]), [[FrameType.SETTINGS, Flag.ACK], [FrameType.PING, Flag.ACK]]);
  assert.equal(out[1]!.payload.toString(), "12345678");
});

test("openStream: HEADERS with priority (E=0, dep 0, weight byte 21) on stream 3, then the stream WINDOW_UPDATE", () => {
  const c = new Http2ClientConnection(FIREFOX);
  c.takeOutput();
  c.receive(serverSettings());
  c.takeOutput();
  const headers: Array<[string, string]> = [[":method", "CONNECT"], [":path", "/chat"], [":authority", "a.test"], [":scheme", "https"], [":protocol", "websocket"]];
  const id = c.openStream(headers, { exclusive: false, dependency: 0, weight: 21 });
  assert.equal(id, 3);
  const out = frames(c.takeOutput());
  assert.equal(out[0]!.type, FrameType.HEADERS);
  assert.equal(out[0]!.streamId, 3);
  assert.equal(out[0]!.flags, Flag.END_HEADERS | Flag.PRIORITY);
  assert.equal(out[0]!.payload.subarray(0, 5).toString("hex"), "0000000015");
  assert.deepEqual(new HpackDecoder().decode(out[0]!.payload.subarray(5)), headers);
  assert.deepEqual([out[1]!.type, out[1]!.streamId, out[1]!.payload.readUInt32BE(0)], [FrameType.WINDOW_UPDATE, 3, 12451840]);
  assert.equal(c.openStream(headers, null), 5, "odd ids, increasing");
});

test("send flow control: DATA up to the peer's window, then wait for WINDOW_UPDATE; frames split at MAX_FRAME_SIZE", () => {
  const { c, id } = open();
  c.receive(response(id));
  const data = Buffer.alloc(100_000, 1);
  assert.equal(c.sendData(id, data), 65535, "stream and connection windows start at 65 535");
  const out = frames(c.takeOutput());
  assert.deepEqual(out.map((f) => f.payload.length), [16384, 16384, 16384, 16383]);
  assert.equal(c.sendCapacity(id), 0);
  const ev = c.receive(encodeWindowUpdate(id, 1000));
  assert.deepEqual(ev, [{ type: "window", streamId: id }]);
  assert.equal(c.sendCapacity(id), 0, "the connection window is still 0");
  c.receive(encodeWindowUpdate(0, 50_000));
  assert.equal(c.sendCapacity(id), 1000);
  assert.equal(c.sendData(id, data.subarray(65535), true), 1000, "END_STREAM not set on a partial send");
  assert.equal(frames(c.takeOutput())[0]!.flags & Flag.END_STREAM, 0);
});

test("receive flow control: data delivered, credit returned as consumed (half the window), overrun is FLOW_CONTROL_ERROR", () => {
  const { c, id } = open({ ...FIREFOX, connectionWindowUpdate: 0, streamWindowUpdate: 0, settings: [[4, 65535]] });
  c.receive(response(id));
  const chunk = Buffer.alloc(16384, 2);
  let ev: Http2Event[] = [];
  for (let i = 0; i < 3; i++) ev = c.receive(encodeFrame(FrameType.DATA, 0, id, chunk));
  assert.equal(ev[0]!.type, "data");
  // The connection window is replenished on receipt once half is used; the stream's only as consumed.
  const conn = frames(c.takeOutput());
  assert.deepEqual(conn.map((f) => [f.type, f.streamId, f.payload.readUInt32BE(0)]), [[FrameType.WINDOW_UPDATE, 0, 32768]]);
  c.consumed(id, 3 * 16384);
  assert.deepEqual(frames(c.takeOutput()).map((f) => [f.streamId, f.payload.readUInt32BE(0)]), [[id, 49152]]);
  // The stream window is now 65 535 again: 65 536 bytes overrun it.
  c.receive(encodeFrame(FrameType.DATA, 0, id, Buffer.alloc(16384)));
  c.receive(encodeFrame(FrameType.DATA, 0, id, Buffer.alloc(16384)));
  c.receive(encodeFrame(FrameType.DATA, 0, id, Buffer.alloc(16384)));
  const last = c.receive(encodeFrame(FrameType.DATA, 0, id, Buffer.alloc(16384)));
  assert.deepEqual(last.at(-1), { type: "reset", streamId: id, code: ErrorCode.FLOW_CONTROL_ERROR, local: true });
});

test("padding is stripped and credited; END_STREAM ends the stream", () => {
  const { c, id } = open();
  c.receive(response(id));
  const padded = Buffer.concat([Buffer.from([3]), Buffer.from("abc"), Buffer.alloc(3)]);
  const ev = c.receive(encodeFrame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, id, padded));
  assert.deepEqual(ev, [{ type: "data", streamId: id, data: Buffer.from("abc"), endStream: true }]);
});

test("RST_STREAM, GOAWAY and a non-200 response are events; a stream error resets only that stream", () => {
  const { c, id } = open();
  c.receive(response(id));
  assert.deepEqual(c.receive(encodeRstStream(id, ErrorCode.CANCEL)), [{ type: "reset", streamId: id, code: ErrorCode.CANCEL, local: false }]);
  const id2 = c.openStream([[":method", "CONNECT"]], null);
  const ev = c.receive(response(id2, "403", true));
  assert.equal(ev[0]!.type, "headers");
  assert.equal((ev[0] as { status: number }).status, 403);
  const g = c.receive(encodeGoaway(id2, ErrorCode.INTERNAL_ERROR, Buffer.from("bye")));
  assert.deepEqual(g, [{ type: "goaway", lastStreamId: id2, code: ErrorCode.INTERNAL_ERROR, debug: "bye" }]);
  assert.equal(c.canOpenStream(), false);
});

test("connection errors: first frame not SETTINGS, oversized frame, PUSH_PROMISE, bad HPACK, interrupted header block", () => {
  const fresh = (): Http2ClientConnection => new Http2ClientConnection(FIREFOX);
  assert.throws(() => fresh().receive(encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8))), H2ConnectionError);
  const big = Buffer.alloc(9);
  big.writeUIntBE(16385, 0, 3);
  const c1 = fresh();
  c1.receive(serverSettings());
  assert.throws(() => c1.receive(big), (e: unknown) => e instanceof H2ConnectionError && e.h2code === ErrorCode.FRAME_SIZE_ERROR);
  const c2 = fresh();
  c2.receive(serverSettings());
  assert.throws(() => c2.receive(encodeFrame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 3, Buffer.alloc(4))), H2ConnectionError);
  const { c: c3, id } = open();
  assert.throws(() => c3.receive(encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, id, Buffer.from([0xff, 0xff]))), (e: unknown) => e instanceof H2ConnectionError && e.h2code === ErrorCode.COMPRESSION_ERROR);
  const { c: c4, id: id4 } = open();
  assert.throws(() => c4.receive(Buffer.concat([encodeFrame(FrameType.HEADERS, 0, id4, Buffer.from([0x88])), encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8))])), H2ConnectionError);
  const c5 = fresh();
  assert.throws(() => c5.receive(serverSettings([[8, 2]])), H2ConnectionError);
});

test("header block across CONTINUATION frames, split across reads byte by byte", () => {
  const { c, id } = open();
  const block = new HpackEncoder().encode([[":status", "200"], ["x-long", "v".repeat(300)]]);
  const wire = Buffer.concat([
    encodeFrame(FrameType.HEADERS, 0, id, block.subarray(0, 100)),
    encodeFrame(FrameType.CONTINUATION, Flag.END_HEADERS, id, block.subarray(100)),
  ]);
  const ev: Http2Event[] = [];
  for (let i = 0; i < wire.length; i++) ev.push(...c.receive(wire.subarray(i, i + 1)));
  assert.equal(ev.length, 1);
  assert.deepEqual((ev[0] as { headers: unknown }).headers, [[":status", "200"], ["x-long", "v".repeat(300)]]);
});

test("a peer SETTINGS_INITIAL_WINDOW_SIZE change adjusts open streams; a smaller HEADER_TABLE_SIZE is signalled", () => {
  const { c, id } = open();
  c.receive(response(id));
  c.sendData(id, Buffer.alloc(65535));
  c.takeOutput();
  const ev = c.receive(encodeSettings([[4, 100_000], [1, 0]]));
  assert.ok(ev.some((e) => e.type === "window" && e.streamId === id));
  c.receive(encodeWindowUpdate(0, 100_000));
  assert.equal(c.sendCapacity(id), 100_000 - 65535);
  c.takeOutput();
  c.openStream([[":method", "CONNECT"]], null);
  const h = frames(c.takeOutput())[0]!;
  assert.equal(h.payload[0], 0x20, "dynamic table size update to 0 first");
});

test("a DATA frame straddling reads is delivered in pieces as they arrive; END_STREAM only on the last", () => {
  const { c, id } = open();
  c.receive(response(id));
  const payload = Buffer.from(Array.from({ length: 16000 }, (_, i) => i & 0xff));
  const wire = Buffer.concat([encodeFrame(FrameType.DATA, Flag.END_STREAM, id, payload), encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8))]);
  const pieces: Array<{ data: Buffer; endStream: boolean }> = [];
  for (let i = 0; i < wire.length; i += 1000) {
    for (const e of c.receive(wire.subarray(i, i + 1000))) if (e.type === "data") pieces.push({ data: Buffer.from(e.data), endStream: e.endStream });
  }
  assert.ok(pieces.length > 10, "streamed, not gathered");
  assert.deepEqual(Buffer.concat(pieces.map((p) => p.data)), payload);
  assert.deepEqual(pieces.map((p) => p.endStream).lastIndexOf(true), pieces.length - 1);
  assert.equal(pieces.filter((p) => p.endStream).length, 1);
  assert.ok(frames(c.takeOutput()).some((f) => f.type === FrameType.PING && f.flags === Flag.ACK), "the frame after it is parsed");
});

test("Firefox's acknowledgement rule: WINDOW_UPDATE in 4 MiB steps, at once below a 96 KiB window", () => {
  const ff = { ...FIREFOX, ackThreshold: 4 << 20, ackEmergencyWindow: 96 * 1024, settings: [[4, 131072], [5, 16384]] as Array<[number, number]> };
  const { c, id } = open(ff);
  c.receive(response(id));
  const chunk = Buffer.alloc(16384);
  const wus = (): Array<[number, number]> => frames(c.takeOutput()).filter((f) => f.type === FrameType.WINDOW_UPDATE).map((f) => [f.streamId, f.payload.readUInt32BE(0)]);
  // 3 MiB received and consumed: below both thresholds (stream window 12 MiB, connection 12 MiB).
  for (let i = 0; i < 192; i++) {
    c.receive(encodeFrame(FrameType.DATA, 0, id, chunk));
    c.consumed(id, chunk.length);
  }
  assert.deepEqual(wus(), []);
  for (let i = 0; i < 64; i++) {
    c.receive(encodeFrame(FrameType.DATA, 0, id, chunk));
    c.consumed(id, chunk.length);
  }
  assert.deepEqual(wus(), [[0, 4 << 20], [id, 4 << 20]]);
  // A reader that stops: the window drains to the emergency level, then any consumption is acked at once.
  const left = 12 * (1 << 20) - 96 * 1024;
  for (let i = 0; i < left / 16384; i++) c.receive(encodeFrame(FrameType.DATA, 0, id, chunk));
  c.takeOutput();
  c.consumed(id, 100);
  assert.deepEqual(wus(), [[id, 100]]);
});
