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

/** An operation did not finish in time. Operation timeouts (`recv`, `send`, `flush`) leave the connection usable. */
export class WebSocketTimeout extends WebSocketError {
  constructor(message: string, code = 0, options?: { cause?: unknown }) {
    super(message, code, options);
  }
}

/**
 * The peer broke RFC 6455 (or RFC 7692). `code` is the close code we sent: 1002, 1007 or 1009.
 */
export class ProtocolError extends WebSocketError {}

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

  constructor(
    message: string,
    init: { status?: number; rawHeaders?: string[]; body?: Buffer; cause?: unknown } = {},
  ) {
    super(message, 1006, { cause: init.cause });
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

/** TLS failed: a certificate that does not verify, an alert, a malformed or tampered record. */
export class TlsError extends WebSocketError {
  /** The TLS alert description (e.g. `bad_certificate`) or the validation failure (e.g. `CERT_HAS_EXPIRED`). */
  readonly alert: string | undefined;

  constructor(message: string, init: { alert?: string; cause?: unknown } = {}) {
    super(message, 1015, { cause: init.cause });
    this.alert = init.alert;
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
