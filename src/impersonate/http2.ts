/**
 * HTTP/2 fingerprints (RFC 9113 SETTINGS, WINDOW_UPDATE, priority, pseudo-header and header
 * order) of the catalogue's browsers, for the h2 layer (RFC 8441 WebSockets). Data only.
 *
 * - Chromium 156 and Firefox ESR 153: their extended CONNECT as captured here.
 * - Older versions and Safari: SETTINGS and WINDOW_UPDATE of curl_cffi's page-load prefaces
 *   (the Akamai strings in test/fixtures/profiles/); the WebSocket stream's priority, stream id
 *   and header list are their engine's newest capture (Chromium, Firefox) or, for Safari, WebKit's
 *   request header order with no capture behind it.
 */
import type { HeaderTemplate, Http2Fingerprint } from "./types.js";

/** SETTINGS identifiers (RFC 9113 §6.5.2, RFC 8441 §3, RFC 9218 §2.1). */
const HEADER_TABLE_SIZE = 1;
const ENABLE_PUSH = 2;
const MAX_CONCURRENT_STREAMS = 3;
const INITIAL_WINDOW_SIZE = 4;
const MAX_FRAME_SIZE = 5;
const MAX_HEADER_LIST_SIZE = 6;
const ENABLE_CONNECT_PROTOCOL = 8;
const NO_RFC7540_PRIORITIES = 9;

/** Chromium's CONNECT header list (captured from Chromium 156 on an h2 page connection). */
function chromiumConnectHeaders(userAgent: string, acceptEncoding: string): HeaderTemplate {
  return [
    ["pragma", "no-cache"],
    ["cache-control", "no-cache"],
    ["user-agent", userAgent],
    ["origin", ""],
    ["sec-websocket-version", "13"],
    ["accept-encoding", acceptEncoding],
    ["accept-language", "en-US,en;q=0.9"],
    ["sec-websocket-extensions", "permessage-deflate; client_max_window_bits"],
    ["sec-websocket-protocol", ""],
  ];
}

/** Chromium's SETTINGS by version: 99–104 send MAX_CONCURRENT_STREAMS, 107–116 add ENABLE_PUSH 0, 119 on drop the former. */
function chromiumSettings(major: number): Array<[number, number]> {
  if (major <= 104) return [[HEADER_TABLE_SIZE, 65536], [MAX_CONCURRENT_STREAMS, 1000], [INITIAL_WINDOW_SIZE, 6291456], [MAX_HEADER_LIST_SIZE, 262144]];
  if (major <= 116) {
    return [[HEADER_TABLE_SIZE, 65536], [ENABLE_PUSH, 0], [MAX_CONCURRENT_STREAMS, 1000], [INITIAL_WINDOW_SIZE, 6291456], [MAX_HEADER_LIST_SIZE, 262144]];
  }
  return [[HEADER_TABLE_SIZE, 65536], [ENABLE_PUSH, 0], [INITIAL_WINDOW_SIZE, 6291456], [MAX_HEADER_LIST_SIZE, 262144]];
}

/**
 * Chromium: `1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p` (156). A WebSocket goes over h2
 * only on a connection Chromium already holds (captured: stream 3 after the page on stream 1),
 * HEADERS priority exclusive, dependency 0, weight byte 146 (LOWEST).
 */
export function chromiumHttp2(major: number, userAgent: string, acceptEncoding: string): Http2Fingerprint {
  return {
    settings: chromiumSettings(major),
    connectionWindowUpdate: 15663105,
    streamWindowUpdate: 0,
    priority: { exclusive: true, dependency: 0, weight: 146 },
    firstStreamId: 1,
    pseudoHeaderOrder: [":method", ":authority", ":scheme", ":path", ":protocol"],
    headers: chromiumConnectHeaders(userAgent, acceptEncoding),
    websocket: "existing",
  };
}

/**
 * Firefox (and Tor Browser): `1:65536;2:0;4:131072;5:16384|12517377|0|m,p,a,s` in every version
 * measured. Firefox ESR 153 sends a WebSocket as an extended CONNECT on a fresh connection,
 * stream 3, priority non-exclusive, dependency 0, weight byte 21, then a stream WINDOW_UPDATE of
 * 12451840.
 */
