// The one timeout + AbortSignal waiter (websocket/wait.ts) and the one "race a step against a
// signal" helper (transport/tcp.ts abortable), in memory: no sockets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { Waiter } from "../../src/websocket/wait.js";
import { abortable } from "../../src/transport/tcp.js";

const timeoutError = (ms: number): Error => new Error(`timed out after ${ms}`);

test("Waiter: resolved by its owner, then its abort listener is gone and later settles are no-ops", async () => {
  const ac = new AbortController();
  const gaveUp: unknown[] = [];
  const w = new Waiter<number>({ timeout: 60_000, signal: ac.signal }, timeoutError, (x) => gaveUp.push(x));
  assert.equal(getEventListeners(ac.signal, "abort").length, 1);
  w.resolve(7);
  assert.equal(w.live, false);
  assert.equal(getEventListeners(ac.signal, "abort").length, 0);
  w.reject(new Error("late"));
  w.resolve(8);
  ac.abort();
  assert.equal(await w.promise, 7);
  assert.deepEqual(gaveUp, []);
});

test("Waiter: a timeout tells the owner first, then rejects with the timeout error", async () => {
  const order: string[] = [];
  const w = new Waiter<void>({ timeout: 5 }, timeoutError, () => order.push("gave up"));
  await assert.rejects(
    w.promise.finally(() => order.push("rejected")),
    /timed out after 5/,
  );
  assert.deepEqual(order, ["gave up", "rejected"]);
  assert.equal(w.live, false);
});

test("Waiter: an abort rejects with the signal's reason; no timer without a finite timeout", async () => {
  const ac = new AbortController();
  let gaveUp = 0;
  const w = new Waiter<void>({ timeout: Infinity, signal: ac.signal }, timeoutError, () => gaveUp++);
  const reason = new Error("stop");
  ac.abort(reason);
  await assert.rejects(w.promise, (e) => e === reason);
  assert.equal(gaveUp, 1);
  // Owner-rejected: the owner's error, and no give-up call.
  const x = new Waiter<void>(undefined, timeoutError, () => gaveUp++);
  x.reject(new Error("failed"));
  await assert.rejects(x.promise, /failed/);
  assert.equal(gaveUp, 1);
});

test("abortable: the step's value without abort; on abort the reason at once, onAbort, and the late value discarded", async () => {
  assert.equal(await abortable(Promise.resolve(1), undefined), 1);
  assert.equal(await abortable(Promise.resolve(2), new AbortController().signal), 2);

  const ac = new AbortController();
  let release!: (v: { destroy(): void }) => void;
  const step = new Promise<{ destroy(): void }>((r) => (release = r));
  const events: string[] = [];
  const raced = abortable(step, ac.signal, { onAbort: () => events.push("onAbort") });
  const reason = new Error("abort");
  ac.abort(reason);
  await assert.rejects(raced, (e) => e === reason);
  release({ destroy: () => events.push("destroyed") }); // default discard: destroy()
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(events, ["onAbort", "destroyed"]);
  assert.equal(getEventListeners(ac.signal, "abort").length, 0);

  // Already aborted: rejects at once; a custom discard gets what the step still produces.
  const late: number[] = [];
  await assert.rejects(abortable(Promise.resolve(5), ac.signal, { discard: (v) => late.push(v) }), (e) => e === reason);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(late, [5]);

  // A step that fails after the abort is ignored (no unhandled rejection).
  const ac2 = new AbortController();
  let fail!: (e: Error) => void;
  const failing = abortable(new Promise<never>((_r, j) => (fail = j)), ac2.signal);
  ac2.abort(new Error("first"));
  await assert.rejects(failing, /first/);
  fail(new Error("after the abort"));
  await new Promise((r) => setImmediate(r));
});
