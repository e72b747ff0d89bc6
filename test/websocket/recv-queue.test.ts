// The receive queue's ring against a plain-array model: random pushes (forced or not), shifts,
// tryTake and take across ring growth, wrap-around and release of a large drained ring.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { RecvQueue } from "../../src/websocket/recv-queue.js";
import { WsFlag } from "../../src/websocket/flags.js";

type Op = { t: "push"; force: boolean; flags: number } | { t: "shift" } | { t: "tryTake" } | { t: "take" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant("push" as const), force: fc.boolean(), flags: fc.constantFrom(WsFlag.TEXT, WsFlag.BINARY, WsFlag.CLOSE) }), weight: 5 },
  { arbitrary: fc.constant<Op>({ t: "shift" }), weight: 2 },
  { arbitrary: fc.constant<Op>({ t: "tryTake" }), weight: 1 },
  { arbitrary: fc.constant<Op>({ t: "take" }), weight: 1 },
);

test("RecvQueue keeps order, counts and flags across growth and wrap-around (property)", async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.array(opArb, { maxLength: 400 }), async (capacity, ops) => {
      const q = new RecvQueue(capacity);
      const model: Array<{ data: Buffer; flags: number }> = [];
      let next = 0;
      let spaceCalls = 0;
      q.onSpace = () => spaceCalls++;
      for (const op of ops) {
        if (op.t === "push") {
          const data = Buffer.from(String(next++));
          const accepted = q.push(data, op.flags, op.force);
          assert.equal(accepted, op.force || model.length < capacity);
          if (accepted) model.push({ data, flags: op.flags });
        } else if (op.t === "shift") {
          if (model.length === 0) continue;
          assert.equal(q.headFlags, model[0]!.flags);
          assert.equal(q.shift(), model.shift()!.data);
        } else if (op.t === "tryTake") {
          const got = q.tryTake();
          const want = model.shift();
          assert.deepEqual(got && { data: got.data, flags: got.flags }, want && { data: want.data, flags: want.flags });
        } else {
          if (model.length === 0) continue; // take() on an empty queue would wait
          const got = await q.take();
          const want = model.shift()!;
          assert.equal(got.data, want.data);
          assert.equal(got.flags, want.flags);
        }
        assert.equal(q.length, model.length);
      }
      // Whatever is left comes out in order.
      while (model.length > 0) assert.equal(q.shift(), model.shift()!.data);
      assert.equal(q.tryTake(), undefined);
      assert.ok(spaceCalls >= 0);
    }),
    { numRuns: 300 },
  );
});

test("RecvQueue: a burst into a large queue drains in order, releases its ring and refills", () => {
  const q = new RecvQueue(100_000);
  for (let round = 0; round < 3; round++) {
    const n = round === 1 ? 10 : 9000; // 9000 slots > the ring size kept after draining
    for (let i = 0; i < n; i++) assert.ok(q.push(Buffer.from([i & 0xff, i >> 8]), WsFlag.BINARY));
    assert.equal(q.length, n);
    for (let i = 0; i < n; i++) {
      const b = q.shift();
      assert.equal(b[0]! | (b[1]! << 8), i);
    }
    assert.equal(q.length, 0);
  }
});

test("RecvQueue: onSpace fires once the full queue drains to half, then not again until full", () => {
  const q = new RecvQueue(8);
  let calls = 0;
  q.onSpace = () => calls++;
  for (let i = 0; i < 8; i++) q.push(Buffer.alloc(1), WsFlag.BINARY);
  assert.equal(q.isFull, true);
  for (let i = 0; i < 3; i++) q.shift();
  assert.equal(calls, 0);
  assert.equal(q.isFull, true, "still paused until half drained");
  q.shift(); // 4 left = half
  assert.equal(calls, 1);
  assert.equal(q.isFull, false);
  q.shift();
  assert.equal(calls, 1);
});

test("RecvQueue: end without drain drops what is buffered; with drain it stays readable", async () => {
  const a = new RecvQueue(4);
  a.push(Buffer.from("x"), WsFlag.TEXT);
  a.end(new Error("gone"), false);
  assert.equal(a.length, 0);
  await assert.rejects(a.take(), /gone/);
  const b = new RecvQueue(4);
  b.push(Buffer.from("y"), WsFlag.TEXT);
  b.end(new Error("gone"), true);
  assert.equal((await b.take()).data.toString(), "y");
  await assert.rejects(b.take(), /gone/);
});

test("RecvQueue: steady push/shift cycles wrap around the ring many times", () => {
  const q = new RecvQueue(5);
  let pushed = 0;
  let taken = 0;
  for (let i = 0; i < 2000; i++) {
    while (q.length < 3 + (i % 3)) assert.ok(q.push(Buffer.from(String(pushed++)), WsFlag.BINARY));
    for (let k = 0; k < 1 + (i % 4) && q.length > 0; k++) assert.equal(q.shift().toString(), String(taken++));
  }
  while (q.length > 0) assert.equal(q.shift().toString(), String(taken++));
  assert.equal(taken, pushed);
});
