import net from "node:net";
import { attachDirectRead, directReadOption, type DirectReadPort } from "./direct-read.js";
import type { AbortWatch } from "./abort-watch.js";

/** `[::1]` -> `::1`; anything else unchanged. */
export function stripBrackets(host: string): string {
  return host.length >= 2 && host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/**
 * Opens a TCP connection (Happy Eyeballs via `autoSelectFamily`, Nagle off).
 *
 * Rejects with the raw system error (ECONNREFUSED, ENOTFOUND, ...) or, when `signal` aborts first,
 * with the signal's reason; the socket is destroyed in both cases. Callers map the system error to
 * the right masq error class (the target's WebSocketError or the proxy's ProxyError).
 * `directRead`: read through a {@link DirectReadPort} (see direct-read.ts) so that a WebSocket
 * reader can receive large payloads in place; bytes still arrive as 'data' until one attaches.
 */
export function connectTcp(host: string, port: number, signal?: AbortWatch, opts?: { directRead?: boolean }): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    // Direct reads only for a socket that carries WebSocket frames itself: a TLS layer or a proxy
    // handshake on top reads it through the stream API, which `onread` bypasses.
    const direct = opts?.directRead === true ? directReadOption() : undefined;
    const socket = net.connect({
      host: stripBrackets(host),
      port,
      autoSelectFamily: true,
      noDelay: true,
      ...(direct ? { onread: direct.onread } : {}),
    });
    if (direct) attachDirectRead(socket, direct.port);
    const cleanup = () => {
      socket.removeListener("connect", onConnect);
      socket.removeListener("error", onError);
      signal?.removeEventListener("abort", onAbort);
    };
    const onConnect = () => {
      cleanup();
      socket.setNoDelay(true);
      resolve(socket);
    };
    const onError = (err: Error) => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onAbort = () => {
      cleanup();
      socket.destroy();
      reject(signal!.reason);
    };
    socket.once("connect", onConnect);
    socket.once("error", onError);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Races `step` against `signal` (the one helper for this, used by the transport and by the
 * session's connect): on abort the returned promise rejects at once with the signal's reason, and
 * `cleanup.onAbort` runs (e.g. destroying the sockets the step is using). Whatever the step still
 * produces after that is handed to `cleanup.discard` (default: its `destroy()`, if it has one), so
 * nothing the abandoned step opens is leaked. Without a signal, `step` itself is returned.
 */
export function abortable<T>(
  step: Promise<T>,
  signal: AbortWatch | undefined,
  cleanup: { onAbort?: () => void; discard?: (late: T) => void } = {},
): Promise<T> {
  if (!signal) return step;
  const discard = cleanup.discard ?? destroyLate;
  const abandon = (): void => {
    step.then(discard, () => {});
    cleanup.onAbort?.();
  };
  if (signal.aborted) {
    abandon();
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      abandon();
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    step.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

function destroyLate(v: unknown): void {
  (v as { destroy?: () => unknown } | null | undefined)?.destroy?.();
}
