// The `heartbeat: { interval, timeout }` option (issue 14): a peer that stops answering without
// closing (a python3-websockets server frozen with SIGSTOP) is detected within interval +
// timeout plus a margin, with a typed 1006 "heartbeat timeout" that every waiter gets; a peer
// that answers pings keeps the connection alive; off by default and per call.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { AsyncSession, WebSocketError, type AsyncWebSocket } from "../../src/index.js";
import { OP, startRawServer } from "../helpers/raw-server.js";
import { failOnUnhandledRejections } from "../helpers/unhandled.js";

failOnUnhandledRejections(20);

const PYTHON = "/usr/bin/python3";
/** Slack on top of interval + timeout for a loaded 2-core machine (a bound on detection, not a speed test). */
const MARGIN_MS = 2500;

// An echo server in python3-websockets (it answers pings itself), printing its port. Its own
// keepalive pings are off so that only ours travel.
const PY_ECHO = `
import asyncio, sys, websockets
async def echo(ws, path=None):
    async for m in ws:
        await ws.send(m)
async def main():
    async with websockets.serve(echo, "127.0.0.1", 0, ping_interval=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()
asyncio.run(main())
`;

interface PyServer {
  url: string;
  child: ChildProcess;
  stop(): void;
  cont(): void;
  kill(): Promise<void>;
}

const servers: PyServer[] = [];

async function startPyServer(): Promise<PyServer> {
  const child = spawn(PYTHON, ["-c", PY_ECHO], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("python server did not start in 15 s")), 15_000);
    child.once("exit", (code) => reject(new Error(`python server exited (${code})`)));
    createInterface({ input: child.stdout! }).once("line", (l) => {
      clearTimeout(t);
      resolve(Number(l));
    });
  });
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  const s: PyServer = {
    url: `ws://127.0.0.1:${port}`,
    child,
    stop: () => void (alive() && child.kill("SIGSTOP")),
    cont: () => void (alive() && child.kill("SIGCONT")),
    async kill() {
      if (!alive()) return;
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGCONT");
      child.kill("SIGKILL");
      await exited;
    },
  };
  servers.push(s);
  return s;
}

const available = existsSync(PYTHON);
let session: AsyncSession;
before(() => {
  session = new AsyncSession({ timeout: 10_000 });
});
after(async () => {
  for (const ws of session.connections) ws.terminate();
  await session.close();
  // Never leave a frozen child behind, whatever happened.
  for (const s of servers) await s.kill();
});
// A stopped child must not outlive a crashed run either.
process.once("exit", () => {
  for (const s of servers) if (s.child.exitCode === null) s.child.kill("SIGKILL");
});

async function settled(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => assert.fail(`expected a rejection, got ${String(v)}`),
    (e: unknown) => e,
  );
}

function assertHeartbeatError(e: unknown): asserts e is WebSocketError {
  assert.ok(e instanceof WebSocketError, `not a WebSocketError: ${String(e)}`);
  assert.equal(e.code, 1006);
  assert.match(e.message, /heartbeat timeout/);
}

test("a frozen server (SIGSTOP) is detected within interval + timeout; every waiter gets 1006 heartbeat timeout", { skip: !available && "no /usr/bin/python3 (python3-websockets)" }, async (t) => {
  const server = await startPyServer();
  const interval = 300;
  const timeout = 400;
  const ws = await session.wsConnect(server.url, { heartbeat: { interval, timeout } });
  await ws.sendStr("hi");
  assert.equal(await ws.recvStr({ timeout: 5000 }), "hi");
  server.stop();
  const stoppedAt = Date.now();
  // Three waiters: two receivers and a flush of a message the frozen server never reads.
  // Bounded: without a heartbeat these would end with a WebSocketTimeout, which fails the test.
  const bound = interval + timeout + MARGIN_MS;
  const r1 = settled(ws.recv({ timeout: bound }));
  const r2 = settled(ws.recvStr({ timeout: bound }));
  await ws.sendStr("into the void");
  const errors = await Promise.all([r1, r2]);
  const elapsed = Date.now() - stoppedAt;
  t.diagnostic(`frozen server detected after ${elapsed} ms (interval ${interval} + timeout ${timeout} = ${interval + timeout})`);
  for (const e of errors) assertHeartbeatError(e);
  assert.equal(errors[0], errors[1], "every waiter gets the same error");
  assert.ok(elapsed <= interval + timeout + MARGIN_MS, `detected after ${elapsed} ms (interval ${interval} + timeout ${timeout})`);
  assertHeartbeatError(await settled(ws.sendStr("after")));
  assertHeartbeatError(await settled(ws.flush()));
  assert.equal(ws.closed, true);
  assert.equal(ws.closeCode, 1006);
  server.cont();
  await server.kill();
});

