import type { Duplex } from "node:stream";
import { ProxyError } from "../errors.js";
import { formatHostPort, type ProxyInfo } from "./proxy-url.js";
import type { AbortWatch } from "./abort-watch.js";

/** Largest CONNECT response head we accept. */
const MAX_HEAD = 64 * 1024;

export interface ConnectResponse {
  status: number;
  statusText: string;
  /** [name, value, name, value, ...] as received. */
  rawHeaders: string[];
}

/**
 * Asks an HTTP proxy (already connected: `socket` is TCP for http://, TLS for https://) to open a
 * tunnel to `targetHost:targetPort` with `CONNECT`. Sends `Proxy-Authorization: Basic` when the proxy
 * URL had credentials. Resolves with the same socket once the proxy answered 2xx; bytes that came
 * after the response head are pushed back (`unshift`) so the next reader sees them.
 *
 * Rejects with ProxyError (status set for an HTTP refusal) naming the proxy's host:port and its
 * answer, never its credentials; or with the signal's reason on abort. The socket is destroyed then.
 */
export function httpConnectTunnel(
  socket: Duplex,
  proxy: ProxyInfo,
  targetHost: string,
  targetPort: number,
  signal?: AbortWatch,
): Promise<Duplex> {
  const kind = proxy.protocol === "https" ? "HTTPS proxy" : "HTTP proxy";
  const target = formatHostPort(targetHost, targetPort);
  return new Promise<Duplex>((resolve, reject) => {
    const perr = (message: string, status = 0, cause?: unknown) =>
      new ProxyError(`${kind} ${proxy.display} ${message}`, {
        proxyHost: proxy.host,
        proxyPort: proxy.port,
        status,
        cause,
      });
    if (signal?.aborted) {
      socket.destroy();
      reject(signal.reason);
      return;
    }
    if (/[\s\0-\x1f\x7f@/?#]/.test(target)) {
      socket.destroy();
      reject(perr(`: refusing to CONNECT to an invalid target name`));
      return;
    }

    let settled = false;
    let head: Buffer = Buffer.alloc(0);
    const cleanup = () => {
      socket.removeListener("readable", onReadable);
      socket.removeListener("error", onError);
      socket.removeListener("end", onEnd);
      socket.removeListener("close", onEnd);
      signal?.removeEventListener("abort", onAbort);
    };
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onAbort = () => fail(signal!.reason);
    const onError = (err: NodeJS.ErrnoException) =>
      fail(perr(`failed during CONNECT to ${target}: ${err.message}`, 0, sanitizedCause(err)));
    const onEnd = () => fail(perr(`closed the connection before answering CONNECT to ${target}`));
    const onReadable = () => {
      let chunk: Buffer | null;
      while (!settled && (chunk = socket.read() as Buffer | null) !== null) {
        head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
        const end = head.indexOf("\r\n\r\n");
        if (end === -1 ? head.length > MAX_HEAD : end > MAX_HEAD) {
          fail(perr(`sent an oversized answer to CONNECT to ${target}`));
          return;
        }
        if (end === -1) continue;
        const rest = head.subarray(end + 4);
        let res: ConnectResponse;
        try {
          res = parseHead(head.subarray(0, end).toString("latin1"));
        } catch {
          fail(perr(`sent a malformed answer to CONNECT to ${target}`));
          return;
        }
        if (res.status < 200 || res.status > 299) {
          const answer = `${res.status}${res.statusText ? " " + res.statusText : ""}`;
          fail(perr(`refused CONNECT to ${target}: ${answer}`, res.status));
          return;
        }
        settled = true;
        cleanup();
        if (rest.length > 0) socket.unshift(rest);
        resolve(socket);
        return;
      }
    };

    socket.on("readable", onReadable);
    socket.once("error", onError);
    socket.once("end", onEnd);
    socket.once("close", onEnd);
    signal?.addEventListener("abort", onAbort, { once: true });

    const lines = [`CONNECT ${target} HTTP/1.1`, `Host: ${target}`];
    if (proxy.username !== "" || proxy.password !== "") {
      const token = Buffer.from(`${proxy.username}:${proxy.password}`, "utf8").toString("base64");
      lines.push(`Proxy-Authorization: Basic ${token}`);
    }
    lines.push("", "");
    socket.write(lines.join("\r\n"));
  });
}

/** Parses `HTTP/1.x NNN reason` and the header lines. Throws on garbage. */
export function parseHead(text: string): ConnectResponse {
  const lines = text.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? "");
  if (!m) throw new Error("bad status line");
  const rawHeaders: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error("bad header line");
    rawHeaders.push(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return { status: Number(m[1]), statusText: (m[2] ?? "").trim(), rawHeaders };
}

/** A plain Error carrying only the message and code of a system error (no request data). */
export function sanitizedCause(err: NodeJS.ErrnoException): Error {
  const e: NodeJS.ErrnoException = new Error(err.message);
  if (err.code !== undefined) e.code = err.code;
  return e;
}
