/**
 * transport/: produces a connected Duplex to a WebSocket server — TCP, Node TLS or masq TLS, directly
 * or through an HTTP/HTTPS CONNECT or SOCKS4/4a/5/5h proxy.
 *
 * Failures: WebSocketError (code 1006, `errno` set) for the target's TCP/DNS errors, ProxyError for a
 * proxy that is unreachable or refuses (never carrying its credentials), TlsError for a TLS failure
 * (to the target, or to an https:// proxy). An aborted `signal` rejects with the signal's reason.
 * Nothing is left open after a failure.
 *
 * The returned Duplex has no 'error' listener of ours: attach yours at once.
 */
import type { Duplex } from "node:stream";
import { ProxyError, WebSocketError } from "../errors.js";
import { sanitizedCause, httpConnectTunnel } from "./http-proxy.js";
import { nativeTlsConnect, nodeTlsError, type CaOption } from "./native-tls.js";
import { formatHostPort, parseProxyUrl, type ProxyInfo } from "./proxy-url.js";
import { socksDestination, socksTunnel } from "./socks-proxy.js";
import { abortable, connectTcp, stripBrackets } from "./tcp.js";
import { directReadPort } from "./direct-read.js";
import { loadMasqTls, type MasqTlsModule } from "./masq-tls.js";
import type { MasqTlsOptions } from "../tls/index.js";
import { sessionCacheKey, type TlsSessionCache } from "../tls/session-cache.js";
import type { ClientCertOptions } from "../tls/client-auth.js";

export { selectProxy, matchesNoProxy, type ProxyMap, type SelectProxyOptions } from "./select-proxy.js";
export { redactUrl, parseProxyUrl, formatHostPort, type ProxyInfo, type ProxyProtocol } from "./proxy-url.js";
export { secureContextWithCa, nodeTlsError, type CaOption } from "./native-tls.js";
export { TlsSessionCache } from "../tls/session-cache.js";
export type { ClientCertOptions } from "../tls/client-auth.js";
export { abortable } from "./tcp.js";
export { ConnectAbort, abortSignalOf, type AbortWatch } from "./abort-watch.js";
import { abortSignalOf, type AbortWatch } from "./abort-watch.js";

export interface ConnectTarget {
  /** Name or IP literal (IPv6 with or without brackets). */
  host: string;
  port: number;
  /** TLS to the target (wss:). */
  secure: boolean;
}

export interface TransportOptions {
  /** An AbortSignal, or a {@link ConnectAbort} (cheaper; a real signal is made only for masq's TLS engine). */
  signal?: AbortWatch;
  /** Verify the target's (and an https:// proxy's) certificate chain and name. */
  verify: boolean;
  /** Extra trusted CAs (PEM), added to the default roots. */
  ca?: CaOption;
  /** Name to verify and send as SNI; default: the target host. IP literals are verified but never sent as SNI; "" sends no SNI. */
  servername?: string;
  /** ALPN offer. Default ["http/1.1"] (masq engine with a tlsProfile: the profile's list). */
  alpn?: string[];
  tlsEngine: "native" | "masq";
  /** Impersonation profile for the masq engine: a ClientHello profile or a browser profile holding one. */
  tlsProfile?: MasqTlsOptions["profile"];
  /** Resolved proxy URL (see selectProxy), or undefined for a direct connection. */
  proxy?: string;
  /** TLS sessions to resume from and store into (the AsyncSession's own cache; issue 11). */
  sessionCache?: TlsSessionCache;
  /** What else partitions the cache: the impersonation profile's name ("" without one). */
  sessionScope?: string;
  /** Client certificate for the target (not for an https:// proxy). */
  clientCert?: ClientCertOptions;
}

function isAbort(signal: AbortWatch | undefined, err: unknown): boolean {
  return signal !== undefined && signal.aborted && err === signal.reason;
}

/**
 * Opens a connection to `target` and returns it as a connected Duplex (a TLS socket when
 * `target.secure`), directly or through `opts.proxy`.
 */
export function openTransport(target: ConnectTarget, opts: TransportOptions): Promise<Duplex> {
  const signal = opts.signal;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const host = stripBrackets(target.host);
  const port = target.port;
  if (!target.secure && (opts.proxy === undefined || opts.proxy === "")) {
    // Plain TCP, direct: the socket itself (no async layer, whose promises and microtask turns
    // a connect would pay for), read in place (see direct-read.ts).
    return connectTcp(host, port, signal, { directRead: true }).then(undefined, (err: unknown) => {
      throw isAbort(signal, err) ? err : connectError(err, host, port);
    });
  }
  return openTransportAsync(host, port, target, opts);
}

async function openTransportAsync(host: string, port: number, target: ConnectTarget, opts: TransportOptions): Promise<Duplex> {
  const signal = opts.signal;
  let socket: Duplex;
  if (opts.proxy !== undefined && opts.proxy !== "") {
    const proxy = parseProxyUrl(opts.proxy);
    socket = await openTunnel(proxy, host, port, opts);
  } else {
    try {
      // Direct reads where nothing else reads the socket through the stream API: plain ws://, and
      // masq's TLS engine (Node's TLS reads the socket's handle itself).
      socket = await connectTcp(host, port, signal, { directRead: !target.secure || opts.tlsEngine === "masq" });
    } catch (err) {
      if (isAbort(signal, err)) throw err;
      throw connectError(err, host, port);
    }
  }
  if (!target.secure) return socket;
  return tlsToTarget(socket, host, port, opts);
}

