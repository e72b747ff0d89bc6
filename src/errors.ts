/**
 * Every failure masq reports is a {@link WebSocketError} (or a subclass). `code` follows the
 * WebSocket close-code registry (RFC 6455 §7.4.1) wherever one fits, so that an application can
 * switch on one number:
 *
 * | code | meaning |
 * |---|---|
 * | 1000–4999 | on {@link WebSocketClosed}: the close code the peer (or we) sent |
 * | 1002 | protocol violation by the peer |
 * | 1006 | abnormal closure: DNS, refused, reset, handshake refused, proxy refused, connect timeout |
 * | 1007 | invalid payload data (bad UTF-8, a BINARY message read as text, bad JSON) |
 * | 1009 | message too big (`maxMessageSize`) or receive queue overflow |
 * | 1015 | TLS failure |
 * | 0 | no close code applies: an operation timed out or was refused but the connection is intact |
 *
 * Messages never contain credentials (proxy or Basic-auth passwords).
 */
export class WebSocketError extends Error {
  /** Close-code style number, see the table above. */
  readonly code: number;
  /** For system errors, the errno string (e.g. `ECONNREFUSED`). */
  readonly errno: string | undefined;

  constructor(message: string, code = 1006, options?: { cause?: unknown; errno?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.errno = options?.errno ?? errnoOf(options?.cause);
  }
}

/** The connection is closed: by the peer's close frame, by `close()`, or by `terminate()`. */
export class WebSocketClosed extends WebSocketError {
  /** The close reason (UTF-8 decoded), `""` when there was none. */
  readonly reason: string;

