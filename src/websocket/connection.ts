import type { Duplex } from "node:stream";
import { performance } from "node:perf_hooks";
import { isUtf8 } from "node:buffer";
import { ProtocolError, WebSocketClosed, WebSocketError, WebSocketTimeout } from "../errors.js";
import { decodeClosePayload, encodeClosePayload, isValidWireCloseCode } from "../protocol/close.js";
import { Opcode } from "../protocol/opcodes.js";
import { ConnectionPhase, ConnectionState, PingAction, type Ending } from "../protocol/connection-state.js";
import { WsFlag } from "./flags.js";
import { RecvQueue, type Received, type WaitOptions } from "./recv-queue.js";
import { MessageReader, type ReaderEvents } from "./reader.js";
import { FrameWriter } from "./writer.js";
import { MAX_TIMER_MS, type ResolvedConnectionOptions } from "./options.js";
import type { PerMessageDeflate } from "./deflate.js";
import { Heartbeat, type HeartbeatEvents } from "./heartbeat.js";
import { closeArgsError, flushArgsError, isPlainSend, pingArgsError, recvArgsError, sendArgsError, sendBytesArgsError, sendOptionsError, sendStrArgsError } from "./validate.js";

/** The server's answer to the upgrade request. */
export interface HandshakeResponse {
  /** HTTP status: 101. */
  status: number;
  statusText: string;
  /** Lower-cased header lookup (repeated headers joined). */
  headers: Record<string, string>;
  /** Headers as received, in order and case: [name, value, name, value, ...]. */
  rawHeaders: string[];
  /** The URL that answered 101 (after redirects). */
  url: string;
}

/** Per-call options of `send*()` and `recv*()`. */
export type OperationOptions = WaitOptions;

/** Data `send()` accepts. */
export type SendData = string | Uint8Array | ArrayBuffer | ArrayBufferView;

/** Whoever keeps track of open connections (the session). */
export interface ConnectionOwner {
  ended(ws: AsyncWebSocket): void;
}

/** What the session hands to a new connection. */
export interface ConnectionInit {
  socket: Duplex;
  /** Bytes that followed the 101 response head in the same chunk(s). */
  rest: Buffer;
  options: ResolvedConnectionOptions;
  protocol: string;
  extensions: string;
  response: HandshakeResponse;
  deflate?: PerMessageDeflate | undefined;
  /** Told once when the connection has ended (the session forgets it); shared by a session's connections. */
  owner?: ConnectionOwner | undefined;
}

const kConnection = Symbol("masq.connection");
type ConnSocket = Duplex & { [kConnection]?: AsyncWebSocket };
let READER_EVENTS: ReaderEvents<AsyncWebSocket>;
let HEARTBEAT_EVENTS: HeartbeatEvents<AsyncWebSocket>;
let socketClosed: (ws: AsyncWebSocket) => void;
let socketError: (ws: AsyncWebSocket, err: Error) => void;

const RESOLVED: Promise<void> = Promise.resolve();
/**
 * Messages larger than this are framed and masked one piece per turn of the event loop, so that
 * sending 20 MiB does not hold the loop for the whole copy. A multiple of the writer's 64 KiB
 * fragment size: the frames on the wire are the same as when framed at once.
 */
const SEND_PIECE = 1024 * 1024;

/**
 * One open WebSocket connection with an awaitable API.
 *
 * Sending and receiving are decoupled from the application by two bounded queues: `send*()`
 * resolves once the message is queued (framed and masked already, so the caller may reuse its
 * buffer), and a background writer hands queued frames to the socket in batches; a background
 * reader parses incoming frames into the receive queue and pauses the socket when it is full.
 * Errors are sticky: once the connection has failed, every operation rejects with that error
 * (`recv` first returns what was queued when `drainOnError` is set, or after a clean close).
 *
 * @example
 * ```ts
 * await using ws = await session.wsConnect("ws://127.0.0.1:8080/chat");
 * await ws.sendStr("hello");
 * console.log(await ws.recvStr({ timeout: 5000 }));
 * ```
 */
