import net from "node:net";
import tls from "node:tls";
import { createHash } from "node:crypto";
import type { Duplex } from "node:stream";
import { TlsError, reasonForVerifyCode } from "../errors.js";
import { extraCaFromEnv } from "../tls/extra-ca.js";
import type { TlsSessionCache } from "../tls/session-cache.js";
import type { ClientCertOptions } from "../tls/client-auth.js";
import { stripBrackets } from "./tcp.js";
import type { AbortWatch } from "./abort-watch.js";
import { formatHostPort } from "./proxy-url.js";

export type CaOption = string | Buffer | Array<string | Buffer>;

export interface NativeTlsOptions {
  /** The name or IP the certificate must match (and the SNI name unless `servername` says otherwise). */
  host: string;
  /** For messages. */
  port: number;
  /** SNI name; default `host` unless it is an IP literal (no SNI then). `""` disables SNI. */
  servername?: string;
  /** ALPN protocols, default `["http/1.1"]`. */
  alpn?: string[];
  /** Check the certificate chain and the host name. */
  verify: boolean;
  /** Extra trusted CAs (PEM), added to Node's bundled roots. */
  ca?: CaOption;
  signal?: AbortWatch;
  /** Words naming the peer in messages, e.g. "HTTPS proxy" (default "server"). */
  label?: string;
  /** Client certificate and key for servers that ask for one (mTLS). */
  clientCert?: ClientCertOptions;
  /**
   * Session resumption through Node's session API: a stored session for `key` is offered, and
   * the sessions the server hands out ('session' events) are stored under it.
   */
  sessionCache?: { cache: TlsSessionCache; key: string };
}

const contextCache = new Map<string, tls.SecureContext>();
/**
 * A SecureContext trusting Node's bundled roots (plus NODE_EXTRA_CA_CERTS) AND the given CAs.
 * Passing `ca` to Node directly would replace the default roots; we merge instead.
 * Cached by CA content (a handful of entries).
 */
export function secureContextWithCa(ca: CaOption | undefined): tls.SecureContext | undefined {
  if (ca === undefined) return undefined;
  const list = Array.isArray(ca) ? ca : [ca];
  if (list.length === 0) return undefined;
  const key = list.map((c) => (typeof c === "string" ? c : c.toString("latin1"))).join("\n");
  let ctx = contextCache.get(key);
  if (ctx === undefined) {
    const all: Array<string | Buffer> = [...tls.rootCertificates];
    const extra = extraCaFromEnv();
    if (extra) all.push(extra);
    all.push(...list);
    try {
      ctx = tls.createSecureContext({ ca: all });
    } catch (err) {
      throw new TlsError(`Invalid "ca" option: ${(err as Error).message}`, { alert: "INVALID_CA", reason: "bad_certificate", cause: err });
    }
    if (contextCache.size >= 16) contextCache.delete(contextCache.keys().next().value as string);
    contextCache.set(key, ctx);
  }
  return ctx;
}

let defaultContext: tls.SecureContext | undefined;
const clientCertContexts = new Map<string, tls.SecureContext>();

/**
 * The SecureContext for a connection: Node's default trust (one context per process, instead of
 * the one `tls.connect` would build on every call), the merged roots of {@link secureContextWithCa},
 * or, with a client certificate, a context holding it (cached by content).
 */
function secureContextFor(ca: CaOption | undefined, cert: ClientCertOptions | undefined): tls.SecureContext {
  if (cert === undefined) return secureContextWithCa(ca) ?? (defaultContext ??= tls.createSecureContext());
  // By the whole credential (a digest: the key and passphrase are never kept as map keys).
  const key = createHash("sha256").update(cert.cert).update("\0").update(cert.key).update("\0").update(cert.passphrase ?? "").digest("base64") + "\0" + caKey(ca);
  let ctx = clientCertContexts.get(key);
  if (ctx === undefined) {
    const list = ca === undefined ? [] : Array.isArray(ca) ? ca : [ca];
    const anchors: Array<string | Buffer> | undefined =
      list.length === 0 ? undefined : [...tls.rootCertificates, ...(extraCaFromEnv() ? [extraCaFromEnv()!] : []), ...list];
    try {
      ctx = tls.createSecureContext({
        ...(anchors ? { ca: anchors } : {}),
        cert: cert.cert,
        key: cert.key,
        ...(cert.passphrase !== undefined ? { passphrase: cert.passphrase } : {}),
      });
    } catch (err) {
      // Never echo the key or passphrase: OpenSSL's message names only what failed.
      throw new TlsError(`Invalid client certificate or key ("cert" / "key" / "passphrase" options): ${(err as Error).message}`, {
        alert: "INVALID_CLIENT_CERT",
        reason: "bad_certificate",
      });
    }
    if (clientCertContexts.size >= 16) clientCertContexts.delete(clientCertContexts.keys().next().value as string);
    clientCertContexts.set(key, ctx);
  }
  return ctx;
}

function caKey(ca: CaOption | undefined): string {
  if (ca === undefined) return "";
  return (Array.isArray(ca) ? ca : [ca]).map((c) => (typeof c === "string" ? c : c.toString("latin1"))).join("\n");
}

/**
 * Stores every session the server hands out ('session' events: TLS 1.2 after the handshake, each
 * TLS 1.3 NewSessionTicket) under `key`. TLS 1.3 sessions are single use (RFC 8446 §C.4, as
 * browsers do); Node does not expose the ticket lifetime, so entries live 2 hours at most (a
 * server that expired the ticket earlier simply does a full handshake).
 */
