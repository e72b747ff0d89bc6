/**
 * The event classes of the WHATWG WebSockets standard (https://websockets.spec.whatwg.org/):
 * `CloseEvent` (Node only has a global one from 23 on: ours is used where it is missing) and an
 * `ErrorEvent` carrying the masq error behind a failure (browsers fire a bare `Event`; undici fires
 * an `ErrorEvent` with `error`, which code that logs failures reads).
 *
 * `MessageEvent` is Node's global (every supported Node has it).
 */

/** The base `Event` options (the DOM's EventInit; Node's types keep theirs module-private). */
export interface BaseEventInit {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
}

/** Initial values of a {@link CloseEvent} (WebSockets standard §"The CloseEvent interface"). */
export interface CloseEventInit extends BaseEventInit {
  /** True when the closing handshake completed before TCP closed (default false). */
  wasClean?: boolean;
  /** The close code (default 0). */
  code?: number;
  /** The close reason (default ""). */
  reason?: string;
}

/** The shape every CloseEvent has, whether Node's global or ours. */
export interface CloseEventLike extends Event {
  /** True when the closing handshake completed before TCP closed. */
  readonly wasClean: boolean;
  /** The close code: the peer's, 1005 when its close frame had none, 1006 when none arrived. */
  readonly code: number;
  /** The close reason ("" when none). */
  readonly reason: string;
}

/** masq's CloseEvent, for Node versions without a global one (before 23). */
class MasqCloseEvent extends Event implements CloseEventLike {
  readonly #wasClean: boolean;
  readonly #code: number;
  readonly #reason: string;

  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.#wasClean = Boolean(init.wasClean);
    // WebIDL `unsigned short` conversion of the dictionary member.
    this.#code = (Number(init.code ?? 0) >>> 0) & 0xffff;
    this.#reason = String(init.reason ?? "");
  }

  get wasClean(): boolean {
    return this.#wasClean;
  }

  get code(): number {
    return this.#code;
  }

  get reason(): string {
    return this.#reason;
  }

  get [Symbol.toStringTag](): string {
    return "CloseEvent";
  }
}

/** What `new CloseEvent(type, init)` builds (Node's global class or masq's). */
export type CloseEventConstructor = new (type: string, init?: CloseEventInit) => CloseEventLike;

/**
 * The `CloseEvent` constructor: Node's global where it exists (Node 23+), else masq's own `Event`
 * subclass with the same `wasClean` / `code` / `reason` getters.
 */
export const CloseEvent: CloseEventConstructor =
  ((globalThis as { CloseEvent?: CloseEventConstructor }).CloseEvent as CloseEventConstructor | undefined) ?? MasqCloseEvent;

/** Initial values of an {@link ErrorEvent}. */
export interface ErrorEventInit extends BaseEventInit {
  /** A human-readable description of the failure. */
  message?: string;
  /** The error behind the event: a masq `WebSocketError` subclass for connection failures. */
  error?: unknown;
}

/**
 * The `error` event of a WebSocket: an `Event` with the failure's `message` and `error` (a masq
 * `WebSocketError` subclass: `HandshakeError`, `TlsError`, `ProxyError`, ...), so that a handler
 * can tell why the connection failed. Browsers expose no reason on purpose (cross-origin probing);
 * a Node client has no such concern.
 */
export class ErrorEvent extends Event {
  readonly #message: string;
  readonly #error: unknown;

  constructor(type: string, init: ErrorEventInit = {}) {
    super(type, init);
    this.#message = String(init.message ?? "");
    this.#error = init.error;
  }

  /** A human-readable description of the failure. */
  get message(): string {
    return this.#message;
  }

  /** The error behind the event (a masq `WebSocketError` for connection failures). */
  get error(): unknown {
    return this.#error;
  }

  get [Symbol.toStringTag](): string {
    return "ErrorEvent";
  }
}
