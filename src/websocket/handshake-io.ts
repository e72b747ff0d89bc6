import type { Duplex } from "node:stream";
import { HandshakeError, WebSocketError } from "../errors.js";
import { ResponseHeadParser, type ResponseHead } from "../protocol/handshake.js";
import type { AbortWatch } from "../transport/abort-watch.js";
import { directReadPort } from "../transport/direct-read.js";

/** Most of a refused upgrade's body that we keep for the error (64 KiB). */
export const MAX_ERROR_BODY = 64 * 1024;

/** The server's answer to the upgrade request, and the socket still held by {@link exchangeHandshake}. */
export interface HandshakeExchange {
  head: ResponseHead;
  /**
   * Hands the socket over to its next reader: removes this module's listeners and returns the
   * bytes that followed the head, those that arrived since included. Call it once, synchronously
   * before attaching the next reader. Throws a WebSocketError (1006) when the socket failed or
   * closed in between (its events would otherwise reach nobody), unless `refused`: a refused
   * upgrade's body reader wants what came before the close (a server such as `openssl s_server
   * -www` answers 200, sends its page and closes at once).
   */
  handOver(refused?: boolean): Buffer;
}

/**
 * Writes the upgrade request and reads the response head (RFC 6455 §4.1). Resolves once the
 * head is complete; rejects with HandshakeError / WebSocketError, or the signal's reason when
 * aborted (the socket is destroyed then).
 *
 * After the head the socket is paused until {@link HandshakeExchange.handOver}, so that nothing
 * (data, its end, its close) reaches nobody: a TLS socket can deliver the head, the next records
 * and the peer's close in one read, the close before the caller's continuation runs. Except a
 * direct-read TCP socket (plain ws://), whose pause would stop its reading (a readStop and a
 * readStart: two epoll_ctl calls per connection): it hands each read to JavaScript in a callback
 * of its own, after which the caller's continuation runs, so it keeps flowing; a chunk that does
 * arrive before handOver is kept (and the socket paused then), and a read end seen meanwhile ends
 * our side as the connection would have.
 */
export function exchangeHandshake(socket: Duplex, request: Buffer, signal: AbortWatch | undefined): Promise<HandshakeExchange> {
  return new Promise((resolve, reject) => {
    const parser = new ResponseHeadParser();
    const direct = directReadPort(socket) !== undefined;
    let socketError: Error | undefined;
    /** Set once the head is complete: the promise is settled, the socket waits for handOver. */
    let rest: Buffer | undefined;
    let late: Buffer[] | undefined;
    let lost: WebSocketError | undefined;
    const cleanup = (): void => {
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
      signal?.removeEventListener("abort", onAbort);
    };
    const fail = (err: unknown): void => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const handOver = (refused = false): Buffer => {
      cleanup();
      if (lost && !refused) throw lost;
      if (refused && !direct) {
        // What the paused socket holds (a closed one's included) belongs to the refusal's body.
        for (let chunk: unknown; (chunk = socket.read()) !== null; ) (late ??= []).push(chunk as Buffer);
      }
      // The peer's FIN came and went with nobody listening (no data was held back, or 'end'
      // would have waited for it): do what the connection's 'end' handler does.
      if (socket.readableEnded && !socket.destroyed && !socket.writableEnded) socket.end();
      return late === undefined ? rest! : Buffer.concat([rest!, ...late]);
    };
    const onData = (chunk: Buffer): void => {
      if (rest !== undefined) {
        (late ??= []).push(chunk);
        socket.pause();
        return;
      }
      let out: { head: ResponseHead; rest: Buffer } | null;
      try {
        out = parser.push(chunk);
      } catch (err) {
        fail(err);
        return;
      }
      if (out === null) return;
      if (!direct) socket.pause();
      rest = out.rest;
      signal?.removeEventListener("abort", onAbort);
      resolve({ head: out.head, handOver });
    };
    const onError = (err: Error): void => {
      socketError = err;
      if (rest !== undefined) {
        lost ??= new WebSocketError(`the connection failed right after the upgrade: ${err.message}`, 1006, { cause: err });
        return;
      }
      fail(new WebSocketError(`the connection failed during the handshake: ${err.message}`, 1006, { cause: err }));
    };
    const onClose = (): void => {
      if (rest !== undefined) {
        lost ??= new WebSocketError("the connection closed right after the upgrade", 1006);
        return;
      }
      if (socketError) return;
      fail(new HandshakeError("the server closed the connection before answering the upgrade request", { reason: "connection_closed" }));
    };
    const onAbort = (): void => fail(signal!.reason);
    if (signal?.aborted) {
      fail(signal.reason);
      return;
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("close", onClose);
    socket.write(request);
    socket.resume();
  });
}

/**
 * Reads up to 64 KiB of a refused upgrade's body (by Content-Length, or until the server closes),
 * bounded by `ms` so that a server that keeps the connection open cannot stall the error.
 * Rejects only with the signal's reason when aborted meanwhile; destroys the socket when done.
 */
export function readErrorBody(
  socket: Duplex,
  head: ResponseHead,
  rest: Buffer,
  ms: number,
  signal?: AbortWatch,
): Promise<Buffer> {
  const chunked = /(^|,)\s*chunked\s*$/i.test(head.headers["transfer-encoding"] ?? "");
  const declared = Number(head.headers["content-length"]);
  const want = chunked ? MAX_ERROR_BODY : Math.min(MAX_ERROR_BODY, Number.isFinite(declared) && declared >= 0 ? declared : MAX_ERROR_BODY);
  const body = new BodyCollector(want, chunked);
  // Complete already, or the server closed before the body was read on (its events are gone).
  if (body.add(rest) || socket.destroyed || socket.readableEnded) {
    socket.destroy();
    return Promise.resolve(body.result());
  }
  if (signal?.aborted) {
    socket.destroy();
    return Promise.reject(signal.reason);
  }
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", done);
      socket.off("close", done);
      socket.off("error", done);
      signal?.removeEventListener("abort", onAbort);
      socket.destroy();
    };
    const done = (): void => {
      cleanup();
      resolve(body.result());
    };
    const onAbort = (): void => {
      cleanup();
      reject(signal!.reason);
    };
    const onData = (chunk: Buffer): void => {
      if (body.add(chunk)) done();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(done, ms);
    socket.on("data", onData);
    socket.on("end", done);
    socket.on("close", done);
    socket.on("error", done);
    socket.resume();
  });
}

