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
      fail(new HandshakeError("the server closed the connection before answering the upgrade request"));
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
  const declared = Number(head.headers["content-length"]);
  const want = Math.min(MAX_ERROR_BODY, Number.isFinite(declared) && declared >= 0 ? declared : MAX_ERROR_BODY);
  const chunks: Buffer[] = [rest.subarray(0, want)];
  let have = chunks[0]!.length;
  if (have >= want) {
    socket.destroy();
    return Promise.resolve(Buffer.concat(chunks));
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
      resolve(Buffer.concat(chunks));
    };
    const onAbort = (): void => {
      cleanup();
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const onData = (chunk: Buffer): void => {
      const take = Math.min(chunk.length, want - have);
      chunks.push(chunk.subarray(0, take));
      have += take;
      if (have >= want) done();
    };
    const timer = setTimeout(done, ms);
    socket.on("data", onData);
    socket.on("end", done);
    socket.on("close", done);
    socket.on("error", done);
    socket.resume();
  });
}
