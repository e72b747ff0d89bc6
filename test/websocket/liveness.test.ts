// recvTimeSlice / sendTimeSlice (issue 3) and the large-send stall (issue 14): masq's reader and
// writer give the event loop back while they work, so other callbacks interleave with a 20 MiB
// echo, 1M received messages and a 200k-message flush.
//
// The assertions count turns of the event loop (a setImmediate ticker), not milliseconds: how
// much masq does between two turns is bounded by bytes (a 1 MiB send piece, the writer's 512 KiB
// batch) or by its own wall-clock slice, and a loaded machine can only make a turn hold less of
// that work, never more. Wall-clock gaps are reported as diagnostics only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { AsyncSession, WsFlag } from "../../src/index.js";
import { startWsServerProcess } from "../helpers/ws-server.js";
import { startRawServer } from "../helpers/raw-server.js";

const MiB = 1024 * 1024;

/**
 * Counts turns of the event loop: a setImmediate callback that re-schedules itself runs once per
 * loop iteration (check phase). `sample` is read at each turn, so the largest change of it between
 * two turns is the most work done in one turn. The largest wall-clock gap between turns is
 * reported, not asserted.
 */
function turnCounter(sample: () => number = () => 0): { stop(): { turns: number; maxStep: number; maxGapMs: number }; readonly turns: number } {
  let turns = 0;
  let running = true;
  let last = sample();
  let maxStep = 0;
  let lastAt = performance.now();
  let maxGapMs = 0;
  const tick = (): void => {
    if (!running) return;
    turns++;
    const v = sample();
    maxStep = Math.max(maxStep, Math.abs(v - last));
    last = v;
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - lastAt);
    lastAt = now;
    setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turns() {
      return turns;
    },
    stop() {
      running = false;
      const v = sample();
      maxStep = Math.max(maxStep, Math.abs(v - last));
      return { turns, maxStep, maxGapMs };
    },
  };
}

test("the event loop keeps turning while a 20 MiB message is echoed", async (t) => {
  // The echo server runs in a child process so that its own work does not stall this loop.
  const server = await startWsServerProcess();
  const session = new AsyncSession({ timeout: 10_000, maxMessageSize: 32 * MiB });
  try {
    const ws = await session.wsConnect(server.url + "/echo");
    const payload = randomBytes(20 * MiB);
    await ws.sendBytes(randomBytes(1 * MiB));
    await ws.recv({ timeout: 10_000 });

    const turns = turnCounter();
    await ws.sendBytes(payload);
    const sendTurns = turns.turns;
    const { data, flags } = await ws.recv({ timeout: 30_000 });
    const { turns: total, maxGapMs } = turns.stop();
    t.diagnostic(`20 MiB echo: send() spanned ${sendTurns} turns, the whole echo ${total}; largest gap between turns ${maxGapMs.toFixed(1)} ms`);
    assert.equal(flags & WsFlag.BINARY, WsFlag.BINARY);
    assert.ok(data.equals(payload), "echo differs");
    // Framing and masking 20 MiB is spread over turns (1 MiB per turn): at least 10 turns
    // passed before send() resolved, whatever the machine's speed or load. Before, all of it
    // happened inside send(), in one turn (20-130 ms on a loaded machine).
    assert.ok(sendTurns >= 10, `send() of 20 MiB resolved after ${sendTurns} turns of the event loop`);
    await ws.close(1000, "", { timeout: 2000 });
  } finally {
    await session.close();
    await server.close();
  }
});

test("the event loop keeps turning while 1M small messages are received", async (t) => {
  const COUNT = 1_000_000;
  // A child process writes 1M 6-byte BINARY frames (8 MB) in one go, so only the client's work
  // happens in this process.
  const server = await startWsServerProcess();
  const session = new AsyncSession({ timeout: 10_000 });
  try {
    const ws = await session.wsConnect(server.url + `/burst?count=${COUNT}&size=6`);
    await ws.sendStr("go");
    let received = 0;
    const turns = turnCounter(() => received);
    const t0 = performance.now();
    for (let i = 0; i < COUNT; i++) {
      const { data } = await ws.recv({ timeout: 10_000 });
      if (data.length !== 6 || data.readUInt32BE(0) !== i) {
        turns.stop();
        assert.fail(`message ${i}: ${data.toString("hex")}`);
      }
      received++;
    }
    const { turns: total, maxStep, maxGapMs } = turns.stop();
    t.diagnostic(
      `1M messages in ${(performance.now() - t0).toFixed(0)} ms over ${total} turns; at most ${maxStep} messages in one turn; largest gap ${maxGapMs.toFixed(1)} ms`,
    );
    // The reader yields after recvTimeSlice (10 ms) of work; even at 10M messages/s that is
    // 100k per turn. Load only shortens a slice's work. Without yielding, a burst already in
    // the socket buffers would be parsed in a few turns of hundreds of thousands.
    assert.ok(maxStep <= 250_000, `${maxStep} messages were received in one turn of the event loop`);
    assert.ok(total >= 4, `1M messages in ${total} turns`);
    ws.terminate();
  } finally {
    await session.close();
    await server.close();
  }
});

test("the event loop keeps turning while the writer drains 200k queued messages", async (t) => {
  const server = await startRawServer(() => {});
  const session = new AsyncSession({ timeout: 10_000 });
  try {
    const ws = await session.wsConnect(server.url + "/", { sendQueueSize: 200_000 });
    const conn = await server.connection(0);
    const msg = Buffer.alloc(16, 1);
    for (let i = 0; i < 200_000; i++) void ws.sendBytes(msg);
    // Count the writer's work only (the enqueue loop above is the application's own code).
    const turns = turnCounter(() => ws.sendQueueSize);
    await ws.flush({ timeout: 30_000 });
    const { turns: total, maxStep, maxGapMs } = turns.stop();
    t.diagnostic(`flush of 200k queued messages over ${total} turns; at most ${maxStep} handed over in one turn; largest gap ${maxGapMs.toFixed(1)} ms`);
    // A turn hands at most 512 KiB of small frames to the socket (22 bytes each: ~24k).
    assert.ok(maxStep <= 50_000, `${maxStep} messages were handed to the socket in one turn`);
    const deadline = Date.now() + 10_000;
    while (conn.frames.length < 200_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(conn.frames.length, 200_000);
    ws.terminate();
  } finally {
    await session.close();
    await server.close();
  }
});
