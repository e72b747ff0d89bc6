import { WebSocketError, WebSocketTimeout } from "../errors.js";
import { Waiter, type WaitOptions } from "./wait.js";

export type { WaitOptions } from "./wait.js";

/** One received message as the application sees it. */
export interface Received {
  /** The whole message (or the close payload for a CLOSE item). */
  data: Buffer;
  /** WsFlag bits: TEXT, BINARY or CLOSE. */
  flags: number;
}

type RecvWaiter = Waiter<Received>;

/**
 * The bounded queue between the reader and the application.
 *
 * Messages are handed straight to the oldest waiting receiver when there is one (so they never
 * occupy a slot); otherwise they are buffered. Waiters are served strictly first-come-first-served;
 * one that times out or is aborted leaves the line without consuming anything.
 *
 * The queue ends with an error exactly once. With `drain` the buffered messages are still
 * returned before the error; without it they are discarded and the error is raised at once.
 * Data and flags live in two parallel ring arrays so that a message costs no wrapper object
 * until the application asks for one.
 */
export class RecvQueue {
  readonly capacity: number;
  /**
   * A ring of power-of-two size (index mask `#mask`), grown by doubling and never shrunk while
   * the queue lives: refilling a queue that was drained costs no allocation (appending to and
   * truncating plain arrays reallocated their backing store every cycle; ~4% of receiving small
   * messages). Starts as the shared empty ring, so an idle connection allocates none.
   */
  #data: Array<Buffer | undefined> = NO_DATA;
  #flags: Uint8Array = NO_FLAGS;
  #mask = -1;
  #head = 0;
  #count = 0;
  /** Starts as the shared NO_WAITERS (idle connections allocate none); replaced on first wait. */
  #waiters: RecvWaiter[] = NO_WAITERS;
  #waiterHead = 0;
  #error: unknown = undefined;
  #ended = false;
  /**
   * Called when the queue, after having been full, has drained to half its capacity. The
   * hysteresis lets the reader refill half a queue per wake-up instead of one message per
   * `recv` (the socket stays paused meanwhile, so memory stays bounded the same way).
   */
  onSpace: (() => void) | undefined;
  #wasFull = false;
  readonly #lowWater: number;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new WebSocketError(`recvQueueSize must be a positive integer, got ${capacity}`, 0);
    }
    this.capacity = capacity;
    this.#lowWater = capacity >> 1;
  }

  /** Messages buffered and not yet taken. */
  get length(): number {
    return this.#count;
  }

  /** Whether the reader must stop: full now, or not yet drained to half since it was full. */
  get isFull(): boolean {
    if (this.#count >= this.capacity) {
      this.#wasFull = true;
      return true;
    }
    return this.#wasFull;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** True while at least one receiver is waiting. */
  get hasWaiters(): boolean {
    return this.#waiterHead < this.#waiters.length;
  }

  /**
   * Adds a message. Returns false (and stores nothing) only when the queue is full and
   * `force` is not set; the reader decides what a full queue means (pause or fail).
   */
  push(data: Buffer, flags: number, force = false): boolean {
    if (this.#ended) return true; // the application already has the end; late data is moot
    if (this.#waiterHead === this.#waiters.length) {
      // Nobody waiting (the common case under load): buffer it.
      if (!force && this.#count >= this.capacity) return false;
      this.#append(data, flags);
      return true;
    }
    while (this.#waiterHead < this.#waiters.length) {
      const w = this.#waiters[this.#waiterHead]!;
      this.#waiters[this.#waiterHead++] = undefined as unknown as RecvWaiter;
      if (!w.live) continue;
      this.#compactWaiters();
      w.resolve({ data, flags });
      return true;
    }
    this.#compactWaiters();
    if (!force && this.#count >= this.capacity) return false;
    this.#append(data, flags);
    return true;
  }

  #append(data: Buffer, flags: number): void {
    if (this.#count === this.#data.length) this.#grow();
    const i = (this.#head + this.#count) & this.#mask;
    this.#data[i] = data;
    this.#flags[i] = flags;
    this.#count++;
  }

  /** Doubles the ring (first use: 16 slots), keeping the order of what it holds. */
  #grow(): void {
    const old = this.#data;
    const oldFlags = this.#flags;
    const size = old.length === 0 ? 16 : old.length * 2;
    const data = new Array<Buffer | undefined>(size).fill(undefined);
    const flags = new Uint8Array(size);
    for (let k = 0; k < this.#count; k++) {
      const j = (this.#head + k) & this.#mask;
      data[k] = old[j];
      flags[k] = oldFlags[j]!;
    }
    this.#data = data;
    this.#flags = flags;
    this.#mask = size - 1;
    this.#head = 0;
  }

  /** Flags of the next buffered message (call only when `length > 0`). */
  get headFlags(): number {
    return this.#flags[this.#head]!;
  }

  /** Takes the next buffered message synchronously, or returns undefined. */
  tryTake(): Received | undefined {
    if (this.#count === 0) return undefined;
    const flags = this.#flags[this.#head]!;
    return { data: this.shift(), flags };
  }

  /** Removes and returns the next buffered message's data (call only when `length > 0`). */
  shift(): Buffer {
    const head = this.#head;
    const data = this.#data[head]!;
    this.#data[head] = undefined; // the queue must not keep a taken message alive
    this.#head = (head + 1) & this.#mask;
    this.#count--;
    if (this.#count === 0 && this.#data.length > MAX_KEPT_SLOTS) {
      // A burst into a very large recvQueueSize: give the ring back once drained.
      this.#data = NO_DATA;
      this.#flags = NO_FLAGS;
      this.#mask = -1;
      this.#head = 0;
    }
    if (this.#wasFull && this.#count <= this.#lowWater) {
      this.#wasFull = false;
      this.onSpace?.();
    }
    return data;
  }

  /**
   * The next message. Resolves at once when one is buffered; rejects with the end error once
   * the queue has ended and (with drain) nothing is left.
   */
  take(opts?: WaitOptions): Promise<Received> {
    const signal = opts?.signal;
    // An already aborted signal consumes nothing, even when a message is ready.
    if (signal?.aborted) return Promise.reject(signal.reason);
    const item = this.tryTake();
    if (item !== undefined) return Promise.resolve(item);
    if (this.#ended) return Promise.reject(this.#error);
    const w: RecvWaiter = new Waiter(opts, recvTimeout, this.#forget);
    if (this.#waiters === NO_WAITERS) this.#waiters = [];
    this.#waiters.push(w);
    return w.promise;
  }

  /**
   * Ends the queue with `error`. With `drain`, buffered messages stay readable first;
   * waiters (who by definition found the queue empty) are rejected now.
   */
  end(error: unknown, drain: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    if (!drain) {
      this.#data = NO_DATA;
      this.#flags = NO_FLAGS;
      this.#mask = -1;
      this.#head = 0;
      this.#count = 0;
    }
    const waiters = this.#waiters;
    const from = this.#waiterHead;
    this.#waiters = NO_WAITERS;
    this.#waiterHead = 0;
    for (let i = from; i < waiters.length; i++) {
      const w = waiters[i]!;
      w.reject(error);
    }
  }

  /** Removes a waiter that gave up, so that polling with short timeouts cannot grow the line. */
  readonly #forget = (w: RecvWaiter): void => {
    const i = this.#waiters.indexOf(w, this.#waiterHead);
    if (i >= 0) this.#waiters.splice(i, 1);
  };

  #compactWaiters(): void {
    if (this.#waiterHead === this.#waiters.length) {
      this.#waiters = NO_WAITERS;
      this.#waiterHead = 0;
    } else if (this.#waiterHead > 64 && this.#waiterHead * 2 > this.#waiters.length) {
      this.#waiters = this.#waiters.slice(this.#waiterHead);
      this.#waiterHead = 0;
    }
  }
}

const NO_WAITERS: RecvWaiter[] = Object.freeze([]) as unknown as RecvWaiter[];
/** The empty ring every queue starts with (never written: #append grows it first). */
const NO_DATA: Array<Buffer | undefined> = Object.freeze([]) as unknown as Array<Buffer | undefined>;
const NO_FLAGS = new Uint8Array(0);
/** A drained ring larger than this is released (the default recvQueueSize of 128 needs 128). */
const MAX_KEPT_SLOTS = 4096;

function recvTimeout(ms: number): Error {
  return new WebSocketTimeout(`recv timed out after ${ms} ms`);
}
