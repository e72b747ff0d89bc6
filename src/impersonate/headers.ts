/**
 * The WebSocket upgrade request of each browser engine as a header template (order, case,
 * values), the rules that depend on the page's Origin (Sec-Fetch-Site), and Chromium's
 * `Sec-CH-UA` brand list. Data and pure functions only.
 *
 * Sources: Chromium 156 and Firefox ESR 153 captured here (real-browser-websocket-captures);
 * older versions of the same engine keep that order with their own User-Agent and values.
 * Safari: CFNetwork's NSURLSession WebSocket request as captured on macOS 11, with WebKit's own
 * request headers (WebSocketHandshake.cpp) placed after User-Agent (unverified: no Safari capture).
 */
import { getPublicSuffix } from "tough-cookie";
import type { HeaderTemplate } from "./types.js";

/**
 * Chromium's upgrade (net/websockets/websocket_stream + the URL request layer), as captured from
 * Chromium 156: no `sec-ch-ua` and no `Sec-Fetch-*` on a WebSocket.
 */
export function chromiumUpgradeHeaders(userAgent: string, acceptEncoding: string): HeaderTemplate {
  return [
    ["Host", ""],
    ["Connection", "Upgrade"],
    ["Pragma", "no-cache"],
    ["Cache-Control", "no-cache"],
    ["User-Agent", userAgent],
    ["Upgrade", "websocket"],
    ["Origin", ""],
    ["Sec-WebSocket-Version", "13"],
    ["Accept-Encoding", acceptEncoding],
    ["Accept-Language", "en-US,en;q=0.9"],
    ["Sec-WebSocket-Key", ""],
    ["Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"],
    // Chromium's handshake stream adds the subprotocols after the extensions (only when asked for).
    ["Sec-WebSocket-Protocol", ""],
  ];
}

/**
 * Firefox's upgrade (netwerk WebSocketChannel + Necko), as captured from Firefox ESR 153 with a
 * cross-site page. `Sec-Fetch-Site` and `Sec-Fetch-Storage-Access` are rewritten per connection
 * by {@link applyOriginRules}.
 */
export function firefoxUpgradeHeaders(userAgent: string, acceptLanguage: string, storageAccess: boolean): HeaderTemplate {
  return [
    ["Host", ""],
    ["User-Agent", userAgent],
    ["Accept", "*/*"],
    ["Accept-Language", acceptLanguage],
    ["Accept-Encoding", "gzip, deflate, br, zstd"],
    ["Sec-WebSocket-Version", "13"],
    ["Origin", ""],
    // WebSocketChannel sets the subprotocols between Origin and the extensions (only when asked for).
    ["Sec-WebSocket-Protocol", ""],
    ["Sec-WebSocket-Extensions", "permessage-deflate"],
    ["Sec-WebSocket-Key", ""],
    ...(storageAccess ? [["Sec-Fetch-Storage-Access", "none"] as [string, string]] : []),
    ["Connection", "Upgrade"],
    ["Sec-Fetch-Dest", "empty"],
    ["Sec-Fetch-Mode", "websocket"],
    ["Sec-Fetch-Site", "cross-site"],
    ["Pragma", "no-cache"],
    ["Cache-Control", "no-cache"],
    ["Upgrade", "websocket"],
  ];
}

/**
 * Safari's upgrade. Since Safari 15 WebKit hands WebSockets to CFNetwork's NSURLSession
 * WebSocket task, which writes the request: the order of the headers CFNetwork adds (Host,
 * User-Agent, Sec-WebSocket-Key, Sec-WebSocket-Version, Upgrade, Accept, Sec-WebSocket-Extensions
 * `permessage-deflate`, Accept-Language, Accept-Encoding, Connection) is from a capture of that
 * task on macOS 11 (github.com/dbussink/big-sur-websocket-bug, bigsur.pcap). WebKit's own request
 * headers (`WebSocketHandshake::clientHandshakeRequest()`: Origin, Sec-WebSocket-Protocol, Pragma,
 * Cache-Control) go after User-Agent: that placement is an assumption, no Safari capture exists.
 */
export function webkitUpgradeHeaders(userAgent: string, acceptLanguage: string): HeaderTemplate {
  return [
    ["Host", ""],
    ["User-Agent", userAgent],
    ["Origin", ""],
    ["Sec-WebSocket-Protocol", ""],
    ["Pragma", "no-cache"],
    ["Cache-Control", "no-cache"],
    ["Sec-WebSocket-Key", ""],
    ["Sec-WebSocket-Version", "13"],
    ["Upgrade", "websocket"],
    ["Accept", "*/*"],
    ["Sec-WebSocket-Extensions", "permessage-deflate"],
    ["Accept-Language", acceptLanguage],
    ["Accept-Encoding", "gzip, deflate"],
    ["Connection", "Upgrade"],
  ];
}

/** Fetch's site relation of a request to its initiator (Fetch §3.2 `Sec-Fetch-Site`). */
export type SiteRelation = "same-origin" | "same-site" | "cross-site";

