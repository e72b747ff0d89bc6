import { isIP } from "node:net";
import { buildClientHello, type ClientHelloProfile, type ClientHelloState } from "./client-hello.js";
import { isGrease } from "./constants.js";
import type { HelloBuilder } from "./engine.js";

/** SNI value: the given name, or none for IP literals (RFC 6066 §3). */
export function sniFor(servername: string | undefined): string | undefined {
  if (!servername) return undefined;
  if (isIP(servername.replace(/^\[|\]$/g, "")) !== 0) return undefined;
  return servername.replace(/\.$/, ""); // RFC 6066 §3: no trailing dot
}

/**
 * A HelloBuilder from a browser profile (GREASE, permutation and padding per the profile).
 * `ticket12`: a TLS 1.2 session ticket to offer in session_ticket (RFC 5077 resumption).
 */
export function profileHelloBuilder(profile: ClientHelloProfile, servername: string | undefined, alpn: string[] | undefined, ticket12?: Buffer): HelloBuilder {
  const state: ClientHelloState = {};
  const keyShareGroups = profile.keyShareGroups.filter((g) => !isGrease(g));
  return {
    keyShareGroups,
    ...(profile.hybridReusesX25519 ? { hybridReusesX25519: true } : {}),
    recordVersion: profile.recordVersion,
    build: (p) =>
      buildClientHello(profile, {
        ...(servername !== undefined ? { servername } : {}),
        ...(alpn !== undefined ? { alpn } : {}),
        random: p.random,
        sessionId: p.sessionId,
        keyShares: p.keyShares,
        state,
        retry: p.retry,
        ...(p.cookie ? { cookie: p.cookie } : {}),
        ...(p.psk ? { psk: p.psk } : {}),
        ...(ticket12 ? { ticket: ticket12 } : {}),
      }),
  };
}
