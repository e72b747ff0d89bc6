/**
 * `WebSocket` as the WHATWG WebSockets standard defines it (https://websockets.spec.whatwg.org/),
 * on top of masq's {@link AsyncSession} / {@link AsyncWebSocket}: libraries written for the
 * browser's API (graphql-ws, ethers, engine.io, partysocket, ...) get masq's impersonation,
 * proxies, cookies and queues. Layer 6.5 (DESIGN.md): it imports session.ts, nothing imports it
 * but index.ts.
 *
 * Receive backpressure (a masq choice, documented in the README): while the WebSocket is OPEN and
 * has no `message` listener (nor `onmessage`), messages are not taken from masq's bounded receive
 * queue, so a full queue pauses the socket instead of the standard's dispatching to no one.
 * Messages are dispatched one task (`setImmediate`) per message.
 */
import { getEventListeners } from "node:events";
import { WebSocketError } from "../errors.js";
import { AsyncSession, registerWebSocketBinder, type SessionOptions } from "../session.js";
import type { AsyncWebSocket } from "../websocket/connection.js";
import { WsFlag } from "../websocket/flags.js";
import type { Received } from "../websocket/recv-queue.js";
import { CloseEvent, ErrorEvent, type CloseEventLike } from "./events.js";
import { clampUint16, parseProtocols, parseUrl } from "./arguments.js";
import { SendQueue } from "./send-queue.js";

/**
 * How binary messages are delivered: `"blob"` (the standard's default), `"arraybuffer"`, or
 * `"nodebuffer"` (a Node `Buffer`, without a copy; as the `ws` package offers).
 */
export type BinaryType = "blob" | "arraybuffer" | "nodebuffer";

/** The third constructor argument: masq's connect options, plus the session to connect through. */
export interface WebSocketOptions extends SessionOptions {
  /**
   * The session whose defaults, cookie jar, proxies and impersonation apply. Without one, every
   * such WebSocket shares one default session (one cookie jar, as a browser has).
   */
  session?: AsyncSession;
  /** Initial `binaryType` (default `"blob"`). */
  binaryType?: BinaryType;
}

/** Data `send()` accepts. */
export type WebSocketSendData = string | ArrayBuffer | ArrayBufferView | Blob;

/** An `onopen` / `onmessage` / `onerror` / `onclose` handler for events of type `E` (null: none). */
export type WebSocketEventHandler<E extends Event = Event> = ((this: WebSocket, ev: E) => unknown) | null;

/** A stored handler, whatever its event type. */
type AnyHandler = ((this: WebSocket, ev: Event) => unknown) | null;
type HandlerType = "open" | "message" | "error" | "close";

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
/** `readyState` values: CONNECTING (0), OPEN (1), CLOSING (2), CLOSED (3). */
export type WebSocketReadyState = 0 | 1 | 2 | 3;

let defaultSession: AsyncSession | undefined;

/**
 * A WebSocket with the browser's API (WHATWG WebSockets standard): an `EventTarget` firing
 * `open`, `message`, `error` and `close`, with `send()`, `close()`, `readyState`,
 * `bufferedAmount` and `binaryType`. The third argument takes masq's connect options.
 *
 * @example
 * ```ts
 * const ws = new WebSocket("wss://example.test/feed", [], { impersonate: "chrome", proxy: "socks5h://127.0.0.1:1080" });
 * ws.onmessage = (ev) => console.log(ev.data);
 * ws.onopen = () => ws.send("hello");
 * // or bound to a session: new session.WebSocket(url)
 * ```
 */
export class WebSocket extends EventTarget {
  /** The connection has not yet been established. */
  declare static readonly CONNECTING: 0;
  /** The connection is established and communication is possible. */
  declare static readonly OPEN: 1;
  /** The connection is going through the closing handshake, or close() was called. */
  declare static readonly CLOSING: 2;
  /** The connection has been closed or could not be opened. */
  declare static readonly CLOSED: 3;
  /** {@inheritDoc WebSocket.CONNECTING} */
  declare readonly CONNECTING: 0;
  /** {@inheritDoc WebSocket.OPEN} */
  declare readonly OPEN: 1;
  /** {@inheritDoc WebSocket.CLOSING} */
  declare readonly CLOSING: 2;
  /** {@inheritDoc WebSocket.CLOSED} */
  declare readonly CLOSED: 3;

