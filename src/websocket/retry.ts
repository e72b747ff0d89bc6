import { WebSocketError } from "../errors.js";

/** Options of {@link WebSocketRetryStrategy}. */
export interface RetryOptions {
  /** Turn retries on. Default true when a strategy object is given. */
  retry?: boolean;
  /** Attempts before giving up with the original error. Default 3. */
  count?: number;
  /** Base delay in ms; attempt n waits `delay * 2^(n-1)` ±10%. Default 300. */
  delay?: number;
}

/**
 * Which receive-side failures masq retries, and how.
 *
 * In Node a socket read error (reset, timeout) destroys the socket, so no read error leaves the
 * connection usable and none is retried: they fail at once. The one transient receive failure is
 * a full receive queue with `blockOnRecvQueueFull: false`: instead of failing immediately, the
 * reader holds the message that did not fit, stops reading, and retries after a back-off so that
 * a briefly slow application can catch up. Every successfully queued message resets the count;
 * after `count` failed attempts the connection fails with the original overflow error. Nothing
 * is dropped either way: what the application receives is always a prefix of what was sent.
 */
export class WebSocketRetryStrategy {
  readonly retry: boolean;
  readonly count: number;
  readonly delay: number;

  constructor(opts: RetryOptions = {}) {
    this.retry = opts.retry ?? true;
    this.count = opts.count ?? 3;
    this.delay = opts.delay ?? 300;
    if (!Number.isInteger(this.count) || this.count < 0) throw new WebSocketError(`retry count must be an integer >= 0, got ${this.count}`, 0);
    if (!(this.delay >= 0) || !Number.isFinite(this.delay)) throw new WebSocketError(`retry delay must be a finite number >= 0, got ${this.delay}`, 0);
  }

  /** Delay before attempt `attempt` (1-based): exponential back-off with ±10% jitter. */
  delayFor(attempt: number): number {
    const base = this.delay * 2 ** (attempt - 1);
    return Math.max(0, base * (0.9 + Math.random() * 0.2));
  }
}
