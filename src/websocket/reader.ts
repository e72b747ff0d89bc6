import { performance } from "node:perf_hooks";
import type { Duplex } from "node:stream";
import { isUtf8 } from "node:buffer";
import { ProtocolError, WebSocketError } from "../errors.js";
import { FrameParser, type FrameEvent } from "../protocol/parser.js";
import type { RecvQueue } from "./recv-queue.js";
import type { PerMessageDeflate } from "./deflate.js";
import type { WebSocketRetryStrategy } from "./retry.js";
import { WsFlag } from "./flags.js";
import { directReadPort, type DirectReadPort, type DirectReadSink } from "../transport/direct-read.js";

/**
 * What the reader reports to its host (the connection). Module-level functions taking the host,
 * not per-connection closures: an idle connection should cost as little memory as possible.
 */
export interface ReaderEvents<H> {
  onPing(host: H, data: Buffer): void;
  /** The peer's close frame, after every message before it was queued. */
  onClose(host: H, code: number, reason: string, data: Buffer): void;
  /** A protocol violation (ProtocolError) or a receive-queue overflow: fail the connection. */
  onFatal(host: H, error: WebSocketError, closeCode: number): void;
}

/** The reader's share of the connection options. */
export interface ReaderOptions {
  maxMessageSize: number;
  blockOnRecvQueueFull: boolean;
  recvTimeSlice: number;
  wsRetry: WebSocketRetryStrategy | undefined;
}

const kReader = Symbol("masq.reader");
type ReadableSocket = Duplex & { [kReader]?: MessageReader<unknown> };

/** 'data' listener shared by all connections (`this` is the socket). */
function onSocketData(this: ReadableSocket, chunk: Buffer): void {
  this[kReader]?.onData(chunk);
}

function endSlice(reader: MessageReader<unknown>): void {
  reader.endSlice();
}

const PAUSE_QUEUE = 1;
const PAUSE_SLICE = 2;
const PAUSE_INFLATE = 4;
const PAUSE_RETRY = 8;
/** A control reply (a pong) is owed and the socket cannot take it yet: read no more until it can. */
const PAUSE_REPLY = 16;
/** Bytes the parser may hold unparsed while the reader yields a time slice before the socket is paused. */
const SLICE_BACKLOG = 4 * 1024 * 1024;
/**
 * Smallest rest of a frame payload worth a read of its own into the message buffer; shorter
 * rests come with the next frames in an ordinary chunk.
 */
const DIRECT_MIN = 8 * 1024;

/**
 * The receive side: socket chunks go into the sans-I/O parser, whose events go into the receive
 * queue. The reader pulls one event at a time, so it can stop between any two messages: when the
 * queue is full (the socket is paused, and TCP backpressure reaches the server), while a compressed
 * message is being inflated (order is kept), and when it has worked longer than `recvTimeSlice`
 * (it yields to the event loop and carries on in a later turn).
 */
export class MessageReader<H> implements DirectReadSink {
  readonly #socket: ReadableSocket;
  /** Set when the socket reads through a direct-read port (plain TCP): large payloads land in place. */
  #port: DirectReadPort | undefined;
  readonly #queue: RecvQueue;
  readonly #events: ReaderEvents<H>;
  readonly #host: H;
  readonly #opts: ReaderOptions;
  /** Replaced by an empty parser on stop(), so a stopped connection keeps no unread bytes. */
  #parser: FrameParser;
  #deflate: PerMessageDeflate | undefined;
  #paused = 0;
  /** Whether we told the socket to stop flowing (tracked to avoid redundant pause/resume calls). */
  #socketPaused = false;
  #stopped = false;
  #closeSeen = false;
  /** A message that did not fit a full non-blocking queue, waiting for a retry. */
  #held: { data: Buffer; flags: number } | undefined;
  #retries = 0;
  /** Start of the current event-loop turn's work, and whether a turn boundary is scheduled. */
  #sliceStart = 0;
  #sliceArmed = false;
  #sliceCount = 0;
  /**
   * When bytes last arrived (performance.now()), kept only when `trackActivity` is set (the
   * heartbeat reads it): one clock read per socket read, not per message.
   */
  lastActivity = 0;
  trackActivity = false;

