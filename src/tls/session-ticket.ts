import type { X509Certificate } from "node:crypto";

/**
 * A TLS 1.2 session as a later connection can resume it with a ticket (RFC 5077 §3.3, RFC 5246
 * §7.4.1.2): handed to `EngineOptions.onSessionTicket` once the handshake that issued the ticket
 * has verified the server's Finished. It holds the master secret: keep it in memory only, per
 * session cache, never log it.
 */
export interface TlsSession12 {
  readonly version: 0x0303;
  /** The cipher suite of the issuing handshake (a resumption must offer it, RFC 5246 §7.4.1.2). */
  readonly cipherSuite: number;
  /** The 48-byte master secret. */
  readonly masterSecret: Buffer;
  /** True when the master secret was derived with extended_master_secret (RFC 7627): browsers resume only such sessions. */
  readonly extendedMasterSecret: boolean;
  /** The opaque ticket to send in the session_ticket extension of a resumption ClientHello. */
  readonly ticket: Buffer;
  /** ticket_lifetime_hint in seconds (0: unspecified, RFC 5077 §3.3). */
  readonly lifetimeHintSeconds: number;
  /** When the ticket arrived (ms since the epoch, Date.now()). */
  readonly receivedAt: number;
  /** ALPN protocol of the issuing handshake, or false. */
  readonly alpnProtocol: string | false;
  /** The server chain of the issuing handshake (leaf first): an abbreviated handshake sends none. */
  readonly peerCertificates: readonly X509Certificate[];
}
