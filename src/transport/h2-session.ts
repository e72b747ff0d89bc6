/**
 * An HTTP/2 connection over a TLS Duplex that carries WebSockets as RFC 8441 extended CONNECT
 * streams. It drives the sans-I/O {@link Http2ClientConnection}: socket bytes in, events out to
 * the streams; what the connection queues is written to the socket. A connection is usable for
 * WebSockets only once the server's SETTINGS arrived with SETTINGS_ENABLE_CONNECT_PROTOCOL = 1.
 */
import type { Duplex } from "node:stream";
import { HandshakeError, ProtocolError, WebSocketError } from "../errors.js";
import { Http2ClientConnection, type Http2ClientOptions, type Http2Event } from "../protocol/http2/connection.js";
import { ErrorCode, H2ConnectionError, errorCodeName, type PriorityFields } from "../protocol/http2/frames.js";
import type { HeaderField } from "../protocol/http2/hpack.js";
import { H2Stream, type H2StreamHost } from "./h2-stream.js";

/** Write backlog (bytes) above which queued acknowledgements count towards the flood limit. */
const BACKLOG = 1024 * 1024;
/** Acknowledgements a peer may make us queue behind such a backlog. */
const MAX_UNREAD_REPLIES = 10_000;

/** Options of {@link H2Session.open}. */
export interface H2SessionOptions {
  /** The connection's fingerprint (SETTINGS, WINDOW_UPDATEs, first stream id). */
  connection: Http2ClientOptions;
  /** `host:port`, for messages. */
  authority: string;
  /** Aborts waiting for the server's SETTINGS (the connect timeout). */
  signal?: AbortSignal | undefined;
  /** Close the connection this long after its last stream ended (ms; default 60 000). */
  idleTimeout?: number | undefined;
}

/** An accepted extended CONNECT: the stream and the response headers. */
export interface H2WebSocketStream {
  stream: H2Stream;
  status: number;
  /** Response headers without pseudo-headers, as received. */
  headers: HeaderField[];
}

interface Waiter {
  resolve: (r: { status: number; headers: HeaderField[]; endStream: boolean }) => void;
  reject: (err: WebSocketError) => void;
}

/** One HTTP/2 connection (see the module comment). */
export class H2Session implements H2StreamHost {
  readonly #socket: Duplex;
  readonly #conn: Http2ClientConnection;
  readonly #authority: string;
  readonly #streams = new Map<number, H2Stream>();
  readonly #waiters = new Map<number, Waiter>();
  readonly #idleTimeout: number;
  #idleTimer: NodeJS.Timeout | undefined;
  #failure: WebSocketError | undefined;
  #closed = false;
  #onSettings: (() => void) | undefined;
  /** Acknowledgements queued while the socket's write buffer was backlogged (see #checkFlood). */
  #unreadReplies = 0;
  /** Called once when the connection has closed (the session forgets it). */
  onClose: ((s: H2Session) => void) | undefined;

