// Direct reads (src/transport/direct-read.ts): on plain ws:// the socket reads the rest of a large
// frame straight into the message buffer. A raw server writes frames in pieces with pauses so
// that the client really reads partial payloads in place; every byte is checked afterwards.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { PassThrough } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { AsyncSession, WsFlag, WebSocketError } from "../../src/index.js";
import { FrameParser } from "../../src/protocol/parser.js";
import { directReadBytes } from "../../src/transport/direct-read.js";
import { MessageReader } from "../../src/websocket/reader.js";
import { RecvQueue } from "../../src/websocket/recv-queue.js";
import { OP, serverFrame, type RawConn } from "../helpers/raw-server.js";
import { withRawSession as withRaw } from "../helpers/raw-session.js";
import { failOnUnhandledRejections } from "../helpers/unhandled.js";
import { startWsServer } from "../helpers/ws-server.js";

const KiB = 1024;

failOnUnhandledRejections(20);

/** Writes `bytes` in pieces of `piece` bytes, yielding to the loop (and the wire) between them. */
async function writeInPieces(c: RawConn, bytes: Buffer, piece: number, pauseMs = 2): Promise<void> {
  for (let o = 0; o < bytes.length; o += piece) {
    await c.write(bytes.subarray(o, Math.min(bytes.length, o + piece)));
    await sleep(pauseMs);
  }
}

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

test("large binary frames written in pieces arrive intact, with small frames around them, read in place", async () => {
  const big = [randomBytes(300 * KiB), randomBytes(64 * KiB + 3), randomBytes(1024 * KiB)];
  const before = directReadBytes();
  await withRaw(
    async (c) => {
      await c.nextFrame(); // the client's go
      const wire = Buffer.concat([
        serverFrame(OP.TEXT, "first"),
        serverFrame(OP.BINARY, big[0]),
        serverFrame(OP.TEXT, "between"),
        serverFrame(OP.BINARY, big[1]),
        serverFrame(OP.BINARY, big[2]),
        serverFrame(OP.TEXT, "last"),
      ]);
      // Odd piece sizes: headers and payload ends fall anywhere inside a piece.
      await writeInPieces(c, wire, 40_001);
    },
    async (server, s) => {
      const ws = await s.wsConnect(`${server.url}/`);
      await ws.send("go");
      assert.equal(await ws.recvStr(), "first");
      assert.equal(sha(await ws.recvBytes()), sha(big[0]!));
      assert.equal(await ws.recvStr(), "between");
      assert.equal(sha(await ws.recvBytes()), sha(big[1]!));
      assert.equal(sha(await ws.recvBytes()), sha(big[2]!));
      assert.equal(await ws.recvStr(), "last");
    },
  );
  // At 40 KB pieces with pauses, most of the 1.3 MiB went straight into message buffers.
  assert.ok(directReadBytes() - before > 900 * KiB, `read in place: ${directReadBytes() - before} bytes`);
});

test("a large TEXT frame read in place is UTF-8 checked across reads (split code points pass)", async () => {
  // 3- and 4-byte sequences: pieces of 10_007 bytes split many of them.
  const text = "añ€😀".repeat(40_000);
  const payload = Buffer.from(text, "utf8");
  await withRaw(
    async (c) => {
      await c.nextFrame();
      await writeInPieces(c, serverFrame(OP.TEXT, payload), 10_007, 1);
    },
    async (server, s) => {
      const ws = await s.wsConnect(`${server.url}/`);
      await ws.send("go");
      assert.equal(await ws.recvStr(), text);
    },
  );
});

test("invalid UTF-8 deep inside a large TEXT frame read in place fails with 1007; earlier messages stay readable", async () => {
  const payload = Buffer.alloc(200 * KiB, 0x61);
  payload[150 * KiB] = 0xff;
  await withRaw(
    async (c) => {
      await c.nextFrame();
      await c.write(serverFrame(OP.TEXT, "ok before"));
      await writeInPieces(c, serverFrame(OP.TEXT, payload), 30_000);
      await c.closeFrame(2000).catch(() => null);
    },
    async (server, s) => {
      const ws = await s.wsConnect(`${server.url}/`, { drainOnError: true });
      await ws.send("go");
      assert.equal(await ws.recvStr(), "ok before");
      await assert.rejects(ws.recv(), (e: unknown) => e instanceof WebSocketError && e.code === 1007);
      const conn = await server.connection(0);
      const close = await conn.closeFrame(2000);
      assert.equal(close?.code, 1007);
    },
  );
});

