/**
 * One HTTP/2 stream seen as a Duplex, so that the WebSocket layer runs on it unchanged
 * (RFC 8441 §5: DATA frames carry the WebSocket's bytes). Writes wait while the peer's flow-control
 * windows are closed (their callbacks come late, so the Writable's buffer and the WebSocket's send
 * queue bound memory); reads return flow-control credit only as the consumer takes the bytes.
 */
import { Duplex } from "node:stream";
import { WebSocketError } from "../errors.js";

/** What a stream needs from its connection (implemented by H2Session). */
export interface H2StreamHost {
  /** Hands as much of `data` to HTTP/2 as the windows allow; returns the octets taken. */
  sendData(id: number, data: Buffer, endStream: boolean): number;
  /** Writes what HTTP/2 queued; `cb` runs once the transport has taken it. */
  flush(cb?: (err?: Error | null) => void): void;
  /** The consumer took `n` received octets. */
  consumed(id: number, n: number): void;
  /** The stream is gone: reset it unless it ended in both directions (RFC 8441 §5: abort = RST_STREAM). */
  streamClosed(id: number, reset: boolean): void;
}

/** A write waiting for window: the part not yet sent and its callback. */
interface PendingWrite {
  chunks: Buffer[];
  end: boolean;
  cb: (err?: Error | null) => void;
}

/** Writes below SMALL bytes are joined into pieces of up to JOIN_LIMIT (one DATA frame at the default frame size). */
const SMALL = 4 * 1024;
const JOIN_LIMIT = 16 * 1024;

/** An HTTP/2 stream as a Duplex (see the module comment). */
export class H2Stream extends Duplex {
  readonly id: number;
  readonly #host: H2StreamHost;
  #pending: PendingWrite | null = null;
  /** Received octets pushed while the consumer was saturated: credited when it reads again. */
  #unread = 0;
  #localEnded = false;
  #remoteEnded = false;
  #closed = false;

  constructor(host: H2StreamHost, id: number) {
    // No 'end' on our behalf: the WebSocket layer ends the writable side after its close handshake.
    super({ allowHalfOpen: true, readableHighWaterMark: 64 * 1024, writableHighWaterMark: 64 * 1024 });
    this.#host = host;
    this.id = id;
  }

  /** Called by the session for each DATA payload. */
  onData(data: Buffer, endStream: boolean): void {
    if (this.destroyed) return;
    if (data.length > 0) {
      if (this.push(data)) this.#host.consumed(this.id, data.length);
      else this.#unread += data.length;
    }
    if (endStream) {
      this.#remoteEnded = true;
      this.push(null);
    }
  }

  /** The peer reset the stream or the connection failed. */
  fail(err: WebSocketError): void {
    this.#closed = true; // nothing to reset any more
    this.destroy(err);
  }

  /** A window opened: send what waits. */
  retry(): void {
    const p = this.#pending;
    if (!p || this.destroyed) return;
    this.#pending = null;
    this.#send(p.chunks, p.end, p.cb);
  }

  override _read(): void {
    if (this.#unread > 0) {
      const n = this.#unread;
      this.#unread = 0;
      this.#host.consumed(this.id, n);
      this.#host.flush();
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#send([chunk], false, cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    // A burst of small WebSocket frames becomes few DATA frames: runs of small chunks are joined
    // into pieces of up to JOIN_LIMIT (one copy, 9 bytes of framing per piece instead of per
    // frame); large chunks go out uncopied.
    const list: Buffer[] = [];
    let run: Buffer[] = [];
    let runBytes = 0;
    const close = (): void => {
      if (run.length === 1) list.push(run[0]!);
      else if (run.length > 1) list.push(Buffer.concat(run, runBytes));
      run = [];
      runBytes = 0;
    };
    for (const { chunk } of chunks) {
      if (chunk.length >= SMALL) {
        close();
        list.push(chunk);
        continue;
      }
      if (runBytes + chunk.length > JOIN_LIMIT) close();
      run.push(chunk);
      runBytes += chunk.length;
    }
    close();
    this.#send(list, false, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    // RFC 8441 §5: after the WebSocket close handshake the stream ends with END_STREAM.
    this.#send([], true, cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const pending = this.#pending;
    this.#pending = null;
    if (!this.#closed) {
      this.#closed = true;
      this.#host.streamClosed(this.id, !(this.#localEnded && this.#remoteEnded));
    }
    pending?.cb(err ?? new WebSocketError("the HTTP/2 stream was closed", 1006));
    cb(err);
  }

  #send(chunks: Buffer[], end: boolean, cb: (err?: Error | null) => void): void {
    let i = 0;
    while (i < chunks.length) {
      const c = chunks[i]!;
      const last = end && i === chunks.length - 1;
      const n = this.#host.sendData(this.id, c, last);
      if (n < c.length) {
        // Windows closed: keep the rest; retry() resumes on WINDOW_UPDATE or a larger SETTINGS window.
        chunks[i] = c.subarray(n);
        this.#pending = { chunks: chunks.slice(i), end, cb };
        this.#host.flush();
        return;
      }
      i++;
    }
    if (end) {
      if (chunks.length === 0) this.#host.sendData(this.id, Buffer.alloc(0), true);
      this.#localEnded = true;
      if (this.#remoteEnded) this.#closed = true;
    }
    // The callback comes once the transport took the bytes: the caller may then reuse its buffers.
    this.#host.flush(cb);
  }
}
