import type { WebSocketRetryStrategy } from "./retry.js";
import { validateOptions } from "./validate.js";

/** Tuning of one connection's queues, limits and close behaviour (all times in ms). */
export interface ConnectionOptions {
  /** Messages buffered for the application (default 128). */
  recvQueueSize?: number;
  /** Messages accepted by `send*()` but not yet handed to the socket (default 128). */
  sendQueueSize?: number;
  /**
   * Bytes of framed messages accepted but not yet handed to the socket (default 16 MiB): `send`
   * also waits while the queue holds this much, so 128 queued 1 MiB messages cannot pin 128 MiB.
   * A single larger message is still accepted when the queue is empty.
   */
  maxSendQueueBytes?: number;
  /** Full receive queue: pause the socket (true, default) or fail the connection (false). */
  blockOnRecvQueueFull?: boolean;
  /** Largest received message, after reassembly and decompression (default 4 MiB). */
  maxMessageSize?: number;
  /** Copy up to `maxSendBatchSize` waiting messages into one buffer per socket write (default false). */
  coalesceFrames?: boolean;
  /** Messages per socket write when coalescing (default 64). */
  maxSendBatchSize?: number;
  /** After a fatal error, `recv` returns what was already queued before raising (default false). */
  drainOnError?: boolean;
  /** Retry policy for transient receive failures (see {@link WebSocketRetryStrategy}). */
  wsRetry?: WebSocketRetryStrategy;
  /** The reader yields to the event loop after working this long (default 10). */
  recvTimeSlice?: number;
  /** The writer yields to the event loop after working this long (default 5). */
  sendTimeSlice?: number;
  /** Answer the peer's close frame automatically (default true). */
  autoclose?: boolean;
  /**
   * Liveness check, off by default (`false` turns off a session's for one call): when nothing
   * has been received for `interval` ms a ping is sent, and when nothing at all (a pong or any
   * other frame) arrives within `timeout` ms after it the connection fails with a
   * `WebSocketError` code 1006, "heartbeat timeout" (every waiter gets it; `drainOnError`
   * applies). One unref'd timer per connection, re-armed lazily, never per message.
   */
  heartbeat?: HeartbeatOptions | false;
}

/** The `heartbeat` option (times in ms). */
export interface HeartbeatOptions {
  /** Send a ping once nothing has been received for this long. */
  interval: number;
  /** Fail the connection when nothing arrives this long after that ping. */
  timeout: number;
}

/** {@link ConnectionOptions} with every default applied. */
export interface ResolvedConnectionOptions {
  recvQueueSize: number;
  sendQueueSize: number;
  maxSendQueueBytes: number;
  blockOnRecvQueueFull: boolean;
  maxMessageSize: number;
  coalesceFrames: boolean;
  maxSendBatchSize: number;
  drainOnError: boolean;
  wsRetry: WebSocketRetryStrategy | undefined;
  recvTimeSlice: number;
  sendTimeSlice: number;
  autoclose: boolean;
  /** Undefined: no heartbeat. */
  heartbeat: HeartbeatOptions | undefined;
}

export const DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024;

/** Longest delay setTimeout honours (2^31 - 1 ms); a larger timeout (or Infinity) means no bound. */
export const MAX_TIMER_MS = 0x7fffffff;

/**
 * Applies defaults (the reference's newer values) after the one validation step
 * (validate.ts: types and ranges, a clear WebSocketError with code 0 naming the option).
 */
export function resolveConnectionOptions(o: ConnectionOptions): ResolvedConnectionOptions {
  validateOptions(o);
  return {
    recvQueueSize: o.recvQueueSize ?? 128,
    sendQueueSize: o.sendQueueSize ?? 128,
    maxSendQueueBytes: o.maxSendQueueBytes ?? 16 * 1024 * 1024,
    blockOnRecvQueueFull: o.blockOnRecvQueueFull ?? true,
    maxMessageSize: o.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
    coalesceFrames: o.coalesceFrames ?? false,
    maxSendBatchSize: o.maxSendBatchSize ?? 64,
    drainOnError: o.drainOnError ?? false,
    wsRetry: o.wsRetry,
    recvTimeSlice: o.recvTimeSlice ?? 10,
    sendTimeSlice: o.sendTimeSlice ?? 5,
    autoclose: o.autoclose ?? true,
    heartbeat: heartbeatOf(o.heartbeat),
  };
}

/** The heartbeat option (validate.ts has checked it): a copy, or undefined when off. */
function heartbeatOf(v: HeartbeatOptions | false | undefined): HeartbeatOptions | undefined {
  return v === undefined || v === false ? undefined : { interval: v.interval, timeout: v.timeout };
}
