/**
 * The rules of one WebSocket connection, without I/O (in the style of python-websockets'
 * `Protocol`): which state it is in, which close frames went each way and in which order, which
 * close code answers which failure, when a ping is owed a pong, how manual fragments must follow
 * each other, and the one final error every waiter gets. The caller (`websocket/connection.ts`)
 * feeds it events (frame received, send or close requested, socket ended, failure) and carries
 * out the decisions it returns with sockets and timers; nothing here touches either, so every
 * transition can be tested in memory, event by event.
 */
import { WebSocketClosed, WebSocketError, orderlyClose } from "../errors.js";
import { isValidWireCloseCode } from "./close.js";
import { Opcode } from "./opcodes.js";

/** Where a connection is (RFC 6455 §4.1 OPEN, §7.1.3 CLOSING, §7.1.4 CLOSED). */
export const ConnectionPhase = {
  Open: 0,
  /** A close frame went out (or came in and was answered): no more data from us. */
  Closing: 1,
  Closed: 2,
} as const;
export type ConnectionPhase = (typeof ConnectionPhase)[keyof typeof ConnectionPhase];

/** The options that change the rules. */
export interface ConnectionRules {
  /** Answer the peer's close frame at once (RFC 6455 §5.5.1). */
  autoclose: boolean;
  /** After a failure, messages already queued stay readable before the error. */
  drainOnError: boolean;
}

/** The end of the connection: every waiter gets `error`; `drain` says whether queued messages come first. */
export interface Ending {
  error: WebSocketError;
  drain: boolean;
}

/** What to do with a received ping (see {@link ConnectionState.receivePing}). */
export const PingAction = {
  /** No pong: our close frame is out or the connection failed (RFC 6455 §5.5.1: nothing after close). */
  Ignore: 0,
  /** Send a pong with this payload now; call `pongWritten()` once the socket has written it. */
  Send: 1,
  /** A pong is still in flight: this ping's payload replaced any owed one and goes when it is written. */
  Coalesced: 2,
} as const;
export type PingAction = (typeof PingAction)[keyof typeof PingAction];

/** The steps of a `close()` call. */
export interface CloseSteps {
  /** Send our close frame now (false: it was sent already). */
  sendClose: boolean;
  /** Wait for the peer's close frame (false: it came already). */
  awaitPeer: boolean;
}

/** What the peer's close frame calls for. */
export interface PeerClose {
  /** The error receivers get after the close item. */
  closed: WebSocketClosed;
  /** The close code to echo (autoclose), or undefined when no close frame is to be sent. */
  reply: number | undefined;
}

/** What a failure calls for. */
export interface FailSteps {
  /** Close code to send before dropping TCP (RFC 6455 §7.1.7), or undefined when none may be sent. */
  sendClose: number | undefined;
  ending: Ending;
}

const EMPTY = Buffer.alloc(0);

/** One connection's state and rules; see the module comment. */
export class ConnectionState {
  readonly #rules: ConnectionRules;
  #phase: ConnectionPhase = ConnectionPhase.Open;
  #failure: WebSocketError | undefined;
  #closeSent = false;
  #closeReceived = false;
  #closeCode: number | undefined;
  #closeReason = "";
  /** Type of the manually fragmented message being sent (0: none). */
  #fragmentOpcode = 0;
  /** A pong was handed to the socket and is not written yet. */
  #pongInFlight = false;
  /** The payload of the most recent ping not answered yet (only while a pong is in flight). */
  #owedPong: Buffer | undefined;

  constructor(rules: ConnectionRules) {
    this.#rules = rules;
  }

  get phase(): ConnectionPhase {
    return this.#phase;
  }
  /** The sticky error, once the connection failed or ended. */
  get failure(): WebSocketError | undefined {
    return this.#failure;
  }
  get closeSent(): boolean {
    return this.#closeSent;
  }
  get closeReceived(): boolean {
    return this.#closeReceived;
  }
  /** The peer's close code (1005: empty close frame; 1006: none), undefined while open. */
  get closeCode(): number | undefined {
    return this.#closeCode;
  }
  get closeReason(): string {
    return this.#closeReason;
  }
  /** A pong is owed but waits for the one in flight. */
  get pongOwed(): boolean {
    return this.#owedPong !== undefined;
  }

