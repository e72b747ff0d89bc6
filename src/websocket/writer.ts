import type { Duplex } from "node:stream";
import { randomFillSync } from "node:crypto";
import { WebSocketTimeout } from "../errors.js";
import { frameHeaderLength, writeFrameHeader } from "../protocol/frame.js";
import { mask } from "../protocol/mask.js";
import type { WaitOptions } from "./recv-queue.js";

/** Outgoing messages larger than this are split into frames of this size (issue: 64 KiB fragments). */
export const FRAGMENT_SIZE = 64 * 1024;
/** Small frames are built back to back in a pooled buffer of this size; bigger ones get their own buffer. */
const POOL_SIZE = 64 * 1024;
const SMALL_FRAME = 4 * 1024;
/** Keep handing buffers to the socket while it holds less than this (bytes) unwritten. */
const WRITE_BUDGET = 512 * 1024;

interface OutItem {
  /** Ready frame bytes; undefined while the payload is still being compressed. */
  buf: Buffer | undefined;
  /** Application messages in this item (0 for control frames). */
  count: number;
  /** Sequence number of the last message in this item. */
  seq: number;
}

interface SpaceWaiter {
  resolve: () => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface FlushWaiter {
  seq: number;
  resolve: () => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout | undefined;
}

export interface WriterOptions {
  sendQueueSize: number;
  coalesceFrames: boolean;
  maxSendBatchSize: number;
  sendTimeSlice: number;
}

/**
 * The send side: a bounded queue of messages that are framed and masked at `send()` time (so the
 * caller's buffer is free as soon as `send()` resolves) and handed to the socket in batches.
 *
 * Small frames are written back to back into a pooled buffer, so a burst of small messages leaves
 * as one slice in one write; larger messages are framed into one buffer each (all their 64 KiB
 * fragments contiguous, so nothing can interleave with them). Hand-off to the socket happens on
 * the next turn of the event loop, or at once when the queue is full, and stops while the socket
 * holds more than WRITE_BUDGET unwritten bytes (its own backpressure; resumed on 'drain').
 * A pooled region is never written twice: a used-up pool is replaced, not recycled, so a buffer
 * the socket still holds is never overwritten.
 */
export class Writer {
  readonly #socket: Duplex;
  readonly #opts: WriterOptions;
  #items: OutItem[] = [];
  #itemHead = 0;
  /** Control frames that go before queued data (pongs, pings). */
  #urgent: Buffer[] = [];
  #pool = Buffer.allocUnsafeSlow(POOL_SIZE);
  #poolStart = 0;
  #poolOffset = 0;
  #poolCount = 0;
  #poolSeq = 0;
  #queued = 0;
  #seq = 0;
  #handedSeq = 0;
  #scheduled = false;
  #waitingDrain = false;
  #spaceWaiters: SpaceWaiter[] = [];
  #flushWaiters: FlushWaiter[] = [];
  #error: unknown = undefined;
  #rand = Buffer.allocUnsafeSlow(4096);
  #randPos = 4096;
  readonly #key = Buffer.alloc(4);
  readonly #onDrain = (): void => {
    this.#waitingDrain = false;
    this.#pump();
  };
  readonly #runScheduled = (): void => {
    this.#scheduled = false;
    this.#pump();
  };

  constructor(socket: Duplex, opts: WriterOptions) {
    this.#socket = socket;
    this.#opts = opts;
    socket.on("drain", this.#onDrain);
  }

  /** Messages accepted but not yet handed to the socket. */
  get queued(): number {
    return this.#queued;
  }

  get failed(): boolean {
    return this.#error !== undefined;
  }

  /** True when a message can be accepted without waiting. */
  hasSpace(): boolean {
    // Senders already waiting go first: a newcomer must not overtake them (message order).
    if (this.#spaceWaiters.length > 0) return false;
    if (this.#queued < this.#opts.sendQueueSize) return true;
    this.#pump();
    return this.#queued < this.#opts.sendQueueSize;
  }

  /** Waits until the queue has room (honours timeout and signal; rejects with the writer's error). */
  waitForSpace(opts?: WaitOptions): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    const signal = opts?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const w: SpaceWaiter = { resolve, reject, timer: undefined, signal, onAbort: undefined };
      const drop = (): void => {
        const i = this.#spaceWaiters.indexOf(w);
        if (i >= 0) this.#spaceWaiters.splice(i, 1);
        if (w.timer) clearTimeout(w.timer);
        if (signal && w.onAbort) signal.removeEventListener("abort", w.onAbort);
      };
      const timeout = opts?.timeout;
      if (timeout !== undefined && timeout !== Infinity) {
        w.timer = setTimeout(() => {
          drop();
          reject(new WebSocketTimeout(`send timed out after ${timeout} ms: the send queue stayed full`));
        }, Math.max(0, timeout));
      }
      if (signal) {
        w.onAbort = () => {
          drop();
          reject(signal.reason);
        };
        signal.addEventListener("abort", w.onAbort, { once: true });
      }
      w.resolve = () => {
        drop();
        resolve();
      };
      w.reject = (e) => {
        drop();
        reject(e);
      };
      this.#spaceWaiters.push(w);
    });
  }

  /**
   * Frames and queues one data message (or one manual fragment). The caller has checked space.
   * `payload` is read synchronously and not retained.
   */
  enqueue(opcode: number, payload: Uint8Array, fin: boolean, rsv1 = false): void {
    const seq = ++this.#seq;
    this.#queued++;
    const len = payload.length;
    if (len <= FRAGMENT_SIZE) {
      const size = frameHeaderLength(len, true) + len;
      if (size <= SMALL_FRAME) {
        this.#writeIntoPool(opcode, payload, fin, rsv1, size);
        this.#poolCount++;
        this.#poolSeq = seq;
      } else {
        const buf = Buffer.allocUnsafe(size);
        this.#frameInto(buf, 0, fin, rsv1, opcode, payload, 0, len);
        this.#pushItem({ buf, count: 1, seq });
      }
    } else {
      this.#pushItem({ buf: this.#fragment(opcode, payload, fin, rsv1), count: 1, seq });
    }
    this.#schedule();
  }

  /**
   * Queues a message whose payload is produced later (compression). Returns the function that
   * supplies the ready payload; order with other messages is kept.
   */
  enqueueDeferred(): (opcode: number, payload: Uint8Array, fin: boolean, rsv1: boolean) => void {
    const seq = ++this.#seq;
    this.#queued++;
    const item: OutItem = { buf: undefined, count: 1, seq };
    this.#pushItem(item);
    return (opcode, payload, fin, rsv1) => {
      item.buf = this.#fragment(opcode, payload, fin, rsv1);
      this.#schedule();
    };
  }

  /** A control frame that jumps ahead of queued data (a pong, a ping); never splits a message. */
  enqueueUrgent(opcode: number, payload: Uint8Array): void {
    const buf = Buffer.allocUnsafe(frameHeaderLength(payload.length, true) + payload.length);
    this.#frameInto(buf, 0, true, false, opcode, payload, 0, payload.length);
    this.#urgent.push(buf);
    this.#schedule();
  }

  /** A control frame that goes after everything queued (the close frame). Not counted as a message. */
  enqueueInOrder(opcode: number, payload: Uint8Array): void {
    const buf = Buffer.allocUnsafe(frameHeaderLength(payload.length, true) + payload.length);
    this.#frameInto(buf, 0, true, false, opcode, payload, 0, payload.length);
    this.#pushItem({ buf, count: 0, seq: this.#seq });
    this.#schedule();
  }

  /** Resolves when everything queued so far has been written to the socket. */
  flush(timeout?: number): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    const seq = this.#seq;
    if (this.#handedSeq >= seq && this.#socket.writableLength === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w: FlushWaiter = { seq, resolve, reject, timer: undefined };
      if (timeout !== undefined && timeout !== Infinity) {
        w.timer = setTimeout(() => {
          const i = this.#flushWaiters.indexOf(w);
          if (i >= 0) this.#flushWaiters.splice(i, 1);
          reject(new WebSocketTimeout(`flush timed out after ${timeout} ms`));
        }, Math.max(0, timeout));
      }
      this.#flushWaiters.push(w);
      this.#pump();
    });
  }

  /** Writes everything that can go now, synchronously (used before closing the socket). */
  pumpNow(): void {
    this.#pump();
  }

  /** Fails the writer: every waiter (space, flush) is rejected; nothing more is written. */
  fail(error: unknown): void {
    if (this.#error !== undefined) return;
    this.#error = error;
    this.#socket.off("drain", this.#onDrain);
    for (const w of this.#spaceWaiters.slice()) w.reject(error);
    this.#spaceWaiters = [];
    for (const w of this.#flushWaiters) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(error);
    }
    this.#flushWaiters = [];
    this.#items = [];
    this.#itemHead = 0;
    this.#urgent = [];
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#runScheduled);
  }

  #pushItem(item: OutItem): void {
    this.#sealPool();
    this.#items.push(item);
  }

  /** Turns the unhanded pool region into a queue item so that order with other items is kept. */
  #sealPool(): void {
    if (this.#poolOffset === this.#poolStart) return;
    this.#items.push({ buf: this.#pool.subarray(this.#poolStart, this.#poolOffset), count: this.#poolCount, seq: this.#poolSeq });
    this.#poolStart = this.#poolOffset;
    this.#poolCount = 0;
  }

  #writeIntoPool(opcode: number, payload: Uint8Array, fin: boolean, rsv1: boolean, size: number): void {
    if (this.#poolOffset + size > POOL_SIZE) {
      this.#sealPool();
      this.#pool = Buffer.allocUnsafeSlow(POOL_SIZE);
      this.#poolStart = 0;
      this.#poolOffset = 0;
    }
    this.#poolOffset = this.#frameInto(this.#pool, this.#poolOffset, fin, rsv1, opcode, payload, 0, payload.length);
  }

  /** Frames a message larger than one fragment into one contiguous buffer of 64 KiB frames. */
  #fragment(opcode: number, payload: Uint8Array, fin: boolean, rsv1: boolean): Buffer {
    const len = payload.length;
    const frames = Math.max(1, Math.ceil(len / FRAGMENT_SIZE));
    let total = 0;
    for (let i = 0; i < frames; i++) {
      const n = Math.min(FRAGMENT_SIZE, len - i * FRAGMENT_SIZE);
      total += frameHeaderLength(n, true) + n;
    }
    const buf = Buffer.allocUnsafe(total);
    let off = 0;
    for (let i = 0; i < frames; i++) {
      const start = i * FRAGMENT_SIZE;
      const n = Math.min(FRAGMENT_SIZE, len - start);
      const last = i === frames - 1;
      // RFC 6455 §5.4: the first frame carries the opcode (and RSV1 for a compressed message,
      // RFC 7692 §6.1); the others are continuations.
      off = this.#frameInto(buf, off, last && fin, i === 0 && rsv1, i === 0 ? opcode : 0, payload, start, n);
    }
    return buf;
  }

  /** Writes header + masked payload at `off`; returns the offset after the frame. */
  #frameInto(dst: Buffer, off: number, fin: boolean, rsv1: boolean, opcode: number, src: Uint8Array, start: number, n: number): number {
    const key = this.#nextKey();
    off = writeFrameHeader(dst, off, fin, rsv1, opcode, n, key);
    if (n <= 32) {
      for (let i = 0; i < n; i++) dst[off + i] = src[start + i]! ^ key[i & 3]!;
    } else {
      mask(start === 0 && n === src.length ? src : src.subarray(start, start + n), key, dst, off, n);
    }
    return off + n;
  }

  /** A fresh random masking key (RFC 6455 §5.3) from a pooled random source. */
  #nextKey(): Buffer {
    if (this.#randPos + 4 > this.#rand.length) {
      randomFillSync(this.#rand);
      this.#randPos = 0;
    }
    const r = this.#rand;
    const p = this.#randPos;
    const k = this.#key;
    k[0] = r[p]!;
    k[1] = r[p + 1]!;
    k[2] = r[p + 2]!;
    k[3] = r[p + 3]!;
    this.#randPos = p + 4;
    return k;
  }

  /** Hands queued frames to the socket: urgent control frames first, then data in order. */
  #pump(): void {
    if (this.#error !== undefined || this.#waitingDrain) return;
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) return;
    this.#sealPool();
    if (this.#urgent.length === 0 && this.#itemHead === this.#items.length) {
      this.#armFlush();
      return;
    }
    const started = performance.now();
    const slice = this.#opts.sendTimeSlice;
    const coalesce = this.#opts.coalesceFrames;
    const batchMax = this.#opts.maxSendBatchSize;
    socket.cork();
    let gather: Buffer[] | undefined = coalesce ? [] : undefined;
    let inBatch = 0;
    let writes = 0;
    const emit = (buf: Buffer): boolean => {
      writes++;
      return socket.write(buf);
    };
    let ok = true;
    for (const u of this.#urgent) ok = emit(u) && ok;
    this.#urgent.length = 0;
    while (this.#itemHead < this.#items.length) {
      const item = this.#items[this.#itemHead]!;
      if (item.buf === undefined) break; // still compressing: order is kept by waiting
      this.#items[this.#itemHead++] = undefined as unknown as OutItem;
      this.#queued -= item.count;
      if (item.seq > this.#handedSeq) this.#handedSeq = item.seq;
      if (gather) {
        gather.push(item.buf);
        inBatch += Math.max(1, item.count);
        if (inBatch >= batchMax) {
          ok = emit(gather.length === 1 ? gather[0]! : Buffer.concat(gather)) && ok;
          gather = [];
          inBatch = 0;
        }
      } else {
        ok = emit(item.buf) && ok;
      }
      if (socket.writableLength >= WRITE_BUDGET) {
        ok = false;
        break;
      }
      if ((writes & 15) === 15 && performance.now() - started > slice) break;
    }
    if (gather && gather.length > 0) ok = emit(gather.length === 1 ? gather[0]! : Buffer.concat(gather)) && ok;
    if (this.#itemHead === this.#items.length) {
      this.#items.length = 0;
      this.#itemHead = 0;
    } else if (this.#itemHead > 256) {
      this.#items = this.#items.slice(this.#itemHead);
      this.#itemHead = 0;
    }
    this.#armFlush();
    socket.uncork();
    if (!ok && socket.writableLength > 0) this.#waitingDrain = true;
    else if (this.#itemHead < this.#items.length && this.#items[this.#itemHead]!.buf !== undefined) this.#schedule();
    this.#wakeSpaceWaiters();
  }

  #wakeSpaceWaiters(): void {
    while (this.#spaceWaiters.length > 0 && this.#queued < this.#opts.sendQueueSize) {
      this.#spaceWaiters[0]!.resolve(); // resolve() removes it
      // The woken sender enqueues in a later microtask; count it now so waiters do not overshoot.
      break;
    }
    if (this.#spaceWaiters.length > 0 && this.#queued < this.#opts.sendQueueSize) {
      queueMicrotask(() => this.#wakeSpaceWaiters());
    }
  }

  /**
   * Resolves the flushes covered by what has been handed over, once the socket has passed those
   * bytes on: an empty write's callback runs after every earlier write completed.
   */
  #armFlush(): void {
    if (this.#flushWaiters.length === 0) return;
    const handed = this.#handedSeq;
    const settleCovered = (): void => {
      const keep: FlushWaiter[] = [];
      for (const w of this.#flushWaiters) {
        if (w.seq <= handed) {
          if (w.timer) clearTimeout(w.timer);
          w.resolve();
        } else keep.push(w);
      }
      this.#flushWaiters = keep;
    };
    if (this.#socket.writableLength === 0) settleCovered();
    else this.#socket.write(EMPTY, settleCovered);
  }
}

const EMPTY = Buffer.alloc(0);