/**
 * Gathers up to `limit` bytes of a response body, de-chunking `Transfer-Encoding: chunked`
 * (RFC 9112 §7.1; extensions and trailers ignored). `add` returns true once the body is complete
 * or the limit is reached.
 */
class BodyCollector {
  readonly #limit: number;
  readonly #chunked: boolean;
  #parts: Buffer[] = [];
  #have = 0;
  #done = false;
  /** Chunked state: undecoded bytes, and payload bytes left in the current chunk. */
  #pending: Buffer = Buffer.alloc(0);
  #left = 0;
  #state: "size" | "data" | "crlf" = "size";

  constructor(limit: number, chunked: boolean) {
    this.#limit = limit;
    this.#chunked = chunked;
    if (limit === 0) this.#done = true;
  }

  add(chunk: Buffer): boolean {
    if (this.#done) return true;
    if (!this.#chunked) this.#take(chunk);
    else this.#dechunk(chunk);
    return this.#done;
  }

  result(): Buffer {
    return Buffer.concat(this.#parts, this.#have);
  }

  #take(data: Buffer): void {
    const n = Math.min(data.length, this.#limit - this.#have);
    if (n > 0) this.#parts.push(data.subarray(0, n));
    this.#have += n;
    if (this.#have >= this.#limit) this.#done = true;
  }

  #dechunk(chunk: Buffer): void {
    let buf = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    for (;;) {
      if (this.#state === "data") {
        const n = Math.min(this.#left, buf.length);
        this.#take(buf.subarray(0, n));
        if (this.#done) return;
        this.#left -= n;
        buf = buf.subarray(n);
        if (this.#left > 0) break;
        this.#state = "crlf";
      }
      const eol = buf.indexOf("\r\n");
      if (eol < 0) {
        if (buf.length > 1024) this.#done = true; // not chunked framing after all: stop
        break;
      }
      const line = buf.toString("latin1", 0, eol);
      buf = buf.subarray(eol + 2);
      if (this.#state === "crlf") {
        this.#state = "size";
        continue;
      }
      const size = parseInt(line.split(";")[0]!.trim(), 16);
      if (!Number.isFinite(size) || size < 0) {
        this.#done = true;
        break;
      }
      if (size === 0) {
        this.#done = true; // last chunk; trailers are not needed for an error body
        break;
      }
      this.#left = size;
      this.#state = "data";
    }
    this.#pending = Buffer.from(buf);
  }
}
