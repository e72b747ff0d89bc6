/**
 * The extended CONNECT request of a WebSocket over HTTP/2 (RFC 8441 §4-§5) and the HTTP/2
 * fingerprint it goes with: pseudo-headers in the profile's order, then the profile's header
 * template with the computed values filled in. No Sec-WebSocket-Key, Upgrade, Connection or Host
 * (RFC 8441 §5, RFC 9113 §8.2.2): the stream itself is the upgrade.
 */
import { WebSocketError } from "../errors.js";
import type { Http2ClientOptions } from "../protocol/http2/connection.js";
import type { BrowserProfile, Http2Fingerprint } from "../impersonate/types.js";
import { applyOriginRules, siteRelation } from "../impersonate/headers.js";

/**
 * masq's own HTTP/2 fingerprint (`http2: true` without impersonation): no push, 4 MiB stream
 * windows and a 16 MiB connection window so a 20 MiB message never waits on a round trip per
 * 64 KiB, RFC 8441's pseudo-header order, no priority.
 */
export const MASQ_HTTP2: Http2Fingerprint = {
  settings: [
    [2, 0],
    [4, 4 * 1024 * 1024],
  ],
  connectionWindowUpdate: 16 * 1024 * 1024 - 65535,
  streamWindowUpdate: 0,
  priority: null,
  firstStreamId: 1,
  pseudoHeaderOrder: [":method", ":protocol", ":scheme", ":path", ":authority"],
  headers: [
    ["sec-websocket-version", "13"],
    ["origin", ""],
    ["sec-websocket-protocol", ""],
    ["sec-websocket-extensions", ""],
  ],
  websocket: "fresh",
};

/** The HTTP/2 fingerprint to use with `profile` (masq's own when it has none). */
export function http2FingerprintOf(profile: BrowserProfile | undefined): Http2Fingerprint {
  return profile?.http2 ?? MASQ_HTTP2;
}

/**
 * The sans-I/O connection's options for a fingerprint. How often consumed data is given back
 * follows the browser family: Firefox (the one that raises each stream's window with a
 * WINDOW_UPDATE after HEADERS, its "pull allowance") acknowledges in steps of 4 MiB, or at once
 * when a window is down to 96 KiB (Http2Session.h `kMinimumToAck`, `kEmergencyWindowThreshold`);
 * Chromium and masq's own fingerprint at half the window.
 */
export function connectionOptionsOf(fp: Http2Fingerprint): Http2ClientOptions {
  const firefoxLike = fp.streamWindowUpdate > 0;
  return {
    settings: fp.settings,
    connectionWindowUpdate: fp.connectionWindowUpdate,
    streamWindowUpdate: fp.streamWindowUpdate,
    ...(firefoxLike ? { ackThreshold: 4 * 1024 * 1024, ackEmergencyWindow: 96 * 1024 } : {}),
    ...(fp.priorityFrames ? { priorityFrames: fp.priorityFrames } : {}),
    firstStreamId: fp.firstStreamId,
  };
}

/** Input of {@link buildConnectRequest}. */
export interface ConnectRequestInput {
  /** `host[:port]` as in the URL (RFC 9113 §8.3.1 :authority). */
  authority: string;
  /** Path and query. */
  path: string;
  /** The target URL, to tell same-origin from same-site and cross-site (Sec-Fetch-Site). */
  target: URL;
  origin?: string | undefined;
  protocols?: string[] | undefined;
  extensions?: string | undefined;
  /** User headers (any case), already merged; Cookie and Authorization included. */
  headers: Array<[string, string]>;
  /** The profile's HTTP/1.1 template and cookie position, to place Cookie as the browser does. */
  profile?: BrowserProfile | undefined;
}

/** Connection-specific headers HTTP/2 forbids (RFC 9113 §8.2.2) and the HTTP/1.1 upgrade's own. */
const FORBIDDEN = new Set(["connection", "upgrade", "keep-alive", "proxy-connection", "transfer-encoding", "host", "te", "sec-websocket-key"]);
/** Headers masq controls for the handshake to mean what it says. */
const OWNED = new Set(["connection", "upgrade", "sec-websocket-key", "sec-websocket-version"]);

/**
 * The header list of the extended CONNECT, pseudo-headers first. Throws WebSocketError (code 0)
 * for a user header masq owns, like the HTTP/1.1 builder.
 */
export function buildConnectRequest(fp: Http2Fingerprint, o: ConnectRequestInput): Array<[string, string]> {
  const pseudo: Record<string, string> = {
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": "https",
    ":path": o.path,
    ":authority": o.authority,
  };
  const out: Array<[string, string]> = [];
  for (const name of fp.pseudoHeaderOrder) {
    const v = pseudo[name];
    if (v !== undefined) out.push([name, v]);
  }
  for (const name of Object.keys(pseudo)) if (!fp.pseudoHeaderOrder.includes(name)) out.push([name, pseudo[name]!]);
  const pseudoCount = out.length;

  const computed = new Map<string, string | undefined>([
    ["origin", o.origin || undefined],
    ["sec-websocket-protocol", o.protocols && o.protocols.length > 0 ? o.protocols.join(", ") : undefined],
    ["sec-websocket-extensions", o.extensions || undefined],
  ]);
  // Fetch metadata follows the Origin in use, as on HTTP/1.1 (Firefox's same-origin capture has
  // `same-origin` and no storage-access header; a foreign Origin is cross-site).
  const template = o.origin !== undefined ? applyOriginRules(fp.headers, siteRelation(o.origin, o.target)) : fp.headers;
  for (const [name, value] of template) {
    const lower = name.toLowerCase();
    if (computed.has(lower)) {
      const v = computed.get(lower);
      if (v !== undefined) out.push([lower, v]);
      continue;
    }
    out.push([lower, value]);
  }
  for (const [lower, v] of computed) if (v !== undefined && !out.some(([n]) => n === lower)) out.push([lower, v]);
  if (!out.some(([n]) => n === "sec-websocket-version")) out.push(["sec-websocket-version", "13"]);

  const replaceable = out.length;
  for (const [name, value] of o.headers) {
    const lower = name.toLowerCase();
    if (OWNED.has(lower)) {
      throw new WebSocketError(`the ${name} header is set by masq for the WebSocket handshake and cannot be overridden`, 0);
    }
    if (FORBIDDEN.has(lower) || lower.startsWith(":")) continue;
    if (/[\r\n\0]/.test(value)) throw new WebSocketError(`the value of header ${name} contains CR, LF or NUL`, 0);
    const at = out.findIndex(([n], i) => i >= pseudoCount && i < replaceable && n === lower);
    if (lower === "cookie" && at < 0) {
      out.splice(cookiePosition(out, o.profile), 0, [lower, value]);
      continue;
    }
    if (at >= 0) out[at] = [lower, value];
    else out.push([lower, value]);
  }
  return out;
}

/**
 * Where the browser's Cookie goes: after the header the profile names, or, when that header has
 * no HTTP/2 counterpart (Firefox: Connection), after the nearest one before it that does.
 */
function cookiePosition(out: Array<[string, string]>, profile: BrowserProfile | undefined): number {
  const after = profile?.cookieAfter?.toLowerCase();
  if (!after || !profile) return out.length;
  const h1 = profile.headers.map(([n]) => n.toLowerCase());
  for (let i = h1.indexOf(after); i >= 0; i--) {
    const at = out.findIndex(([n]) => n === h1[i]);
    if (at >= 0) return at + 1;
  }
  return out.length;
}
