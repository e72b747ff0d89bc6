import { WebSocketError } from "../errors.js";
import { stripBrackets } from "./tcp.js";

/** The proxy kinds masq speaks. */
export type ProxyProtocol = "http" | "https" | "socks4" | "socks4a" | "socks5" | "socks5h";

/** A parsed proxy URL. `username`/`password` are percent-decoded; never put them in messages. */
export interface ProxyInfo {
  protocol: ProxyProtocol;
  /** Host name or IP literal, IPv6 without brackets. */
  host: string;
  port: number;
  username: string;
  password: string;
  /** `host:port` (IPv6 in brackets) for messages: no credentials. */
  display: string;
}

const DEFAULT_PORTS: Record<ProxyProtocol, number> = {
  http: 80,
  https: 443,
  socks4: 1080,
  socks4a: 1080,
  socks5: 1080,
  socks5h: 1080,
};

/**
 * Parses a proxy URL such as `http://user:pass@127.0.0.1:3128` or `socks5h://127.0.0.1:1080`.
 * A URL without a scheme is taken as `http://`. Throws a WebSocketError (no credentials in it) when
 * the URL is malformed or its scheme is not one masq speaks.
 */
export function parseProxyUrl(url: string): ProxyInfo {
  const text = url.includes("://") ? url : `http://${url}`;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new WebSocketError(`Invalid proxy URL: ${redactUrl(text)}`, 1006);
  }
  const scheme = u.protocol.slice(0, -1).toLowerCase();
  if (!(scheme in DEFAULT_PORTS)) {
    throw new WebSocketError(
      `Unsupported proxy scheme "${scheme}:" in ${redactUrl(text)} (use http, https, socks4, socks4a, socks5 or socks5h)`,
      1006,
    );
  }
  const protocol = scheme as ProxyProtocol;
  const host = stripBrackets(u.hostname);
  if (host === "") throw new WebSocketError(`Proxy URL has no host: ${redactUrl(text)}`, 1006);
  const port = u.port === "" ? DEFAULT_PORTS[protocol] : Number(u.port);
  return {
    protocol,
    host,
    port,
    username: safeDecode(u.username),
    password: safeDecode(u.password),
    display: formatHostPort(host, port),
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** `host:port`, with an IPv6 literal in brackets. */
export function formatHostPort(host: string, port: number): string {
  const h = stripBrackets(host);
  return h.includes(":") ? `[${h}]:${port}` : `${h}:${port}`;
}

/**
 * Removes credentials from a URL for use in messages and logs: `http://user:pass@h:1/` becomes
 * `http://h:1/`. Strings that do not parse as URLs have anything up to an `@` in their authority cut.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === "" && u.password === "") return url;
    u.username = "";
    u.password = "";
    return u.toString();
  } catch {
    // Not a URL: drop a userinfo part if there seems to be one.
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/@\s]*@/i, "$1");
  }
}
