// Backpressure (issue 3): a server that reads nothing fills the send queue (bounded memory,
// timeouts and aborts that do not corrupt the stream); a server that floods is held back by
// the blocking receive queue, or makes the non-blocking queue fail loudly with a prefix kept.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AsyncSession,
  WebSocketError,
  WebSocketRetryStrategy,
  WebSocketTimeout,
  type AsyncWebSocket,
} from "../../src/index.js";
import { seqOf, startWsServer, testCerts, type ConnRecord, type TestWsServer } from "../helpers/ws-server.js";
import { failOnUnhandledRejections } from "../helpers/unhandled.js";

const KiB = 1024;
const MiB = 1024 * KiB;

failOnUnhandledRejections(20);

let plain: TestWsServer;
let secure: TestWsServer;
let session: AsyncSession;
before(async () => {
  plain = await startWsServer();
  secure = await startWsServer({ tls: true });
  session = new AsyncSession({ timeout: 5000, ca: testCerts().ca });
});
after(async () => {
  for (const ws of session.connections) ws.terminate();
  await session.close();
  await plain.close();
  await secure.close();
});

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => assert.fail("expected a rejection"),
    (e: unknown) => e,
  );
}

async function connect(
  path: string,
  opts: Parameters<AsyncSession["wsConnect"]>[1] = {},
  tls = false,
): Promise<{ ws: AsyncWebSocket; conn: ConnRecord }> {
  const server = tls ? secure : plain;
  const index = server.connections.length;
  const ws = await session.wsConnect(server.url + path, opts);
  const conn = await server.connection(index);
  return { ws, conn };
}