export function firefoxHttp2(userAgent: string, acceptLanguage: string, storageAccess: boolean): Http2Fingerprint {
  return {
    settings: [[HEADER_TABLE_SIZE, 65536], [ENABLE_PUSH, 0], [INITIAL_WINDOW_SIZE, 131072], [MAX_FRAME_SIZE, 16384]],
    connectionWindowUpdate: 12517377,
    streamWindowUpdate: 12451840,
    priority: { exclusive: false, dependency: 0, weight: 21 },
    firstStreamId: 3,
    pseudoHeaderOrder: [":method", ":path", ":authority", ":scheme", ":protocol"],
    headers: [
      ["user-agent", userAgent],
      ["accept", "*/*"],
      ["accept-language", acceptLanguage],
      ["accept-encoding", "gzip, deflate, br, zstd"],
      ["sec-websocket-version", "13"],
      ["origin", ""],
      ["sec-websocket-protocol", ""],
      ["sec-websocket-extensions", "permessage-deflate"],
      ...(storageAccess ? [["sec-fetch-storage-access", "none"] as [string, string]] : []),
      ["sec-fetch-dest", "empty"],
      ["sec-fetch-mode", "websocket"],
      ["sec-fetch-site", "cross-site"],
      ["pragma", "no-cache"],
      ["cache-control", "no-cache"],
    ],
    websocket: "fresh",
  };
}

/** Safari's prefaces by era, as curl_cffi measured them (ids H4–H9 of its table). */
const SAFARI_SETTINGS: Record<string, Array<[number, number]>> = {
  "15": [[INITIAL_WINDOW_SIZE, 4194304], [MAX_CONCURRENT_STREAMS, 100]],
  "17.0": [[ENABLE_PUSH, 0], [INITIAL_WINDOW_SIZE, 4194304], [MAX_CONCURRENT_STREAMS, 100]],
  "17.2": [[ENABLE_PUSH, 0], [INITIAL_WINDOW_SIZE, 2097152], [MAX_CONCURRENT_STREAMS, 100]],
  "18.0": [[ENABLE_PUSH, 0], [MAX_CONCURRENT_STREAMS, 100], [INITIAL_WINDOW_SIZE, 2097152], [ENABLE_CONNECT_PROTOCOL, 1], [NO_RFC7540_PRIORITIES, 1]],
  "18.4": [[ENABLE_PUSH, 0], [MAX_CONCURRENT_STREAMS, 100], [INITIAL_WINDOW_SIZE, 2097152], [NO_RFC7540_PRIORITIES, 1]],
};

/**
 * Safari: SETTINGS, WINDOW_UPDATE, HEADERS priority and pseudo-header order of its page loads
 * (curl_cffi); `era` is one of `15`, `17.0`, `17.2`, `18.0`, `18.4`, `26`. Whether Safari ever
 * carries a WebSocket over h2 is not known here: `websocket: "existing"` never offers h2 for it.
 */
export function safariHttp2(era: string, userAgent: string): Http2Fingerprint {
  const modern = era === "18.0" || era === "18.4" || era === "26";
  return {
    settings: SAFARI_SETTINGS[era === "26" ? "18.4" : era] ?? SAFARI_SETTINGS["18.4"]!,
    connectionWindowUpdate: modern ? 10420225 : 10485760,
    streamWindowUpdate: 0,
    priority: era === "26" ? null : { exclusive: false, dependency: 0, weight: modern ? 255 : 254 },
    firstStreamId: 1,
    pseudoHeaderOrder: modern ? [":method", ":scheme", ":authority", ":path", ":protocol"] : [":method", ":scheme", ":path", ":authority", ":protocol"],
    // The HTTP/1.1 request's order without its hop-by-hop and key headers (uncaptured).
    headers: [
      ["user-agent", userAgent],
      ["origin", ""],
      ["sec-websocket-protocol", ""],
      ["pragma", "no-cache"],
      ["cache-control", "no-cache"],
      ["sec-websocket-version", "13"],
      ["accept", "*/*"],
      ["sec-websocket-extensions", "permessage-deflate"],
      ["accept-language", "en-US,en;q=0.9"],
      ["accept-encoding", "gzip, deflate"],
    ],
    websocket: "existing",
  };
}
