/**
 * The one waiter with a timeout and an AbortSignal, used by every wait a connection offers:
 * `recv()` (recv-queue.ts), a `send()` that waits for room and `flush()` (writer.ts).
 *
 * A waiter is a promise that its owner settles (`resolve`, `reject`) or that settles by itself:
 * after `timeout` ms, or when the signal aborts. Settling in any way clears the timer and removes
 * the abort listener, so a waiter that was served leaves nothing behind; one that gave up by itself
 * calls the owner's `onGiveUp` first, so the owner can take it out of its line.
 */
import { MAX_TIMER_MS } from "./options.js";

/** Per-call wait options (`recv`, `send`). */
export interface WaitOptions {
  /** Milliseconds to wait; `undefined`/`Infinity` waits forever. */
  timeout?: number | undefined;
  /** Aborting rejects with the signal's reason and gives up the place in line. */
  signal?: AbortSignal | undefined;
}

/** One pending wait; see the file comment. */
export class Waiter<T> {
  /** False once settled: served, failed, timed out or aborted. */
  live = true;
  readonly promise: Promise<T>;
  #resolve!: (value: T) => void;
  #reject!: (err: unknown) => void;
  #timer: NodeJS.Timeout | undefined = undefined;
  #signal: AbortSignal | undefined = undefined;
  #onAbort: (() => void) | undefined = undefined;

  /**
   * @param opts the caller's timeout and signal (a timeout over MAX_TIMER_MS, like `Infinity`, waits forever)
   * @param timeoutError the error a timeout rejects with
   * @param onGiveUp runs when the waiter times out or is aborted, before it rejects
   */
  constructor(opts: WaitOptions | undefined, timeoutError: (ms: number) => Error, onGiveUp: (w: Waiter<T>) => void) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    const timeout = opts?.timeout;
    if (timeout !== undefined && timeout <= MAX_TIMER_MS) {
      this.#timer = setTimeout(() => {
        if (!this.live) return;
        onGiveUp(this);
        this.reject(timeoutError(timeout));
      }, Math.max(0, timeout));
    }
    const signal = opts?.signal;
    if (signal) {
      this.#signal = signal;
      this.#onAbort = () => {
        if (!this.live) return;
        onGiveUp(this);
        this.reject(signal.reason);
      };
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** Serves the waiter (no-op once settled). */
  resolve(value: T): void {
    if (!this.live) return;
    this.#settle();
    this.#resolve(value);
  }

  /** Fails the waiter (no-op once settled). */
  reject(err: unknown): void {
    if (!this.live) return;
    this.#settle();
    this.#reject(err);
  }

  #settle(): void {
    this.live = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#onAbort !== undefined) this.#signal!.removeEventListener("abort", this.#onAbort);
  }
}