function numbered(i: number, size: number): Buffer {
  const b = Buffer.alloc(size, i & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe("a server that reads nothing", () => {
  for (const tls of [false, true]) {
    test(`${tls ? "wss" : "ws"}: the send queue fills; send with timeout rejects; abort rejects with its reason; memory stays bounded; nothing is corrupted`, async (t) => {
      const rss0 = process.memoryUsage().rss;
      const { ws, conn } = await connect("/noread", { sendQueueSize: 4 }, tls);
      try {
        const size = 64 * KiB;
        let accepted = 0;
        let stopped: unknown;
        for (let i = 0; i < 4000; i++) {
          try {
            await ws.sendBytes(numbered(i, size), { timeout: 300 });
            accepted++;
          } catch (e) {
            stopped = e;
            break;
          }
        }
        assert.ok(stopped !== undefined, `4000 x 64 KiB (250 MiB) accepted by a server that reads nothing`);
        assert.ok(stopped instanceof WebSocketTimeout, `expected WebSocketTimeout, got ${String(stopped)}`);
        assert.equal(ws.sendQueueSize, 4, "the queue is full");
        // Bounded: the queue plus what the kernel's socket buffers absorbed.
        t.diagnostic(`server reads nothing: ${accepted} x 64 KiB accepted before a send timed out (${((accepted * size) / MiB).toFixed(1)} MiB)`);
        assert.ok(accepted * size < 64 * MiB, `accepted ${accepted} messages (${(accepted * size) / MiB} MiB)`);

        const reason = new Error("caller aborted");
        const ac = new AbortController();
        const aborted = ws.sendBytes(numbered(999_999, size), { signal: ac.signal });
        setTimeout(() => ac.abort(reason), 50);
        assert.equal(await failure(aborted), reason, "rejects with the signal's reason");
        assert.equal(await failure(ws.sendBytes(numbered(999_998, size), { signal: AbortSignal.abort(reason) })), reason);

        const f = await failure(ws.flush({ timeout: 200 }));
        assert.ok(f instanceof WebSocketTimeout, `flush: expected WebSocketTimeout, got ${String(f)}`);
        assert.equal(ws.sendQueueSize, 4);

        const grown = process.memoryUsage().rss - rss0;
        t.diagnostic(`RSS growth ${(grown / MiB).toFixed(1)} MiB`);
        assert.ok(grown < 160 * MiB, `RSS grew by ${(grown / MiB).toFixed(0)} MiB`);

        // The server starts reading: exactly the accepted messages arrive, intact and in order;
        // the timed-out and aborted ones never do.
        conn.socket.resume();
        await ws.flush({ timeout: 10_000 });
        assert.equal(ws.sendQueueSize, 0);
        await ws.sendStr("end");
        await until(() => conn.messages.length === accepted + 1, 10_000, `${accepted + 1} messages at the server`);
        conn.messages.slice(0, accepted).forEach((m, i) => {
          assert.equal(m.data.length, size);
          assert.equal(m.data.readUInt32BE(0), i, `message ${i}`);
          assert.ok(m.data.subarray(4).every((b) => b === (i & 0xff)), `message ${i} payload corrupted`);
        });
        assert.equal(conn.messages[accepted]!.data.toString(), "end");
      } finally {
        ws.terminate();
      }
    });
  }

  test("flush resolves once everything queued before it is written", async () => {
    const { ws, conn } = await connect("/echo", { sendQueueSize: 8 });
    try {
      const sends = Array.from({ length: 100 }, (_, i) => ws.sendStr(`f${i}`));
      await ws.flush({ timeout: 5000 });
      await Promise.all(sends);
      assert.equal(ws.sendQueueSize, 0);
      await until(() => conn.messages.length === 100, 5000, "100 messages");
    } finally {
      ws.terminate();
    }
  });
});

describe("a server that floods", () => {
  // delay 50: the flood starts after the client took the socket over, so a direct-read ws://
  // socket is still flowing then (nothing came behind the 101): the queue must pause it itself.
  for (const [tls, delay] of [[false, 0], [false, 50], [true, 0]] as const) {
    test(`${tls ? "wss" : "ws"}${delay ? `, flood ${delay} ms after the upgrade` : ""}: blocking receive queue: the server is held back by TCP; memory bounded; order kept`, async (t) => {
      const rss0 = process.memoryUsage().rss;
      const { ws, conn } = await connect(`/flood?size=1024${delay ? `&delay=${delay}` : ""}`, { recvQueueSize: 16 }, tls);
      try {
        await sleep(1000); // the application reads nothing
        const sentWhileIdle = conn.sent;
        assert.ok(sentWhileIdle > 16, "the server did send");
        // Everything the server could send sits in the queue or in kernel buffers.
        // (loopback buffers: up to tcp_wmem max on the server + tcp_rmem max on the client)
        assert.ok(sentWhileIdle * 1024 < 64 * MiB, `server pushed ${(sentWhileIdle * 1024) / MiB} MiB into a paused client`);
        const grown = process.memoryUsage().rss - rss0;
        t.diagnostic(`flood into a paused client: ${((sentWhileIdle * 1024) / MiB).toFixed(1)} MiB sent in 1 s; RSS growth ${(grown / MiB).toFixed(1)} MiB`);
        assert.ok(grown < 160 * MiB, `RSS grew by ${(grown / MiB).toFixed(0)} MiB`);
        for (let i = 0; i < 20_000; i++) {
          const m = await ws.recvBytes({ timeout: 5000 });
          if (seqOf(m) !== i) assert.fail(`message ${i} has sequence ${seqOf(m)}`);
        }
        assert.ok(conn.sent >= 20_000, "reading resumed the flow");
      } finally {
        ws.terminate();
      }
    });
  }

  test("non-blocking queue with drainOnError: fails loudly mentioning the queue, after returning a prefix", async () => {
    const { ws, conn } = await connect("/flood?size=256&delay=50", { recvQueueSize: 8, blockOnRecvQueueFull: false, drainOnError: true });
    try {
      await until(() => conn.sent > 8, 5000, "the flood");
      await sleep(300);
      const got: number[] = [];
      let err: unknown;
      for (let i = 0; i < 1000; i++) {
        try {
          got.push(seqOf(await ws.recvBytes({ timeout: 3000 })));
        } catch (e) {
          err = e;
          break;
        }
      }
      assert.ok(err instanceof WebSocketError, `expected WebSocketError, got ${String(err)}`);
      assert.ok(!(err instanceof WebSocketTimeout), `the connection must fail, not time out: ${String(err)}`);
      assert.match(err.message, /queue/i);
      assert.ok(got.length >= 1 && got.length <= 8 + 1, `drained ${got.length} messages`);
      assert.deepEqual(got, got.map((_, i) => i), "what was received is a prefix of what was sent");
      // sticky
      assert.equal(await failure(ws.recv({ timeout: 500 })), err);
      assert.equal(await failure(ws.sendStr("x")), err);
    } finally {
      ws.terminate();
    }
  });

  test("non-blocking queue without drainOnError: the error is raised at once", async () => {
    const { ws, conn } = await connect("/flood?size=256&delay=50", { recvQueueSize: 8, blockOnRecvQueueFull: false });
    try {
      await until(() => conn.sent > 8, 5000, "the flood");
      await sleep(300);
      const err = await failure(ws.recv({ timeout: 3000 }));
      assert.ok(err instanceof WebSocketError, String(err));
      assert.ok(!(err instanceof WebSocketTimeout), String(err));
      assert.match(err.message, /queue/i);
    } finally {
      ws.terminate();
    }
  });

  test("wsRetry: a briefly slow application catches up; nothing lost", async () => {
    const { ws } = await connect("/send?count=40&size=16", {
      recvQueueSize: 4,
      blockOnRecvQueueFull: false,
      wsRetry: new WebSocketRetryStrategy({ retry: true, count: 6, delay: 50 }),
    });
    try {
      await sleep(150);
      for (let i = 0; i < 40; i++) {
        const m = await ws.recvBytes({ timeout: 5000 });
        assert.equal(seqOf(m), i);
      }
    } finally {
      ws.terminate();
    }
  });

  test("wsRetry: gives up after `count` attempts with the queue error", async () => {
    const { ws } = await connect("/flood?size=64&delay=50", {
      recvQueueSize: 4,
      blockOnRecvQueueFull: false,
      drainOnError: true,
      wsRetry: new WebSocketRetryStrategy({ retry: true, count: 2, delay: 20 }),
    });
    try {
      await sleep(800);
      const got: number[] = [];
      let err: unknown;
      for (let i = 0; i < 100; i++) {
        try {
          got.push(seqOf(await ws.recvBytes({ timeout: 3000 })));
        } catch (e) {
          err = e;
          break;
        }
      }
      assert.ok(err instanceof WebSocketError && !(err instanceof WebSocketTimeout), String(err));
      assert.match(err.message, /queue/i);
      assert.deepEqual(got, got.map((_, i) => i), "prefix");
    } finally {
      ws.terminate();
    }
  });

  test("WebSocketRetryStrategy: delay * 2^(n-1) with ±10% jitter", () => {
    const r = new WebSocketRetryStrategy({ retry: true, count: 3, delay: 300 });
    assert.equal(r.count, 3);
    for (let n = 1; n <= 4; n++) {
      for (let k = 0; k < 50; k++) {
        const d = r.delayFor(n);
        const base = 300 * 2 ** (n - 1);
        assert.ok(d >= base * 0.9 - 1e-9 && d <= base * 1.1 + 1e-9, `attempt ${n}: ${d}`);
      }
    }
  });
});
