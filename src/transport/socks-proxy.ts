import dns from "node:dns";
import net from "node:net";
import type { Duplex } from "node:stream";
import type { SocksClientOptions } from "socks";
import { ProxyError, WebSocketError } from "../errors.js";
import { formatHostPort, type ProxyInfo } from "./proxy-url.js";
import type { AbortWatch } from "./abort-watch.js";
import { stripBrackets } from "./tcp.js";

const NAMES: Record<string, string> = {
  socks4: "SOCKS4 proxy",
  socks4a: "SOCKS4a proxy",
  socks5: "SOCKS5 proxy",
  socks5h: "SOCKS5h proxy",
};

/**
 * Resolves the target locally where the scheme wants that: socks4 -> an IPv4 address (SOCKS4 can
 * carry nothing else), socks5 -> any address; socks4a / socks5h leave the name to the proxy.
 * DNS failures reject with the system error (ENOTFOUND...): they are about the target, not the proxy.
 * An IPv6 literal over socks4/4a rejects with a WebSocketError (SOCKS4 has no way to carry it).
 */
export async function socksDestination(proxy: ProxyInfo, targetHost: string): Promise<string> {
  const host = stripBrackets(targetHost);
  if ((proxy.protocol === "socks4" || proxy.protocol === "socks4a") && net.isIPv6(host)) {
    throw new WebSocketError(`${proxy.protocol} cannot carry the IPv6 address ${host} (use socks5 or socks5h)`, 1006);
  }
  if (proxy.protocol === "socks4a" || proxy.protocol === "socks5h") return host;
  if (proxy.protocol === "socks4") {
    if (net.isIPv4(host)) return host;
    const { address } = await dns.promises.lookup(host, { family: 4 });
    return address;
  }
  if (net.isIP(host)) return host;
  const { address } = await dns.promises.lookup(host);
  return address;
}

/**
 * Runs the SOCKS negotiation (the `socks` package) over `socket`, which is already connected to the
 * proxy. Resolves with the same socket carrying the tunnel to `destination:targetPort`.
 * Rejects with ProxyError naming the proxy's host:port and its answer (never its credentials), or
 * with the signal's reason on abort. The socket is destroyed then.
 */
export function socksTunnel(
  socket: Duplex,
  proxy: ProxyInfo,
  destination: string,
  targetPort: number,
  signal?: AbortWatch,
): Promise<Duplex> {
  const kind = NAMES[proxy.protocol] ?? "SOCKS proxy";
  const target = formatHostPort(destination, targetPort);
  if (signal?.aborted) {
    socket.destroy();
    return Promise.reject(signal.reason);
  }
  const is4 = proxy.protocol === "socks4" || proxy.protocol === "socks4a";
  const options: SocksClientOptions = {
    command: "connect",
    destination: { host: destination, port: targetPort },
    proxy: is4
      ? { host: proxy.host, port: proxy.port, type: 4, ...(proxy.username ? { userId: proxy.username } : {}) }
      : {
          host: proxy.host,
          port: proxy.port,
          type: 5,
          ...(proxy.username || proxy.password ? { userId: proxy.username, password: proxy.password } : {}),
        },
    existing_socket: socket,
    timeout: 2_147_483_647, // the caller's signal bounds the time
  };
  return new Promise<Duplex>((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    // `socks` (and the address parsing it pulls in, ~1 MB of heap) loads on the first SOCKS
    // connection, not with masq.
    import("socks").then(({ SocksClient }) => SocksClient.createConnection(options)).then(
      (info) => {
        signal?.removeEventListener("abort", onAbort);
        if (settled) {
          info.socket.destroy();
          return;
        }
        settled = true;
        resolve(info.socket);
      },
      (err: unknown) => {
        signal?.removeEventListener("abort", onAbort);
        socket.destroy();
        if (settled) return;
        settled = true;
        // SocksClientError carries the options (with the password): never chain it; keep its words only.
        const words = scrub(err instanceof Error ? err.message : String(err), proxy);
        reject(
          new ProxyError(`${kind} ${proxy.display} refused the connection to ${target}: ${describe(words)}`, {
            proxyHost: proxy.host,
            proxyPort: proxy.port,
            cause: new Error(words),
          }),
        );
      },
    );
  });
}

function describe(message: string): string {
  if (message === "Socket closed") return "the proxy closed the connection";
  if (message.includes("no accepted authentication type")) {
    return `${message}: the proxy accepts none of the offered authentication methods (credentials missing?)`;
  }
  return message;
}

/** Removes the credentials from a message, should a library ever echo them. */
function scrub(message: string, proxy: ProxyInfo): string {
  let m = message;
  if (proxy.password.length >= 3) m = m.split(proxy.password).join("***");
  return m;
}
