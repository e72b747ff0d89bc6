// The async engine (issue 3), black-box over loopback: concurrent receivers, queue sizes,
// fragmentation on the wire, coalescing, timeouts and aborts, close/terminate, sticky errors,
// autoclose, typed receives. Backpressure and floods: backpressure.test.ts; event-loop
// liveness: liveness.test.ts.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AsyncSession,
  WsFlag,
  WebSocketError,
  WebSocketClosed,
  WebSocketTimeout,
  type AsyncWebSocket,
  type SessionOptions,
} from "../../src/index.js";
import { startWsServer, type TestWsServer } from "../helpers/ws-server.js";
import { OP, closePayload, startRawServer, type RawConn, type RawServer } from "../helpers/raw-server.js";
import { failOnUnhandledRejections } from "../helpers/unhandled.js";

failOnUnhandledRejections(20);

let echo: TestWsServer;
let session: AsyncSession;
before(async () => {
  echo = await startWsServer();
  session = new AsyncSession({ timeout: 5000 });
});
after(async () => {
  for (const ws of session.connections) ws.terminate();
  await session.close();
  await echo.close();
});

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => assert.fail("expected a rejection"),
    (e: unknown) => e,
  );
}

async function closeQuietly(ws: AsyncWebSocket): Promise<void> {
  await ws.close(1000, "", { timeout: 1000 }).catch(() => ws.terminate());
}

async function withRaw(
  handler: (c: RawConn) => void | Promise<void>,
  body: (server: RawServer, ws: AsyncWebSocket, conn: RawConn) => Promise<void>,
  opts: SessionOptions = {},
): Promise<void> {
  const server = await startRawServer(handler);
  let ws: AsyncWebSocket | undefined;
  try {
    ws = await session.wsConnect(server.url + "/", opts);
    const conn = await server.connection(0);
    await body(server, ws, conn);
  } finally {
    ws?.terminate();
    await server.close();
  }
}