test("drainOnError: a message queued before the heartbeat timeout is still returned first", { skip: !available && "no /usr/bin/python3 (python3-websockets)" }, async () => {
  const server = await startPyServer();
  const ws = await session.wsConnect(server.url, { heartbeat: { interval: 200, timeout: 300 }, drainOnError: true });
  await ws.sendStr("queued");
  const deadline = Date.now() + 5000;
  while (ws.recvQueueSize === 0 && Date.now() < deadline) await sleep(10);
  server.stop();
  // Wait for the failure without taking the queued message.
  while (!ws.closed && Date.now() < deadline + 5000) await sleep(20);
  assert.equal(ws.closed, true, "the heartbeat did not fail the connection");
  assert.equal(await ws.recvStr(), "queued");
  assertHeartbeatError(await settled(ws.recv()));
  await server.kill();
});

test("a server that answers pings stays connected for 10 intervals; pings go only when the line is quiet", async (t) => {
  // A raw server that answers every ping with a pong and records the client's frames.
  const server = await startRawServer(async (c) => {
    for (;;) {
      const f = await c.nextFrame(20_000).catch(() => undefined);
      if (!f) return;
      if (f.opcode === OP.PING) await c.sendFrame(OP.PONG, f.payload);
      if (f.opcode === OP.CLOSE) return;
    }
  });
  try {
    const interval = 100;
    const ws: AsyncWebSocket = await session.wsConnect(server.url + "/", { heartbeat: { interval, timeout: 200 } });
    const conn = await server.connection(0);
    await sleep(10 * interval + 100);
    assert.equal(ws.closed, false, "the connection was failed although the server answered");
    const pings = conn.frames.filter((f) => f.opcode === OP.PING).length;
    t.diagnostic(`${pings} pings answered in ${10 * interval + 100} ms`);
    // About one ping per quiet interval; the exact count depends on timer jitter.
    assert.ok(pings >= 3, `only ${pings} pings in 10 intervals of silence`);
    assert.ok(pings <= 11, `${pings} pings in 10 intervals: more than one per interval`);
    await ws.close(1000, "", { timeout: 2000 });
  } finally {
    await server.close();
  }
});

test("an application that does not read (full receive queue, socket paused) is not mistaken for a dead peer", async () => {
  // The server sends 20 messages at once; with recvQueueSize 2 the reader pauses the socket, so
  // the server's pongs cannot be read either. The heartbeat must not fail the connection for that.
  const server = await startRawServer(async (c) => {
    for (let i = 0; i < 20; i++) await c.sendFrame(OP.TEXT, `m${i}`);
  });
  try {
    const ws = await session.wsConnect(server.url + "/", { heartbeat: { interval: 50, timeout: 100 }, recvQueueSize: 2 });
    await sleep(600);
    assert.equal(ws.closed, false, "the heartbeat failed a connection whose application was only behind");
    for (let i = 0; i < 20; i++) assert.equal(await ws.recvStr({ timeout: 5000 }), `m${i}`);
    ws.terminate();
  } finally {
    await server.close();
  }
});

test("without the option no ping is sent; heartbeat: false turns a session's heartbeat off for one call", async () => {
  const server = await startRawServer(() => {});
  const hbSession = new AsyncSession({ timeout: 5000, heartbeat: { interval: 50, timeout: 100 } });
  try {
    const plain = await session.wsConnect(server.url + "/");
    const off = await hbSession.wsConnect(server.url + "/", { heartbeat: false });
    const on = await hbSession.wsConnect(server.url + "/");
    const [cPlain, cOff, cOn] = await Promise.all([server.connection(0), server.connection(1), server.connection(2)]);
    await sleep(400);
    assert.equal(cPlain.frames.filter((f) => f.opcode === OP.PING).length, 0);
    assert.equal(cOff.frames.filter((f) => f.opcode === OP.PING).length, 0);
    // The silent raw server never answers: the session's heartbeat fails that connection.
    assert.ok(cOn.frames.some((f) => f.opcode === OP.PING), "the session's heartbeat sent no ping");
    assertHeartbeatError(await settled(on.recv({ timeout: 5000 })));
    assert.equal(plain.closed, false);
    assert.equal(off.closed, false);
    plain.terminate();
    off.terminate();
  } finally {
    for (const ws of hbSession.connections) ws.terminate();
    await hbSession.close();
    await server.close();
  }
});

test("a bad heartbeat option is refused before any socket is touched", async () => {
  for (const bad of [{ interval: 0, timeout: 100 }, { interval: 100, timeout: Number.NaN }, { interval: "100", timeout: 100 }, 5]) {
    const e = await settled(session.wsConnect("ws://127.0.0.1:9/", { heartbeat: bad as never }));
    assert.ok(e instanceof WebSocketError && e.code === 0 && /heartbeat/.test(e.message), String(e));
  }
});