  readonly #url: string;
  readonly #origin: string;
  readonly #abort = new AbortController();
  readonly #handlers = new Map<HandlerType, { fn: AnyHandler; listener: ((ev: Event) => void) | undefined }>();
  #readyState: WebSocketReadyState = CONNECTING;
  #protocol = "";
  #extensions = "";
  #binaryType: BinaryType = "blob";
  #ws: AsyncWebSocket | undefined;
  #out: SendQueue | undefined;
  /** Bytes passed to send() while CLOSING or CLOSED: the standard still counts them. */
  #unsent = 0;
  /** Wakes the receive loop while it waits for a `message` listener. */
  #wake: (() => void) | undefined;

  /**
   * Starts connecting at once (the outcome arrives as `open`, or `error` then `close`).
   * @param url - ws://, wss://, http:// or https:// (mapped to ws/wss); no fragment.
   * @param protocols - one subprotocol or a list of them (unique RFC 7230 tokens).
   * @param options - masq's connect options and the `session` to use.
   * @throws DOMException `SyntaxError` for an invalid URL or subprotocol list.
   */
  constructor(url: string | URL, protocols?: string | string[], options: WebSocketOptions = {}) {
    super();
    const u = parseUrl(url);
    const list = parseProtocols(protocols);
    this.#url = u.href;
    this.#origin = u.origin;
    const { session, binaryType, ...connect } = options ?? {};
    if (binaryType !== undefined) this.binaryType = binaryType;
    void this.#connect(session ?? (defaultSession ??= new AsyncSession()), u, list, connect);
  }

  /** The URL, as parsed (http/https mapped to ws/wss). */
  get url(): string {
    return this.#url;
  }

  /** CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3). */
  get readyState(): WebSocketReadyState {
    return this.#readyState;
  }

  /** The subprotocol the server chose ("" before open, or when none). */
  get protocol(): string {
    return this.#protocol;
  }

  /** The extensions the server accepted ("" before open, or when none). */
  get extensions(): string {
    return this.#extensions;
  }

  /** Bytes of application data passed to send() and not yet handed to the socket. */
  get bufferedAmount(): number {
    return this.#unsent + (this.#out?.bufferedAmount ?? 0);
  }

