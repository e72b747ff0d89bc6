/**
 * masq's own TLS 1.3 client (RFC 8446) over any Duplex: a sans-I/O handshake engine with the
 * record layer beside it ({@link TlsClientEngine}) and a Duplex wrapper ({@link MasqTlsSocket}).
 */
import { createHash } from "node:crypto";
import type { Duplex } from "node:stream";
import { TlsError } from "../errors.js";
import { masqDefaultHello, type ClientHelloProfile } from "./client-hello.js";
import { profileHelloBuilder, sniFor } from "./hello-builder.js";
import { connectEngine, MasqTlsSocket } from "./socket.js";
import { ClientCredentials, type ClientCertOptions } from "./client-auth.js";
import type { TlsSessionCache } from "./session-cache.js";
import type { TlsTicket13 } from "./psk.js";
import type { TlsSession12 } from "./session-ticket.js";

export { MasqTlsSocket } from "./socket.js";
export { TlsClientEngine } from "./engine.js";
export type { EngineOptions, EngineSink, HelloBuilder } from "./engine.js";

/** Options of {@link masqTlsConnect}. */
export interface MasqTlsOptions {
  /** Host the socket is connected to (SNI and certificate identity default to it). */
  host: string;
  /** SNI / identity name; `false` sends no SNI (the identity is then checked against `host`). */
  servername?: string | false;
  /** ALPN protocols to offer (overrides the profile's list). */
  alpn?: string[];
  /** Verify the server chain and identity (`false` opts out; `authorized` then tells the result). */
  rejectUnauthorized: boolean;
  /** Extra trust anchors, added to `tls.rootCertificates`. */
  ca?: string | Buffer | Array<string | Buffer>;
  /**
   * ClientHello shape (browser impersonation); default: masq's plain hello (`masqDefaultHello`).
   * A whole browser profile (`{ tls: ClientHelloProfile, ... }`) is accepted too.
   */
  profile?: ClientHelloProfile | { tls: ClientHelloProfile };
  signal?: AbortSignal;
  /** Client certificate and key, sent when the server asks for one (mTLS). */
  clientCert?: ClientCertOptions;
  /** The session cache and this connection's key in it (resumption; see src/tls/session-cache.ts). */
  sessionCache?: { cache: TlsSessionCache; key: string };
}

/**
 * Run a TLS 1.3 handshake over `socket` (already connected) and resolve with the encrypted
 * stream. Rejects with TlsError (alert name or a Node-style code such as CERT_HAS_EXPIRED).
 */
export async function masqTlsConnect(socket: Duplex, opts: MasqTlsOptions): Promise<MasqTlsSocket> {
  const name = opts.servername === false ? undefined : opts.servername || opts.host;
  const sni = opts.servername === false ? undefined : sniFor(name);
  const verifyHost = (name ?? opts.host).replace(/\.$/, "");
  if (!verifyHost && opts.rejectUnauthorized) {
    throw new TlsError("masq TLS needs a host name to verify the server certificate", { alert: "internal_error" });
  }
  const clientCredentials = opts.clientCert ? credentialsFor(opts.clientCert) : undefined;
  // Resumption (RFC 8446 §2.2, RFC 5077): a ticket from this session's cache under this
  // connection's key (a TLS 1.3 one is taken out: browsers use it once), and new tickets stored
  // back under it. A TLS 1.2 ticket rides in the hello's session_ticket extension.
  const cache = opts.sessionCache;
  const stored = cache ? (cache.cache.take(cache.key) as StoredTicket | undefined) : undefined;
  const t12 = stored?.kind === "tls12" ? stored.session : undefined;
  const hello = profileHelloBuilder(helloProfileOf(opts.profile) ?? masqDefaultHello, sni, opts.alpn, t12?.ticket);
  // A ticket read before connectEngine resolved waits for the socket's `authorized`.
  const keep = (t: NewTicket): void => {
    if (sock) storeTicket(cache!, t, sock);
    else early.push(t);
  };
  const engine = {
    ...(clientCredentials ? { clientCredentials } : {}),
    ...(stored?.kind === "tls13" ? { resume13: stored.ticket } : {}),
    ...(t12 ? { resume12: t12 } : {}),
    ...(cache
      ? {
          onTicket13: (ticket: TlsTicket13) => keep({ kind: "tls13", ticket }),
          onSessionTicket: (session: TlsSession12) => keep({ kind: "tls12", session }),
        }
      : {}),
  };
  const early: NewTicket[] = [];
  let sock: MasqTlsSocket | undefined;
  sock = await connectEngine(socket, {
    hello,
    verifyHost,
    rejectUnauthorized: opts.rejectUnauthorized,
    ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    engine,
  });
  // A resumed handshake has no certificate to verify: it is as authorized as the one that issued the ticket.
  if (stored && sock.isSessionReused()) sock.authorized = stored.authorized;
  if (cache) for (const t of early.splice(0)) storeTicket(cache, t, sock);
  return sock;
}

/** A ticket as the engine reports it: TLS 1.3 (NewSessionTicket) or a TLS 1.2 session (RFC 5077). */
type NewTicket = { kind: "tls13"; ticket: TlsTicket13 } | { kind: "tls12"; session: TlsSession12 };
/** A ticket in the session cache, with what the connection that received it had established. */
type StoredTicket = NewTicket & { authorized: boolean };

/** A TLS 1.2 ticket without a lifetime hint (RFC 5077 §3.3: 0 = unspecified) is kept this long. */
const TLS12_DEFAULT_LIFETIME_MS = 2 * 3600 * 1000;

function storeTicket(cache: { cache: TlsSessionCache; key: string }, t: NewTicket, sock: MasqTlsSocket): void {
  const entry: StoredTicket = { ...t, authorized: sock.authorized };
  if (t.kind === "tls13") {
    cache.cache.store(cache.key, entry, { lifetimeMs: t.ticket.lifetimeSeconds * 1000, singleUse: true });
    return;
  }
  // Browsers resume only sessions with extended_master_secret (RFC 7627 §5.3); BoringSSL reuses a
  // TLS 1.2 session until it expires.
  if (!t.session.extendedMasterSecret) return;
  const hint = t.session.lifetimeHintSeconds * 1000;
  cache.cache.store(cache.key, entry, { lifetimeMs: hint > 0 ? hint : TLS12_DEFAULT_LIFETIME_MS, singleUse: false });
}

/** Loaded client credentials by content (a handful: one per distinct cert/key/passphrase). */
const credentialsCache = new Map<string, ClientCredentials>();

/** The ClientCredentials for `o`, parsed and checked once per process. */
function credentialsFor(o: ClientCertOptions): ClientCredentials {
  const key = createHash("sha256").update(o.cert).update("\0").update(o.key).update("\0").update(o.passphrase ?? "").digest("base64");
  let creds = credentialsCache.get(key);
  if (!creds) {
    creds = ClientCredentials.from(o);
    if (credentialsCache.size >= 16) credentialsCache.delete(credentialsCache.keys().next().value as string);
    credentialsCache.set(key, creds);
  }
  return creds;
}

/** The ClientHello profile inside `p`: the profile itself or a browser profile's `tls` field. */
function helloProfileOf(p: MasqTlsOptions["profile"]): ClientHelloProfile | undefined {
  if (p === undefined) return undefined;
  if ("cipherSuites" in p && Array.isArray(p.cipherSuites)) return p;
  if ("tls" in p && p.tls && typeof p.tls === "object") return p.tls;
  throw new TlsError("masq TLS: `profile` is neither a ClientHello profile nor a browser profile", { alert: "internal_error" });
}