  constructor(message: string, code = 1005, reason = "", options?: { cause?: unknown }) {
    super(message, code, options);
    this.reason = reason;
  }
}

/**
 * @internal A {@link WebSocketClosed} for a close handshake that completed (RFC 6455 §7.1.2),
 * built without capturing a stack trace: its `stack` is the one line `WebSocketClosed: <message>`.
 * Capturing costs about 10 µs per error, a large part of what a connect costs masq's own code;
 * and the frames would name masq's socket read or close path, never the application's call.
 * Code, reason, message and class are those of `new WebSocketClosed(message, code, reason)`.
 */
export function orderlyClose(message: string, code: number, reason: string): WebSocketClosed {
  const limit = Error.stackTraceLimit;
  try {
    Error.stackTraceLimit = 0;
  } catch {
    return new WebSocketClosed(message, code, reason); // frozen intrinsics: the ordinary way
  }
  try {
    return new WebSocketClosed(message, code, reason);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** An operation did not finish in time. Operation timeouts (`recv`, `send`, `flush`) leave the connection usable. */
export class WebSocketTimeout extends WebSocketError {
  constructor(message: string, code = 0, options?: { cause?: unknown }) {
    super(message, code, options);
  }
}

/**
 * Why the peer broke RFC 6455 (or RFC 7692): the stable strings of {@link ProtocolError.reason}
 * (the README has a table of every reason). Messages may be reworded; these strings are not.
 */
export const PROTOCOL_ERROR_REASONS = [
  "masked_frame", // a server frame with the MASK bit (§5.1)
  "reserved_bits", // RSV1/2/3 set without an extension that defines them (§5.2)
  "bad_opcode", // a reserved opcode (§5.2)
  "bad_length", // a 64-bit length with the most significant bit set (§5.2)
  "control_too_long", // a control frame over 125 bytes (§5.5)
  "fragmented_control", // a control frame without FIN (§5.5)
  "bad_continuation", // a continuation with nothing to continue, or a new message inside one (§5.4)
  "invalid_utf8", // a text message or close reason that is not UTF-8 (§8.1)
  "message_too_big", // over `maxMessageSize` (close code 1009)
  "bad_close_code", // a close code that may not be sent on the wire (§7.4)
  "bad_close_payload", // a close frame with a 1-byte payload (§5.5.1)
  "bad_compression", // permessage-deflate data that does not inflate (RFC 7692 §6.2)
  "http2_violation", // over HTTP/2 (RFC 8441): the server broke HTTP/2 or HPACK (RFC 9113, RFC 7541)
  "protocol_violation", // anything else (a read that failed in an unexpected way)
] as const;

/** Why the server's answer to the upgrade request was refused (RFC 6455 §4.1): the strings of {@link HandshakeError.reason}. */
export const HANDSHAKE_ERROR_REASONS = [
  "unexpected_status", // an HTTP status other than 101
  "not_http", // the answer is not an HTTP response at all
  "malformed_response", // a status line or header line that does not parse
  "head_too_large", // the response head exceeds its size bound
  "missing_upgrade", // a 101 without Upgrade: websocket or Connection: Upgrade
  "bad_accept", // Sec-WebSocket-Accept missing or not matching our key
  "bad_subprotocol", // a subprotocol that was not offered
  "bad_extension", // an extension that was not offered, or with bad parameters (RFC 7692 §5)
  "connection_closed", // the server closed the connection before answering
] as const;

/** Why TLS failed: the strings of {@link TlsError.reason}. */
export const TLS_ERROR_REASONS = [
  "certificate_expired", // the server's certificate (or one in its chain) is expired or not yet valid
  "certificate_untrusted", // the chain does not lead to a trusted root, or a signature in it does not verify
  "hostname_mismatch", // the certificate does not name the host we connected to (RFC 6125)
  "bad_certificate", // a certificate that does not parse or may not be used (key usage, constraints)
  "handshake_failure", // no common parameters, or a handshake signature or Finished that does not verify
  "alert_received", // the server sent a fatal alert (its name is in `alert`)
  "unexpected_message", // a message or record out of order (RFC 8446 §6.2 unexpected_message)
  "decode_error", // a message that does not parse (RFC 8446 §6.2 decode_error)
  "illegal_parameter", // a value the server may not choose (RFC 8446 §6.2 illegal_parameter)
  "bad_record", // a record that does not decrypt or is too large (bad_record_mac, record_overflow)
  "connection_closed", // the connection closed or reset during the TLS handshake
  "tls_failure", // anything else
] as const;

/** See {@link PROTOCOL_ERROR_REASONS}. */
export type ProtocolErrorReason = (typeof PROTOCOL_ERROR_REASONS)[number];
/** See {@link HANDSHAKE_ERROR_REASONS}. */
export type HandshakeErrorReason = (typeof HANDSHAKE_ERROR_REASONS)[number];
/** See {@link TLS_ERROR_REASONS}. */
export type TlsErrorReason = (typeof TLS_ERROR_REASONS)[number];

/** Every stable reason string of {@link ProtocolError}, {@link HandshakeError} and {@link TlsError}. */
export type ErrorReason = ProtocolErrorReason | HandshakeErrorReason | TlsErrorReason;

/**
 * The peer broke RFC 6455 (or RFC 7692). `code` is the close code we sent: 1002, 1007 or 1009;
 * `reason` says which rule was broken.
 */
export class ProtocolError extends WebSocketError {
  /** Which rule the peer broke: a stable string (`"masked_frame"`, `"invalid_utf8"`, ...). */
  readonly reason: ProtocolErrorReason;

  constructor(message: string, code = 1006, options?: { cause?: unknown; errno?: string; reason?: ProtocolErrorReason }) {
    super(message, code, options);
    this.reason = options?.reason ?? "protocol_violation";
  }
}

/** The server refused the upgrade (anything but a valid 101 answer). */
export class HandshakeError extends WebSocketError {
  /** HTTP status of the refusal (0 when the response was not HTTP at all). */
  readonly status: number;
  /** Response headers, names lower-cased; repeated headers joined with ", " (set-cookie with "\n"). */
  readonly headers: Record<string, string>;
  /** Response headers as received: [name, value, name, value, ...], original case. */
  readonly rawHeaders: string[];
  /** Up to 64 KiB of the response body. */
  readonly body: Buffer;

  /** Why the answer was refused: a stable string (`"unexpected_status"`, `"bad_accept"`, ...). */
  readonly reason: HandshakeErrorReason;

  constructor(
    message: string,
    init: { status?: number; rawHeaders?: string[]; body?: Buffer; cause?: unknown; reason?: HandshakeErrorReason } = {},
  ) {
    super(message, 1006, { cause: init.cause });
    this.reason = init.reason ?? (init.status !== undefined && init.status !== 101 ? "unexpected_status" : "malformed_response");
    this.status = init.status ?? 0;
    this.rawHeaders = init.rawHeaders ?? [];
    this.headers = headersFromRaw(this.rawHeaders);
    this.body = init.body ?? Buffer.alloc(0);
  }
}

/** A proxy refused or failed the tunnel. Names the proxy's host and port, never its credentials. */
export class ProxyError extends WebSocketError {
  readonly proxyHost: string;
  readonly proxyPort: number;
  /** HTTP status of a refused CONNECT (e.g. 407), or 0. */
  readonly status: number;

  constructor(
    message: string,
    init: { proxyHost: string; proxyPort: number; status?: number; cause?: unknown },
  ) {
    super(message, 1006, { cause: init.cause });
    this.proxyHost = init.proxyHost;
    this.proxyPort = init.proxyPort;
    this.status = init.status ?? 0;
  }
}

/**
 * TLS failed: a certificate that does not verify, an alert, a malformed or tampered record.
 *
 * Three fields say what happened, each from its own vocabulary:
 * - `reason`: masq's stable cause ({@link TlsErrorReason}), the one to branch on;
 * - `verifyCode`: for a certificate that does not verify, Node's verification code
 *   (`CERT_HAS_EXPIRED`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `ERR_TLS_CERT_ALTNAME_INVALID`, ...),
 *   from either TLS stack; undefined otherwise;
 * - `alert`: the TLS alert description (RFC 8446 §6) that was received or sent
 *   (`bad_certificate`, `handshake_failure`, ...). For compatibility with earlier releases, when
 *   the failure has no alert name of its own it still carries what it carried before: the
 *   verification code for a certificate failure (the same string as `verifyCode`), the errno for a
 *   connection reset (`ECONNRESET`), or the native stack's error code.
 */
export class TlsError extends WebSocketError {
  /** The TLS alert description (e.g. `bad_certificate`); see the class comment for the compatibility cases. */
  readonly alert: string | undefined;
  /** The certificate-verification code (e.g. `CERT_HAS_EXPIRED`) when a certificate did not verify. */
  readonly verifyCode: string | undefined;
  /** Why TLS failed: a stable string (`"certificate_expired"`, `"alert_received"`, ...). */
  readonly reason: TlsErrorReason;

  constructor(message: string, init: { alert?: string; verifyCode?: string; reason?: TlsErrorReason; cause?: unknown } = {}) {
    super(message, 1015, { cause: init.cause });
    this.verifyCode = init.verifyCode;
    this.alert = init.alert ?? init.verifyCode;
    this.reason =
      init.reason ??
      (init.verifyCode !== undefined ? reasonForVerifyCode(init.verifyCode) : init.alert !== undefined ? reasonForAlert(init.alert) : "tls_failure");
  }
}

/** Verification codes for a chain that does not lead to a trusted root (OpenSSL's X509_V_ERR names, as Node reports them). */
const UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
]);

/**
 * The reason for a certificate-verification code, as Node (OpenSSL's X509_V_ERR names) and
 * masq's own validator (tls/certificate.ts, which uses the same names) report them.
 */
export function reasonForVerifyCode(code: string): TlsErrorReason {
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") return "certificate_expired";
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return "hostname_mismatch";
  return UNTRUSTED.has(code) ? "certificate_untrusted" : "bad_certificate";
}

/**
 * The reason for a TLS alert we send (RFC 8446 §6.2): the alert already names the cause, so a
 * throw site that gives only an alert gets the matching reason.
 */
export function reasonForAlert(alert: string): TlsErrorReason {
  switch (alert) {
    case "unexpected_message":
    case "decode_error":
    case "illegal_parameter":
      return alert;
    case "bad_record_mac":
    case "record_overflow":
      return "bad_record";
    case "bad_certificate":
    case "unsupported_certificate":
    case "certificate_unknown":
    case "certificate_revoked":
      return "bad_certificate";
    case "certificate_expired":
      return "certificate_expired";
    case "unknown_ca":
      return "certificate_untrusted";
    case "handshake_failure":
    case "decrypt_error":
    case "insufficient_security":
    case "protocol_version":
    case "missing_extension":
    case "unsupported_extension":
    case "no_application_protocol":
    case "certificate_required":
      return "handshake_failure";
    case "close_notify":
      return "connection_closed";
    default:
      return "tls_failure";
  }
}
/** Lower-cased header lookup built from a raw [name, value, ...] list. */
export function headersFromRaw(raw: readonly string[]): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const prev = out[name];
    out[name] = prev === undefined ? value : prev + (name === "set-cookie" ? "\n" : ", ") + value;
  }
  return out;
}

function errnoOf(cause: unknown): string | undefined {
  if (cause && typeof cause === "object" && "code" in cause) {
    const c = (cause as { code: unknown }).code;
    if (typeof c === "string") return c;
  }
  return undefined;
}