export class AsyncWebSocket implements AsyncIterable<Buffer>, AsyncDisposable {
  readonly #socket: Duplex;
  readonly #opts: ResolvedConnectionOptions;
  readonly #queue: RecvQueue;
  readonly #writer: FrameWriter;
  readonly #reader: MessageReader<AsyncWebSocket>;
  readonly #deflate: PerMessageDeflate | undefined;
  readonly #owner: ConnectionOwner | undefined;
  /** The connection's rules and state (sans-I/O); this class carries out its decisions. */
  readonly #cs: ConnectionState;
  #closePromise: Promise<void> | undefined;
  #peerClosed: (() => void) | undefined;
  /** Set once the socket has closed; waiters of #whenSocketClosed are resolved then. */
  #socketIsClosed = false;
  #socketCloseWaiters: Array<() => void> | undefined;
  #socketError: Error | undefined;
  #killTimer: NodeJS.Timeout | undefined;
  /** Set while a large message is being framed piece by piece: other sends wait for it (no interleaving, RFC 6455 §5.4). */
  #pieces: Promise<void> | undefined;
  /** Liveness check (the `heartbeat` option); undefined when off. */
  #heartbeat: Heartbeat<AsyncWebSocket> | undefined;
  /** The write callback of our pongs (made on the first pong: most connections never get a ping). */
  #onPongWritten: (() => void) | undefined;

  /** The subprotocol the server chose ("" when none). */
  readonly protocol: string;
  /** The Sec-WebSocket-Extensions the server accepted ("" when none). */
  readonly extensions: string;
  /** Status and headers of the 101 response, and the final URL. */
  readonly response: HandshakeResponse;

  /** @internal Use `AsyncSession.wsConnect`. */
  constructor(init: ConnectionInit) {
    this.#socket = init.socket;
    this.#opts = init.options;
    this.protocol = init.protocol;
    this.extensions = init.extensions;
    this.response = init.response;
    this.#deflate = init.deflate;
    this.#owner = init.owner;
    this.#cs = new ConnectionState(init.options);
    this.#queue = new RecvQueue(init.options.recvQueueSize);
    this.#writer = new FrameWriter(init.socket, init.options);
    this.#reader = new MessageReader<AsyncWebSocket>(init.socket, this.#queue, READER_EVENTS, this, init.options);
    if (init.deflate) this.#reader.setDeflate(init.deflate);
    if (init.options.heartbeat) {
      this.#reader.trackActivity = true;
      this.#reader.lastActivity = performance.now();
      this.#heartbeat = new Heartbeat(this, HEARTBEAT_EVENTS, init.options.heartbeat);
      this.#heartbeat.start();
    }
    const socket = init.socket as ConnSocket;
    socket[kConnection] = this;
    // `on`, not `once`: 'close' comes once anyway, and once() costs a wrapper object and a bound
    // function per connection for as long as it lives.
    socket.on("close", onSocketClose);
    socket.on("error", onSocketError);
    socket.on("end", onSocketEnd);
    this.#reader.start(init.rest);
  }

  // ---------------------------------------------------------------- state

  /** Messages accepted by `send*()` but not yet handed to the socket. */
  get sendQueueSize(): number {
    return this.#writer.queued;
  }

  /** Messages received and waiting in the receive queue. */
  get recvQueueSize(): number {
    return this.#queue.length;
  }

  /** True once no more messages can be sent: closing, closed, terminated or failed. */
  get closed(): boolean {
    return this.#cs.phase !== ConnectionPhase.Open;
  }

  /** The peer's close code (1005 for an empty close frame, 1006 when the connection ended without one); undefined while open. */
  get closeCode(): number | undefined {
    return this.#cs.closeCode;
  }