  private constructor(socket: Duplex, opts: H2SessionOptions) {
    this.#socket = socket;
    this.#authority = opts.authority;
    this.#conn = new Http2ClientConnection(opts.connection);
    this.#idleTimeout = opts.idleTimeout ?? 60_000;
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("error", (err: Error) => this.#fail(new WebSocketError(`the HTTP/2 connection to ${this.#authority} failed: ${err.message}`, 1006, { cause: err })));
    socket.on("close", () => this.#fail(new WebSocketError(`the HTTP/2 connection to ${this.#authority} closed`, 1006)));
    socket.on("end", () => socket.end());
  }

  /**
   * Starts HTTP/2 on `socket` (preface, SETTINGS, WINDOW_UPDATE) and waits for the server's
   * SETTINGS, as Firefox does before its first stream. Rejects with the signal's reason when
   * aborted (the socket is destroyed), or a WebSocketError when the connection fails first.
   */
  static open(socket: Duplex, opts: H2SessionOptions): Promise<H2Session> {
    const s = new H2Session(socket, opts);
    s.flush();
    socket.resume();
    return new Promise((resolve, reject) => {
      const signal = opts.signal;
      const done = (): void => {
        signal?.removeEventListener("abort", onAbort);
        s.#onSettings = undefined;
      };
      const onAbort = (): void => {
        done();
        s.destroy();
        reject(signal!.reason);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      s.#onSettings = () => {
        done();
        if (s.#failure) reject(s.#failure);
        else resolve(s);
      };
      if (s.#failure) s.#onSettings();
    });
  }

  /** The server allows extended CONNECT (RFC 8441 §3). */
  get extendedConnect(): boolean {
    return this.#conn.extendedConnect;
  }

  /** A new WebSocket stream may be opened now. */
  get usable(): boolean {
    return !this.#closed && this.#conn.extendedConnect && this.#conn.canOpenStream();
  }

  /** Streams open on this connection. */
  get activeStreams(): number {
    return this.#streams.size + this.#waiters.size;
  }

  /** The connection has failed or was closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends an extended CONNECT with `headers` (pseudo-headers first) and waits for the response
   * (RFC 8441 §5: 2xx accepts). Resolves with the stream for a 200; for another final status,
   * `{ status, headers }` with no stream (the caller follows a redirect or refuses).
   */
  async connect(headers: Array<[string, string]>, priority: PriorityFields | null, signal?: AbortSignal): Promise<H2WebSocketStream | { status: number; headers: HeaderField[]; stream: null }> {
    if (this.#failure) throw this.#failure;
    if (!this.#conn.extendedConnect) {
      throw new HandshakeError(`the server at ${this.#authority} does not allow WebSockets over HTTP/2 (no SETTINGS_ENABLE_CONNECT_PROTOCOL)`, {
        reason: "missing_upgrade", // RFC 8441 §3: the h2 counterpart of a missing Upgrade: websocket
      });
    }
    if (!this.#conn.canOpenStream()) {
      throw new WebSocketError(`the HTTP/2 connection to ${this.#authority} cannot open another stream`, 1006);
    }
    this.#clearIdle();
    const id = this.#conn.openStream(headers, priority);
    const stream = new H2Stream(this, id);
    this.#streams.set(id, stream);
    this.flush();
    const response = await new Promise<{ status: number; headers: HeaderField[]; endStream: boolean }>((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters.delete(id);
        stream.destroy();
        reject(signal!.reason);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.set(id, {
        resolve: (r) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(r);
        },
        reject: (e) => {
          signal?.removeEventListener("abort", onAbort);
          stream.destroy();
          reject(e);
        },
      });
    });
    const plain = response.headers.filter(([n]) => !n.startsWith(":"));
    if (response.status >= 200 && response.status < 300 && !response.endStream) {
      return { stream, status: response.status, headers: plain };
    }
    stream.destroy(); // RST_STREAM(CANCEL) unless the server already ended it
    return { status: response.status, headers: plain, stream: null };
  }

  /** Closes the connection: GOAWAY(NO_ERROR), then the socket. Open streams fail. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#conn.goAway(ErrorCode.NO_ERROR);
    this.flush();
    this.#fail(new WebSocketError(`the HTTP/2 connection to ${this.#authority} was closed`, 1006));
    if (!this.#socket.destroyed) this.#socket.end();
    setTimeout(() => this.#socket.destroy(), 1000).unref();
  }

  /** Tears the connection down at once. */
  destroy(): void {
    this.#fail(new WebSocketError(`the HTTP/2 connection to ${this.#authority} was closed`, 1006));
    this.#socket.destroy();
  }

  // ------------------------------------------------------------ H2StreamHost

  sendData(id: number, data: Buffer, endStream: boolean): number {
    return this.#conn.sendData(id, data, endStream);
  }

  flush(cb?: (err?: Error | null) => void): void {
    const out = this.#conn.takeOutput();
    const socket = this.#socket;
    if (out.length === 0 || socket.destroyed || socket.writableEnded) {
      if (cb) {
        if (this.#failure && out.length > 0) process.nextTick(cb, this.#failure);
        else process.nextTick(cb);
      }
      return;
    }
    if (out.length === 1) {
      socket.write(out[0]!, cb);
      return;
    }
    socket.cork();
    const last = out.length - 1;
    for (let i = 0; i < last; i++) socket.write(out[i]!);
    socket.write(out[last]!, cb);
    socket.uncork();
  }

  consumed(id: number, n: number): void {
    this.#conn.consumed(id, n);
  }

  streamClosed(id: number, reset: boolean): void {
    if (!this.#streams.delete(id)) return;
    this.#waiters.delete(id);
    if (reset && !this.#closed) {
      this.#conn.resetStream(id, ErrorCode.CANCEL);
      this.flush();
    }
    this.#armIdle();
  }

  // ------------------------------------------------------------ internals

  #receive(chunk: Buffer): void {
    let events: Http2Event[];
    const replies = this.#conn.replies;
    try {
      events = this.#conn.receive(chunk);
      this.#checkFlood(this.#conn.replies - replies);
    } catch (err) {
      const e = err instanceof H2ConnectionError ? err : new ProtocolError(`HTTP/2: ${String(err)}`, 1002, { reason: "http2_violation" });
      this.#conn.goAway(e instanceof H2ConnectionError ? e.h2code : ErrorCode.PROTOCOL_ERROR, e.message.slice(0, 100));
      this.flush();
      this.#fail(e);
      this.#socket.end();
      setTimeout(() => this.#socket.destroy(), 1000).unref();
      return;
    }
    for (const ev of events) this.#dispatch(ev);
    if (this.#conn.hasOutput) this.flush();
  }

  /**
   * A peer that keeps making us acknowledge (PING, SETTINGS) while not reading what we write would
   * grow our write buffer without bound: past MAX_UNREAD_REPLIES answers queued behind a
   * backlogged socket, the connection ends with ENHANCE_YOUR_CALM (as nghttp2 limits its
   * outbound control queue).
   */
  #checkFlood(produced: number): void {
    if (produced === 0) return;
    if (this.#socket.writableLength < BACKLOG) {
      this.#unreadReplies = 0;
      return;
    }
    this.#unreadReplies += produced;
    if (this.#unreadReplies > MAX_UNREAD_REPLIES) {
      throw new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "the server sends PING/SETTINGS without reading our answers");
    }
  }

  #dispatch(ev: Http2Event): void {
    switch (ev.type) {
      case "settings":
        if (ev.first) this.#onSettings?.();
        return;
      case "headers": {
        const w = this.#waiters.get(ev.streamId);
        if (w) {
          this.#waiters.delete(ev.streamId);
          w.resolve({ status: ev.status, headers: ev.headers, endStream: ev.endStream });
        } else if (ev.endStream) {
          this.#streams.get(ev.streamId)?.onData(Buffer.alloc(0), true); // trailers end the stream
        }
        return;
      }
      case "data":
        this.#streams.get(ev.streamId)?.onData(ev.data, ev.endStream);
        return;
      case "reset": {
        const why = ev.local
          ? `masq reset HTTP/2 stream ${ev.streamId} of ${this.#authority}: the server broke the protocol (${errorCodeName(ev.code)})`
          : ev.code === ErrorCode.REFUSED_STREAM
            ? `the server at ${this.#authority} refused the WebSocket's HTTP/2 stream (RST_STREAM ${errorCodeName(ev.code)})`
            : `the server at ${this.#authority} reset the WebSocket's HTTP/2 stream (RST_STREAM ${errorCodeName(ev.code)})`;
        this.#streamFailed(ev.streamId, ev.local ? new ProtocolError(why, 1002, { reason: "http2_violation" }) : new WebSocketError(why, 1006));
        return;
      }
      case "goaway": {
        // RFC 9113 §6.8: streams above lastStreamId were never processed; the others may finish.
        const why = `the server at ${this.#authority} sent GOAWAY ${errorCodeName(ev.code)}${ev.debug ? ` (${ev.debug})` : ""}`;
        for (const id of [...this.#streams.keys()]) {
          if (id > ev.lastStreamId) this.#streamFailed(id, new WebSocketError(`${why}; the WebSocket's stream ${id} was not processed`, 1006));
        }
        if (ev.code !== ErrorCode.NO_ERROR) {
          for (const id of [...this.#streams.keys()]) this.#streamFailed(id, new WebSocketError(why, 1006));
        }
        this.#armIdle();
        return;
      }
      case "window":
        if (ev.streamId === 0) for (const s of this.#streams.values()) s.retry();
        else this.#streams.get(ev.streamId)?.retry();
        return;
      case "pong":
        return;
    }
  }

  #streamFailed(id: number, err: WebSocketError): void {
    const w = this.#waiters.get(id);
    this.#waiters.delete(id);
    w?.reject(err);
    const s = this.#streams.get(id);
    this.#streams.delete(id);
    s?.fail(err);
    this.#armIdle();
  }

  #fail(err: WebSocketError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#failure = err;
    this.#clearIdle();
    for (const id of [...this.#waiters.keys(), ...this.#streams.keys()]) this.#streamFailed(id, err);
    this.#onSettings?.();
    this.onClose?.(this);
  }

  /** Once the last stream ended, the connection closes after the idle timeout (or at once when the server is going away). */
  #armIdle(): void {
    if (this.#closed || this.activeStreams > 0) return;
    this.#clearIdle();
    if (this.#conn.closing) return this.close();
    this.#idleTimer = setTimeout(() => this.close(), this.#idleTimeout);
    this.#idleTimer.unref();
  }

  #clearIdle(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }
}