test("a fragmented large message (continuations read in place) is reassembled in order", async () => {
  const parts = [randomBytes(100 * KiB), randomBytes(5), randomBytes(200 * KiB)];
  await withRaw(
    async (c) => {
      await c.nextFrame();
      const wire = Buffer.concat([
        serverFrame(OP.BINARY, parts[0], { fin: false }),
        serverFrame(OP.PING, "p"), // a control frame between fragments
        serverFrame(OP.CONT, parts[1], { fin: false }),
        serverFrame(OP.CONT, parts[2], { fin: true }),
      ]);
      await writeInPieces(c, wire, 33_333);
    },
    async (server, s) => {
      const ws = await s.wsConnect(`${server.url}/`);
      await ws.send("go");
      const m = await ws.recv();
      assert.equal(m.flags & WsFlag.BINARY, WsFlag.BINARY);
      assert.equal(sha(m.data), sha(Buffer.concat(parts)));
    },
  );
});

test("a full receive queue pauses a socket in the middle of direct reads and loses nothing", async () => {
  const server = await startWsServer();
  const s = new AsyncSession({ timeout: 10_000 });
  try {
    // /send pattern messages of 300 KiB: with a queue of 2 the reader stops mid-stream many times.
    const count = 24;
    const size = 300 * KiB;
    const ws = await s.wsConnect(`${server.url}/send?count=${count}&size=${size}&type=binary`, { recvQueueSize: 2 });
    for (let i = 0; i < count; i++) {
      if (i % 6 === 0) await sleep(20); // let the queue fill and the socket pause
      const data = await ws.recvBytes();
      assert.equal(data.length, size);
      const expect = Buffer.alloc(size, 0x61 + (i % 26));
      Buffer.from(`${i}:`).copy(expect, 0);
      assert.ok(data.equals(expect), `message ${i} intact`);
    }
  } finally {
    for (const ws of s.connections) ws.terminate();
    await s.close();
    await server.close();
  }
});

test("messages received in place are never overwritten by later reads", async () => {
  // Keep every message until the end, then compare: a buffer reused too early would show here.
  const msgs = Array.from({ length: 12 }, (_, i) => randomBytes(i % 3 === 0 ? 50 : 90 * KiB + i));
  await withRaw(
    async (c) => {
      await c.nextFrame();
      await writeInPieces(c, Buffer.concat(msgs.map((m) => serverFrame(OP.BINARY, m))), 20_000, 1);
    },
    async (server, s) => {
      const ws = await s.wsConnect(`${server.url}/`);
      await ws.send("go");
      const got: Buffer[] = [];
      for (let i = 0; i < msgs.length; i++) got.push(await ws.recvBytes());
      for (let i = 0; i < msgs.length; i++) assert.ok(got[i]!.equals(msgs[i]!), `message ${i}`);
    },
  );
});

test("bytes reported for a target the parser never offered fail the connection with a typed 1002, not a throw", () => {
  // The sans-I/O contract: commitDirect without a matching directTarget is a RangeError.
  assert.throws(() => new FrameParser({ maxMessageSize: 1024 }).commitDirect(5), RangeError);
  // The reader turns it into a failed connection (Node's read callback must never throw).
  const fatal: Array<{ error: WebSocketError; code: number }> = [];
  const reader = new MessageReader(new PassThrough(), new RecvQueue(8), {
    onPing() {},
    onClose() {},
    onFatal: (_host, error, code) => fatal.push({ error, code }),
  }, null, { maxMessageSize: 1024, blockOnRecvQueueFull: true, recvTimeSlice: 5, wsRetry: undefined });
  reader.start(Buffer.alloc(0));
  assert.doesNotThrow(() => reader.onDirect(5));
  assert.equal(fatal.length, 1);
  assert.ok(fatal[0]!.error instanceof WebSocketError);
  assert.equal(fatal[0]!.code, 1002);
  assert.match(fatal[0]!.error.message, /commitDirect without a matching directTarget/);
  reader.onDirect(5); // stopped: ignored
  assert.equal(fatal.length, 1);
});