/** Waits until `cond` holds, polling; fails after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe("concurrent receivers", () => {
  test("receivers waiting before anything arrives are served first-come-first-served", async () => {
    const ws = await session.wsConnect(echo.url + "/echo");
    try {
      const waiting = Array.from({ length: 5 }, () => ws.recvStr({ timeout: 5000 }));
      await sleep(20);
      for (let i = 0; i < 5; i++) await ws.sendStr(`m${i}`);
      assert.deepEqual(await Promise.all(waiting), ["m0", "m1", "m2", "m3", "m4"]);
    } finally {
      await closeQuietly(ws);
    }
  });

  test("more receivers than queue slots: each gets a distinct message, in order", async () => {
    const ws = await session.wsConnect(echo.url + "/echo", { recvQueueSize: 2 });
    try {
      const waiting = Array.from({ length: 12 }, () => ws.recvStr({ timeout: 5000 }));
      for (let i = 0; i < 12; i++) await ws.sendStr(`m${i}`);
      assert.deepEqual(await Promise.all(waiting), Array.from({ length: 12 }, (_, i) => `m${i}`));
      await assert.rejects(ws.recv({ timeout: 100 }), WebSocketTimeout, "nothing left over");
    } finally {
      await closeQuietly(ws);
    }
  });

  test("a queue of 2 filled by 10 messages, then 10 receivers at once", async () => {
    const ws = await session.wsConnect(echo.url + "/send?count=10&size=8", { recvQueueSize: 2 });
    try {
      await sleep(100);
      const got = await Promise.all(Array.from({ length: 10 }, () => ws.recvBytes({ timeout: 5000 })));
      assert.deepEqual(got.map((b) => b.toString().split(":")[0]), Array.from({ length: 10 }, (_, i) => String(i)));
    } finally {
      await closeQuietly(ws);
    }
  });

  test("a transport error while 5 receivers wait: all 5 get the same error", async () => {
    await withRaw(async (c) => {
      await sleep(100);
      c.socket.resetAndDestroy();
    }, async (_server, ws) => {
      const results = await Promise.allSettled(Array.from({ length: 5 }, () => ws.recv({ timeout: 5000 })));
      const errors = results.map((r) => {
        assert.equal(r.status, "rejected");
        return (r as PromiseRejectedResult).reason as unknown;
      });
      for (const e of errors) {
        assert.ok(e instanceof WebSocketError, `expected WebSocketError, got ${String(e)}`);
        assert.ok(!(e instanceof WebSocketTimeout), "not a timeout");
        assert.equal(e.code, (errors[0] as WebSocketError).code);
        assert.equal(e.message, (errors[0] as WebSocketError).message);
        assert.equal(e.constructor, (errors[0] as WebSocketError).constructor);
      }
      assert.equal((errors[0] as WebSocketError).code, 1006);
      for (const e of errors) assert.equal(e, errors[0], "every waiter gets the same error object");
    });
  });

  test("a waiter that times out or is aborted gives up its place without consuming", async () => {
    const ws = await session.wsConnect(echo.url + "/echo");
    try {
      const ac = new AbortController();
      const reason = new Error("user gave up");
      const r1 = ws.recvStr({ timeout: 30 });
      const r2 = ws.recvStr({ timeout: 5000 });
      const r3 = ws.recvStr({ signal: ac.signal });
      const r4 = ws.recvStr({ timeout: 5000 });
      await assert.rejects(r1, WebSocketTimeout);
      ac.abort(reason);
      assert.equal(await failure(r3), reason, "rejects with the signal's reason");
      await ws.sendStr("first");
      await ws.sendStr("second");
      assert.equal(await r2, "first");
      assert.equal(await r4, "second");
    } finally {
      await closeQuietly(ws);
    }
  });

  test("an already aborted signal rejects at once with its reason and consumes nothing", async () => {
    const ws = await session.wsConnect(echo.url + "/echo");
    try {
      await ws.sendStr("kept");
      await sleep(50);
      const reason = new Error("pre-aborted");
      assert.equal(await failure(ws.recv({ signal: AbortSignal.abort(reason) })), reason);
      assert.equal(await ws.recvStr({ timeout: 5000 }), "kept");
    } finally {
      await closeQuietly(ws);
    }
  });

  test("recv timeout loses nothing: the late message goes to the next recv", async () => {
    const ws = await session.wsConnect(echo.url + "/slow?delay=200");
    try {
      await ws.sendStr("late");
      const err = await failure(ws.recv({ timeout: 50 }));
      assert.ok(err instanceof WebSocketTimeout, `expected WebSocketTimeout, got ${String(err)}`);
      assert.equal(err.code, 0);
      for (let i = 0; i < 3; i++) await assert.rejects(ws.recv({ timeout: 10 }), WebSocketTimeout);
      assert.equal(await ws.recvStr({ timeout: 5000 }), "late");
      // the connection is still fine
      await ws.sendStr("again");
      assert.equal(await ws.recvStr({ timeout: 5000 }), "again");
    } finally {
      await closeQuietly(ws);
    }
  });
});

describe("ordering with large messages and pings", () => {
  test("10 MiB message, then 20 small messages with pings interleaved: order preserved both ways", async () => {
    const ws = await session.wsConnect(echo.url + "/echo", { maxMessageSize: 16 * 1024 * 1024 });
    const idx = echo.connections.length - 1;
    try {
      const big = randomBytes(10 * 1024 * 1024);
      const sends: Array<Promise<void>> = [ws.sendBytes(big)];
      for (let i = 0; i < 20; i++) {
        sends.push(ws.sendStr(`small-${i}`));
        if (i % 3 === 0) sends.push(ws.ping(`p${i}`));
      }
      await Promise.all(sends);
      const first = await ws.recv({ timeout: 20_000 });
      assert.equal(first.flags & WsFlag.BINARY, WsFlag.BINARY);
      assert.ok(first.data.equals(big), "10 MiB echo differs");
      for (let i = 0; i < 20; i++) assert.equal(await ws.recvStr({ timeout: 5000 }), `small-${i}`);
      const conn = echo.connections[idx]!;
      await until(() => conn.messages.length === 21, 5000, "21 messages at the server");
      assert.ok(conn.messages[0]!.data.equals(big));
      assert.deepEqual(conn.messages.slice(1).map((m) => m.data.toString()), Array.from({ length: 20 }, (_, i) => `small-${i}`));
      assert.deepEqual(conn.pings.map((p) => p.toString()), ["p0", "p3", "p6", "p9", "p12", "p15", "p18"]);
    } finally {
      await closeQuietly(ws);
    }
  });
});

describe("fragmentation on the wire", () => {
  for (const [size, expected] of [
    [65_535, [65_535]],
    [65_536, [65_536]],
    [65_537, [65_536, 1]],
    [3 * 65_536 + 5, [65_536, 65_536, 65_536, 5]],
  ] as const) {
    test(`a ${size}-byte message goes out as frames of ${expected.join(" + ")}`, async () => {
      await withRaw(() => {}, async (_s, ws, conn) => {
        const payload = randomBytes(size);
        await ws.sendBytes(payload);
        await ws.flush({ timeout: 5000 });
        await until(() => conn.dataFrames().some((f) => f.fin), 5000, "the final frame");
        const frames = conn.dataFrames();
        assert.deepEqual(frames.map((f) => f.length), [...expected]);
        assert.deepEqual(frames.map((f) => f.opcode), frames.map((_f, i) => (i === 0 ? OP.BINARY : OP.CONT)));
        assert.deepEqual(frames.map((f) => f.fin), frames.map((_f, i) => i === frames.length - 1));
        assert.ok(frames.every((f) => f.rsv === 0 && f.masked));
        assert.ok(Buffer.concat(frames.map((f) => f.payload)).equals(payload));
      });
    });
  }

  test("a 65,537-byte TEXT message: TEXT 65,536 then CONT 1", async () => {
    await withRaw(() => {}, async (_s, ws, conn) => {
      await ws.sendStr("x".repeat(65_537));
      await until(() => conn.dataFrames().length === 2, 5000, "two frames");
      assert.deepEqual(conn.dataFrames().map((f) => [f.opcode, f.length, f.fin]), [[OP.TEXT, 65_536, false], [OP.CONT, 1, true]]);
    });
  });

  test("pings may go between fragments, but two data messages never interleave on the wire", async () => {
    await withRaw(() => {}, async (_s, ws, conn) => {
      const a = randomBytes(300 * 1024);
      const b = "t".repeat(300 * 1024);
      const p: Array<Promise<void>> = [ws.sendBytes(a), ws.ping("p1"), ws.sendStr(b), ws.ping("p2"), ws.sendStr("tail"), ws.ping("p3")];
      await Promise.all(p);
      await ws.flush({ timeout: 5000 });
      await until(() => conn.dataFrames().filter((f) => f.fin).length === 3 && conn.frames.filter((f) => f.opcode === OP.PING).length === 3, 5000, "3 messages and 3 pings");
      // Walk the frames: a data frame with a non-CONT opcode may only start a message.
      const msgs: Array<{ op: number; data: Buffer }> = [];
      let open: { op: number; parts: Buffer[] } | undefined;
      for (const f of conn.frames) {
        if (f.opcode === OP.PING) {
          assert.ok(f.fin && f.length <= 125);
          continue;
        }
        if (f.opcode === OP.CONT) {
          assert.ok(open, "CONT without a message in progress");
          open.parts.push(f.payload);
        } else {
          assert.equal(open, undefined, `opcode ${f.opcode} started while another message was in progress`);
          open = { op: f.opcode, parts: [f.payload] };
        }
        if (f.fin) {
          msgs.push({ op: open.op, data: Buffer.concat(open.parts) });
          open = undefined;
        }
      }
      assert.deepEqual(msgs.map((m) => m.op), [OP.BINARY, OP.TEXT, OP.TEXT]);
      assert.ok(msgs[0]!.data.equals(a));
      assert.equal(msgs[1]!.data.toString(), b);
      assert.equal(msgs[2]!.data.toString(), "tail");
      assert.deepEqual(conn.frames.filter((f) => f.opcode === OP.PING).map((f) => f.payload.toString()), ["p1", "p2", "p3"]);
    });
  });

  test("manual fragments of 3 bytes with an empty middle fragment", async () => {
    await withRaw(() => {}, async (_s, ws, conn) => {
      await ws.send("abc", WsFlag.TEXT | WsFlag.CONT);
      await ws.send("", WsFlag.TEXT | WsFlag.CONT);
      await ws.send("def", WsFlag.TEXT);
      await ws.send(Buffer.from([1, 2, 3]), WsFlag.BINARY | WsFlag.CONT);
      await ws.send(Buffer.from([4, 5, 6]), WsFlag.BINARY);
      await until(() => conn.dataFrames().length === 5, 5000, "five frames");
      assert.deepEqual(
        conn.dataFrames().map((f) => [f.opcode, f.fin, f.payload.toString("hex")]),
        [
          [OP.TEXT, false, Buffer.from("abc").toString("hex")],
          [OP.CONT, false, ""],
          [OP.CONT, true, Buffer.from("def").toString("hex")],
          [OP.BINARY, false, "010203"],
          [OP.CONT, true, "040506"],
        ],
      );
    });
  });

  test("manual fragments arrive as one message at a real server", async () => {
    const ws = await session.wsConnect(echo.url + "/echo");
    try {
      await ws.send("abc", WsFlag.TEXT | WsFlag.CONT);
      await ws.send("", WsFlag.TEXT | WsFlag.CONT);
      await ws.send("def", WsFlag.TEXT);
      assert.equal(await ws.recvStr({ timeout: 5000 }), "abcdef");
    } finally {
      await closeQuietly(ws);
    }
  });

  test("a fragment whose type disagrees with the message in progress is rejected; the stream stays intact", async () => {
    const ws = await session.wsConnect(echo.url + "/echo");
    try {
      await ws.send("abc", WsFlag.TEXT | WsFlag.CONT);
      const err = await failure(ws.send(Buffer.from([1]), WsFlag.BINARY));
      assert.ok(err instanceof Error);
      assert.ok(err instanceof WebSocketError, `expected WebSocketError, got ${String(err)}`);
      assert.ok(err.message.length > 10, "a clear message");
      await ws.send("def", WsFlag.TEXT);
      assert.equal(await ws.recvStr({ timeout: 5000 }), "abcdef");
      await ws.sendStr("next");
      assert.equal(await ws.recvStr({ timeout: 5000 }), "next");
    } finally {
      await closeQuietly(ws);
    }
  });

  test("masking: every length 0-300 and 128 KiB + k (k = 0..7) arrives intact with fresh keys", async () => {
    await withRaw(() => {}, async (_s, ws, conn) => {
      const sent: Buffer[] = [];
      for (let n = 0; n <= 300; n++) sent.push(randomBytes(n));
      for (let k = 0; k <= 7; k++) sent.push(randomBytes(128 * 1024 + k));
      for (const b of sent) await ws.sendBytes(b);
      await ws.flush({ timeout: 10_000 });
      await until(() => conn.dataFrames().filter((f) => f.fin).length === sent.length, 10_000, "all messages");
      // Reassemble messages from frames (128 KiB + k is 3 frames).
      const got: Buffer[] = [];
      let cur: Buffer[] = [];
      for (const f of conn.dataFrames()) {
        cur.push(f.payload);
        if (f.fin) {
          got.push(Buffer.concat(cur));
          cur = [];
        }
      }
      assert.equal(got.length, sent.length);
      for (let i = 0; i < sent.length; i++) assert.ok(got[i]!.equals(sent[i]!), `message ${i} (${sent[i]!.length} B) differs`);
      const keys = new Set(conn.frames.map((f) => f.maskKey.toString("hex")));
      assert.ok(keys.size > conn.frames.length * 0.95, `masking keys repeat: ${keys.size} distinct of ${conn.frames.length}`);
    });
  });
});

describe("queue sizes", () => {
  for (const size of [1, 2, 5, 100]) {
    test(`sendQueueSize ${size}: never more than ${size} queued, all delivered in order`, async () => {
      const ws = await session.wsConnect(echo.url + "/echo", { sendQueueSize: size });
      try {
        const n = 3 * size + 20;
        let maxSeen = 0;
        const sends: Array<Promise<void>> = [];
        for (let i = 0; i < n; i++) {
          sends.push(ws.sendStr(`s${i}`));
          maxSeen = Math.max(maxSeen, ws.sendQueueSize);
        }
        const got: string[] = [];
        for (let i = 0; i < n; i++) {
          got.push(await ws.recvStr({ timeout: 5000 }));
          maxSeen = Math.max(maxSeen, ws.sendQueueSize);
        }
        await Promise.all(sends);
        assert.ok(maxSeen <= size, `sendQueueSize reached ${maxSeen} > ${size}`);
        assert.deepEqual(got, Array.from({ length: n }, (_, i) => `s${i}`));
        await ws.flush({ timeout: 5000 });
        assert.equal(ws.sendQueueSize, 0);
      } finally {
        await closeQuietly(ws);
      }
    });

    test(`recvQueueSize ${size}: a burst larger than the queue arrives complete and in order`, async () => {
      const n = 3 * size + 20;
      const ws = await session.wsConnect(echo.url + `/send?count=${n}&size=32`, { recvQueueSize: size });
      try {
        await sleep(100); // let the queue fill and the reader pause
        for (let i = 0; i < n; i++) {
          const m = await ws.recvBytes({ timeout: 5000 });
          assert.equal(m.length, 32);
          assert.ok(m.toString().startsWith(`${i}:`), `message ${i}: ${m.toString()}`);
        }
        await assert.rejects(ws.recv({ timeout: 50 }), WebSocketTimeout);
      } finally {
        await closeQuietly(ws);
      }
    });
  }

  test("a slow-reading peer (stand-in for a tiny socket send buffer): 4 MiB in 64 messages arrive intact", async () => {
    // Node cannot set SO_SNDBUF; a peer that reads in small bursts makes the writer hit the
    // socket's backpressure ('drain') over and over instead.
    await withRaw(async (c) => {
      const tick = setInterval(() => {
        if (c.socket.isPaused()) c.socket.resume();
        else c.socket.pause();
      }, 3);
      c.closed.then(() => clearInterval(tick), () => clearInterval(tick));
    }, async (_s, ws, conn) => {
      const sent = Array.from({ length: 64 }, (_, i) => Buffer.alloc(64 * 1024 + i, i));
      for (const b of sent) await ws.sendBytes(b, { timeout: 20_000 });
      await ws.flush({ timeout: 20_000 });
      await until(() => conn.dataFrames().filter((f) => f.fin).length === 64, 20_000, "64 messages");
      const msgs: Buffer[] = [];
      let cur: Buffer[] = [];
      for (const f of conn.dataFrames()) {
        cur.push(f.payload);
        if (f.fin) {
          msgs.push(Buffer.concat(cur));
          cur = [];
        }
      }
      msgs.forEach((m, i) => assert.ok(m.equals(sent[i]!), `message ${i} differs`));
    }, { sendQueueSize: 4 });
  });
});

describe("coalescing", () => {
  test("coalesced TEXT, BINARY, TEXT arrive as three messages of the right types", async () => {
    const ws = await session.wsConnect(echo.url + "/echo", { coalesceFrames: true });
    const idx = echo.connections.length - 1;
    try {
      const p = [ws.sendStr("one"), ws.sendBytes(Buffer.from([2, 2])), ws.sendStr("three")];
      await Promise.all(p);
      await ws.flush({ timeout: 5000 });
      const conn = echo.connections[idx]!;
      await until(() => conn.messages.length === 3, 5000, "three messages at the server");
      assert.deepEqual(conn.messages.map((m) => [m.isBinary, m.data.toString("hex")]), [
        [false, Buffer.from("one").toString("hex")],
        [true, "0202"],
        [false, Buffer.from("three").toString("hex")],
      ]);
      const back = [await ws.recv({ timeout: 5000 }), await ws.recv({ timeout: 5000 }), await ws.recv({ timeout: 5000 })];
      assert.deepEqual(back.map((m) => m.flags & (WsFlag.TEXT | WsFlag.BINARY)), [WsFlag.TEXT, WsFlag.BINARY, WsFlag.TEXT]);
    } finally {
      await closeQuietly(ws);
    }
  });

  test("coalescing keeps every boundary: 500 messages (batch 7, mixed sizes incl. > 64 KiB) on the wire", async () => {
    await withRaw(() => {}, async (_s, ws, conn) => {
      const sent: Buffer[] = [];
      const p: Array<Promise<void>> = [];
      for (let i = 0; i < 500; i++) {
        const b = i % 97 === 0 ? Buffer.from(randomBytes(35_000).toString("hex")) : Buffer.from(`c${i}`); // ASCII: valid as TEXT too
        sent.push(b);
        p.push(i % 2 ? ws.sendBytes(b) : ws.send(b, WsFlag.TEXT));
      }
      await Promise.all(p);
      await ws.flush({ timeout: 10_000 });
      await until(() => conn.dataFrames().filter((f) => f.fin).length === 500, 10_000, "500 messages");
      const msgs: Array<{ op: number; data: Buffer }> = [];
      let cur: Buffer[] = [];
      let op = -1;
      for (const f of conn.dataFrames()) {
        if (f.opcode !== OP.CONT) op = f.opcode;
        cur.push(f.payload);
        if (f.fin) {
          msgs.push({ op, data: Buffer.concat(cur) });
          cur = [];
        }
      }
      msgs.forEach((m, i) => {
        assert.equal(m.op, i % 2 ? OP.BINARY : OP.TEXT, `type of message ${i}`);
        assert.ok(m.data.equals(sent[i]!), `message ${i} differs`);
      });
    }, { coalesceFrames: true, maxSendBatchSize: 7 });
  });
});

describe("close and terminate", () => {
  test("close() sends the close frame after everything queued", async () => {
    await withRaw(() => {}, async (_s, ws, conn) => {
      for (let i = 0; i < 30; i++) void ws.sendStr(`q${i}`);
      const closing = ws.close(4100, "done", { timeout: 300 });
      await closing;
      await until(() => conn.frames.some((f) => f.opcode === OP.CLOSE), 3000, "the close frame");
      const ops = conn.frames.map((f) => f.opcode);
      assert.deepEqual(conn.dataFrames().map((f) => f.payload.toString()), Array.from({ length: 30 }, (_, i) => `q${i}`));
      assert.equal(ops.indexOf(OP.CLOSE), 30, "close frame after the 30 messages");
      const cf = await conn.closeFrame(100);
      assert.equal(cf?.code, 4100);
      assert.equal(cf?.reason, "done");
    });
  });

  test("close() against a peer that never answers returns within its timeout and ends TCP", async () => {
    await withRaw(() => {}, async (_s, ws, conn) => {
      const t0 = Date.now();
      await ws.close(1000, "bye", { timeout: 300 });
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= 250, `returned before the timeout without an answer (${elapsed} ms)`);
      assert.ok(elapsed < 300 + 2000, `close() took ${elapsed} ms with timeout 300`);
      assert.equal(ws.closed, true);
      assert.equal((await conn.closeFrame(1000))?.code, 1000);
      await Promise.race([conn.closed, sleep(3000).then(() => assert.fail("TCP still open after close()"))]);
      await assert.rejects(ws.sendStr("x"), WebSocketClosed);
      await assert.rejects(ws.recv({ timeout: 100 }), WebSocketClosed);
      // idempotent
      const t1 = Date.now();
      await ws.close();
      assert.ok(Date.now() - t1 < 1000);
    });
  });

  test("close() against a peer that reads nothing (queue and socket full) still returns within its timeout", async () => {
    const ws = await session.wsConnect(echo.url + "/noread", { sendQueueSize: 2 });
    const big = Buffer.alloc(1024 * 1024, 1);
    let blocked: Promise<void> | undefined;
    for (let i = 0; i < 128; i++) {
      const p = ws.sendBytes(big);
      p.catch(() => {});
      const settled = await Promise.race([p.then(() => true, () => true), sleep(50).then(() => false)]);
      if (!settled) {
        blocked = p;
        break;
      }
    }
    assert.ok(blocked, "the send queue never filled against a server that reads nothing");
    const t0 = Date.now();
    await ws.close(1000, "", { timeout: 300 });
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 300 + 2000, `close() took ${elapsed} ms with timeout 300`);
    assert.equal(ws.closed, true);
    // The sender that was still waiting for room is released, not left hanging.
    const outcome = await Promise.race([
      blocked.then(() => "resolved", (e: unknown) => e),
      sleep(2000).then(() => "still pending"),
    ]);
    assert.ok(outcome instanceof WebSocketClosed, `blocked sender after close(): ${String(outcome)}`);
  });

  test("session.close() returns in bounded time with a connection to a peer that reads nothing", async () => {
    const s = new AsyncSession();
    const ws = await s.wsConnect(echo.url + "/noread", { sendQueueSize: 2 });
    for (let i = 0; i < 20; i++) ws.sendBytes(Buffer.alloc(1024 * 1024)).catch(() => {});
    const t0 = Date.now();
    await s.close();
    assert.ok(Date.now() - t0 < 3000 + 2000, `session.close() took ${Date.now() - t0} ms`);
    assert.equal(ws.closed, true);
  });

  test("close() resolves promptly when the peer answers", async () => {
    await withRaw(async (c) => {
      const f = await c.nextFrame(5000);
      assert.equal(f.opcode, OP.CLOSE);
      await c.sendFrame(OP.CLOSE, f.payload);
      c.socket.end();
    }, async (_s, ws) => {
      const t0 = Date.now();
      await ws.close(4001, "x", { timeout: 5000 });
      assert.ok(Date.now() - t0 < 2500, "waited for the timeout although the peer answered");
      assert.equal(ws.closeCode, 4001);
    });
  });

  test("close() with an invalid code is refused", async () => {
    const ws = await session.wsConnect(echo.url + "/echo");
    try {
      for (const code of [1005, 1006, 999, 5000]) await assert.rejects(ws.close(code), WebSocketError);
      await ws.sendStr("still open");
      assert.equal(await ws.recvStr({ timeout: 5000 }), "still open");
    } finally {
      await closeQuietly(ws);
    }
  });

  test("terminate() wakes every blocked receiver, sender and flush with WebSocketClosed", async () => {
    const ws = await session.wsConnect(echo.url + "/noread", { sendQueueSize: 2 });
    const receivers = Array.from({ length: 3 }, () => ws.recv({ timeout: 10_000 }));
    const big = Buffer.alloc(1024 * 1024);
    const senders: Array<Promise<void>> = [];
    // Fill the socket and the queue; the server reads nothing.
    for (let i = 0; i < 64 && senders.length < 64; i++) {
      const p = ws.sendBytes(big, { timeout: 10_000 });
      senders.push(p);
      const settled = await Promise.race([p.then(() => true, () => true), sleep(30).then(() => false)]);
      if (!settled) break; // this one is blocked
    }
    const blocked = senders.at(-1)!;
    const flushing = ws.flush({ timeout: 10_000 });
    ws.terminate();
    for (const r of receivers) {
      const e = await failure(r);
      assert.ok(e instanceof WebSocketClosed, `receiver: expected WebSocketClosed, got ${String(e)}`);
    }
    const e = await failure(blocked);
    assert.ok(e instanceof WebSocketClosed, `blocked sender: expected WebSocketClosed, got ${String(e)}`);
    const f = await failure(flushing);
    assert.ok(f instanceof WebSocketError, `flush: expected the connection's error, got ${String(f)}`);
    await assert.rejects(ws.sendStr("x"), WebSocketClosed);
    await assert.rejects(ws.recv(), WebSocketClosed);
    assert.equal(ws.closed, true);
    ws.terminate(); // idempotent
  });

  test("terminate() drops TCP at once without a close frame", async () => {
    await withRaw(() => {}, async (_s, ws, conn) => {
      await ws.sendStr("before");
      await until(() => conn.frames.length === 1, 3000, "the first message");
      ws.terminate();
      await Promise.race([conn.closed, sleep(2000).then(() => assert.fail("TCP still open after terminate()"))]);
      assert.equal(conn.frames.filter((f) => f.opcode === OP.CLOSE).length, 0, "terminate() must not send a close frame");
      assert.equal(ws.closed, true);
    });
  });

  test("after terminate() messages already buffered are returned first", async () => {
    const ws = await session.wsConnect(echo.url + "/send?count=3&size=10");
    await sleep(100);
    ws.terminate();
    for (let i = 0; i < 3; i++) assert.ok((await ws.recvStr({ timeout: 1000 })).startsWith(`${i}:`));
    await assert.rejects(ws.recv({ timeout: 1000 }), WebSocketClosed);
  });
});

describe("errors are sticky", () => {
  test("after a protocol violation every send, recv, flush and ping rejects with the same error", async () => {
    await withRaw(async (c) => {
      await sleep(30);
      await c.sendFrame(OP.TEXT, "x", { rsv: 2 });
    }, async (_s, ws) => {
      const first = await failure(ws.recv({ timeout: 5000 }));
      assert.ok(first instanceof WebSocketError);
      assert.equal(first.code, 1002);
      for (const [name, p] of [
        ["recv", ws.recv({ timeout: 500 })],
        ["recvStr", ws.recvStr({ timeout: 500 })],
        ["send", ws.send("x")],
        ["sendBytes", ws.sendBytes(Buffer.from([1]))],
        ["flush", ws.flush({ timeout: 500 })],
        ["ping", ws.ping()],
      ] as const) {
        const e = await failure(p);
        assert.equal(e, first, `${name} must reject with the same error object, got ${String(e)}`);
      }
      await ws.close(); // a failed connection closes quietly
    });
  });

  test("drainOnError: queued messages first, then the error; without it the error at once", async () => {
    for (const drainOnError of [true, false]) {
      await withRaw(async (c) => {
        await c.sendFrame(OP.TEXT, "a");
        await c.sendFrame(OP.TEXT, "b");
        await sleep(20);
        await c.sendFrame(OP.CONT, "violation");
      }, async (_s, ws, conn) => {
        await conn.closeFrame(3000);
        await sleep(20);
        if (drainOnError) {
          assert.equal(await ws.recvStr({ timeout: 1000 }), "a");
          assert.equal(await ws.recvStr({ timeout: 1000 }), "b");
        }
        const e = await failure(ws.recv({ timeout: 1000 }));
        assert.ok(e instanceof WebSocketError);
        assert.equal(e.code, 1002, `drainOnError=${drainOnError}`);
      }, { drainOnError });
    }
  });
});

describe("autoclose", () => {
  test("autoclose (default): the peer's close is answered with the same code and the connection ends", async () => {
    await withRaw(async (c) => {
      await sleep(20);
      await c.sendFrame(OP.CLOSE, closePayload(4002, "server done"));
    }, async (_s, ws, conn) => {
      const item = await ws.recv({ timeout: 5000 });
      assert.equal(item.flags, WsFlag.CLOSE);
      assert.deepEqual(item.data, closePayload(4002, "server done"));
      const cf = await conn.closeFrame(3000);
      assert.equal(cf?.code, 4002);
      await Promise.race([conn.closed, sleep(3000).then(() => assert.fail("TCP still open"))]);
      assert.equal(ws.closeCode, 4002);
      assert.equal(ws.closeReason, "server done");
      assert.equal(ws.closed, true);
      await assert.rejects(ws.sendStr("x"), WebSocketClosed);
    });
  });

  test("autoclose: an empty close payload is answered with 1000; closeCode is 1005", async () => {
    await withRaw(async (c) => {
      await sleep(20);
      await c.sendFrame(OP.CLOSE);
    }, async (_s, ws, conn) => {
      const item = await ws.recv({ timeout: 5000 });
      assert.equal(item.flags, WsFlag.CLOSE);
      assert.equal(item.data.length, 0);
      assert.equal((await conn.closeFrame(3000))?.code, 1000);
      assert.equal(ws.closeCode, 1005);
      assert.equal(ws.closeReason, "");
    });
  });

  test("autoclose: false: nothing is sent; the app reads CLOSE, may still send, then closes itself", async () => {
    await withRaw(async (c) => {
      await sleep(20);
      await c.sendFrame(OP.CLOSE, closePayload(4003, "your turn"));
    }, async (_s, ws, conn) => {
      const item = await ws.recv({ timeout: 5000 });
      assert.equal(item.flags, WsFlag.CLOSE);
      assert.equal(ws.closeCode, 4003);
      assert.equal(ws.closeReason, "your turn");
      await sleep(200);
      assert.equal(conn.frames.length, 0, "nothing may be sent automatically");
      assert.equal(conn.clientEnded, false, "the client must not end TCP on its own");
      await ws.sendStr("last words");
      await until(() => conn.frames.length === 1, 3000, "the late message");
      assert.equal(conn.frames[0]!.payload.toString(), "last words");
      const t0 = Date.now();
      await ws.close(4003, "ok", { timeout: 3000 });
      assert.ok(Date.now() - t0 < 2000, "the peer's close already arrived: close() must not wait for another");
      const cf = await conn.closeFrame(2000);
      assert.equal(cf?.code, 4003);
      await Promise.race([conn.closed, sleep(3000).then(() => assert.fail("TCP still open after close()"))]);
    }, { autoclose: false });
  });
});

describe("control frames from the peer", () => {
  test("a 125-byte PING is answered with a PONG carrying the same payload; nothing is delivered", async () => {
    const payload = randomBytes(125);
    await withRaw(async (c) => {
      await sleep(20);
      await c.sendFrame(OP.PING, payload);
      await c.sendFrame(OP.PONG, "unsolicited");
      await c.sendFrame(OP.PING, "");
      await c.sendFrame(OP.TEXT, "after");
    }, async (_s, ws, conn) => {
      assert.equal(await ws.recvStr({ timeout: 5000 }), "after", "PING/PONG must not be delivered");
      await until(() => conn.frames.filter((f) => f.opcode === OP.PONG).length === 2, 3000, "two PONGs");
      const pongs = conn.frames.filter((f) => f.opcode === OP.PONG);
      assert.ok(pongs[0]!.payload.equals(payload));
      assert.equal(pongs[1]!.length, 0);
      assert.equal(conn.frames.length, 2, "only the two PONGs (no answer to an unsolicited PONG)");
    });
  });

  test("receivers waiting when the peer closes: the first gets the CLOSE item, the rest WebSocketClosed", async () => {
    await withRaw(async (c) => {
      await sleep(50);
      await c.sendFrame(OP.CLOSE, closePayload(4010, "bye"));
    }, async (_s, ws) => {
      const results = await Promise.allSettled([ws.recv({ timeout: 5000 }), ws.recv({ timeout: 5000 }), ws.recv({ timeout: 5000 })]);
      assert.equal(results[0]!.status, "fulfilled");
      assert.equal((results[0] as PromiseFulfilledResult<{ flags: number }>).value.flags, WsFlag.CLOSE);
      for (const r of results.slice(1)) {
        assert.equal(r.status, "rejected");
        const e = (r as PromiseRejectedResult).reason as unknown;
        assert.ok(e instanceof WebSocketClosed, String(e));
        assert.equal(e.code, 4010);
      }
    });
  });

  test("data after the peer's close frame is ignored", async () => {
    await withRaw(async (c) => {
      await sleep(20);
      await c.write(Buffer.concat([
        Buffer.from([0x88, 2, 0x03, 0xe8]), // close 1000
        Buffer.from([0x81, 4]), Buffer.from("late"),
      ]));
    }, async (_s, ws) => {
      const item = await ws.recv({ timeout: 5000 });
      assert.equal(item.flags, WsFlag.CLOSE);
      const e = await failure(ws.recv({ timeout: 1000 }));
      assert.ok(e instanceof WebSocketClosed, `expected WebSocketClosed, got ${String(e)}`);
    });
  });
});

describe("typed receives", () => {
  test("recvStr / recvJson on a BINARY message reject with 1007 and the connection stays usable", async () => {
    const ws = await session.wsConnect(echo.url + "/echo");
    try {
      await ws.sendBytes(Buffer.from("not text"));
      const e1 = await failure(ws.recvStr({ timeout: 5000 }));
      assert.ok(e1 instanceof WebSocketError, String(e1));
      assert.equal(e1.code, 1007);
      await ws.sendStr("next");
      assert.equal(await ws.recvStr({ timeout: 5000 }), "next");

      await ws.sendBytes(Buffer.from("{}"));
      const e2 = await failure(ws.recvJson({ timeout: 5000 }));
      assert.ok(e2 instanceof WebSocketError, String(e2));
      assert.equal(e2.code, 1007);

      await ws.sendStr("{not json");
      const e3 = await failure(ws.recvJson({ timeout: 5000 }));
      assert.ok(e3 instanceof WebSocketError, String(e3));
      assert.equal(e3.code, 1007);

      await ws.sendStr("");
      const e4 = await failure(ws.recvJson({ timeout: 5000 }));
      assert.ok(e4 instanceof WebSocketError, String(e4));
      assert.equal(e4.code, 1007);

      await ws.sendJson({ still: "usable" });
      assert.deepEqual(await ws.recvJson({ timeout: 5000 }), { still: "usable" });
      await ws.sendBytes(Buffer.from([1, 2]));
      assert.deepEqual(await ws.recvBytes({ timeout: 5000 }), Buffer.from([1, 2]));
      await ws.sendStr("text as bytes");
      assert.deepEqual(await ws.recvBytes({ timeout: 5000 }), Buffer.from("text as bytes"));
    } finally {
      await closeQuietly(ws);
    }
  });

  test("the CLOSE item comes after every earlier message, exactly once", async () => {
    const ws = await session.wsConnect(echo.url + "/send?count=5&size=12&close=4006&reason=fin");
    await sleep(100);
    for (let i = 0; i < 5; i++) assert.ok((await ws.recvStr({ timeout: 5000 })).startsWith(`${i}:`));
    const item = await ws.recv({ timeout: 5000 });
    assert.equal(item.flags, WsFlag.CLOSE);
    assert.equal(item.data.readUInt16BE(0), 4006);
    for (let i = 0; i < 3; i++) {
      const e = await failure(ws.recv({ timeout: 1000 }));
      assert.ok(e instanceof WebSocketClosed, String(e));
      assert.equal(e.code, 4006);
      assert.equal(e.reason, "fin");
    }
  });

  test("recvStr / recvBytes / recvJson reject with WebSocketClosed at the peer's close", async () => {
    for (const fn of ["recvStr", "recvBytes", "recvJson"] as const) {
      const ws = await session.wsConnect(echo.url + "/close?code=4005&reason=r");
      const e = await failure(ws[fn]({ timeout: 5000 }));
      assert.ok(e instanceof WebSocketClosed, `${fn}: expected WebSocketClosed, got ${String(e)}`);
      assert.equal(e.code, 4005);
      assert.equal(e.reason, "r");
    }
  });
});
