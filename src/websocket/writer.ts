import { performance } from "node:perf_hooks";
import type { Duplex } from "node:stream";
import { WebSocketTimeout } from "../errors.js";
import { frameHeaderLength, writeClientFrame, writeSmallClientFrame } from "../protocol/frame.js";
import { nextMaskKey } from "../protocol/mask.js";
import { Waiter, type WaitOptions } from "./wait.js";
import { PoolBlock, frameArena } from "./frame-memory.js";

/** Outgoing messages larger than this are split into frames of this size (issue: 64 KiB fragments). */
export const FRAGMENT_SIZE = 64 * 1024;
const SMALL_FRAME = 4 * 1024;
/** Items at least this large are "large": not capped per turn, written with a completion callback. */
const LARGE_WRITE = 64 * 1024;
/**
 * Keep handing buffers to the socket while it holds less than this many unwritten bytes. Waiting
 * for 'drain' (an empty buffer) would leave the kernel idle between large messages, so the writer
 * also resumes from write callbacks as soon as the socket is back under the budget.
 */
const WRITE_BUDGET = 4 * 1024 * 1024;
/** At most this many bytes of small frames per corked writev (one turn of the event loop). */
const SMALL_BATCH_BUDGET = 512 * 1024;

interface OutItem {
  /** Ready frame bytes; undefined while the payload is still being compressed. */
  buf: Buffer | undefined;
  /** Set when the bytes live in shared memory (arena region or pool block): frees it once written. */
  release: (() => void) | undefined;
  /** Application messages in this item (0 for control frames). */
  count: number;
  /** Sequence number of the last message in this item. */
  seq: number;
}

/** A flush() in progress: resolved once the message numbered `seq` has been written. */
interface FlushWaiter {
  seq: number;
  waiter: Waiter<void>;
}

export interface WriterOptions {
  sendQueueSize: number;
  maxSendQueueBytes: number;
  coalesceFrames: boolean;
  maxSendBatchSize: number;
  sendTimeSlice: number;
}

/**
 * The send side: a bounded queue of messages that are framed and masked at `send()` time (so the
 * caller's buffer is free as soon as `send()` resolves) and handed to the socket in batches.
 *
 * Small frames are written back to back into a 64 KiB pool block, so a burst of small messages
 * leaves as one slice in one write; larger messages are framed into one buffer each (all their
 * 64 KiB fragments contiguous, so nothing can interleave with them), in the shared wasm frame arena
 * when it has room. Blocks and arena regions are reused only after the socket has written them
 * (their write callbacks release them), so a buffer the socket still holds is never overwritten.
 *
 * Hand-off to the socket happens at the end of the event-loop turn, or at once when the queue is
 * full. The socket stays corked until the end of the turn, so everything a burst of `send()` calls
 * produced leaves in one writev; a turn hands over at most 512 KiB of small frames (senders then
 * wait a turn), and the writer stops while the socket holds more than WRITE_BUDGET unwritten bytes
 * (resumed by 'drain' or by the write callbacks of large items).
 */
export class FrameWriter {
  readonly #socket: Duplex;
  readonly #opts: WriterOptions;
  #items: OutItem[] = [];
  #itemHead = 0;
  /**
   * Control frames that go before queued data (pongs, pings). This and the waiter arrays start as
   * the shared NONE (an idle connection allocates none) and are replaced on first use.
   */
  #urgent: Buffer[] = NONE;
  /** Write callbacks of urgent frames, by index in #urgent (the connection's pongs: it coalesces them). */
  #urgentDone: Array<(() => void) | undefined> = NONE;
  /** Allocated on the first small message, so an idle connection holds none. */
  #pool: Buffer = EMPTY;
  /** The block `#pool` belongs to (undefined while the writer holds none). */
  #block: PoolBlock | undefined;
  #poolStart = 0;
  #poolOffset = 0;
  #corked = false;
  /**
   * A message already went out uncorked in this turn of the event loop (see #writeThrough): the rest of
   * the turn's messages are batched as usual. Cleared by the end-of-turn hand-off.
   */
  #turnWritten = false;
  /** This turn's corked batch of small frames is full: hand off more in the next turn. */
  #waitingTurn = false;
  /** Bytes of frames queued and not yet handed to the socket. */
  #queuedBytes = 0;
  #poolCount = 0;
  #poolSeq = 0;
  #queued = 0;
  #seq = 0;
  #handedSeq = 0;
  #scheduled = false;
  #waitingDrain = false;
  #spaceWaiters: Array<Waiter<void>> = NONE;
  #flushWaiters: FlushWaiter[] = NONE;
  #error: unknown = undefined;

