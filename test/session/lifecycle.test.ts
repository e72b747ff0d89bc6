/**
 * The session around its connections (issue 4): `connections` bookkeeping, `close()` (also while
 * a connect is in flight), wsConnect after close, and connect-time bounds (`timeout`, `signal`)
 * that must stop applying once the connection is open.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { AsyncSession, WebSocketError, type AsyncWebSocket } from "../../src/index.js";
import { startRawServer, type RawServer } from "../helpers/raw-server.js";
import { startWsServer, type TestWsServer } from "../helpers/ws-server.js";

const closers: Array<() => Promise<void>> = [];
after(async () => {
  await Promise.allSettled(closers.map((c) => c()));
});
let shared: TestWsServer | undefined;
async function peer(): Promise<TestWsServer> {
  if (!shared) {
    const s = await startWsServer();
    closers.push(() => s.close());
    shared = s;
  }
  return shared;
}
async function raw(...args: Parameters<typeof startRawServer>): Promise<RawServer> {
  const s = await startRawServer(...args);
  closers.push(() => s.close());
  return s;
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test("connections: open ones are listed, closed ones (by us or by the peer) leave the set", async () => {
  const p = await peer();
  const s = new AsyncSession();
  try {
    const a = await s.wsConnect(`${p.url}/echo`);
    const b = await s.wsConnect(`${p.url}/close?delay=100&code=4000`);
    assert.equal(s.connections.size, 2);
    assert.ok(s.connections.has(a) && s.connections.has(b));
    await a.close();
    assert.ok(!s.connections.has(a));
    await b.recv({ timeout: 5000 }).catch(() => {}); // the CLOSE item or the error
    for (let i = 0; i < 100 && s.connections.has(b); i++) await sleep(10);
    assert.ok(!s.connections.has(b), "a connection the peer closed leaves the set");
  } finally {
    await s.close();
  }
});

test("close(): closes every open connection gracefully; wsConnect afterwards is refused (code 0)", async () => {
  const p = await peer();
  const s = new AsyncSession();
  const before = p.connections.length;
  const a = await s.wsConnect(`${p.url}/echo`);
  const b = await s.wsConnect(`${p.url}/echo`);
  await s.close();
  assert.ok(a.closed && b.closed);
  assert.equal(s.connections.size, 0);
  const seen = await Promise.all([p.connections[before]!.closed, p.connections[before + 1]!.closed]);
  assert.deepEqual(seen.map((c) => c.code), [1000, 1000], "the server saw close frames, not resets");
  await assert.rejects(s.wsConnect(`${p.url}/echo`), (err: unknown) => err instanceof WebSocketError && err.code === 0);
  await s.close(); // idempotent
});

test(
  "close() while a connect is in flight: that connection does not outlive the session",
  async () => {
    // The server answers the upgrade 300 ms late.
    const srv = await raw(async (c) => {
      await sleep(300);
      await c.acceptUpgrade();
    }, { upgrade: false });
    const s = new AsyncSession();
    const pending = s.wsConnect(srv.url);
    await srv.connection(0);
    await s.close();
    const outcome: AsyncWebSocket | Error = await pending.then(
      (ws) => ws,
      (err: unknown) => err as Error,
    );
    if (outcome instanceof Error) {
      assert.ok(outcome instanceof WebSocketError, String(outcome));
    } else {
      for (let i = 0; i < 100 && !outcome.closed; i++) await sleep(10);
      const stillOpen = !outcome.closed;
      outcome.terminate();
      assert.ok(!stillOpen, "the connection opened after session.close() is still open");
    }
  },
);

test("timeout bounds only the connect: an open connection outlives it", async () => {
  const p = await peer();
  const s = new AsyncSession({ timeout: 150 });
  try {
    const ws = await s.wsConnect(`${p.url}/echo`);
    await sleep(400);
    assert.equal(ws.closed, false);
    await ws.sendStr("still here");
    assert.equal(await ws.recvStr({ timeout: 5000 }), "still here");
    await ws.close();
  } finally {
    await s.close();
  }
});

test("signal bounds only the connect: aborting it later leaves the connection open", async () => {
  const p = await peer();
  const s = new AsyncSession();
  try {
    const ac = new AbortController();
    const ws = await s.wsConnect(`${p.url}/echo`, { signal: ac.signal });
    ac.abort(new Error("too late to matter"));
    await sleep(50);
    assert.equal(ws.closed, false);
    await ws.sendStr("ok");
    assert.equal(await ws.recvStr({ timeout: 5000 }), "ok");
    await ws.close();
  } finally {
    await s.close();
  }
});

test("a session's connections are independent: one failing does not disturb another", async () => {
  const p = await peer();
  const s = new AsyncSession();
  try {
    const good = await s.wsConnect(`${p.url}/echo`);
    await assert.rejects(s.wsConnect(`${p.url}/reject?status=403`), WebSocketError);
    const closing = await s.wsConnect(`${p.url}/close?code=1011`);
    await closing.recv({ timeout: 5000 }).catch(() => {});
    await good.sendStr("fine");
    assert.equal(await good.recvStr({ timeout: 5000 }), "fine");
    await good.close();
  } finally {
    await s.close();
  }
});

test(
  "a per-call option given as undefined does not erase the session's default (timeout, ca)",
  async () => {
    const net = await import("node:net");
    const silent = net.createServer((c) => {
      c.on("error", () => {});
      c.resume();
    });
    const held = new Set<import("node:net").Socket>();
    silent.on("connection", (c) => held.add(c));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    closers.push(async () => {
      for (const c of held) c.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    });
    const port = (silent.address() as import("node:net").AddressInfo).port;
    const s = new AsyncSession({ timeout: 300 });
    try {
      // The signal is only a safety net so that the bug cannot hang the test.
      const err = await s
        .wsConnect(`ws://127.0.0.1:${port}/`, { timeout: undefined, signal: AbortSignal.timeout(3000) })
        .catch((e: unknown) => e);
      assert.equal((err as Error).name, "WebSocketTimeout", `the session's 300 ms timeout should apply, got ${String(err)}`);
    } finally {
      await s.close();
    }
    const { testCerts } = await import("../helpers/certs.js");
    const tlsPeer = await startWsServer({ tls: true });
    closers.push(() => tlsPeer.close());
    const s2 = new AsyncSession({ ca: testCerts().ca.cert, timeout: 5000 });
    try {
      const ws = await s2.wsConnect(`${tlsPeer.url}/echo`, { ca: undefined });
      await ws.close();
    } finally {
      await s2.close();
    }
  },
);
