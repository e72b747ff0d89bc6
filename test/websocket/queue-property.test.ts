// Property (issue 3): random interleavings of sends, receives, timeouts and aborts against a
// real echo server never lose, duplicate or reorder a message. Small queues (1-4 slots) make
// senders and the reader block often, so timeouts and aborts hit waiting operations.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { AsyncSession, WebSocketTimeout } from "../../src/index.js";
import { startWsServer, type TestWsServer } from "../helpers/ws-server.js";

type Op =
  | { t: "send" }
  | { t: "sendNoWait" }
  | { t: "sendTimeout"; ms: number }
  | { t: "sendAbort"; after: number }
  | { t: "recv" }
  | { t: "recvTimeout"; ms: number }
  | { t: "recvAbort"; after: number }
  | { t: "tick"; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.constant<Op>({ t: "send" }), weight: 3 },
  { arbitrary: fc.constant<Op>({ t: "sendNoWait" }), weight: 4 },
  { arbitrary: fc.integer({ min: 0, max: 3 }).map<Op>((ms) => ({ t: "sendTimeout", ms })), weight: 2 },
  { arbitrary: fc.integer({ min: -1, max: 3 }).map<Op>((after) => ({ t: "sendAbort", after })), weight: 2 },
  { arbitrary: fc.constant<Op>({ t: "recv" }), weight: 4 },
  { arbitrary: fc.integer({ min: 0, max: 5 }).map<Op>((ms) => ({ t: "recvTimeout", ms })), weight: 3 },
  { arbitrary: fc.integer({ min: -1, max: 3 }).map<Op>((after) => ({ t: "recvAbort", after })), weight: 2 },
  { arbitrary: fc.integer({ min: 0, max: 3 }).map<Op>((ms) => ({ t: "tick", ms })), weight: 2 },
);

let server: TestWsServer;
let session: AsyncSession;
before(async () => {
  server = await startWsServer();
  session = new AsyncSession({ timeout: 5000 });
});
after(async () => {
  for (const ws of session.connections) ws.terminate();
  await session.close();
  await server.close();
});

/** An AbortSignal aborted `after` ms from now (-1: already aborted; 0: on the next macrotask). */
function abortSignal(after: number, reason: Error): AbortSignal {
  if (after < 0) return AbortSignal.abort(reason);
  const ac = new AbortController();
  setTimeout(() => ac.abort(reason), after);
  return ac.signal;
}

let run = 0;

/** Marks a promise as handled now (it is inspected later with allSettled), so an early rejection is not "unhandled". */
function track<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

test("random interleavings of send/recv/timeouts/aborts never lose, duplicate or reorder a message", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        sendQueueSize: fc.integer({ min: 1, max: 4 }),
        recvQueueSize: fc.integer({ min: 1, max: 4 }),
        coalesceFrames: fc.boolean(),
        ops: fc.array(opArb, { minLength: 1, maxLength: 50 }),
      }),
      async ({ sendQueueSize, recvQueueSize, coalesceFrames, ops }) => {
        const r = run++;
        const ws = await session.wsConnect(server.url + "/echo", { sendQueueSize, recvQueueSize, coalesceFrames });
        try {
          const abortReason = new Error("aborted by the property test");
          // Plain receivers still waiting at the end are released with this (an abort loses nothing).
          const finish = new AbortController();
          const finishReason = new Error("end of the run");
          const sends: Array<{ msg: string; p: Promise<void> }> = [];
          const recvs: Array<Promise<string>> = [];
          let k = 0;
          for (const op of ops) {
            const msg = `r${r}-m${k}`;
            switch (op.t) {
              case "send": {
                k++;
                const p = track(ws.sendStr(msg));
                sends.push({ msg, p });
                await p;
                break;
              }
              case "sendNoWait":
                k++;
                sends.push({ msg, p: track(ws.sendStr(msg)) });
                break;
              case "sendTimeout":
                k++;
                sends.push({ msg, p: track(ws.sendStr(msg, { timeout: op.ms })) });
                break;
              case "sendAbort":
                k++;
                sends.push({ msg, p: track(ws.sendStr(msg, { signal: abortSignal(op.after, abortReason) })) });
                break;
              case "recv":
                recvs.push(track(ws.recvStr({ timeout: 10_000, signal: finish.signal })));
                break;
              case "recvTimeout":
                recvs.push(track(ws.recvStr({ timeout: op.ms })));
                break;
              case "recvAbort":
                recvs.push(track(ws.recvStr({ signal: abortSignal(op.after, abortReason) })));
                break;
              case "tick":
                await sleep(op.ms);
                break;
            }
          }

          // Every send settles (the echo server reads everything).
          const sendResults = await Promise.allSettled(sends.map((s) => s.p));
          const accepted: string[] = [];
          sendResults.forEach((res, i) => {
            if (res.status === "fulfilled") accepted.push(sends[i]!.msg);
            else {
              const e = res.reason as unknown;
              assert.ok(e instanceof WebSocketTimeout || e === abortReason, `send failed with ${String(e)}`);
            }
          });

          // Receivers still waiting get the echoes in flight; then the rest are released.
          await ws.flush({ timeout: 5000 });
          const all = Promise.allSettled(recvs);
          await Promise.race([all, sleep(300)]);
          finish.abort(finishReason);
          const recvResults = await all;
          const received: string[] = [];
          for (const res of recvResults) {
            if (res.status === "fulfilled") received.push(res.value);
            else {
              const e = res.reason as unknown;
              assert.ok(e instanceof WebSocketTimeout || e === abortReason || e === finishReason, `recv failed with ${String(e)}`);
            }
          }
          // Drain what is left.
          while (received.length < accepted.length) {
            let m: string;
            try {
              m = await ws.recvStr({ timeout: 2000 });
            } catch (e) {
              assert.ok(e instanceof WebSocketTimeout, String(e));
              break;
            }
            received.push(m);
          }
          // Nothing beyond what was accepted.
          await assert.rejects(ws.recv({ timeout: 20 }), WebSocketTimeout, "an extra message arrived");
          assert.deepEqual(received, accepted, "received (FIFO receivers, then drained) must equal accepted sends in order");
        } finally {
          ws.terminate();
        }
      },
    ),
    { numRuns: 30, endOnFailure: true },
  );
});
