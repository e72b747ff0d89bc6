// recvTimeSlice / sendTimeSlice (issue 3): the reader and writer yield to the event loop, so a
// 1 ms interval keeps ticking while a 20 MiB message is echoed and while 1M small messages are
// received. This is a liveness check with a generous bound (100 ms), not a speed assertion.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { AsyncSession, WsFlag } from "../../src/index.js";
import { startWsServerProcess } from "../helpers/ws-server.js";
import { startRawServer } from "../helpers/raw-server.js";

const MiB = 1024 * 1024;
/** Largest tolerated interval gap: ~3 slices of 10 ms, plus slack for a shared 2-core machine. */
const MAX_GAP_MS = 100;

/**
 * Records the largest gap between ticks of a 1 ms interval. `maxBusyGap` counts only the part of
 * a gap this process spent on the CPU (min of wall time and CPU time in the gap), so that being
 * descheduled on a shared 2-core machine is not mistaken for a blocked event loop; `maxGap` is
 * the plain wall-clock gap (reported, not asserted).
 */
function gapMonitor(): { stop(): { maxGap: number; maxBusyGap: number; ticks: number } } {
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  let maxGap = 0;
  let maxBusyGap = 0;
  let ticks = 0;
  const sample = (): void => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    const wall = now - last;
    const busy = Math.min(wall, (cpu.user + cpu.system) / 1000);
    maxGap = Math.max(maxGap, wall);
    maxBusyGap = Math.max(maxBusyGap, busy);
    last = now;
    lastCpu = process.cpuUsage();
  };
  const t = setInterval(() => {
    sample();
    ticks++;
  }, 1);
  return {
    stop() {
      clearInterval(t);
      sample(); // a stall at the very end counts too
      return { maxGap, maxBusyGap, ticks };
    },
  };
}

test("the event loop keeps ticking while a 20 MiB message is echoed", async (t) => {
  // The echo server runs in a child process so that its own work does not stall this loop.
  const server = await startWsServerProcess();
  const session = new AsyncSession({ timeout: 10_000, maxMessageSize: 32 * MiB });
  try {
    const ws = await session.wsConnect(server.url + "/echo");
    const payload = randomBytes(20 * MiB);
    // warm-up so one-time compilation does not count
    await ws.sendBytes(randomBytes(1 * MiB));
    await ws.recv({ timeout: 10_000 });

    const mon = gapMonitor();
    await ws.sendBytes(payload);
    const { data, flags } = await ws.recv({ timeout: 30_000 });
    const { maxGap, maxBusyGap, ticks } = mon.stop();
    t.diagnostic(`20 MiB echo: max interval gap ${maxGap.toFixed(1)} ms (on-CPU ${maxBusyGap.toFixed(1)} ms) over ${ticks} ticks`);
    assert.equal(flags & WsFlag.BINARY, WsFlag.BINARY);
    assert.ok(data.equals(payload), "echo differs");
    assert.ok(maxBusyGap < MAX_GAP_MS, `the event loop stalled for ${maxBusyGap.toFixed(1)} ms on the CPU (${maxGap.toFixed(1)} ms wall)`);
    await ws.close(1000, "", { timeout: 2000 });
  } finally {
    await session.close();
    await server.close();
  }
});

test("the event loop keeps ticking while 1M small messages are received", async (t) => {
  const COUNT = 1_000_000;
  // A child process writes 1M 6-byte BINARY frames (8 MB) in one go, so only the client's work
  // happens in this process.
  const server = await startWsServerProcess();
  const session = new AsyncSession({ timeout: 10_000 });
  try {
    const ws = await session.wsConnect(server.url + `/burst?count=${COUNT}&size=6`);
    await ws.sendStr("go");
    const mon = gapMonitor();
    const t0 = performance.now();
    for (let i = 0; i < COUNT; i++) {
      const { data } = await ws.recv({ timeout: 10_000 });
      if (data.length !== 6 || data.readUInt32BE(0) !== i) {
        mon.stop();
        assert.fail(`message ${i}: ${data.toString("hex")}`);
      }
    }
    const { maxGap, maxBusyGap, ticks } = mon.stop();
    t.diagnostic(
      `1M messages in ${(performance.now() - t0).toFixed(0)} ms: max interval gap ${maxGap.toFixed(1)} ms (on-CPU ${maxBusyGap.toFixed(1)} ms) over ${ticks} ticks`,
    );
    assert.ok(maxBusyGap < MAX_GAP_MS, `the event loop stalled for ${maxBusyGap.toFixed(1)} ms on the CPU (${maxGap.toFixed(1)} ms wall)`);
    ws.terminate();
  } finally {
    await session.close();
    await server.close();
  }
});

test("the event loop keeps ticking while the writer drains 200k queued messages", async (t) => {
  const server = await startRawServer(() => {});
  const session = new AsyncSession({ timeout: 10_000 });
  try {
    const ws = await session.wsConnect(server.url + "/", { sendQueueSize: 200_000 });
    const conn = await server.connection(0);
    const msg = Buffer.alloc(16, 1);
    for (let i = 0; i < 200_000; i++) void ws.sendBytes(msg);
    // Measure the writer's work only (the enqueue loop above is the application's own code).
    const mon = gapMonitor();
    await ws.flush({ timeout: 30_000 });
    const { maxGap, maxBusyGap } = mon.stop();
    t.diagnostic(`flush of 200k queued messages: max interval gap ${maxGap.toFixed(1)} ms (on-CPU ${maxBusyGap.toFixed(1)} ms)`);
    assert.ok(maxBusyGap < MAX_GAP_MS, `the event loop stalled for ${maxBusyGap.toFixed(1)} ms on the CPU (${maxGap.toFixed(1)} ms wall)`);
    const deadline = Date.now() + 10_000;
    while (conn.frames.length < 200_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(conn.frames.length, 200_000);
    ws.terminate();
  } finally {
    await session.close();
    await server.close();
  }
});
