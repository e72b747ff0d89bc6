import type { Duplex } from "node:stream";
import { HandshakeError, WebSocketError } from "../errors.js";
import { ResponseHeadParser, type ResponseHead } from "../protocol/handshake.js";

/** Most of a refused upgrade's body that we keep for the error (64 KiB). */
export const MAX_ERROR_BODY = 64 * 1024;

/**
 * Writes the upgrade request and reads the response head (RFC 6455 §4.1). Resolves with the head
 * and whatever bytes followed it; the socket is left paused with no listener of ours, so nothing
 * is lost before the connection's reader attaches. Rejects with HandshakeError / WebSocketError,
 * or the signal's reason when aborted.
 */
export function exchangeHandshake(
  socket: Duplex,
  request: Buffer,
  signal: AbortSignal | undefined,
): Promise<{ head: ResponseHead; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const parser = new ResponseHeadParser();
    let socketError: Error | undefined;
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
    const onData = (chunk: Buffer): void => {
      let out: { head: ResponseHead; rest: Buffer } | null;
      try {
        out = parser.push(chunk);
      } catch (err) {
        fail(err);
        return;
      }
      if (out === null) return;
      socket.pause();
      cleanup();
      resolve(out);
    };
    const onError = (err: Error): void => {
      socketError = err;
      fail(new WebSocketError(`the connection failed during the handshake: ${err.message}`, 1006, { cause: err }));
    };
    const onClose = (): void => {
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
  signal?: AbortSignal,
): Promise<Buffer> {
  const chunked = /(^|,)\s*chunked\s*$/i.test(head.headers["transfer-encoding"] ?? "");
  const declared = Number(head.headers["content-length"]);
  const want = chunked ? MAX_ERROR_BODY : Math.min(MAX_ERROR_BODY, Number.isFinite(declared) && declared >= 0 ? declared : MAX_ERROR_BODY);
  const body = new BodyCollector(want, chunked);
  if (body.add(rest)) {
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
