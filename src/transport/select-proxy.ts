import net from "node:net";
import { stripBrackets } from "./tcp.js";

/** Proxies by the target's scheme. `wss` falls back to `https` then `all`; `ws` to `http` then `all`. */
export type ProxyMap = { ws?: string; wss?: string; http?: string; https?: string; all?: string };

export interface SelectProxyOptions {
  /** One proxy for everything: wins over `proxies` and the environment. */
  proxy?: string;
  proxies?: ProxyMap;
  /** Read HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY (either case) from `env`. Default false. */
  trustEnv?: boolean;
  /** The environment to read when `trustEnv` (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

/** Lower-case variable first (curl, Python's urllib), then upper-case. */
function envVar(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return nonEmpty(env[name.toLowerCase()]) ?? nonEmpty(env[name.toUpperCase()]);
}

function defaultPort(url: URL): number {
  if (url.port !== "") return Number(url.port);
  return url.protocol === "wss:" || url.protocol === "https:" ? 443 : 80;
}

function isSecureScheme(url: URL): boolean {
  return url.protocol === "wss:" || url.protocol === "https:";
}

/**
 * Chooses the proxy URL for a connection to `targetUrl` (ws:, wss:, or http:/https: as aliases).
 * Pure: reads nothing but its arguments (`env` defaults to process.env only when trustEnv is true).
 *
 * 1. `proxy`, when given, wins.
 * 2. `proxies` by scheme: wss -> wss ?? https ?? all; ws -> ws ?? http ?? all.
 * 3. Only when `trustEnv`: unless NO_PROXY matches the target, wss -> HTTPS_PROXY ?? ALL_PROXY and
 *    ws -> HTTP_PROXY ?? ALL_PROXY (lower-case names first). Values without a scheme mean http://.
 *    HTTP_PROXY (upper case) is ignored when REQUEST_METHOD is set (CGI, "httpoxy").
 *
 * Returns undefined for a direct connection. An empty string anywhere counts as "not set".
 */
export function selectProxy(targetUrl: URL, o: SelectProxyOptions = {}): string | undefined {
  const explicit = nonEmpty(o.proxy);
  if (explicit !== undefined) return explicit;
  const secure = isSecureScheme(targetUrl);
  const map = o.proxies;
  if (map) {
    const chosen = secure
      ? nonEmpty(map.wss) ?? nonEmpty(map.https) ?? nonEmpty(map.all)
      : nonEmpty(map.ws) ?? nonEmpty(map.http) ?? nonEmpty(map.all);
    if (chosen !== undefined) return chosen;
  }
  if (!o.trustEnv) return undefined;
  const env = o.env ?? process.env;
  const noProxy = envVar(env, "no_proxy");
  if (noProxy !== undefined && matchesNoProxy(targetUrl, noProxy)) return undefined;
  let chosen: string | undefined;
  if (secure) {
    chosen = envVar(env, "https_proxy");
  } else {
    chosen = nonEmpty(env.http_proxy);
    if (chosen === undefined && env.REQUEST_METHOD === undefined) chosen = nonEmpty(env.HTTP_PROXY);
  }
  chosen ??= envVar(env, "all_proxy");
  if (chosen === undefined) return undefined;
  return chosen.includes("://") ? chosen : `http://${chosen}`;
}

/**
 * NO_PROXY matching, as curl and most tools do it. Entries are separated by commas or spaces:
 * - `*` matches every host;
 * - a name matches itself and its subdomains (`example.com`, `.example.com` and `*.example.com` all
 *   match `example.com` and `a.example.com`, not `badexample.com`);
 * - an IP literal matches that address (an IP target is matched by IP and CIDR entries only) (IPv6 with or without brackets); `10.0.0.0/8`, `fd00::/8`
 *   are CIDR ranges;
 * - an entry with `:port` only matches that port (default 80 for ws, 443 for wss).
 * Comparison is case-insensitive; a trailing dot on names is ignored.
 */
export function matchesNoProxy(targetUrl: URL, noProxy: string): boolean {
  const host = stripBrackets(targetUrl.hostname).toLowerCase().replace(/\.$/, "");
  const port = defaultPort(targetUrl);
  const hostIp = net.isIP(host);
  for (const raw of noProxy.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (entry === "") continue;
    if (entry === "*") return true;
    // Split off a port: "[::1]:8080", "host:8080", "1.2.3.4:80"; a bare IPv6 has several colons.
    let entryPort: number | undefined;
    const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (bracket) {
      entry = bracket[1]!;
      if (bracket[2] !== undefined) entryPort = Number(bracket[2]);
    } else {
      const m = /^([^:]+):(\d+)$/.exec(entry);
      if (m) {
        entry = m[1]!;
        entryPort = Number(m[2]);
      }
    }
    if (entryPort !== undefined && entryPort !== port) continue;

    const slash = entry.indexOf("/");
    if (slash !== -1) {
      // CIDR range.
      const base = entry.slice(0, slash);
      const bits = Number(entry.slice(slash + 1));
      const family = net.isIP(base);
      if (!hostIp || family === 0 || !Number.isInteger(bits)) continue;
      if (family !== hostIp) continue;
      try {
        const list = new net.BlockList();
        list.addSubnet(base, bits, family === 6 ? "ipv6" : "ipv4");
        if (list.check(host, hostIp === 6 ? "ipv6" : "ipv4")) return true;
      } catch {
        /* malformed entry: ignore */
      }
      continue;
    }
    if (net.isIP(entry)) {
      if (hostIp && sameAddress(entry, host)) return true;
      continue;
    }
    if (hostIp) continue; // names never match an IP target by suffix
    let name = entry.replace(/\.$/, "");
    if (name.startsWith("*.")) name = name.slice(2);
    else if (name.startsWith(".")) name = name.slice(1);
    if (name === "") continue;
    if (host === name || host.endsWith("." + name)) return true;
  }
  return false;
}

function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  const fa = net.isIP(a);
  if (fa !== net.isIP(b)) return false;
  try {
    const list = new net.BlockList();
    list.addAddress(a, fa === 6 ? "ipv6" : "ipv4");
    return list.check(b, fa === 6 ? "ipv6" : "ipv4");
  } catch {
    return false;
  }
}
