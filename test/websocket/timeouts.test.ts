import { test } from "node:test";
import assert from "node:assert/strict";
import { AsyncSession } from "../../src/index.js";
import { startWsServer } from "../helpers/ws-server.js";

// Timeouts beyond setTimeout's 2^31-1 ms range must mean "no bound", not "fire at once"
// (Node clamps an overflowing delay to 1 ms).
test("timeouts larger than setTimeout's range do not fire early (connect, recv, send, flush, close)", async () => {
  const server = await startWsServer();
  const session = new AsyncSession({ timeout: 2 ** 40 });
  try {
    const ws = await session.wsConnect(`${server.url}/echo`);
    const pending = ws.recv({ timeout: 2 ** 40 });
    await new Promise((r) => setTimeout(r, 50)); // an overflowing timer would have fired by now
    await ws.sendStr("late", { timeout: 2 ** 40 });
    await ws.flush({ timeout: 2 ** 40 });
    const { data } = await pending;
    assert.equal(data.toString(), "late");
    await ws.close(1000, "", { timeout: 2 ** 40 });
    assert.equal(ws.closeCode, 1000);
  } finally {
    await session.close();
    await server.close();
  }
});

test("timeout: Infinity waits without bound and an invalid timeout is refused up front", async () => {
  const server = await startWsServer();
  const session = new AsyncSession();
  try {
    const ws = await session.wsConnect(`${server.url}/echo`, { timeout: Infinity });
    await ws.sendStr("x");
    assert.equal(await ws.recvStr({ timeout: Infinity }), "x");
    await ws.close();
    await assert.rejects(session.wsConnect(`${server.url}/echo`, { timeout: 0 }), /timeout must be a positive number/);
    await assert.rejects(session.wsConnect(`${server.url}/echo`, { timeout: -5 }), /timeout must be a positive number/);
  } finally {
    await session.close();
    await server.close();
  }
});
