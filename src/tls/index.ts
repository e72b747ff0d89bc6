/**
 * masq's own TLS 1.3 client (RFC 8446) over any Duplex: a sans-I/O handshake engine with the
 * record layer beside it ({@link TlsClientEngine}) and a Duplex wrapper ({@link MasqTlsSocket}).
 */
import type { Duplex } from "node:stream";
import { TlsError } from "../errors.js";
import { masqDefaultHello, type ClientHelloProfile } from "./client-hello.js";
import { profileHelloBuilder, sniFor } from "./hello-builder.js";
import { connectEngine, MasqTlsSocket } from "./socket.js";

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
  const hello = profileHelloBuilder(helloProfileOf(opts.profile) ?? masqDefaultHello, sni, opts.alpn);
  return connectEngine(socket, {
    hello,
    verifyHost,
    rejectUnauthorized: opts.rejectUnauthorized,
    ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
}

/** The ClientHello profile inside `p`: the profile itself or a browser profile's `tls` field. */
function helloProfileOf(p: MasqTlsOptions["profile"]): ClientHelloProfile | undefined {
  if (p === undefined) return undefined;
  if ("cipherSuites" in p && Array.isArray(p.cipherSuites)) return p;
  if ("tls" in p && p.tls && typeof p.tls === "object") return p.tls;
  throw new TlsError("masq TLS: `profile` is neither a ClientHello profile nor a browser profile", { alert: "internal_error" });
}