  /** The peer's close reason ("" when none). */
  get closeReason(): string {
    return this.#cs.closeReason;
  }

  /** Resolves (never rejects) once the connection has ended and its socket has closed, however it ended. */
  get ended(): Promise<void> {
    return this.#whenSocketClosed();
  }

  // ---------------------------------------------------------------- sending

  /**
   * Queues one message. A string is sent as TEXT and bytes as BINARY unless `flags` say
   * otherwise (WsFlag.TEXT / BINARY; add WsFlag.CONT to stream one message in chunks, the type
   * flag on every chunk; WsFlag.PING / PONG send control frames). Resolves once queued; waits
   * while the send queue is full, honouring `timeout` and `signal`.
   */
  send(data: SendData, flags = 0, opts?: OperationOptions): Promise<void> {
    if (!isPlainSend(data, flags, opts)) {
      const invalid = sendArgsError(data, flags, opts);
      if (invalid) return Promise.reject(invalid);
    }
    const blocked = this.#sendBlocked();
    if (blocked) return Promise.reject(blocked);
    if (opts?.signal?.aborted) return Promise.reject(opts.signal.reason);
    if (flags & (WsFlag.PING | WsFlag.PONG | WsFlag.CLOSE | WsFlag.OFFSET)) return this.#sendSpecial(data, flags);
    const isText = (flags & WsFlag.TEXT) !== 0;
    const isBinary = (flags & WsFlag.BINARY) !== 0;
    if (isText && isBinary) return Promise.reject(new WebSocketError("send: flags cannot be both TEXT and BINARY", 0));
    const opcode = isText ? Opcode.TEXT : isBinary ? Opcode.BINARY : typeof data === "string" ? Opcode.TEXT : Opcode.BINARY;
    let payload: Uint8Array;
    try {
      payload = toBytes(data);
    } catch (err) {
      return Promise.reject(err);
    }
    const more = (flags & WsFlag.CONT) !== 0;
    if (opcode === Opcode.TEXT && typeof data !== "string" && !more && !this.#cs.fragmenting && !isUtf8(payload)) {
      return Promise.reject(new WebSocketError("send: a TEXT message must be valid UTF-8", 1007));
    }
    if (this.#pieces === undefined && this.#writer.hasSpace()) {
      try {
        return this.#enqueue(opcode, payload, more) ?? RESOLVED;
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.#sendWhenSpace(opcode, payload, more, opts);
  }

  /** Sends a TEXT message. */
  sendStr(text: string, opts?: OperationOptions): Promise<void> {
    const invalid = sendStrArgsError(text, opts); if (invalid) return Promise.reject(invalid);
    return this.send(text, WsFlag.TEXT, opts);
  }

  /** Sends a BINARY message. */
  sendBytes(bytes: Uint8Array | ArrayBuffer | ArrayBufferView, opts?: OperationOptions): Promise<void> {
    const invalid = sendBytesArgsError(bytes, opts); if (invalid) return Promise.reject(invalid);
    return this.send(bytes, WsFlag.BINARY, opts);
  }

  /** Sends `JSON.stringify(value)` as a TEXT message. */
  sendJson(value: unknown, opts?: OperationOptions): Promise<void> {
    const invalid = sendOptionsError(opts, "sendJson"); if (invalid) return Promise.reject(invalid);
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (err) {
      return Promise.reject(new WebSocketError(`sendJson: value is not serialisable: ${(err as Error).message}`, 0, { cause: err }));
    }
    if (text === undefined) return Promise.reject(new WebSocketError("sendJson: value is not serialisable to JSON", 0));
    return this.send(text, WsFlag.TEXT, opts);
  }

  /** Sends a PING (payload at most 125 bytes). The PONG is consumed internally. */
  ping(payload: SendData = EMPTY): Promise<void> {
    const invalid = pingArgsError(payload); if (invalid) return Promise.reject(invalid);
    const blocked = this.#sendBlocked();
    if (blocked) return Promise.reject(blocked);
    return this.#sendSpecial(payload, WsFlag.PING);
  }

  /** Resolves when everything queued before the call has been written to the socket. */
  flush(opts?: { timeout?: number }): Promise<void> {
    const invalid = flushArgsError(opts); if (invalid) return Promise.reject(invalid);
    if (this.#writer.failed) return Promise.reject(this.#cs.failure);
    // A large message being framed piece by piece was queued before this call: cover all of it.
    if (this.#pieces) return this.#pieces.then(() => this.flush(opts));
    return this.#writer.flush(opts?.timeout);
  }

  #sendBlocked(): WebSocketError | undefined {
    return this.#cs.sendBlocked();
  }

  async #sendWhenSpace(opcode: number, payload: Uint8Array, more: boolean, opts?: OperationOptions): Promise<void> {
    while (this.#pieces !== undefined) await this.#waitForPieces(this.#pieces, opts);
    if (!this.#writer.hasSpace()) await this.#writer.waitForSpace(opts);
    const blocked = this.#sendBlocked();
    if (blocked) throw blocked;
    await this.#enqueue(opcode, payload, more);
  }

  /** Waits for the large message in progress, honouring the caller's timeout and signal. */
  #waitForPieces(pieces: Promise<void>, opts?: OperationOptions): Promise<void> {
    const timeout = opts?.timeout;
    const signal = opts?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if ((timeout === undefined || timeout > MAX_TIMER_MS) && !signal) return pieces;
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const onAbort = (): void => {
        done();
        reject(signal!.reason);
      };
      const timer =
        timeout === undefined || timeout > MAX_TIMER_MS
          ? undefined
          : setTimeout(() => {
              done();
              reject(new WebSocketTimeout(`send timed out after ${timeout} ms: a large message was still being queued`));
            }, Math.max(0, timeout));
      signal?.addEventListener("abort", onAbort, { once: true });
      void pieces.then(() => {
        done();
        resolve();
      });
    });
  }

  /**
   * Frames a message larger than SEND_PIECE one piece per event-loop turn (each piece's 64 KiB
   * frames continue the message: RFC 6455 §5.4), waiting for queue space between pieces. The
   * returned promise resolves once the last piece is queued: only then may the caller reuse its
   * buffer. Control frames may still go between pieces (§5.4 allows them inside a fragmented
   * message); data frames and our close frame wait for the end.
   */
  async #enqueueInPieces(opcode: number, payload: Uint8Array, fin: boolean): Promise<void> {
    let release!: () => void;
    this.#pieces = new Promise<void>((r) => (release = r));
    try {
      for (let off = 0; off < payload.length; off += SEND_PIECE) {
        if (off > 0) {
          await new Promise<void>((r) => setImmediate(r));
          if (!this.#writer.hasSpace()) await this.#writer.waitForSpace();
          if (this.#writer.failed) throw this.#cs.failure;
        }
        const end = Math.min(payload.length, off + SEND_PIECE);
        this.#writer.enqueue(off === 0 ? opcode : Opcode.CONT, payload.subarray(off, end), end === payload.length && fin);
      }
    } finally {
      this.#pieces = undefined;
      release();
    }
  }

  /** Queues a message; a promise when it is large and queued piece by piece (see #enqueueInPieces). */
  #enqueue(opcode: number, payload: Uint8Array, more: boolean): Promise<void> | undefined {
    // Manual fragmentation (RFC 6455 §5.4): the state knows the message in progress.
    const wireOpcode = this.#cs.dataOpcode(opcode, more);
    // Hot path (small, uncompressed): kept tiny so that V8 inlines it into send().
    if (this.#deflate === undefined && payload.length <= SEND_PIECE) {
      this.#writer.enqueue(wireOpcode, payload, !more);
      return undefined;
    }
    return this.#enqueueLarge(wireOpcode, payload, more);
  }

  /** {@link #enqueue} for compressed connections and messages sent in pieces. */
  #enqueueLarge(wireOpcode: number, payload: Uint8Array, more: boolean): Promise<void> | undefined {
    const deflate = this.#deflate;
    if (deflate && !more && wireOpcode !== Opcode.CONT && deflate.shouldCompress(payload.length)) {
      // RFC 7692 §6.1: compress whole messages only (manual fragments go uncompressed).
      const supply = this.#writer.enqueueDeferred();
      const copy = Buffer.from(payload); // the caller may reuse its buffer once send() resolved
      deflate.compress(copy).then(
        (compressed) => supply(wireOpcode, compressed, true, true),
        (err) => this.#fail(new WebSocketError(`compression failed: ${(err as Error).message}`, 1011, { cause: err }), 1011),
      );
      return undefined;
    }
    if (payload.length > SEND_PIECE) return this.#enqueueInPieces(wireOpcode, payload, !more);
    this.#writer.enqueue(wireOpcode, payload, !more);
    return undefined;
  }

