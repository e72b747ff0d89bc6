// Issue 14: a server that floods pings and never reads must not make the client queue one pong
// per ping. The client keeps at most one pong in flight and one owed (RFC 6455 §5.5.3: answering
// the most recent ping is enough) and stops reading while a pong is owed, so its memory stays
// bounded; once the server reads again the connection carries on and no data message is
// lost. The client runs in a child process (this file, re-run with MASQ_PONG_FLOOD_CHILD set) so
// that its RSS and external memory are measured without the server's buffers or the test
// runner's allocations.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { AsyncSession, WsFlag } from "../../src/index.js";
import { OP, serverFrame, startRawServer, type RawConn } from "../helpers/raw-server.js";

const MiB = 1024 * 1024;
const PINGS = 1_000_000;
/** Pings on the ordinary connection first (warm-up of the code paths, not measured). */
const WARM_PINGS = 20_000;
/** One data message every this many pings: all of them must arrive, in order. */
const DATA_EVERY = 10_000;
/** The flood stops after this long even if not every ping was written (the client stopped reading). */
const FLOOD_MS = 8000;
/** No drain for this long: the client has stopped reading (the bound is engaged). */
const STALL_MS = 1500;

interface ChildReport {
  plainExternal: number;
  baseRss: number;
  maxRss: number;
  /** heapTotal and external growth at the largest RSS sample (what the RSS growth is made of). */
  heapGrowth: number;
  externalGrowth: number;
  received: string[];
  floodExternal: number;
  terminatedExternal: number;
  /** After terminate() of a second flooded connection while the server still was not reading. */
  stuckTerminatedExternal: number;
}

if (process.env.MASQ_PONG_FLOOD_CHILD) {
  await runChild(process.env.MASQ_PONG_FLOOD_CHILD);
} else {
  test("a ping flood from a server that does not read: bounded client memory, connection still usable", async (t) => {
    const floods: RawConn[] = [];
    const server = await startRawServer(async (c) => {
      if (c.request.target === "/plain") {
        // Pings first, so that the ping path is compiled before the flood's baseline is taken
        // (V8's optimising compiler works in malloc'ed memory that RSS keeps: a one-time cost).
        await c.write(Buffer.concat(Array.from({ length: WARM_PINGS }, () => serverFrame(OP.PING, Buffer.alloc(125, 0x71)))));
        await c.sendFrame(OP.TEXT, "hello");
        return;
      }
      c.socket.pause(); // never read while flooding
      floods.push(c);
    });
    const child = spawn(process.execPath, ["--import", "tsx", "--expose-gc", fileURLToPath(import.meta.url)], {
      env: { ...process.env, MASQ_PONG_FLOOD_CHILD: server.url },
      stdio: ["pipe", "pipe", "inherit"],
    });
    const lines = createInterface({ input: child.stdout! });
    const pending: string[] = [];
    let wake: (() => void) | undefined;
    lines.on("line", (l) => {
      pending.push(l);
      wake?.();
    });
    const nextLine = async (timeoutMs: number): Promise<string> => {
      const deadline = Date.now() + timeoutMs;
      while (pending.length === 0) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error("the client child said nothing");
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 100);
        });
      }
      return pending.shift()!;
    };
    try {
      assert.equal(await nextLine(20_000), "ready");
      const conn = floods[0]!;
      const { sent, dataSent, stalled, ms } = await floodPings(conn);
      t.diagnostic(`server wrote ${sent} pings and ${dataSent} data messages in ${ms} ms (client stopped reading: ${stalled})`);
      child.stdin!.write("flooded\n");
      assert.equal(await nextLine(20_000), "measured");
      // The server reads again: the client's owed pong and everything after it flow.
      conn.socket.resume();
      await conn.sendFrame(OP.PING, "last");
      await conn.sendFrame(OP.TEXT, "end");
      // A second flooded connection is terminated while the server still does not read.
      assert.equal(await nextLine(30_000), "ready2");
      const second = await floodPings(floods[1]!);
      t.diagnostic(`second connection: ${second.sent} pings before the client stopped reading (${second.stalled})`);
      child.stdin!.write("flooded\n");
      const report = JSON.parse(await nextLine(30_000)) as ChildReport;
      // The client's message sent after the flood arrives, and the last pong answers the last ping.
      const deadline = Date.now() + 10_000;
      const hasAfter = (): boolean => conn.frames.some((f) => f.opcode === OP.TEXT && f.payload.toString() === "after");
      while (!hasAfter() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(hasAfter(), "the client's message after the flood did not arrive");
      const pongs = conn.frames.filter((f) => f.opcode === OP.PONG);
      assert.ok(pongs.length >= 1, "no pong at all");
      assert.equal(pongs.at(-1)!.payload.toString(), "last", "the last pong must answer the most recent ping");
      assert.equal(conn.parseError, undefined);
      const growth = report.maxRss - report.baseRss;
      t.diagnostic(
        `pongs written: ${pongs.length} for ${sent + 1} pings; client RSS growth ${(growth / MiB).toFixed(1)} MiB ` +
          `(V8 heap ${(report.heapGrowth / MiB).toFixed(1)}, external ${(report.externalGrowth / MiB).toFixed(1)}); ` +
          `external after terminate+gc: ordinary ${(report.plainExternal / MiB).toFixed(2)} MiB, flooded ${(report.terminatedExternal / MiB).toFixed(2)} MiB ` +
          `(before terminate ${(report.floodExternal / MiB).toFixed(2)} MiB), terminated while stuck ${(report.stuckTerminatedExternal / MiB).toFixed(2)} MiB`,
      );
      assert.deepEqual(report.received, [...Array.from({ length: dataSent }, (_, i) => `d${i}`), "end"], "a data message was lost or reordered");
      // At most one pong per ping (the state tests show pings coalescing into one owed pong).
      assert.ok(pongs.length <= sent + 1, `${pongs.length} pongs for ${sent + 1} pings`);
      assert.ok(growth < 16 * MiB, `client RSS grew by ${(growth / MiB).toFixed(1)} MiB during the flood`);
      assert.ok(
        report.terminatedExternal - report.plainExternal < 1 * MiB,
        `external memory after terminate(): ${(report.terminatedExternal / MiB).toFixed(2)} MiB vs ${(report.plainExternal / MiB).toFixed(2)} MiB after an ordinary connection`,
      );
      assert.ok(
        report.stuckTerminatedExternal - report.plainExternal < 1 * MiB,
        `external memory after terminate() of a stuck connection: ${(report.stuckTerminatedExternal / MiB).toFixed(2)} MiB vs ${(report.plainExternal / MiB).toFixed(2)} MiB`,
      );
      assert.equal(await new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.once("exit", r))), 0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await server.close();
    }
  });
}