  // ------------------------------------------------------------------ sending

  /** Why no message may be sent now, or undefined when one may. */
  sendBlocked(): WebSocketError | undefined {
    if (this.#failure) return this.#failure;
    if (this.#phase !== ConnectionPhase.Open || this.#closeSent) {
      return new WebSocketClosed("the connection is closing: no more messages can be sent", this.#closeCode ?? 1000, this.#closeReason);
    }
    return undefined;
  }

  /** True while a manually fragmented message is in progress (its chunks are not checked as whole messages). */
  get fragmenting(): boolean {
    return this.#fragmentOpcode !== 0;
  }

  /**
   * Manual fragmentation (RFC 6455 §5.4): the opcode to put on the wire for a chunk of type
   * `opcode` (TEXT or BINARY) with `more` chunks to follow. The first chunk carries the type and
   * the rest are continuations; the type must be the same on every chunk, else this throws
   * (code 0) and nothing changes.
   */
  dataOpcode(opcode: number, more: boolean): number {
    let wire = opcode;
    if (this.#fragmentOpcode !== 0) {
      if (opcode !== this.#fragmentOpcode) {
        throw new WebSocketError(
          `send: a ${opcode === Opcode.TEXT ? "TEXT" : "BINARY"} chunk cannot continue the ${this.#fragmentOpcode === Opcode.TEXT ? "TEXT" : "BINARY"} message in progress (the type flag must be the same on every fragment)`,
          0,
        );
      }
      wire = Opcode.CONT;
    }
    this.#fragmentOpcode = more ? opcode : 0;
    return wire;
  }

  // ------------------------------------------------------------------ ping / pong

  /**
   * A ping arrived. RFC 6455 §5.5.2 owes it a pong with the same payload; §5.5.3 lets an endpoint
   * that got several pings before answering answer only the most recent one. So at most one pong
   * is in flight and at most one is owed behind it, carrying the latest payload: a peer that
   * pings without reading costs two control frames, not one per ping. A coalesced payload is
   * copied (the received one may be a view of a larger read buffer).
   */
  receivePing(payload: Buffer): PingAction {
    if (this.#closeSent || this.#failure) return PingAction.Ignore;
    if (this.#pongInFlight) {
      this.#owedPong = payload.length === 0 ? EMPTY : Buffer.from(payload);
      return PingAction.Coalesced;
    }
    this.#pongInFlight = true;
    return PingAction.Send;
  }

  /**
   * The pong in flight was written (or dropped with the socket). Returns the owed pong's payload
   * to send now (it is then in flight), or undefined.
   */
  pongWritten(): Buffer | undefined {
    this.#pongInFlight = false;
    const owed = this.#owedPong;
    this.#owedPong = undefined;
    if (owed === undefined || this.#closeSent || this.#failure) return undefined;
    this.#pongInFlight = true;
    return owed;
  }

  // ------------------------------------------------------------------ closing

  /**
   * `close()` was called. Returns null when the connection has already ended (failed,
   * terminated, or both close frames exchanged and answered), else the steps to take; the
   * state is then Closing. Our close frame is sent at most once (RFC 6455 §5.5.1).
   */
  requestClose(): CloseSteps | null {
    if (this.#phase === ConnectionPhase.Closed || this.#failure) return null;
    this.#phase = ConnectionPhase.Closing;
    const sendClose = !this.#closeSent;
    this.#closeSent = true;
    return { sendClose, awaitPeer: !this.#closeReceived };
  }

  /** `close()` waited `timeout` ms and no close frame came: closed with 1006 (§7.1.5), not failed. */
  closeTimedOut(timeout: number): Ending | undefined {
    this.#closeCode ??= 1006;
    return this.finish(new WebSocketClosed(`no close frame from the peer within ${timeout} ms`, 1006), true);
  }

  /**
   * The close handshake finished (`code`: the one we sent, used when the peer's is unknown).
   * After the peer's close frame the clean close recorded then is the answer: no second error.
   */
  closeCompleted(code: number): Ending | undefined {
    if (this.#phase === ConnectionPhase.Closed) return undefined;
    if (this.#failure) return this.finish(this.#failure, true);
    const c = this.#closeCode ?? code;
    return this.finish(orderlyClose(`the connection was closed (${c})`, c, this.#closeReason), true);
  }

  /**
   * The peer's close frame arrived (after every message before it). With `autoclose` and no
   * close frame of ours out yet, we echo its code (1000 for an empty one: 1005 may not be sent,
   * §7.4.1) and the state is Closing; the sticky error is then the clean close.
   */
  receiveClose(code: number, reason: string): PeerClose {
    this.#closeReceived = true;
    this.#closeCode = code;
    this.#closeReason = reason;
    // Built once, without a stack trace (see orderlyClose): every waiter, every later recv and
    // send gets this one object.
    const closed = orderlyClose(`the peer closed the connection (${code}${reason ? " " + reason : ""})`, code, reason);
    let reply: number | undefined;
    if (this.#rules.autoclose && !this.#closeSent) {
      this.#closeSent = true;
      this.#phase = ConnectionPhase.Closing;
      reply = code === 1005 ? 1000 : code;
      this.#failure = closed;
    } else if (this.#closeSent) {
      this.#failure = closed;
    }
    return { closed, reply };
  }

  /**
   * Fails the connection (RFC 6455 §7.1.7): a protocol violation, an overflow, a local error.
   * A close frame with `closeCode` is sent if none was yet, the code may go on the wire and the
   * socket can still write (1006 and other local codes never do). Null when already closed.
   */
  fail(error: WebSocketError, closeCode: number, socketWritable: boolean): FailSteps | null {
    if (this.#phase === ConnectionPhase.Closed) return null;
    let sendClose: number | undefined;
    if (!this.#closeSent && socketWritable && closeCode >= 1000 && isValidWireCloseCode(closeCode)) {
      this.#closeSent = true;
      sendClose = closeCode;
    }
    this.#closeCode ??= closeCode;
    return { sendClose, ending: this.finish(error, this.#rules.drainOnError)! };
  }

  /** `terminate()`: ends at once without a close frame; queued messages stay readable. */
  terminate(): Ending | undefined {
    const error = new WebSocketClosed("the connection was terminated", this.#closeCode ?? 1006, this.#closeReason);
    this.#closeCode ??= 1006;
    return this.finish(error, true);
  }

  /**
   * The socket closed. After the peer's close frame: closed cleanly. After ours only, with no
   * failure other than a clean close: the peer dropped TCP instead of answering, which is still
   * a close (1006), not a failure. Otherwise the connection was lost: abnormal closure (§7.1.5,
   * 1006), with the socket's error as the cause when there was one.
   */
  socketClosed(socketError: Error | undefined): Ending | undefined {
    if (this.#phase === ConnectionPhase.Closed) return undefined;
    if (this.#closeReceived) return this.finish(this.closedError(), true);
    if (this.#closeSent && !(this.#failure && !(this.#failure instanceof WebSocketClosed))) {
      this.#closeCode ??= 1006;
      return this.finish(new WebSocketClosed("the peer ended the connection without a close frame", this.#closeCode, this.#closeReason), true);
    }
    this.#closeCode = 1006;
    const why = socketError ? `: ${socketError.message}` : " without a close frame";
    return this.finish(new WebSocketError(`the connection was lost${why}`, 1006, { cause: socketError }), this.#rules.drainOnError);
  }

  /**
   * Records the end once: state Closed, and the sticky error is the first one recorded (a
   * clean close recorded before a later error stays the answer). Undefined when already closed.
   */
  finish(error: WebSocketError, drain: boolean): Ending | undefined {
    if (this.#phase === ConnectionPhase.Closed) return undefined;
    this.#phase = ConnectionPhase.Closed;
    this.#failure ??= error;
    this.#owedPong = undefined;
    return { error: this.#failure, drain };
  }

  /** The error for a receive after the close item: the clean close, or a description of it. */
  closedError(): WebSocketClosed {
    if (this.#failure instanceof WebSocketClosed) return this.#failure;
    return new WebSocketClosed(`the connection is closed (${this.#closeCode ?? 1005})`, this.#closeCode ?? 1005, this.#closeReason);
  }
}