  #sendSpecial(data: SendData, flags: number): Promise<void> {
    let payload: Uint8Array;
    try {
      payload = toBytes(data);
    } catch (err) {
      return Promise.reject(err);
    }
    if (flags & WsFlag.OFFSET) {
      return Promise.reject(new WebSocketError("send: WsFlag.OFFSET only describes received partial frames; masq always sends whole frames", 0));
    }
    if (flags & WsFlag.CLOSE) {
      let code = 1000;
      let reason = "";
      if (payload.length > 0) {
        try {
          ({ code, reason } = decodeClosePayload(payload));
        } catch (err) {
          return Promise.reject(err);
        }
      }
      return this.close(code, reason);
    }
    if (payload.length > 125) {
      return Promise.reject(new WebSocketError(`a control frame payload is at most 125 bytes (RFC 6455 §5.5), got ${payload.length}`, 0));
    }
    this.#writer.enqueueUrgent(flags & WsFlag.PING ? Opcode.PING : Opcode.PONG, payload);
    return RESOLVED;
  }

  // ---------------------------------------------------------------- receiving

  /**
   * The next message as `{ data, flags }` (flags: WsFlag.TEXT or BINARY). When the peer's close
   * frame arrives, resolves once with `{ data: <close payload>, flags: WsFlag.CLOSE }`; after
   * that rejects with {@link WebSocketClosed}. A timeout rejects with {@link WebSocketTimeout}
   * and loses nothing.
   */
  recv(opts?: OperationOptions): Promise<Received> {
    const invalid = recvArgsError(opts); if (invalid) return Promise.reject(invalid);
    return this.#queue.take(opts);
  }

  /** The next TEXT message as a string. A BINARY message rejects with code 1007 (and is consumed). */
  async recvStr(opts?: OperationOptions): Promise<string> {
    const invalid = recvArgsError(opts, "recvStr"); if (invalid) return Promise.reject(invalid);
    const { data, flags } = await this.#queue.take(opts);
    if (flags & WsFlag.CLOSE) throw this.#closedError();
    if (!(flags & WsFlag.TEXT)) throw new WebSocketError("recvStr: received a BINARY message, expected TEXT", 1007);
    return data.toString("utf8");
  }

  /** The next message's bytes (TEXT or BINARY). */
  async recvBytes(opts?: OperationOptions): Promise<Buffer> {
    const invalid = recvArgsError(opts, "recvBytes"); if (invalid) return Promise.reject(invalid);
    const { data, flags } = await this.#queue.take(opts);
    if (flags & WsFlag.CLOSE) throw this.#closedError();
    return data;
  }

  /** The next TEXT message parsed as JSON. Invalid or empty JSON rejects with code 1007. */
  async recvJson<T = unknown>(opts?: OperationOptions): Promise<T> {
    const invalid = recvArgsError(opts, "recvJson"); if (invalid) return Promise.reject(invalid);
    const text = await this.recvStr(opts);
    if (text.length === 0) throw new WebSocketError("recvJson: received an empty TEXT message", 1007);
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new WebSocketError(`recvJson: the message is not valid JSON: ${(err as Error).message}`, 1007, { cause: err });
    }
  }

  /**
   * Iterates over message payloads (one Buffer per message). Ends without error when the
   * connection closes cleanly; throws the connection's error otherwise. Leaving the loop early
   * does not close the connection.
   */
  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    const queue = this.#queue;
    const done: IteratorResult<Buffer> = { value: undefined, done: true };
    const onItem = (item: Received): IteratorResult<Buffer> =>
      item.flags & WsFlag.CLOSE ? done : { value: item.data, done: false };
    const onError = (err: unknown): IteratorResult<Buffer> => {
      if (err instanceof WebSocketClosed) return done;
      throw err;
    };
    return {
      next: () => {
        // Fast path without an intermediate { data, flags } object.
        if (queue.length > 0) {
          if (queue.headFlags & WsFlag.CLOSE) {
            queue.shift();
            return Promise.resolve(done);
          }
          return Promise.resolve({ value: queue.shift(), done: false });
        }
        return queue.take().then(onItem, onError);
      },
      return: () => Promise.resolve(done),
    };
  }

  // ---------------------------------------------------------------- closing

  /**
   * Closes gracefully: sends a close frame after everything already queued, waits up to
   * `timeout` ms (default 3000) for the peer's close frame, then ends the connection.
   * Idempotent: later calls return the same promise. Never rejects for a peer that does not answer.
   */
  close(code = 1000, reason = "", opts?: { timeout?: number }): Promise<void> {
    const invalid = closeArgsError(code, reason, opts); if (invalid) return Promise.reject(invalid);
    if (this.#closePromise) return this.#closePromise;
    if (!isValidWireCloseCode(code)) {
      return Promise.reject(new WebSocketError(`close: ${code} is not a close code that may be sent (1000-1003, 1007-1014, 3000-4999)`, 0));
    }
    let payload: Buffer;
    try {
      payload = encodeClosePayload(code, reason);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#closePromise = this.#runClose(payload, code, opts?.timeout ?? 3000);
    return this.#closePromise;
  }

  /** Ends the connection at once, without a close frame; every waiter gets {@link WebSocketClosed}. */
  terminate(): void {
    if (this.#cs.phase === ConnectionPhase.Closed && this.#socket.destroyed) return;
    this.#end(this.#cs.terminate());
    this.#socket.destroy();
  }

  /** `await using` support: a graceful close. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #runClose(payload: Buffer, code: number, timeout: number): Promise<void> {
    // Our close frame goes after everything queued: a large message being queued finishes first.
    while (this.#pieces !== undefined) await this.#pieces;
    // null: already ended (failed, terminated, or the close handshake finished).
    const steps = this.#cs.requestClose();
    if (steps === null) return;
    this.#heartbeat?.stop(); // the close handshake has its own timeout
    if (steps.sendClose) this.#writer.enqueueInOrder(Opcode.CLOSE, payload);
    // One timer bounds both waits below (a timer costs a few µs per connection): when it fires,
    // `expired` is set and whichever wait is under way ends.
    let expired = false;
    let wake: (() => void) | undefined;
    const timer =
      timeout <= MAX_TIMER_MS // beyond setTimeout's range (or Infinity) there is no bound
        ? setTimeout(() => {
            expired = true;
            wake?.();
          }, timeout)
        : undefined;
    try {
      if (steps.awaitPeer) {
        // The peer's close frame, or the socket closing without one.
        await new Promise<void>((resolve) => {
          wake = resolve;
          this.#peerClosed = resolve;
          this.#onceSocketClosed(resolve);
        });
        if (expired && !this.#cs.closeReceived) {
          this.#end(this.#cs.closeTimedOut(timeout));
          this.#socket.destroy();
          return;
        }
      }
      // Both close frames exchanged: the server should close TCP first (RFC 6455 §7.1.1); give it
      // what is left of the timeout, then close it ourselves.
      this.#writer.pumpNow();
      if (!this.#socket.destroyed && !this.#socket.writableEnded) this.#socket.end();
      if (!expired && !this.#socketIsClosed) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          this.#onceSocketClosed(resolve);
        });
      }
    } finally {
      clearTimeout(timer);
    }
    this.#end(this.#cs.closeCompleted(code));
    this.#socket.destroy();
  }

  /** Calls `fn` once the socket has closed (at once if it has). */
  #onceSocketClosed(fn: () => void): void {
    if (this.#socketIsClosed) fn();
    else (this.#socketCloseWaiters ??= []).push(fn);
  }

  /** Resolves once the socket has closed (created on demand: most connections never ask). */
  #whenSocketClosed(): Promise<void> {
    if (this.#socketIsClosed) return RESOLVED;
    return new Promise<void>((resolve) => (this.#socketCloseWaiters ??= []).push(resolve));
  }

  static {
    // Listeners and reader callbacks are module-level functions reaching the connection through
    // the socket (as ws does), not closures per connection: idle connections stay small.
    READER_EVENTS = {
      onPing: (ws, data) => ws.#onPing(data),
      onClose: (ws, code, reason, data) => ws.#onPeerClose(code, reason, data),
      onFatal: (ws, err, code) => ws.#fail(err, code),
    };
    HEARTBEAT_EVENTS = {
      // While we hold reading ourselves (the application is behind), silence is ours, not the peer's.
      lastActivity: (ws) => (ws.#reader.holding ? performance.now() : ws.#reader.lastActivity),
      ping: (ws) => ws.#writer.enqueueUrgent(Opcode.PING, EMPTY),
      expired: (ws, o) => {
        // A peer that answers nothing is gone (or unreachable): abnormal closure, 1006 (RFC 6455
        // §7.1.5; no close frame, it would not be read). Drop TCP at once rather than wait for a FIN.
        const err = new WebSocketError(`heartbeat timeout: nothing received within ${o.timeout} ms of a ping sent after ${o.interval} ms of silence`, 1006);
        ws.#fail(err, 1006);
        ws.#socket.destroy();
      },
    };
    socketClosed = (ws) => {
      ws.#socketIsClosed = true;
      const waiters = ws.#socketCloseWaiters;
      ws.#socketCloseWaiters = undefined;
      if (waiters) for (const w of waiters) w();
      ws.#onSocketClosed();
    };
    socketError = (ws, err) => {
      ws.#socketError ??= err;
    };
  }

  /**
   * RFC 6455 §5.5.2: answer with a PONG carrying the same payload, ahead of queued data. The
   * state coalesces pongs (§5.5.3): one in flight, at most one owed behind it. While one is owed
   * (the socket has not yet written the previous one) the reader stops: a peer that pings faster
   * than the socket takes our answers, or pings without reading at all, is read at the pace of
   * our pongs and meets TCP backpressure, instead of growing our memory with pongs or with the
   * garbage of parsing its flood. Rare pings never wait (the first one is answered at once).
   */
  #onPing(data: Buffer): void {
    const action = this.#cs.receivePing(data);
    if (action === PingAction.Send) this.#sendPong(data);
    else if (action === PingAction.Coalesced) this.#reader.holdForReply();
  }

  #sendPong(payload: Uint8Array): void {
    this.#writer.enqueueUrgent(Opcode.PONG, payload, (this.#onPongWritten ??= () => this.#pongWritten()));
  }

  /** The pong in flight was written (or dropped with the socket): send the owed one, read on. */
  #pongWritten(): void {
    const owed = this.#cs.pongWritten();
    if (owed !== undefined) this.#sendPong(owed);
    this.#reader.releaseReply();
  }

  #onPeerClose(code: number, reason: string, data: Buffer): void {
    const { closed, reply } = this.#cs.receiveClose(code, reason);
    this.#queue.push(data, WsFlag.CLOSE, true);
    // Messages queued before the close frame stay readable, then the CLOSE item, then this error.
    this.#queue.end(closed, true);
    this.#peerClosed?.();
    if (reply !== undefined) {
      // RFC 6455 §5.5.1: echo the status code (the state turned 1005 into 1000).
      this.#writer.enqueueInOrder(Opcode.CLOSE, encodeClosePayload(reply));
      this.#writer.pumpNow();
      this.#endAfterWrites();
    }
  }

  /** Half-closes once queued frames are out, and destroys the socket if the peer lingers. */
  #endAfterWrites(): void {
    const socket = this.#socket;
    const end = (): void => {
      if (!socket.destroyed && !socket.writableEnded) socket.end();
      this.#killTimer = setTimeout(() => socket.destroy(), 3000);
      this.#killTimer.unref?.();
    };
    if (this.#writer.queued === 0) end();
    else this.#writer.flush().then(end, () => socket.destroy());
  }

  /** Fails the connection: RFC 6455 §7.1.7, send a close frame with `closeCode`, then drop TCP. */
  #fail(err: WebSocketError, closeCode: number): void {
    const steps = this.#cs.fail(err, closeCode, !this.#socket.destroyed);
    if (steps === null) return;
    this.#reader.stop();
    if (steps.sendClose !== undefined) {
      this.#writer.enqueueUrgent(Opcode.CLOSE, encodeClosePayload(steps.sendClose));
      this.#writer.pumpNow();
    }
    this.#end(steps.ending);
    if (!this.#socket.destroyed && !this.#socket.writableEnded) this.#socket.end();
    this.#killTimer = setTimeout(() => this.#socket.destroy(), 1000);
    this.#killTimer.unref?.();
  }

  /**
   * Carries out the end the state recorded (undefined: it had ended already): every waiter gets
   * the one final error, queued messages first when `drain`.
   */
  #end(ending: Ending | undefined): void {
    if (ending === undefined) return;
    this.#heartbeat?.stop();
    this.#reader.stop();
    this.#writer.fail(ending.error);
    this.#queue.end(ending.error, ending.drain);
    this.#peerClosed?.();
    this.#owner?.ended(this);
  }

  #onSocketClosed(): void {
    if (this.#killTimer) clearTimeout(this.#killTimer);
    this.#deflate?.close();
    // The state decides how the end reads: closed after a close frame, lost otherwise (§7.1.5).
    this.#end(this.#cs.socketClosed(this.#socketError));
  }

  #closedError(): WebSocketClosed {
    return this.#cs.closedError();
  }
}

const EMPTY = Buffer.alloc(0);

function onSocketClose(this: ConnSocket): void {
  const ws = this[kConnection];
  if (ws) socketClosed(ws);
}

function onSocketError(this: ConnSocket, err: Error): void {
  const ws = this[kConnection];
  if (ws) socketError(ws, err);
}

/** A half-closed peer: RFC 6455 §7.1.1 lets the server close TCP first; 'close' follows. */
function onSocketEnd(this: ConnSocket): void {
  // Usually our side has ended already (the close handshake's end()): a second end() would only
  // build an ERR_STREAM_ALREADY_FINISHED error for nothing.
  if (!this.destroyed && !this.writableEnded) this.end();
}

/** Bytes of a send payload without copying (strings are encoded). */
function toBytes(data: SendData): Uint8Array {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new WebSocketError(`send: unsupported data type ${Object.prototype.toString.call(data)}`, 0);
}

export { ProtocolError, WebSocketTimeout };
