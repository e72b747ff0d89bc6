// ConnectAbort: one connect's abort without an AbortSignal unless a stage needs one (issue 11,
// connect cost). It must behave like AbortSignal for what masq's stages use of it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConnectAbort, abortSignalOf } from "../../src/transport/index.js";
import { connectTcp } from "../../src/transport/tcp.js";
import { createServer, type AddressInfo, type Socket } from "node:net";

test("listeners run once, in order, on abort; removed ones and late ones never", () => {
  const a = new ConnectAbort();
  const calls: string[] = [];
  const one = (): void => void calls.push("one");
  const two = (): void => void calls.push("two");
  const gone = (): void => void calls.push("gone");
  a.addEventListener("abort", one);
  a.addEventListener("abort", gone);
  a.addEventListener("abort", two, { once: true });
  a.removeEventListener("abort", gone);
  a.removeEventListener("abort", () => {}); // unknown: nothing happens
  assert.equal(a.aborted, false);
  assert.equal(a.reason, undefined);
  const why = new Error("why");
  a.abort(why);
  a.abort(new Error("second")); // once only
  a.addEventListener("abort", () => calls.push("late"));
  assert.deepEqual(calls, ["one", "two"]);
  assert.equal(a.aborted, true);
  assert.equal(a.reason, why);
});

test("a real AbortSignal only on request, following the abort whether made before or after it", () => {
  const a = new ConnectAbort();
  assert.equal(a.madeSignal, undefined);
  const s = a.signal;
  assert.ok(s instanceof AbortSignal);
  assert.equal(a.signal, s, "one signal");
  assert.equal(a.madeSignal, s);
  let fired = 0;
  s.addEventListener("abort", () => fired++);
  a.abort("r1");
  assert.equal(s.aborted, true);
  assert.equal(s.reason, "r1");
  assert.equal(fired, 1);
  const b = new ConnectAbort();
  b.abort("r2");
  assert.equal(b.signal.aborted, true, "made after the abort: already aborted");
  assert.equal(b.signal.reason, "r2");
  assert.equal(abortSignalOf(b), b.signal);
  const plain = new AbortController().signal;
  assert.equal(abortSignalOf(plain), plain);
});

test("connectTcp under a ConnectAbort: an abort mid-connect rejects with the reason and destroys the socket", async () => {
  // A server that accepts but the abort comes first: abort before the event loop turns.
  const sockets = new Set<Socket>();
  const server = createServer((s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  try {
    const port = (server.address() as AddressInfo).port;
    const a = new ConnectAbort();
    const p = connectTcp("127.0.0.1", port, a);
    const reason = new Error("stop");
    a.abort(reason);
    await assert.rejects(p, (e: unknown) => e === reason);
    const ok = new ConnectAbort();
    const sock = await connectTcp("127.0.0.1", port, ok);
    ok.abort(new Error("after")); // settled already: the socket is the caller's
    assert.equal(sock.destroyed, false);
    sock.destroy();
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