/**
 * Writes 125-byte pings in batches of 1000 (a TEXT data message every DATA_EVERY pings) while
 * honouring the socket's backpressure; stops after PINGS pings, FLOOD_MS, or once no drain came
 * for STALL_MS (the client stopped reading).
 */
async function floodPings(conn: RawConn): Promise<{ sent: number; dataSent: number; stalled: boolean; ms: number }> {
  const ping = serverFrame(OP.PING, Buffer.alloc(125, 0x70));
  const started = Date.now();
  let sent = 0;
  let dataSent = 0;
  let stalled = false;
  while (sent < PINGS && Date.now() - started < FLOOD_MS) {
    const parts: Buffer[] = [];
    for (let i = 0; i < 1000; i++) parts.push(ping);
    sent += 1000;
    if (sent % DATA_EVERY === 0) parts.push(serverFrame(OP.TEXT, `d${dataSent++}`));
    if (!conn.socket.write(Buffer.concat(parts))) {
      const drained = await new Promise<boolean>((r) => {
        const tm = setTimeout(() => r(false), STALL_MS);
        conn.socket.once("drain", () => {
          clearTimeout(tm);
          r(true);
        });
      });
      if (!drained) {
        stalled = true;
        break;
      }
    }
  }
  return { sent, dataSent, stalled, ms: Date.now() - started };
}

/** The client side, in its own process: reports memory figures as JSON lines on stdout. */
async function runChild(url: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc!;
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setImmediate(r));
      gc();
    }
  };
  const stdin = createInterface({ input: process.stdin });
  const commands: string[] = [];
  let wake: (() => void) | undefined;
  stdin.on("line", (l) => {
    commands.push(l);
    wake?.();
  });
  const command = async (): Promise<string> => {
    while (commands.length === 0) await new Promise<void>((r) => (wake = r));
    return commands.shift()!;
  };
  const session = new AsyncSession({ timeout: 10_000 });
  // An ordinary connection first (it also answers WARM_PINGS pings): the external memory it
  // leaves after terminate() is the yardstick.
  const plain = await session.wsConnect(url + "/plain");
  await plain.recvStr({ timeout: 60_000 });
  await plain.sendStr("x");
  await plain.flush();
  plain.terminate();
  await new Promise((r) => setTimeout(r, 100));
  await settle();
  const plainExternal = process.memoryUsage().external;

  const ws = await session.wsConnect(url + "/flood");
  await settle();
  const base = process.memoryUsage();
  const baseRss = base.rss;
  let maxRss = baseRss;
  let heapGrowth = 0;
  let externalGrowth = 0;
  const sample = (): void => {
    const m = process.memoryUsage();
    if (m.rss <= maxRss) return;
    maxRss = m.rss;
    heapGrowth = m.heapTotal - base.heapTotal;
    externalGrowth = m.external - base.external;
  };
  const sampler = setInterval(sample, 20);
  process.stdout.write("ready\n");
  await command(); // "flooded"
  sample();
  clearInterval(sampler);
  process.stdout.write("measured\n");
  const received: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const { data, flags } = await ws.recv({ timeout: 20_000 });
    if (!(flags & WsFlag.TEXT)) continue;
    received.push(data.toString());
    if (received.at(-1) === "end") break;
  }
  await ws.sendStr("after");
  await ws.flush({ timeout: 10_000 });
  await settle();
  const floodExternal = process.memoryUsage().external;
  ws.terminate();
  await new Promise((r) => setTimeout(r, 100));
  await settle();
  const terminatedExternal = process.memoryUsage().external;

  const stuck = await session.wsConnect(url + "/flood");
  process.stdout.write("ready2\n");
  await command(); // "flooded"
  stuck.terminate();
  await new Promise((r) => setTimeout(r, 100));
  await settle();
  const stuckTerminatedExternal = process.memoryUsage().external;
  const report: ChildReport = { plainExternal, baseRss, maxRss, heapGrowth, externalGrowth, received, floodExternal, terminatedExternal, stuckTerminatedExternal };
  process.stdout.write(JSON.stringify(report) + "\n");
  stdin.close();
  await session.close();
}