  constructor(socket: Duplex, opts: WriterOptions) {
    this.#socket = socket;
    this.#opts = opts;
    (socket as WritableSocket)[kWriter] = this;
    socket.on("drain", onSocketDrain);
  }

  /** @internal the socket emptied its buffer. */
  drained(): void {
    this.#waitingDrain = false;
    this.#pump();
  }

  /** A large write completed: resume as soon as the socket holds less than the budget again. */
  #written(): void {
    if (this.#waitingDrain && this.#socket.writableLength < WRITE_BUDGET) {
      this.#waitingDrain = false;
      this.#pump();
    }
  }

  /** @internal the hand-off scheduled for the end of this turn. */
  runScheduled(): void {
    this.#scheduled = false;
    this.#waitingTurn = false;
    this.#turnWritten = false;
    this.#pump();
    if (this.#corked) {
      this.#corked = false;
      this.#socket.uncork();
    }
    if (this.#queued === 0 && this.#poolOffset === this.#poolStart) this.#dropBlock();
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
    if (this.#roomy()) return true;
    this.#pump();
    return this.#roomy();
  }

  /** Below both bounds: message count and bytes (one message is always let in when empty). */
  #roomy(): boolean {
    return this.#queued === 0 || (this.#queued < this.#opts.sendQueueSize && this.#queuedBytes < this.#opts.maxSendQueueBytes);
  }

  /** Waits until the queue has room (honours timeout and signal; rejects with the writer's error). */
  waitForSpace(opts?: WaitOptions): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    const signal = opts?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const w = new Waiter<void>(opts, spaceTimeout, this.#dropSpaceWaiter);
    if (this.#spaceWaiters === NONE) this.#spaceWaiters = [];
    this.#spaceWaiters.push(w);
    return w.promise;
  }

  /** Takes a sender that gave up (timeout, abort) out of the line. */
  readonly #dropSpaceWaiter = (w: Waiter<void>): void => {
    const i = this.#spaceWaiters.indexOf(w);
    if (i >= 0) this.#spaceWaiters.splice(i, 1);
  };

  /**
   * Frames and queues one data message (or one manual fragment). The caller has checked space.
   * `payload` is read synchronously and not retained.
   */
  enqueue(opcode: number, payload: Uint8Array, fin: boolean, rsv1 = false): void {
    // Write-through candidate (#writeThrough): nothing pending, nothing written yet in this turn.
    const idle = this.#queued === 0 && !this.#turnWritten && !this.#corked && this.#itemHead === this.#items.length;
    const seq = ++this.#seq;
    this.#queued++;
    const len = payload.length;
    if (len < 126 && !rsv1) {
      // Hot path for small messages: header, key and masked payload straight into the pool.
      let o = this.#poolOffset;
      if (o + 6 + len > this.#pool.length) o = this.#newPool();
      this.#poolOffset = writeSmallClientFrame(this.#pool, o, fin, opcode, payload, nextMaskKey());
      this.#poolCount++;
      this.#poolSeq = seq;
      this.#queuedBytes += 6 + len;
    } else if (len <= FRAGMENT_SIZE) {
      const size = frameHeaderLength(len, true) + len;
      if (size <= SMALL_FRAME) {
        let o = this.#poolOffset;
        if (o + size > this.#pool.length) o = this.#newPool();
        this.#poolOffset = this.#frameInto(this.#pool, o, fin, rsv1, opcode, payload, 0, len);
        this.#poolCount++;
        this.#poolSeq = seq;
        this.#queuedBytes += size;
      } else {
        const { buf, release } = this.#frameBuffer(size);
        this.#frameInto(buf, 0, fin, rsv1, opcode, payload, 0, len);
        this.#pushItem({ buf, release, count: 1, seq });
      }
    } else {
      this.#pushItem({ ...this.#fragment(opcode, payload, fin, rsv1), count: 1, seq });
    }
    if (idle) this.#writeThrough();
    this.#schedule();
  }

  /**
   * The first message of a turn on an idle writer leaves at once, uncorked: a request/response
   * exchange then pays no wait for the end of the turn (the write happens inside `send()`, as
   * with an event-style client). Whatever follows in the same turn is batched into one corked
   * writev as before, so a burst still costs one syscall more at most.
   */
  #writeThrough(): void {
    if (this.#error !== undefined || this.#waitingDrain || this.#waitingTurn || this.#urgent.length > 0) return;
    if (this.#socket.writableLength !== 0) return; // the socket is still busy: batch behind it
    this.#turnWritten = true;
    this.#pump(false);
  }

  /**
   * Queues a message whose payload is produced later (compression). Returns the function that
   * supplies the ready payload; order with other messages is kept.
   */
  enqueueDeferred(): (opcode: number, payload: Uint8Array, fin: boolean, rsv1: boolean) => void {
    const seq = ++this.#seq;
    this.#queued++;
    const item: OutItem = { buf: undefined, release: undefined, count: 1, seq };
    this.#pushItem(item);
    return (opcode, payload, fin, rsv1) => {
      if (this.#error !== undefined) return;
      const framed = this.#fragment(opcode, payload, fin, rsv1);
      item.buf = framed.buf;
      item.release = framed.release;
      this.#queuedBytes += framed.buf.length;
      this.#schedule();
    };
  }

  /**
   * A control frame that jumps ahead of queued data (a pong, a ping); never splits a message.
   * `written` runs once the socket has written it (or dropped it with the socket).
   */
  enqueueUrgent(opcode: number, payload: Uint8Array, written?: () => void): void {
    const buf = Buffer.allocUnsafe(frameHeaderLength(payload.length, true) + payload.length);
    this.#frameInto(buf, 0, true, false, opcode, payload, 0, payload.length);
    if (this.#urgent === NONE) this.#urgent = [];
    this.#urgent.push(buf);
    if (written) {
      if (this.#urgentDone === NONE) this.#urgentDone = [];
      this.#urgentDone[this.#urgent.length - 1] = written;
    }
    this.#schedule();
  }

  /** A control frame that goes after everything queued (the close frame). Not counted as a message. */
  enqueueInOrder(opcode: number, payload: Uint8Array): void {
    const buf = Buffer.allocUnsafe(frameHeaderLength(payload.length, true) + payload.length);
    this.#frameInto(buf, 0, true, false, opcode, payload, 0, payload.length);
    this.#pushItem({ buf, release: undefined, count: 0, seq: this.#seq });
    this.#schedule();
  }

  /** Resolves when everything queued so far has been written to the socket. */
  flush(timeout?: number): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    const seq = this.#seq;
    if (this.#handedSeq >= seq && this.#socket.writableLength === 0) return Promise.resolve();
    const f: FlushWaiter = {
      seq,
      waiter: new Waiter<void>({ timeout }, flushTimeout, () => {
        const i = this.#flushWaiters.indexOf(f);
        if (i >= 0) this.#flushWaiters.splice(i, 1);
      }),
    };
    if (this.#flushWaiters === NONE) this.#flushWaiters = [];
    this.#flushWaiters.push(f);
    this.#pump();
    return f.waiter.promise;
  }

  /** Writes everything that can go now, synchronously (used before closing the socket). */
  pumpNow(): void {
    this.#pump();
  }

  /** Fails the writer: every waiter (space, flush) is rejected; nothing more is written. */
  fail(error: unknown): void {
    if (this.#error !== undefined) return;
    this.#error = error;
    this.#socket.off("drain", onSocketDrain);
    const space = this.#spaceWaiters;
    const flushes = this.#flushWaiters;
    this.#spaceWaiters = NONE;
    this.#flushWaiters = NONE;
    for (const w of space) w.reject(error);
    for (const f of flushes) f.waiter.reject(error);
    for (let i = this.#itemHead; i < this.#items.length; i++) this.#items[i]!.release?.();
    this.#dropBlock();
    this.#items = [];
    this.#itemHead = 0;
    this.#urgent = [];
    this.#urgentDone = NONE;
    if (this.#corked) {
      this.#corked = false;
      this.#socket.uncork();
    }
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(runScheduled, this);
  }

  #pushItem(item: OutItem): void {
    this.#sealPool();
    this.#items.push(item);
    if (item.buf !== undefined && item.count > 0) this.#queuedBytes += item.buf.length;
  }

  /** Turns the unhanded pool region into a queue item so that order with other items is kept. */
  #sealPool(): void {
    if (this.#poolOffset === this.#poolStart) return;
    const block = this.#block!;
    block.ref();
    this.#items.push({ buf: this.#pool.subarray(this.#poolStart, this.#poolOffset), release: block.unref, count: this.#poolCount, seq: this.#poolSeq });
    this.#poolStart = this.#poolOffset;
    this.#poolCount = 0;
  }

  /** Gives the current block back (an idle connection holds none); its slices keep it alive until written. */
  #dropBlock(): void {
    if (this.#block === undefined) return;
    this.#block.unref();
    this.#block = undefined;
    this.#pool = EMPTY;
    this.#poolStart = 0;
    this.#poolOffset = 0;
  }

  /** Seals what is pending in the current pool and starts a fresh one; returns the new offset 0. */
  #newPool(): number {
    this.#sealPool();
    this.#block?.unref();
    this.#block = PoolBlock.take();
    this.#pool = this.#block.buf;
    this.#poolStart = 0;
    this.#poolOffset = 0;
    return 0;
  }

  /** Memory for one large frame buffer: the shared arena when it has room, else the heap. */
  #frameBuffer(size: number): { buf: Buffer; release: (() => void) | undefined } {
    return frameArena().alloc(size) ?? { buf: Buffer.allocUnsafeSlow(size), release: undefined };
  }

  /** Frames a message larger than one fragment into one contiguous buffer of 64 KiB frames. */
  #fragment(opcode: number, payload: Uint8Array, fin: boolean, rsv1: boolean): { buf: Buffer; release: (() => void) | undefined } {
    const len = payload.length;
    const frames = Math.max(1, Math.ceil(len / FRAGMENT_SIZE));
    let total = 0;
    for (let i = 0; i < frames; i++) {
      const n = Math.min(FRAGMENT_SIZE, len - i * FRAGMENT_SIZE);
      total += frameHeaderLength(n, true) + n;
    }
    const framed = this.#frameBuffer(total);
    const buf = framed.buf;
    let off = 0;
    for (let i = 0; i < frames; i++) {
      const start = i * FRAGMENT_SIZE;
      const n = Math.min(FRAGMENT_SIZE, len - start);
      const last = i === frames - 1;
      // RFC 6455 §5.4: the first frame carries the opcode (and RSV1 for a compressed message,
      // RFC 7692 §6.1); the others are continuations.
      off = this.#frameInto(buf, off, last && fin, i === 0 && rsv1, i === 0 ? opcode : 0, payload, start, n);
    }
    return framed;
  }

  /** Writes header + masked payload at `off`; returns the offset after the frame. */
  #frameInto(dst: Buffer, off: number, fin: boolean, rsv1: boolean, opcode: number, src: Uint8Array, start: number, n: number): number {
    return writeClientFrame(dst, off, fin, rsv1, opcode, src, start, n, nextMaskKey());
  }

  /** Hands queued frames to the socket: urgent control frames first, then data in order. */
  #pump(cork = true): void {
    if (this.#error !== undefined || this.#waitingDrain || this.#waitingTurn) return;
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
    // The socket stays corked until the end of this turn, so that everything handed over in it
    // leaves in one writev (measured: ~2x the throughput of writing 1 MiB frames uncorked).
    if (cork && !this.#corked) {
      this.#corked = true;
      socket.cork();
      this.#schedule(); // the scheduled hand-off uncorks at the end of this turn
    }
    let gather: Buffer[] | undefined = coalesce ? [] : undefined;
    let inBatch = 0;
    let writes = 0;
    const emit = (buf: Buffer): void => {
      writes++;
      socket.write(buf);
    };
    for (let i = 0; i < this.#urgent.length; i++) {
      const done = this.#urgentDone[i];
      if (done === undefined) emit(this.#urgent[i]!);
      else {
        writes++;
        socket.write(this.#urgent[i]!, done); // told once written (or dropped with the socket)
      }
    }
    if (this.#urgent.length > 0) {
      this.#urgent = NONE;
      this.#urgentDone = NONE;
    }
    while (this.#itemHead < this.#items.length) {
      const item = this.#items[this.#itemHead]!;
      if (item.buf === undefined) break; // still compressing: order is kept by waiting
      this.#items[this.#itemHead++] = undefined as unknown as OutItem;
      this.#queued -= item.count;
      if (item.count > 0) this.#queuedBytes -= item.buf.length;
      if (item.seq > this.#handedSeq) this.#handedSeq = item.seq;
      if (gather) {
        if (item.release) {
          // Coalescing copies anyway: take the bytes out of the arena now and free the region.
          gather.push(Buffer.from(item.buf));
          item.release();
        } else gather.push(item.buf);
        inBatch += Math.max(1, item.count);
        if (inBatch >= batchMax) {
          emit(gather.length === 1 ? gather[0]! : Buffer.concat(gather));
          gather = [];
          inBatch = 0;
        }
      } else if (item.release && item.buf.length < LARGE_WRITE) {
        writes++;
        socket.write(item.buf, item.release); // a pool slice: frees its block once written
      } else if (item.release) {
        writes++;
        const release = item.release;
        socket.write(item.buf, () => {
          release();
          this.#written();
        });
      } else if (item.buf.length >= SMALL_FRAME) {
        writes++;
        socket.write(item.buf, () => this.#written());
      } else {
        emit(item.buf);
      }
      // Our own budget, well above the socket's highWaterMark: its write() has returned false
      // by then, so 'drain' will come and resume us.
      if (socket.writableLength >= WRITE_BUDGET) break;
      if (item.buf.length < LARGE_WRITE && socket.writableLength >= SMALL_BATCH_BUDGET) {
        // Enough small frames for one writev: the rest waits for the next turn (senders wait
        // too), so the corked batch stays bounded and short-lived.
        this.#waitingTurn = true;
        this.#schedule();
        break;
      }
      if ((writes & 15) === 15 && performance.now() - started > slice) break;
    }
    if (gather && gather.length > 0) emit(gather.length === 1 ? gather[0]! : Buffer.concat(gather));
    if (this.#itemHead === this.#items.length) {
      this.#items.length = 0;
      this.#itemHead = 0;
    } else if (this.#itemHead > 256) {
      this.#items = this.#items.slice(this.#itemHead);
      this.#itemHead = 0;
    }
    this.#armFlush();
    if (socket.writableLength >= WRITE_BUDGET) this.#waitingDrain = true;
    else if (this.#itemHead < this.#items.length && this.#items[this.#itemHead]!.buf !== undefined) this.#schedule();
    this.#wakeSpaceWaiters();
  }

  #wakeSpaceWaiters(): void {
    while (this.#spaceWaiters.length > 0 && this.#roomy()) {
      this.#spaceWaiters.shift()!.resolve();
      // The woken sender enqueues in a later microtask; count it now so waiters do not overshoot.
      break;
    }
    if (this.#spaceWaiters.length > 0 && this.#roomy()) {
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
        if (w.seq <= handed) w.waiter.resolve();
        else keep.push(w);
      }
      this.#flushWaiters = keep;
    };
    if (this.#socket.writableLength === 0) settleCovered();
    else this.#socket.write(EMPTY, settleCovered);
  }
}

const EMPTY = Buffer.alloc(0);
/** Shared empty array: never pushed to (callers swap in their own array first). */
const NONE: never[] = Object.freeze([]) as unknown as never[];

const kWriter = Symbol("masq.writer");
type WritableSocket = Duplex & { [kWriter]?: FrameWriter };

/** 'drain' listener shared by all connections (`this` is the socket). */
function onSocketDrain(this: WritableSocket): void {
  this[kWriter]?.drained();
}

function runScheduled(writer: FrameWriter): void {
  writer.runScheduled();
}

function spaceTimeout(ms: number): Error {
  return new WebSocketTimeout(`send timed out after ${ms} ms: the send queue stayed full`);
}

function flushTimeout(ms: number): Error {
  return new WebSocketTimeout(`flush timed out after ${ms} ms`);
}
