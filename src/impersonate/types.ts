import type { DeflateOffer } from "../protocol/extensions.js";
import type { ClientHelloProfile } from "../tls/client-hello.js";

/** Header list in wire order, names in wire case. */
export type HeaderTemplate = Array<[name: string, value: string]>;

/** A browser to impersonate: its TLS ClientHello and its WebSocket upgrade request. */
export interface BrowserProfile {
  /** Profile name (`chrome156`, `firefox153`, …). */
  name: string;
  /** ClientHello shape for masq's TLS engine. */
  tls: ClientHelloProfile;
  /**
   * The upgrade request's headers in the browser's order and case. Empty values are filled in by
   * the handshake builder: `Host`, `Origin`, `Sec-WebSocket-Key`; `Sec-WebSocket-Extensions` and
   * `Sec-WebSocket-Protocol` get the connection's values and are dropped when it has none.
   */
  headers: HeaderTemplate;
  /** The browser offers permessage-deflate (the value of its Sec-WebSocket-Extensions header). */
  compress: boolean;
  /**
   * Where the browser puts a `Cookie` header: right after the template header of this name
   * (Chrome: after Accept-Language; Firefox: after Connection). Undefined: append at the end.
   */
  cookieAfter?: string;
  /** The browser's HTTP/2 fingerprint, for profiles that speak h2 (see {@link Http2Fingerprint}). */
  http2?: Http2Fingerprint;
  /**
   * The permessage-deflate offer the browser sends when `compress` is on (Firefox:
   * `{ clientMaxWindowBits: false }`, i.e. a bare `permessage-deflate`). Undefined: masq's default
   * offer (`permessage-deflate; client_max_window_bits`, as Chromium sends).
   */
  deflateOffer?: DeflateOffer;
  /**
   * Chromium's User-Agent client hints for this version (`sec-ch-ua` with its GREASE brand,
   * `sec-ch-ua-mobile`, `sec-ch-ua-platform`). Chromium does not send them on a WebSocket
   * upgrade (captured), so they are not in `headers`; add them yourself where a page load would.
   */
  clientHints?: HeaderTemplate;
  /** Catalogue facts for `profileInfo()` and the README table. */
  info?: ProfileInfo;
}

/** Where a catalogue profile comes from. */
export interface ProfileInfo {
  /** Family (`chrome`, `chrome_android`, `edge`, `safari`, `safari_ios`, `firefox`, `tor`). */
  family: string;
  /** Browser version (`156`, `17.2`, …). */
  version: string;
  /** Platform its User-Agent claims. */
  platform: string;
  /** What the ClientHello was checked against. */
  checkedAgainst: string;
  /** Where the upgrade header list comes from. */
  headerSource: string;
}

/**
 * How a browser opens an HTTP/2 connection and a WebSocket stream on it (RFC 9113, RFC 8441),
 * as data: the Akamai fingerprint plus what it cannot say (stream WINDOW_UPDATE, header list).
 */
export interface Http2Fingerprint {
  /** SETTINGS parameters in the order the browser sends them: `[identifier, value]`. */
  settings: Array<[id: number, value: number]>;
  /** Increment of the connection-level WINDOW_UPDATE sent right after SETTINGS (0: none). */
  connectionWindowUpdate: number;
  /** Increment of the stream-level WINDOW_UPDATE sent after a WebSocket stream's HEADERS (0: none). */
  streamWindowUpdate: number;
  /** Priority fields on HEADERS (`weight` is the wire byte, 0–255), or null: no PRIORITY flag. */
  priority: { exclusive: boolean; dependency: number; weight: number } | null;
  /** PRIORITY frames sent after SETTINGS on a fresh connection (old Firefox), in order. */
  priorityFrames?: Array<{ streamId: number; exclusive: boolean; dependency: number; weight: number }>;
  /** Stream id of the first stream the browser opens on a fresh connection (Firefox 153: 3). */
  firstStreamId: number;
  /** Pseudo-header order, e.g. `[":method", ":protocol", ":scheme", ":authority", ":path"]`. */
  pseudoHeaderOrder: string[];
  /**
   * Regular headers of the extended CONNECT in the browser's order (lower-case names). Empty
   * values are filled in like the HTTP/1.1 template's (`origin`, `sec-websocket-key`, …).
   */
  headers: HeaderTemplate;
  /**
   * When the browser carries a WebSocket over h2: `"fresh"` offers h2 in ALPN and uses extended
   * CONNECT on a new connection (Firefox); `"existing"` only on an h2 connection it already holds
   * to that origin and offers http/1.1 alone for a fresh wss (Chromium).
   */
  websocket: "fresh" | "existing";
}