function keepSessions(socket: tls.TLSSocket, cache: TlsSessionCache, key: string): void {
  socket.on("session", (session: Buffer) => {
    cache.store(key, session, { lifetimeMs: NATIVE_SESSION_LIFETIME_MS, singleUse: socket.getProtocol() === "TLSv1.3" });
  });
}

/** How long a Node session is offered (see keepSessions). */
const NATIVE_SESSION_LIFETIME_MS = 2 * 3600 * 1000;

/**
 * Runs a Node TLS handshake over an already connected Duplex (a TCP socket or a proxy tunnel).
 * Resolves once the handshake (and, when `verify`, the certificate check) succeeded.
 * Rejects with TlsError (`alert` = Node's error code, e.g. CERT_HAS_EXPIRED), or with the signal's
 * reason on abort; the sockets are destroyed in both cases.
 */
export function nativeTlsConnect(socket: Duplex, o: NativeTlsOptions): Promise<tls.TLSSocket> {
  return new Promise<tls.TLSSocket>((resolve, reject) => {
    if (o.signal?.aborted) {
      socket.destroy();
      reject(o.signal.reason);
      return;
    }
    const host = stripBrackets(o.host);
    const display = formatHostPort(host, o.port);
    const label = o.label ?? "server";
    let secureContext: tls.SecureContext | undefined;
    try {
      secureContext = secureContextFor(o.ca, o.clientCert);
    } catch (err) {
      socket.destroy();
      reject(err);
      return;
    }
    // The name to verify: `servername` when given, else the host. SNI carries it unless it is an IP
    // literal (RFC 6066 forbids that; Node would warn).
    const identity = o.servername ? stripBrackets(o.servername) : host;
    const sni = o.servername === "" || net.isIP(identity) ? undefined : identity;
    // A session from an earlier connection under the same key (one per connect: TLS 1.3 tickets
    // are taken out of the cache, as browsers use them once).
    const offered = o.sessionCache ? (o.sessionCache.cache.take(o.sessionCache.key) as Buffer | undefined) : undefined;
    const tlsSocket = tls.connect({
      socket,
      host,
      servername: sni,
      checkServerIdentity: (_name, cert) => tls.checkServerIdentity(identity, cert),
      ALPNProtocols: o.alpn ?? ["http/1.1"],
      rejectUnauthorized: o.verify,
      ...(secureContext ? { secureContext } : {}),
      ...(offered ? { session: offered } : {}),
    });
    if (o.sessionCache) keepSessions(tlsSocket, o.sessionCache.cache, o.sessionCache.key);
    const signal = o.signal;
    const cleanup = () => {
      tlsSocket.removeListener("secureConnect", onSecure);
      tlsSocket.removeListener("error", onError);
      tlsSocket.removeListener("close", onClose);
      signal?.removeEventListener("abort", onAbort);
    };
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      cleanup();
      tlsSocket.destroy();
      socket.destroy();
      reject(err);
    };
    const onSecure = () => {
      if (settled) return;
      settled = true;
      cleanup();
      resolve(tlsSocket);
    };
    const onError = (err: NodeJS.ErrnoException) => {
      fail(nodeTlsError(`TLS handshake with ${label} ${display} failed: ${err.message} (${err.code ?? "TLS_ERROR"})`, err));
    };
    const onClose = () => {
      fail(
        new TlsError(`TLS handshake with ${label} ${display} failed: the connection closed before it completed`, {
          alert: "ECONNRESET",
          reason: "connection_closed",
        }),
      );
    };
    const onAbort = () => fail(signal!.reason);
    tlsSocket.once("secureConnect", onSecure);
    tlsSocket.on("error", onError);
    tlsSocket.once("close", onClose);
    signal?.addEventListener("abort", onAbort, { once: true });
    // Errors of the carrier stream end the TLS socket too (with the error, for its listeners).
    socket.on("error", (err) => {
      if (!tlsSocket.destroyed) tlsSocket.destroy(err);
    });
  });
}

/** Node's (OpenSSL's) certificate-verification codes, as `err.code` of a failed TLS handshake. */
const VERIFY_CODE = /^(CERT_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|INVALID_CA$|INVALID_PURPOSE$|PATH_LENGTH_|HOSTNAME_MISMATCH$|ERR_TLS_CERT_ALTNAME_INVALID$)/;
/** OpenSSL's name for a received alert, e.g. ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE. */
const ALERT_CODE = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_([A-Z_]+)$/;

/**
 * A TlsError for a failure that Node's TLS stack (or a socket under it) reported, sorted into
 * masq's vocabulary: a verification code goes to `verifyCode` (and `alert`, as before), an alert the
 * server sent to `alert` under its RFC 8446 name, a socket errno to `errno` (and `alert`, as before).
 */
export function nodeTlsError(message: string, err: unknown): TlsError {
  const raw = (err as NodeJS.ErrnoException | undefined)?.code;
  const code = typeof raw === "string" ? raw : "TLS_ERROR";
  if (VERIFY_CODE.test(code)) return new TlsError(message, { verifyCode: code, reason: reasonForVerifyCode(code), cause: err });
  const alert = ALERT_CODE.exec(code);
  if (alert) return new TlsError(message, { alert: alert[1]!.toLowerCase(), reason: "alert_received", cause: err });
  const closed = code === "ECONNRESET" || code === "EPIPE" || code === "ECONNABORTED";
  return new TlsError(message, { alert: code, reason: closed ? "connection_closed" : "tls_failure", cause: err });
}