  /** @internal socket 'data' (through the shared listener). */
  onData(chunk: Buffer): void {
    if (this.trackActivity) this.lastActivity = performance.now();
    this.#parser.push(chunk);
    if (this.#paused === 0) this.#pump();
    else if (!this.#socketPaused && this.#parser.bufferedBytes > SLICE_BACKLOG) {
      // Yielding for a time slice with the socket still flowing: bound what piles up meanwhile.
      this.#socketPaused = true;
      this.#socket.pause();
    }
  }

  /** @internal direct-read: where the socket may put its next read (a frame payload's rest). */
  readTarget(): Uint8Array | undefined {
    if (this.#stopped) return undefined;
    return this.#parser.directTarget(DIRECT_MIN) ?? undefined;
  }

  /** @internal direct-read: `n` bytes landed in the last target. */
  onDirect(n: number): void {
    if (this.#stopped) return;
    if (this.trackActivity) this.lastActivity = performance.now();
    try {
      this.#parser.commitDirect(n);
    } catch (err) {
      // Only a broken invariant lands here (bytes for a target the parser no longer offers):
      // fail this connection loudly rather than throw inside Node's read callback.
      this.#fatal(err);
      return;
    }
    if (this.#paused === 0) this.#pump();
  }

  /** @internal the turn boundary scheduled by #pump. */
  endSlice(): void {
    this.#sliceArmed = false;
    this.#unpause(PAUSE_SLICE);
  }

  constructor(socket: Duplex, queue: RecvQueue, events: ReaderEvents<H>, host: H, opts: ReaderOptions) {
    this.#socket = socket;
    this.#queue = queue;
    this.#events = events;
    this.#host = host;
    this.#opts = opts;
    this.#parser = new FrameParser({ maxMessageSize: opts.maxMessageSize });
    queue.onSpace = () => this.#unpause(PAUSE_QUEUE);
  }

  /** Enables RSV1 / inflation after permessage-deflate was negotiated. */
  setDeflate(deflate: PerMessageDeflate): void {
    this.#deflate = deflate;
    this.#parser.rsv1Allowed = true;
  }

  /** Starts reading: `rest` holds bytes that arrived with the handshake response. */
  start(rest: Buffer): void {
    if (rest.length > 0) this.#parser.push(rest);
    this.#socket[kReader] = this as MessageReader<unknown>;
    this.#socket.on("data", onSocketData);
    this.#port = directReadPort(this.#socket);
    if (this.#port) this.#port.sink = this;
    // The handshake leaves the socket paused, except a direct-read TCP socket that saw nothing
    // after the head (it keeps flowing: no readStop/readStart per connect). Take the state as it
    // is: believing a flowing socket paused would skip the pause that a full queue needs, and a
    // flooding server would then fill memory instead of meeting TCP backpressure.
    this.#socketPaused = this.#socket.isPaused();
    this.#pump();
  }

  /** Stops for good (the connection ended); nothing more is parsed or queued. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#socket.off("data", onSocketData);
    if (this.#port) this.#port.sink = undefined;
    // Let the socket flow again (discarding data) so that the peer's FIN and 'close' arrive.
    this.#socketPaused = false;
    this.#socket.resume();
    // Nothing more is parsed: let go of unread bytes (up to SLICE_BACKLOG of read slabs) now,
    // not when the application drops the connection object.
    if (this.#parser.bufferedBytes > 0) this.#parser = new FrameParser({ maxMessageSize: this.#opts.maxMessageSize });
  }

  /**
   * True while we hold reading for our own reasons (full receive queue, inflation, a retry):
   * silence from the socket then says nothing about the peer (the heartbeat ignores it). An
   * owed pong that the peer does not read is not ours: it does not count.
   */
  get holding(): boolean {
    return (this.#paused & ~(PAUSE_SLICE | PAUSE_REPLY)) !== 0;
  }

  /** Stops reading until {@link releaseReply}: an owed control reply cannot be written yet. */
  holdForReply(): void {
    if (!this.#stopped) this.#pause(PAUSE_REPLY);
  }

  /** The owed reply went to the socket: read on. */
  releaseReply(): void {
    this.#unpause(PAUSE_REPLY);
  }

  #pause(reason: number): void {
    this.#paused |= reason;
    // A time-slice yield lasts one turn of the event loop: the socket keeps flowing (what
    // arrives meanwhile is at most one turn's reads, buffered in the parser). Stopping it would
    // close the TCP window for nothing and stall the peer (wss receive of 1 MiB messages went
    // from 0.70x to 0.92x ws). onData pauses it if more than SLICE_BACKLOG piles up meanwhile.
    if (reason === PAUSE_SLICE) return;
    if (!this.#socketPaused) {
      this.#socketPaused = true;
      this.#socket.pause();
    }
  }

  /**
   * Clears a pause reason and parses on. The socket itself is resumed only once the parser has
   * run out of buffered bytes, so a full queue that drains one message at a time costs one
   * parse per message, not a pause/resume pair.
   */
  #unpause(reason: number): void {
    if ((this.#paused & reason) === 0) return;
    this.#paused &= ~reason;
    if (this.#paused !== 0 || this.#stopped) return;
    this.#pump();
  }

  #pump(): void {
    if (this.#stopped || this.#closeSeen) return;
    if (this.#held !== undefined && !this.#deliverHeld()) return;
    const queue = this.#queue;
    const blocking = this.#opts.blockOnRecvQueueFull;
    if (!this.#sliceArmed) {
      // recvTimeSlice is per event-loop turn, not per call: the application may pull one
      // message at a time from microtasks, calling us once per message.
      this.#sliceArmed = true;
      this.#sliceStart = performance.now();
      setImmediate(endSlice, this);
    }
    for (;;) {
      if (blocking && queue.isFull && !queue.hasWaiters) {
        this.#pause(PAUSE_QUEUE);
        return;
      }
      let ev: FrameEvent | null;
      try {
        ev = this.#parser.next();
      } catch (err) {
        this.#fatal(err);
        return;
      }
      if (ev === null) {
        if (this.#socketPaused && this.#paused === 0) {
          this.#socketPaused = false;
          this.#socket.resume();
        }
        return;
      }
      if (ev.kind === "message") {
        if (ev.compressed) {
          this.#inflate(ev.data, ev.opcode);
          return;
        }
        if (!this.#deliver(ev.data, ev.opcode === 1 ? WsFlag.TEXT : WsFlag.BINARY)) return;
      } else if (ev.kind === "ping") {
        this.#events.onPing(this.#host, ev.data);
        if (this.#paused !== 0) return; // holdForReply: resumed by releaseReply
      } else if (ev.kind === "pong") {
        // Unsolicited or answering our ping: consumed, never delivered (RFC 6455 §5.5.3).
      } else {
        this.#closeSeen = true;
        this.stop();
        this.#events.onClose(this.#host, ev.code, ev.reason, ev.data);
        return;
      }
      if ((++this.#sliceCount & 31) === 0 && performance.now() - this.#sliceStart > this.#opts.recvTimeSlice) {
        // Yield to the event loop (the scheduled #endSlice resumes us); keep the socket paused
        // so that the parser's backlog cannot grow meanwhile.
        this.#pause(PAUSE_SLICE);
        return;
      }
    }
  }

  /** Queues a message; false when the reader must stop (overflow handling took over). */
  #deliver(data: Buffer, flags: number): boolean {
    if (this.#queue.push(data, flags, this.#opts.blockOnRecvQueueFull)) {
      this.#retries = 0;
      return true;
    }
    // Non-blocking queue and it is full: retry later if a strategy allows it, else fail loudly.
    this.#held = { data, flags };
    this.#overflow();
    return false;
  }

  #deliverHeld(): boolean {
    const held = this.#held!;
    if (!this.#queue.push(held.data, held.flags, false)) {
      this.#overflow();
      return false;
    }
    this.#held = undefined;
    this.#retries = 0;
    return true;
  }

  #overflow(): void {
    const retry = this.#opts.wsRetry;
    if (retry && retry.retry && this.#retries < retry.count) {
      this.#retries++;
      this.#pause(PAUSE_RETRY);
      setTimeout(() => this.#unpause(PAUSE_RETRY), retry.delayFor(this.#retries));
      return;
    }
    const q = this.#queue;
    this.stop();
    this.#events.onFatal(
      this.#host,
      new WebSocketError(
        `receive queue overflowed: ${q.length} messages were waiting (recvQueueSize ${q.capacity}, blockOnRecvQueueFull false)` +
          (this.#retries > 0 ? ` after ${this.#retries} retries` : ""),
        1009,
      ),
      1009,
    );
  }

  #inflate(data: Buffer, opcode: 1 | 2): void {
    this.#pause(PAUSE_INFLATE);
    this.#deflate!.decompress(data).then(
      (out) => {
        if (this.#stopped) return;
        if (opcode === 1 && !isUtf8(out)) {
          this.#fatal(new ProtocolError("invalid UTF-8 in a compressed text message", 1007, { reason: "invalid_utf8" }));
          return;
        }
        // A message that did not fit is held for a retry (PAUSE_RETRY keeps the reader stopped).
        this.#deliver(out, opcode === 1 ? WsFlag.TEXT : WsFlag.BINARY);
        this.#unpause(PAUSE_INFLATE);
      },
      (err) => {
        if (!this.#stopped) this.#fatal(err);
      },
    );
  }

  #fatal(err: unknown): void {
    this.stop();
    const e =
      err instanceof WebSocketError ? err : new ProtocolError(`failed to read a message: ${String(err)}`, 1002, { cause: err });
    this.#events.onFatal(this.#host, e, e.code >= 1000 ? e.code : 1002);
  }
}