/**
 * How the page at `origin` relates to the WebSocket URL `target` (Fetch: a ws/wss URL is fetched
 * as http/https, so `wss://h:p` is same-origin with `https://h:p`). Same-site compares scheme and
 * registrable domain (schemeful same-site); `registrableDomain` gives the latter (default: the
 * Public Suffix List through tough-cookie; IP literals and special-use names compare whole).
 */
export function siteRelation(origin: string, target: URL, registrableDomain: (host: string) => string | null = publicRegistrableDomain): SiteRelation {
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return "cross-site"; // "null" or an opaque origin
  }
  const scheme = target.protocol === "wss:" ? "https:" : target.protocol === "ws:" ? "http:" : target.protocol;
  const port = (u: URL, s: string): string => u.port || (s === "https:" ? "443" : "80");
  if (o.protocol === scheme && o.hostname === target.hostname && port(o, o.protocol) === port(target, scheme)) return "same-origin";
  if (o.protocol !== scheme) return "cross-site";
  const a = registrableDomain(o.hostname) ?? o.hostname;
  const b = registrableDomain(target.hostname) ?? target.hostname;
  return a === b ? "same-site" : "cross-site";
}

/** eTLD+1 of `host` by the Public Suffix List, or null (IP literal, special-use or unknown name). */
function publicRegistrableDomain(host: string): string | null {
  try {
    return getPublicSuffix(host) ?? null;
  } catch {
    return null; // tough-cookie throws for special-use names such as localhost
  }
}

/**
 * The template for one connection: `Sec-Fetch-Site` agrees with the Origin in use, and
 * `Sec-Fetch-Storage-Access` (Firefox) is sent only with a cross-site request, as Firefox ESR
 * 153 did (captured: a same-origin page sent `same-origin` and no storage-access header).
 * Templates without those headers (Chromium, WebKit) come back unchanged.
 */
export function applyOriginRules(template: HeaderTemplate, relation: SiteRelation): HeaderTemplate {
  if (!template.some(([n]) => /^sec-fetch-(site|storage-access)$/i.test(n))) return template;
  const out: HeaderTemplate = [];
  for (const [name, value] of template) {
    const lower = name.toLowerCase();
    if (lower === "sec-fetch-site") out.push([name, relation]);
    else if (lower === "sec-fetch-storage-access") {
      if (relation === "cross-site") out.push([name, value]);
    } else out.push([name, value]);
  }
  return out;
}

/** A brand of Chromium's `Sec-CH-UA` list. */
export interface UaBrand {
  brand: string;
  version: string;
}

const GREASE_CHARS = [" ", "(", ":", "-", ".", "/", ")", ";", "=", "?", "_"];
const GREASE_VERSIONS = ["8", "99", "24"];
/** Chromium's stable brand permutations, indexed by major % 6. */
const ORDERS = [
  [0, 1, 2],
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
];

/**
 * Chromium's brand list for a major version (components/embedder_support/user_agent_utils.cc,
 * `GenerateBrandVersionList` and `GetGreasedUserAgentBrandVersion`), the seed being the major:
 * - up to 101: `" Not A;Brand";v="99"`, then Chromium, then the browser, in that order;
 * - 102–105: the same GREASE brand, brands in the permutation `major % 6`;
 * - 106 on (the "updated" GREASE algorithm): `Not<c1>A<c2>Brand` with c1, c2 from an 11-character
 *   set indexed by major and major + 1, version 8/99/24 by major % 3, same permutation.
 * `browser` undefined (plain Chromium): two entries, GREASE at index major % 2.
 */
export function chromiumBrands(major: number, browser: string | undefined): UaBrand[] {
  const v = String(major);
  const order = ORDERS[major % 6]!;
  let grease: UaBrand;
  if (major <= 105) {
    grease = { brand: " Not A;Brand", version: "99" };
    if (major <= 101) {
      const fixed = [grease, { brand: "Chromium", version: v }];
      return browser === undefined ? fixed : [...fixed, { brand: browser, version: v }];
    }
  } else {
    const c1 = GREASE_CHARS[major % GREASE_CHARS.length]!;
    const c2 = GREASE_CHARS[(major + 1) % GREASE_CHARS.length]!;
    grease = { brand: `Not${c1}A${c2}Brand`, version: GREASE_VERSIONS[major % GREASE_VERSIONS.length]! };
  }
  const chromium = { brand: "Chromium", version: v };
  if (browser === undefined) return major % 2 === 0 ? [grease, chromium] : [chromium, grease];
  const list: UaBrand[] = new Array<UaBrand>(3);
  list[order[0]!] = grease;
  list[order[1]!] = chromium;
  list[order[2]!] = { brand: browser, version: v };
  return list;
}

/** The `Sec-CH-UA` value for a brand list (RFC 8941 list of strings with a `v` parameter). */
export function formatSecChUa(brands: readonly UaBrand[]): string {
  return brands.map((b) => `"${b.brand}";v="${b.version}"`).join(", ");
}
