import { performance } from "node:perf_hooks";
import { MAX_TIMER_MS, type HeartbeatOptions } from "./options.js";

/**
 * What the heartbeat needs from its connection: module-level functions taking the host (as the
 * reader's events), so that a connection with a heartbeat owns one timer and no closures.
 */
export interface HeartbeatEvents<H> {
  /** performance.now() when bytes last arrived. */
  lastActivity(host: H): number;
  /** Send a ping (RFC 6455 §5.5.2: any frame back proves the peer alive, a pong most of all). */
  ping(host: H): void;
  /** Nothing arrived within `timeout` after the ping: fail the connection. */
  expired(host: H, opts: HeartbeatOptions): void;
}

/**
 * One connection's liveness check: one unref'd timer, re-armed lazily. It does not restart on
 * every message: when it fires it looks at when bytes last arrived and, if that was recent,
 * sleeps again until `interval` after it. Only a connection quiet for a whole `interval` gets a
 * ping, and only one that stays quiet for `timeout` after it is failed (RFC 6455 §5.5.2 lets
 * either endpoint ping at any time; a peer that answers nothing, not even with data, is gone).
 */
export class Heartbeat<H> {
  readonly #host: H;
  readonly #events: HeartbeatEvents<H>;
  readonly #opts: HeartbeatOptions;
  #timer: NodeJS.Timeout | undefined;
  /** When our ping went out (0: no ping outstanding). */
  #pingAt = 0;

  constructor(host: H, events: HeartbeatEvents<H>, opts: HeartbeatOptions) {
    this.#host = host;
    this.#events = events;
    this.#opts = opts;
  }

  /** Starts watching (the connection just opened: that counts as activity). */
  start(): void {
    this.#arm(this.#opts.interval);
  }

  /** Stops for good (the connection is closing or ended). */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pingAt = -1;
  }

  /** @internal the timer fired. */
  fire(): void {
    this.#timer = undefined;
    if (this.#pingAt < 0) return; // stopped
    const now = performance.now();
    const last = this.#events.lastActivity(this.#host);
    if (this.#pingAt > 0) {
      if (last >= this.#pingAt) {
        // The peer answered (a pong or anything else): quiet again from its last bytes.
        this.#pingAt = 0;
        this.#arm(last + this.#opts.interval - now);
        return;
      }
      const left = this.#pingAt + this.#opts.timeout - now;
      if (left > 0) {
        this.#arm(Math.min(left, this.#opts.interval));
        return;
      }
      this.stop();
      this.#events.expired(this.#host, this.#opts);
      return;
    }
    const quiet = now - last;
    if (quiet < this.#opts.interval) {
      this.#arm(this.#opts.interval - quiet);
      return;
    }
    this.#pingAt = now;
    this.#events.ping(this.#host);
    // Look again after at most one interval even when the timeout is longer, so that a quick
    // answer lets the next ping go one interval after it, not one timeout after our ping.
    this.#arm(Math.min(this.#opts.timeout, this.#opts.interval));
  }

  #arm(ms: number): void {
    // Beyond setTimeout's range there is nothing to watch for in practice.
    if (ms > MAX_TIMER_MS) return;
    this.#timer = setTimeout(fireHeartbeat, Math.max(1, ms), this);
    this.#timer.unref();
  }
}

function fireHeartbeat(hb: Heartbeat<unknown>): void {
  hb.fire();
}
