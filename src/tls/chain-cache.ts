import { createHash, type KeyObject, type X509Certificate } from "node:crypto";
import { toX509, trustStoreId, validateChain, type ValidationOptions } from "./certificate.js";

/**
 * A process-wide cache of server certificate chains, in the spirit of Chromium's
 * CachingCertVerifier (net/cert/caching_cert_verifier.cc: 256 entries, 30 minutes): a client that
 * opens many connections to one server receives the same chain every time, and parsing it
 * (Node 20's X509Certificate costs ~160 µs per certificate) and validating it again pays for
 * nothing new.
 *
 * Two levels, both keyed by the exact chain bytes (SHA-256 over the length-prefixed DER list):
 * - the parse: the X509Certificate objects and the leaf's public KeyObject. Parsing is a pure
 *   function of the bytes, so it is shared whatever the trust settings.
 * - successful validations of that chain, each under the exact host name and the exact trust
 *   store it was made against (the `ca` option's parsed anchors; see `trustStoreId`). Another
 *   name or another store is a miss, never a laxer check. A validation is reused only inside
 *   its lifetime: 30 minutes, never past the earliest notAfter (nor before the latest notBefore)
 *   of the validated path. Failures are never cached: a chain that failed is validated again.
 *
 * What is not cached: the CertificateVerify signature (RFC 8446 §4.4.3) and the TLS 1.2
 * ServerKeyExchange signature are checked on every handshake with the cached leaf key, since they
 * prove possession of the private key for this connection.
 *
 * Scope: one cache per process rather than per session. The result is a function of the chain,
 * the name, the anchors and the time only (no cookies, no per-session state), and a server cannot
 * observe it (unlike a session ticket, nothing of it goes on the wire).
 */

/** Chains kept (Chromium's kMaxCacheEntries). */
export const CHAIN_CACHE_ENTRIES = 256;
/** DER bytes kept at most: a bound on memory besides the entry count (a chain is ~2-6 KiB). */
const CHAIN_CACHE_BYTES = 4 * 1024 * 1024;
/** How long a successful validation is reused (Chromium's kTTLSecs). */
export const VALIDATION_TTL_MS = 30 * 60 * 1000;
/** Validations kept per chain (distinct host names × trust stores). */
const VALIDATIONS_PER_CHAIN = 16;

/** A parsed server chain, shared (frozen) by every connection that received the same bytes. */
export interface ParsedChain {
  /** Leaf first; frozen: the same array is handed to every connection. */
  readonly certs: X509Certificate[];
  /** The leaf's public key, for CertificateVerify / ServerKeyExchange. */
  readonly leafKey: KeyObject;
}

interface Entry {
  readonly parsed: ParsedChain;
  readonly bytes: number;
  /** Successful validations: key `${storeId}\0${host}` → the span of time it holds. */
  readonly validated: Map<string, { from: number; until: number }>;
}

const entries = new Map<string, Entry>(); // insertion order = least recently used first
const byChain = new WeakMap<readonly X509Certificate[], Entry>();
let totalBytes = 0;

/** Counters for tests: how often each level was answered from the cache. */
export const chainCacheStats = { parseHits: 0, parseMisses: 0, validationHits: 0, validationMisses: 0 };

/** Forget everything (tests). */
export function clearChainCache(): void {
  entries.clear();
  totalBytes = 0;
  for (const k of Object.keys(chainCacheStats) as Array<keyof typeof chainCacheStats>) chainCacheStats[k] = 0;
}

function chainKey(ders: readonly Buffer[]): string {
  const h = createHash("sha256");
  const len = Buffer.allocUnsafe(3);
  for (const d of ders) {
    // Length-prefixed (as in the Certificate message): no two lists share a byte stream.
    len.writeUIntBE(d.length, 0, 3);
    h.update(len).update(d);
  }
  return h.digest("base64");
}

/**
 * The chain `ders` parsed (leaf first), from the cache when the same bytes were seen before.
 * Throws TlsError(bad_certificate) when a certificate does not parse (nothing is cached then).
 */
export function parseChain(ders: readonly Buffer[]): ParsedChain {
  const key = chainKey(ders);
  const hit = entries.get(key);
  if (hit) {
    chainCacheStats.parseHits++;
    entries.delete(key); // most recently used goes last
    entries.set(key, hit);
    return hit.parsed;
  }
  chainCacheStats.parseMisses++;
  const certs = toX509(ders);
  const parsed: ParsedChain = { certs: Object.freeze(certs) as X509Certificate[], leafKey: certs[0]!.publicKey };
  let bytes = 0;
  for (const d of ders) bytes += d.length;
  const entry: Entry = { parsed, bytes, validated: new Map() };
  entries.set(key, entry);
  byChain.set(parsed.certs, entry);
  totalBytes += bytes;
  while (entries.size > CHAIN_CACHE_ENTRIES || (totalBytes > CHAIN_CACHE_BYTES && entries.size > 1)) {
    const [oldKey, old] = entries.entries().next().value as [string, Entry];
    entries.delete(oldKey);
    totalBytes -= old.bytes;
  }
  return parsed;
}

/**
 * {@link validateChain} with its successful results cached (see the module comment): `chain`
 * must be the `certs` of a {@link parseChain} result to be cached; any other array is validated
 * every time. Throws CertificateError exactly as validateChain does.
 */
export function validateChainCached(chain: X509Certificate[], opts: ValidationOptions): void {
  const entry = byChain.get(chain);
  if (!entry) {
    validateChain(chain, opts);
    return;
  }
  const now = opts.now ?? Date.now();
  const key = `${trustStoreId(opts.ca)}\0${opts.host === undefined ? "\u0001" : opts.host}`;
  const seen = entry.validated.get(key);
  if (seen && now >= seen.from && now <= seen.until) {
    chainCacheStats.validationHits++;
    return;
  }
  chainCacheStats.validationMisses++;
  entry.validated.delete(key);
  const path = validateChain(chain, { ...opts, now }); // throws: nothing is cached
  let from = -Infinity;
  let until = now + VALIDATION_TTL_MS;
  for (const c of path) {
    from = Math.max(from, Date.parse(c.validFrom));
    until = Math.min(until, Date.parse(c.validTo));
  }
  if (entry.validated.size >= VALIDATIONS_PER_CHAIN) entry.validated.delete(entry.validated.keys().next().value as string);
  entry.validated.set(key, { from, until });
}
