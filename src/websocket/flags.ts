/**
 * Flag bits of a received item and of `send()`, numerically identical to libcurl's CURLWS_*
 * flags so that code ported from curl_cffi keeps its constants.
 */
export const WsFlag = {
  /** A text message (UTF-8). */
  TEXT: 1,
  /** A binary message. */
  BINARY: 2,
  /** On `send`: more fragments of this message follow (manual fragmentation). */
  CONT: 4,
  /** A close frame: `recv` yields the close payload once with this flag. */
  CLOSE: 8,
  /** On `send`: send a PING with this payload. */
  PING: 16,
  /** libcurl's partial-frame flag; masq always delivers whole messages, so it never appears. */
  OFFSET: 32,
  /** On `send`: send an unsolicited PONG (RFC 6455 §5.5.3 heartbeat). */
  PONG: 64,
} as const;

/** Alias kept for code written against curl_cffi. */
export const CurlWsFlag = WsFlag;