function connectError(err: unknown, host: string, port: number): WebSocketError {
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === "string" ? e.code : undefined;
  return new WebSocketError(
    `Could not connect to ${formatHostPort(host, port)}: ${e?.message ?? String(err)}`,
    1006,
    { cause: err, ...(code ? { errno: code } : {}) },
  );
}

const PROXY_KIND: Record<ProxyInfo["protocol"], string> = {
  http: "HTTP proxy",
  https: "HTTPS proxy",
  socks4: "SOCKS4 proxy",
  socks4a: "SOCKS4a proxy",
  socks5: "SOCKS5 proxy",
  socks5h: "SOCKS5h proxy",
};

/** Connects to the proxy and asks it for a tunnel to host:port. */
async function openTunnel(proxy: ProxyInfo, host: string, port: number, opts: TransportOptions): Promise<Duplex> {
  const signal = opts.signal;
  let socket: Duplex;
  try {
    socket = await connectTcp(proxy.host, proxy.port, signal);
  } catch (err) {
    if (isAbort(signal, err)) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new ProxyError(`${PROXY_KIND[proxy.protocol]} ${proxy.display} is unreachable: ${e?.message ?? String(err)}`, {
      proxyHost: proxy.host,
      proxyPort: proxy.port,
      cause: e instanceof Error ? sanitizedCause(e) : undefined,
    });
  }
  switch (proxy.protocol) {
    case "https":
      socket = await nativeTlsConnect(socket, {
        host: proxy.host,
        port: proxy.port,
        verify: opts.verify,
        alpn: ["http/1.1"],
        label: "HTTPS proxy",
        ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
        ...(signal ? { signal } : {}),
      });
      return httpConnectTunnel(socket, proxy, host, port, signal);
    case "http":
      return httpConnectTunnel(socket, proxy, host, port, signal);
    default: {
      let destination: string;
      try {
        destination = await abortable(socksDestination(proxy, host), signal, { onAbort: () => socket.destroy() });
      } catch (err) {
        socket.destroy();
        if (isAbort(signal, err) || err instanceof WebSocketError) throw err;
        throw connectError(err, host, port);
      }
      return socksTunnel(socket, proxy, destination, port, signal);
    }
  }
}

async function tlsToTarget(socket: Duplex, host: string, port: number, opts: TransportOptions): Promise<Duplex> {
  const signal = opts.signal;
  // Resumption (issue 11): the cache partitions like a browser's (host, port, profile, proxy) and
  // by whatever would change what a resumed session means (engine, SNI, trust, client identity).
  const sessionCache = opts.sessionCache
    ? {
        cache: opts.sessionCache,
        key: sessionCacheKey({
          engine: opts.tlsEngine,
          host,
          port,
          ...(opts.servername !== undefined ? { servername: opts.servername } : {}),
          profile: opts.sessionScope ?? "",
          proxy: opts.proxy ?? "",
          verify: opts.verify,
          ca: opts.ca,
          cert: opts.clientCert?.cert,
        }),
      }
    : undefined;
  if (opts.tlsEngine === "masq") {
    let mod: MasqTlsModule;
    try {
      mod = await abortable(loadMasqTls(), signal, { onAbort: () => socket.destroy() });
    } catch (err) {
      socket.destroy();
      throw err;
    }
    try {
      // ALPN: the caller's list; else the profile's own (impersonation); else http/1.1.
      const alpn = opts.alpn ?? (opts.tlsProfile === undefined ? ["http/1.1"] : undefined);
      const tls = await mod.masqTlsConnect(socket, {
        host,
        ...(opts.servername !== undefined ? { servername: opts.servername === "" ? false : opts.servername } : {}),
        ...(alpn ? { alpn } : {}),
        rejectUnauthorized: opts.verify,
        ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
        ...(opts.tlsProfile !== undefined ? { profile: opts.tlsProfile } : {}),
        ...(signal ? { signal: abortSignalOf(signal) } : {}),
        ...(sessionCache ? { sessionCache } : {}),
        ...(opts.clientCert ? { clientCert: opts.clientCert } : {}),
      });
      // A direct TCP socket: from now on the engine takes reads straight from the shared bounce
      // buffer (records are decrypted at once, only a partial record is copied), so reading
      // allocates nothing.
      const port = directReadPort(socket);
      if (port && tls.feedTransient) port.sink = { onTransient: tls.feedTransient };
      return tls;
    } catch (err) {
      socket.destroy();
      if (isAbort(signal, err) || err instanceof WebSocketError) throw err;
      throw nodeTlsError(`TLS handshake with ${formatHostPort(host, port)} failed: ${(err as Error | undefined)?.message ?? String(err)}`, err);
    }
  }
  return nativeTlsConnect(socket, {
    host,
    port,
    verify: opts.verify,
    ...(opts.servername !== undefined ? { servername: opts.servername } : {}),
    ...(opts.alpn !== undefined ? { alpn: opts.alpn } : {}),
    ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
    ...(signal ? { signal } : {}),
    ...(sessionCache ? { sessionCache } : {}),
    ...(opts.clientCert ? { clientCert: opts.clientCert } : {}),
  });
}