  /** How binary messages are delivered (see {@link BinaryType}); an unknown value is ignored. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(type: BinaryType) {
    if (type === "blob" || type === "arraybuffer" || type === "nodebuffer") this.#binaryType = type;
  }

  /**
   * Sends a message: a string as TEXT, anything else as BINARY (the bytes are copied now; a Blob
   * is read first, and what is sent after it waits behind it). While CLOSING or CLOSED the data
   * is dropped but counted in `bufferedAmount`, as the standard says.
   * @throws DOMException `InvalidStateError` while CONNECTING.
   */
  send(data: WebSocketSendData): void {
    if (this.#readyState === CONNECTING) throw new DOMException("send() was called before the connection opened", "InvalidStateError");
    let payload: string | Uint8Array | Blob;
    let size: number;
    if (typeof data === "string") {
      payload = data;
      size = Buffer.byteLength(data, "utf8");
    } else if (data instanceof Blob) {
      payload = data;
      size = data.size;
    } else if (ArrayBuffer.isView(data)) {
      payload = Buffer.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      size = payload.length;
    } else if ((data as unknown) instanceof ArrayBuffer || (data as unknown) instanceof SharedArrayBuffer) {
      payload = Buffer.from(new Uint8Array(data as ArrayBuffer));
      size = payload.length;
    } else {
      payload = String(data); // WebIDL: any other value converts to a string
      size = Buffer.byteLength(payload, "utf8");
    }
    if (this.#readyState !== OPEN) {
      this.#unsent += size;
      return;
    }
    this.#out!.push(payload, size);
  }

  /**
   * Starts the closing handshake after the messages already sent (or abandons a connection
   * attempt). Without a code masq sends 1000.
   * @throws DOMException `InvalidAccessError` for a code other than 1000 or 3000-4999;
   * `SyntaxError` for a reason over 123 bytes of UTF-8.
   */
  close(code?: number, reason?: string): void {
    let wireCode: number | undefined;
    if (code !== undefined) {
      wireCode = clampUint16(code);
      if (wireCode !== 1000 && (wireCode < 3000 || wireCode > 4999)) {
        throw new DOMException(`close code ${wireCode} is neither 1000 nor in 3000-4999`, "InvalidAccessError");
      }
    }
    const why = reason === undefined ? "" : String(reason);
    if (Buffer.byteLength(why, "utf8") > 123) throw new DOMException("the close reason is longer than 123 bytes of UTF-8", "SyntaxError");
    if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
    const connecting = this.#readyState === CONNECTING;
    this.#readyState = CLOSING;
    if (connecting) {
      this.#abort.abort(new WebSocketError("the WebSocket was closed before the connection was established", 1006));
      return;
    }
    this.#wake?.();
    const ws = this.#ws!;
    this.#out!.whenIdle().then(() => ws.close(wireCode ?? 1000, why)).catch(() => {
      // The connection already ended; the close path reports it.
    });
  }

  /** Handler of `open` events (an alternative to addEventListener). */
  get onopen(): WebSocketEventHandler {
    return this.#getHandler("open");
  }
  set onopen(fn: WebSocketEventHandler) {
    this.#setHandler("open", fn);
  }

  /** Handler of `message` events (setting it lets messages flow, see the module note). */
  get onmessage(): WebSocketEventHandler<MessageEvent> {
    return this.#getHandler("message");
  }
  set onmessage(fn: WebSocketEventHandler<MessageEvent>) {
    this.#setHandler("message", fn);
  }

  /** Handler of `error` events ({@link ErrorEvent}: `message` and the masq `error`). */
  get onerror(): WebSocketEventHandler<ErrorEvent> {
    return this.#getHandler("error");
  }
  set onerror(fn: WebSocketEventHandler<ErrorEvent>) {
    this.#setHandler("error", fn);
  }

  /** Handler of `close` events ({@link CloseEvent}: `code`, `reason`, `wasClean`). */
  get onclose(): WebSocketEventHandler<CloseEventLike> {
    return this.#getHandler("close");
  }
  set onclose(fn: WebSocketEventHandler<CloseEventLike>) {
    this.#setHandler("close", fn);
  }

  /** Adds a listener; a `message` listener also lets the receive loop take messages. */
  override addEventListener(
    type: string,
    listener: Parameters<EventTarget["addEventListener"]>[1],
    options?: Parameters<EventTarget["addEventListener"]>[2],
  ): void {
    super.addEventListener(type, listener, options);
    if (type === "message") this.#wake?.();
  }

  get [Symbol.toStringTag](): string {
    return "WebSocket";
  }

  #getHandler<E extends Event>(type: HandlerType): WebSocketEventHandler<E> {
    return (this.#handlers.get(type)?.fn ?? null) as WebSocketEventHandler<E>;
  }

  /** Event handler attributes (HTML §8.1.8.1): one listener per type, added on first set. */
  #setHandler<E extends Event>(type: HandlerType, handler: WebSocketEventHandler<E>): void {
    const fn = handler as AnyHandler;
    let slot = this.#handlers.get(type);
    if (typeof fn !== "function") {
      if (slot?.listener) this.removeEventListener(type, slot.listener);
      this.#handlers.delete(type);
      return;
    }
    if (!slot) {
      slot = { fn, listener: undefined };
      this.#handlers.set(type, slot);
    }
    slot.fn = fn;
    if (!slot.listener) {
      const s = slot;
      slot.listener = (ev: Event): void => {
        s.fn?.call(this, ev);
      };
      this.addEventListener(type, slot.listener);
    }
  }

  async #connect(session: AsyncSession, url: URL, protocols: string[], options: SessionOptions): Promise<void> {
    let ws: AsyncWebSocket;
    try {
      const signal = options.signal ? AbortSignal.any([this.#abort.signal, options.signal]) : this.#abort.signal;
      ws = await session.wsConnect(url, {
        ...options,
        protocols: protocols.length > 0 ? protocols : options.protocols,
        signal,
        // The standard answers the peer's close frame, and dispatches what arrived before a failure.
        autoclose: true,
        drainOnError: options.drainOnError ?? true,
      });
    } catch (err) {
      // "Fail the WebSocket connection": CLOSED, then error, then close (1006, not clean).
      this.#readyState = CLOSED;
      this.#dispatchError(err);
      this.dispatchEvent(new CloseEvent("close", { wasClean: false, code: 1006, reason: "" }));
      return;
    }
    if (this.#readyState !== CONNECTING) {
      // close() ran while the handshake was finishing.
      ws.terminate();
      this.#readyState = CLOSED;
      this.#dispatchError(this.#abort.signal.reason);
      this.dispatchEvent(new CloseEvent("close", { wasClean: false, code: 1006, reason: "" }));
      return;
    }
    this.#ws = ws;
    this.#out = new SendQueue(ws);
    this.#protocol = ws.protocol;
    this.#extensions = ws.extensions;
    this.#readyState = OPEN;
    void ws.ended.then(() => this.#wake?.());
    this.dispatchEvent(new Event("open"));
    await this.#receive(ws);
  }

  /** The message loop: masq's receive queue → one `message` task per message → close. */
  async #receive(ws: AsyncWebSocket): Promise<void> {
    let sawClose = false;
    let failure: unknown;
    for (;;) {
      // No one to hand messages to: leave them in masq's bounded queue (backpressure).
      await this.#whileUnheard(ws);
      let item: Received;
      try {
        item = await ws.recv();
      } catch (err) {
        failure = err;
        break;
      }
      if (item.flags & WsFlag.CLOSE) {
        sawClose = true;
        break;
      }
      // Messages arriving once close() was called are dropped (the task's "if not OPEN, return").
      if (this.#readyState !== OPEN) continue;
      // One task per message, as the standard queues them (microtasks run in between).
      await new Promise<void>((resolve) => setImmediate(resolve));
      // The last listener may have gone while this message was taken: hold it until one comes.
      await this.#whileUnheard(ws);
      if (this.#readyState === OPEN) this.#dispatchMessage(item);
    }
    if (sawClose && this.#readyState === OPEN) this.#readyState = CLOSING;
    await ws.ended;
    this.#readyState = CLOSED;
    if (!sawClose) {
      // No close frame arrived (connection lost, protocol failure, close timeout): error, then 1006.
      this.#dispatchError(failure ?? new WebSocketError("the connection was closed without a close frame", 1006));
      this.dispatchEvent(new CloseEvent("close", { wasClean: false, code: 1006, reason: "" }));
      return;
    }
    this.dispatchEvent(new CloseEvent("close", { wasClean: true, code: ws.closeCode ?? 1005, reason: ws.closeReason }));
  }

  /** Waits while OPEN with no `message` listener (woken by a listener, close(), or the connection's end). */
  async #whileUnheard(ws: AsyncWebSocket): Promise<void> {
    while (this.#readyState === OPEN && !ws.closed && getEventListeners(this, "message").length === 0) {
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }

  #dispatchMessage(item: Received): void {
    let data: string | Blob | ArrayBuffer | Buffer;
    const bytes = item.data;
    if (item.flags & WsFlag.TEXT) data = bytes.toString("utf8");
    else if (this.#binaryType === "nodebuffer") data = bytes;
    else if (this.#binaryType === "arraybuffer") data = toArrayBuffer(bytes);
    else data = new Blob([bytes]);
    this.dispatchEvent(new MessageEvent("message", { data, origin: this.#origin }));
  }

  #dispatchError(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.dispatchEvent(new ErrorEvent("error", { message, error: err }));
  }
}

for (const [name, value] of [["CONNECTING", CONNECTING], ["OPEN", OPEN], ["CLOSING", CLOSING], ["CLOSED", CLOSED]] as const) {
  // WebIDL constants: on the interface object and on the prototype, read-only.
  const desc = { value, enumerable: true, writable: false, configurable: false };
  Object.defineProperty(WebSocket, name, desc);
  Object.defineProperty(WebSocket.prototype, name, desc);
}

registerWebSocketBinder((session) => {
  // `new session.WebSocket(url)`: a subclass whose connections go through `session`, for
  // libraries that only accept a class (graphql-ws webSocketImpl, partysocket's WebSocket option).
  const Base = WebSocket;
  return class WebSocket extends Base {
    constructor(url: string | URL, protocols?: string | string[], options: WebSocketOptions = {}) {
      super(url, protocols, { ...options, session });
    }
  };
});

/** A fresh ArrayBuffer holding exactly these bytes (a received Buffer may view a larger chunk). */
function toArrayBuffer(b: Buffer): ArrayBuffer {
  const ab = new ArrayBuffer(b.length);
  new Uint8Array(ab).set(b);
  return ab;
}
