// The writer over a recording Duplex: when bytes reach the socket (at once, or batched at the
// end of the turn), in which calls, and that the frames on the wire are the messages in order.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { setImmediate as nextTurn } from "node:timers/promises";
import { FrameWriter } from "../../src/websocket/writer.js";
import { readClientFrame } from "../helpers/raw-server.js";

interface Call {
  kind: "write" | "writev";
  bytes: Buffer;
}

/** A socket that records every _write/_writev; `hold` delays write callbacks (a busy socket). */
function recordingSocket(): { socket: Duplex; calls: Call[]; hold: (on: boolean) => void } {
  const calls: Call[] = [];
  let held: Array<() => void> | null = null;
  const done = (cb: () => void): void => {
    if (held) held.push(cb);
    else cb();
  };
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      calls.push({ kind: "write", bytes: Buffer.from(chunk) });
      done(cb);
    },
    writev(chunks: Array<{ chunk: Buffer }>, cb) {
      calls.push({ kind: "writev", bytes: Buffer.concat(chunks.map((c) => c.chunk)) });
      done(cb);
    },
  });
  const hold = (on: boolean): void => {
    if (on) held ??= [];
    else {
      const cbs = held ?? [];
      held = null;
      for (const cb of cbs) cb();
    }
  };
  return { socket, calls, hold };
}

/** Client frames -> [opcode, unmasked payload] per message (fragments joined). */
function decodeFrames(wire: Buffer): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  let msg: Buffer[] = [];
  let op = 0;
  for (let o = 0; o < wire.length; ) {
    const r = readClientFrame(wire.subarray(o));
    assert.ok(r !== null && !("error" in r), `a whole client frame at ${o}: ${r && "error" in r ? r.error : "truncated"}`);
    o += r.size;
    if (r.frame.opcode !== 0) op = r.frame.opcode;
    msg.push(r.frame.payload);
    if (r.frame.fin) {
      out.push([op, Buffer.concat(msg)]);
      msg = [];
    }
  }
  return out;
}

const OPTS = { sendQueueSize: 128, maxSendQueueBytes: 16 << 20, coalesceFrames: false, maxSendBatchSize: 64, sendTimeSlice: 1000 };

test("writer: the first message of a turn leaves inside enqueue(), uncorked; the rest of the turn in one writev", async () => {
  const { socket, calls } = recordingSocket();
  const w = new FrameWriter(socket, OPTS);
  w.enqueue(2, Buffer.from("first"), true);
  assert.equal(calls.length, 1, "written before enqueue returned");
  assert.equal(calls[0]!.kind, "write");
  for (let i = 0; i < 10; i++) w.enqueue(2, Buffer.from(`m${i}`), true);
  assert.equal(calls.length, 1, "the rest of the turn waits");
  await nextTurn();
  assert.equal(calls.length, 2);
  const batch = decodeFrames(calls[1]!.bytes);
  assert.deepEqual(batch.map(([, p]) => p.toString()), Array.from({ length: 10 }, (_, i) => `m${i}`));
  // A new turn: write-through again.
  w.enqueue(1, Buffer.from("next turn"), true);
  assert.equal(calls.length, 3);
  assert.deepEqual(decodeFrames(calls[2]!.bytes), [[1, Buffer.from("next turn")]]);
});

test("writer: while the socket still holds unwritten bytes, a new message waits behind them, in order", async () => {
  const { socket, calls, hold } = recordingSocket();
  const w = new FrameWriter(socket, OPTS);
  hold(true);
  w.enqueue(2, Buffer.alloc(300_000, 1), true); // large: written through, its callback held
  assert.equal(calls.length, 1);
  await nextTurn(); // a new turn, but the socket is busy
  w.enqueue(2, Buffer.from("small"), true);
  const before = calls.length;
  assert.ok(socket.writableLength > 0);
  assert.equal(calls.length, before, "nothing reaches the socket before the earlier write completes");
  hold(false);
  await nextTurn();
  await nextTurn();
  const all = decodeFrames(Buffer.concat(calls.map((c) => c.bytes)));
  assert.equal(all.length, 2);
  assert.equal(all[0]![1].length, 300_000);
  assert.equal(all[1]![1].toString(), "small");
});

test("writer: mixed sizes across write-through and batches arrive complete and in order", async () => {
  const { socket, calls } = recordingSocket();
  const w = new FrameWriter(socket, OPTS);
  const sent: Buffer[] = [];
  const sizes = [0, 1, 125, 126, 4095, 4096, 65535, 65536, 65537, 200_000, 3, 70_000];
  for (let turn = 0; turn < 4; turn++) {
    for (const n of sizes) {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = (i * 7 + turn + n) & 0xff;
      sent.push(b);
      w.enqueue(2, b, true);
      b.fill(0xee); // the caller may reuse its buffer at once: the writer must have copied it
    }
    await nextTurn();
  }
  await nextTurn();
  const got = decodeFrames(Buffer.concat(calls.map((c) => c.bytes)));
  assert.equal(got.length, sent.length);
  for (let i = 0; i < sent.length; i++) {
    const want = Buffer.alloc(sent[i]!.length);
    const turn = Math.floor(i / sizes.length);
    for (let k = 0; k < want.length; k++) want[k] = (k * 7 + turn + want.length) & 0xff;
    assert.ok(got[i]![1].equals(want), `message ${i} (${want.length} B)`);
  }
});

test("writer: masking keys stay fresh across refills of the shared random pool (no period)", async () => {
  const { socket, calls } = recordingSocket();
  const w = new FrameWriter(socket, { ...OPTS, sendQueueSize: 1 << 20 });
  const n = 10_000; // > 2 refills of the 4096-key pool
  for (let i = 0; i < n; i++) w.enqueue(2, Buffer.from([i & 0xff, i >> 8]), true);
  await nextTurn();
  await nextTurn();
  const wire = Buffer.concat(calls.map((c) => c.bytes));
  const keys: number[] = [];
  for (let o = 0; o < wire.length; o += 2 + 4 + 2) keys.push(wire.readUInt32LE(o + 2));
  assert.equal(keys.length, n);
  assert.ok(new Set(keys).size > n * 0.99, "keys repeat");
  let samePeriod = 0;
  for (let i = 0; i + 4096 < n; i++) if (keys[i] === keys[i + 4096]) samePeriod++;
  assert.equal(samePeriod, 0, "the key sequence repeats after a refill");
  // And every payload unmasks to what was sent.
  const frames = decodeFrames(wire);
  for (let i = 0; i < n; i++) assert.deepEqual([...frames[i]![1]], [i & 0xff, i >> 8]);
});
