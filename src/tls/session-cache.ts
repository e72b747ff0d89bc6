/**
 * A TLS session cache for one `AsyncSession` (issue 11): what a server handed out for resumption
 * (Node's serialized sessions, masq's TLS 1.3 / TLS 1.2 tickets), kept under a key that
 * partitions it the way browsers do (host, port, profile, proxy) plus everything that would make a
 * resumed session mean something else (engine, SNI, trust settings, client certificate).
 *
 * Tickets are secrets that link connections to each other: a cache belongs to one session and is
 * never shared, `clear()` forgets everything, and a ticket is only ever offered under the key it
 * was stored under. Entries expire with the server's ticket lifetime (capped at 7 days, RFC 8446
 * §4.6.1); TLS 1.3 tickets are single use where the browser uses them once (RFC 8446 §C.4: reuse
 * lets a network observer link the connections).
 */
import { createHash } from "node:crypto";

/** One stored resumption state. */
interface Entry {
  value: unknown;
  /** ms since the epoch after which the entry must not be offered. */
  expires: number;
  singleUse: boolean;
}

/** RFC 8446 §4.6.1: servers MUST NOT use a lifetime above 7 days; clients cap it there too. */
export const MAX_TICKET_LIFETIME_MS = 7 * 24 * 3600 * 1000;

/** How a stored value may be used. */
export interface StoreOptions {
  /** Lifetime from now, in ms (capped at {@link MAX_TICKET_LIFETIME_MS}; <= 0 stores nothing). */
  lifetimeMs: number;
  /** Forget the entry when it is taken (TLS 1.3 tickets, RFC 8446 §C.4). */
  singleUse: boolean;
}

/** What partitions the cache: a session is offered only where every field is equal. */
export interface SessionCacheKeyParts {
  /** "native" (Node's TLS) or "masq" (masq's engine); their states are not interchangeable. */
  engine: string;
  host: string;
  port: number;
  /** The SNI / identity name (differs from host when `servername` is given). */
  servername?: string;
  /** Impersonation profile name ("" without one). */
  profile?: string;
  /** Proxy URL the connection goes through ("" for a direct one). */
  proxy?: string;
  /** Whether the server chain was verified: a session from an unverified connection never serves a verified one. */
  verify: boolean;
  /** Extra trust anchors (PEM / DER), hashed into the key. */
  ca?: unknown;
  /** Client certificate (PEM / DER), hashed into the key: a session carries the client identity. */
  cert?: unknown;
}

function digestOf(v: unknown): string {
  if (v === undefined) return "";
  const h = createHash("sha256");
  const add = (x: unknown): void => {
    if (Array.isArray(x)) for (const y of x) add(y);
    else if (typeof x === "string" || Buffer.isBuffer(x)) h.update(x).update("\0");
    else h.update(String(x)).update("\0");
  };
  add(v);
  return h.digest("base64url");
}

/** The cache key for `parts` (a string; equal only when every part is equal). */
export function sessionCacheKey(parts: SessionCacheKeyParts): string {
  return JSON.stringify([
    parts.engine,
    parts.host.toLowerCase(),
    parts.port,
    (parts.servername ?? "").toLowerCase(),
    parts.profile ?? "",
    parts.proxy ?? "",
    parts.verify,
    digestOf(parts.ca),
    digestOf(parts.cert),
  ]);
}

/** Entries kept per key (newest first; Chrome's and Firefox's caches keep a few per host). */
const PER_KEY = 4;
/** Keys kept (least recently stored dropped first). */
const MAX_KEYS = 1000;

/**
 * The per-session cache. Values are opaque to it (Node session buffers, masq ticket objects);
 * whoever stores under a key decides the value's shape for that key's engine.
 */
export class TlsSessionCache {
  readonly #map = new Map<string, Entry[]>();
  readonly #now: () => number;

  /** `now` replaces Date.now (tests). */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Number of keys holding at least one entry. */
  get size(): number {
    return this.#map.size;
  }

  /** Stores `value` under `key`, newest first. */
  store(key: string, value: unknown, o: StoreOptions): void {
    if (!(o.lifetimeMs > 0)) return;
    const expires = this.#now() + Math.min(o.lifetimeMs, MAX_TICKET_LIFETIME_MS);
    const list = this.#map.get(key) ?? [];
    list.unshift({ value, expires, singleUse: o.singleUse });
    if (list.length > PER_KEY) list.length = PER_KEY;
    this.#map.delete(key); // re-insert: Map order = least recently stored first
    this.#map.set(key, list);
    if (this.#map.size > MAX_KEYS) this.#map.delete(this.#map.keys().next().value as string);
  }

  /**
   * The newest unexpired value under `key` (removed when single use), or undefined. Expired
   * entries are dropped on the way.
   */
  take(key: string): unknown {
    const list = this.#map.get(key);
    if (!list) return undefined;
    const now = this.#now();
    while (list.length > 0) {
      const e = list[0]!;
      if (e.expires <= now) {
        list.shift();
        continue;
      }
      if (e.singleUse) list.shift();
      if (list.length === 0) this.#map.delete(key);
      return e.value;
    }
    this.#map.delete(key);
    return undefined;
  }

  /** Forgets every entry under `key` (a server rejected what we offered). */
  forget(key: string): void {
    this.#map.delete(key);
  }

  /** Forgets everything (`AsyncSession.close()`). */
  clear(): void {
    this.#map.clear();
  }
}
