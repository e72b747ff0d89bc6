/**
 * The session's cookie jar: RFC 6265 on top of `tough-cookie` (domain and path matching, host-only cookies,
 * Secure, expiry, Max-Age, public-suffix rejection), plus "any-host" cookies: a cookie set without a domain
 * goes to every host, like `requests`' `s.cookies.set("session_id", "xyz")`.
 *
 * For WebSocket URLs, `ws:` counts as `http:` and `wss:` as `https:`: Secure cookies are only sent over wss://
 * (even to localhost), and a Secure `Set-Cookie` received over ws:// is not stored.
 *
 * Precedence when building a `Cookie` header: the jar's cookies that match the URL, in RFC 6265 §5.4 order
 * (longer paths first, then older first); then any-host cookies whose name none of those has (a cookie the
 * server set for this host wins over a blanket one of the same name); then per-call cookies replace the
 * session's of the same name, for that request only.
 */
import {
  Cookie,
  CookieJar as ToughCookieJar,
  MemoryCookieStore,
  canonicalDomain,
  pathMatch,
} from "tough-cookie";
import { WebSocketError } from "./errors.js";
import { isToken } from "./protocol/extensions.js";

export type SameSite = "strict" | "lax" | "none";

export interface CookieSetOptions {
  /**
   * The cookie's domain. Omitted (or `""`): the cookie goes to every host. Given: it goes to that domain and
   * its subdomains, like a `Domain=` attribute (a public suffix such as `com` is refused), unless `hostOnly`.
   */
  domain?: string;
  /** Path scope (default `/`): sent for this path and those below it. */
  path?: string;
  /** Only sent over wss:// (https://). */
  secure?: boolean;
  /** Kept for fidelity (masq is an HTTP API, so HttpOnly cookies are sent). */
  httpOnly?: boolean;
  /** Expiry; a past date deletes the cookie. Omitted: a session cookie. */
  expires?: Date;
  sameSite?: SameSite | "Strict" | "Lax" | "None";
  /** With `domain`: match exactly that host, not its subdomains (what a Set-Cookie without Domain= gives). */
  hostOnly?: boolean;
}

export interface CookieScope {
  /** Omitted: any domain (and the any-host cookies). `""`: only the any-host cookies. Else the stored domain. */
  domain?: string;
  /** Omitted: any path. */
  path?: string;
}

/** What iteration yields. `domain` is `""` for any-host cookies. */
export interface CookieInfo {
  name: string;
  value: string;
  domain: string;
  path: string;
  secure: boolean;
  httpOnly: boolean;
  expires: Date | undefined;
  hostOnly: boolean;
  sameSite: SameSite | undefined;
}

interface AnyHostCookie {
  name: string;
  value: string;
  path: string;
  secure: boolean;
  httpOnly: boolean;
  expires: Date | undefined;
  sameSite: SameSite | undefined;
  seq: number;
}

/** What cannot appear in a Cookie header value: controls (incl. CR, LF, NUL), DEL, and ";" which separates pairs. */
// eslint-disable-next-line no-control-regex
const BAD_VALUE = /[\x00-\x1f\x7f;]/;

function checkName(name: string): void {
  // A cookie-name is an RFC 7230 token (RFC 6265 §4.1.1).
  if (typeof name !== "string" || !isToken(name)) {
    throw new WebSocketError(`invalid cookie name ${JSON.stringify(name)}: it must be a non-empty token`, 0);
  }
}

function checkValue(name: string, value: string): void {
  if (typeof value !== "string" || BAD_VALUE.test(value)) {
    throw new WebSocketError(`invalid value for cookie ${name}: control characters and ";" are not allowed`, 0);
  }
}

function normSameSite(s: CookieSetOptions["sameSite"]): SameSite | undefined {
  if (s === undefined) return undefined;
  const v = String(s).toLowerCase();
  if (v === "strict" || v === "lax" || v === "none") return v;
  throw new WebSocketError(`invalid sameSite ${JSON.stringify(s)}: use "strict", "lax" or "none"`, 0);
}

function normDomain(domain: string): string {
  const d = canonicalDomain(domain.trim().replace(/^\./, ""));
  if (!d) throw new WebSocketError(`invalid cookie domain ${JSON.stringify(domain)}`, 0);
  return d;
}

/** ws: -> http:, wss: -> https: (tough-cookie decides Secure by scheme). */
function httpUrl(url: URL): URL {
  if (url.protocol === "ws:" || url.protocol === "wss:") {
    const u = new URL(url.href);
    u.protocol = url.protocol === "ws:" ? "http:" : "https:";
    return u;
  }
  return url;
}

function isExpired(expires: Date | undefined, now: number): boolean {
  return expires !== undefined && expires.getTime() <= now;
}

/** The session's cookie jar. See the module comment for the rules. */
export class CookieJar {
  readonly #jar: ToughCookieJar;
  readonly #anyHost = new Map<string, AnyHostCookie>(); // key: path + "\0" + name
  #seq = 0;

  /** `initial`: `{ name: value }` any-host cookies (the session option `cookies`). */
  constructor(initial?: Record<string, string>) {
    this.#jar = new ToughCookieJar(new MemoryCookieStore(), {
      rejectPublicSuffixes: true,
      // Secure means wss:// only, even for localhost (no "potentially trustworthy" exception).
      allowSecureOnLocal: false,
    });
    if (initial) for (const [name, value] of Object.entries(initial)) this.set(name, value);
  }

  /**
   * @internal True when no cookie is stored at all (neither any-host nor in the tough-cookie
   * store): every Cookie header would then be empty without per-call cookies, and a connect can
   * skip {@link cookieHeaderFor}. Expired cookies not yet dropped count as stored.
   */
  get isEmpty(): boolean {
    return this.#anyHost.size === 0 && storeIsEmpty(this.#jar.store);
  }

  /** The underlying tough-cookie jar (its any-host cookies are kept beside it, not in it). */
  get jar(): ToughCookieJar {
    return this.#jar;
  }

  /**
   * Sets a cookie. Without `domain` it applies to every host. Throws WebSocketError (code 0) for an invalid
   * name or value, or a domain tough-cookie refuses (e.g. a public suffix).
   */
  set(name: string, value: string, options: CookieSetOptions = {}): void {
    checkName(name);
    checkValue(name, value);
    const path = options.path ?? "/";
    if (typeof path !== "string" || !path.startsWith("/") || BAD_VALUE.test(path)) {
      throw new WebSocketError(`invalid cookie path ${JSON.stringify(path)}: it must start with "/"`, 0);
    }
    const sameSite = normSameSite(options.sameSite);
    if (options.expires !== undefined && !(options.expires instanceof Date && !Number.isNaN(options.expires.getTime()))) {
      throw new WebSocketError("invalid cookie expiry: expires must be a valid Date", 0);
    }
    if (options.domain === undefined || options.domain === "") {
      if (options.hostOnly) throw new WebSocketError("hostOnly needs a domain", 0);
      const key = path + "\0" + name;
      if (isExpired(options.expires, Date.now())) {
        this.#anyHost.delete(key);
        return;
      }
      const prev = this.#anyHost.get(key);
      this.#anyHost.set(key, {
        name,
        value,
        path,
        secure: options.secure === true,
        httpOnly: options.httpOnly === true,
        expires: options.expires,
        sameSite,
        seq: prev?.seq ?? this.#seq++,
      });
      return;
    }
    const domain = normDomain(options.domain);
    const cookie = new Cookie({
      key: name,
      value,
      path,
      secure: options.secure === true,
      httpOnly: options.httpOnly === true,
      expires: options.expires ?? "Infinity",
      sameSite,
      // hostOnly cookies are stored by setting them from that host without a Domain attribute
      domain: options.hostOnly ? null : domain,
    });
    const host = domain.includes(":") ? `[${domain}]` : domain;
    try {
      // An https URL: storing a Secure cookie programmatically is always allowed.
      this.#jar.setCookieSync(cookie, `https://${host}${path}`);
    } catch (err) {
      throw new WebSocketError(`cannot set cookie ${name} for ${domain}: ${(err as Error).message}`, 0, { cause: err });
    }
  }

  /**
   * The value of a cookie by name. Without `domain`: an any-host cookie first, else the first stored cookie of
   * that name for any domain. With `domain`: the cookie stored for exactly that domain (`""`: any-host only).
   * Expired cookies are never returned.
   */
  get(name: string, scope: CookieScope = {}): string | undefined {
    for (const c of this.#find(name, scope)) return c.value;
    return undefined;
  }

  /** Deletes the cookies of that name in that scope (without `domain`: on every domain, any-host ones too). */
  delete(name: string, scope: CookieScope = {}): void {
    for (const c of [...this.#find(name, scope)]) {
      if (c.domain === "") this.#anyHost.delete(c.path + "\0" + name);
      else this.#removeStored(c.domain, c.path, name);
    }
  }

  /** Removes every cookie. */
  clear(): void {
    this.#anyHost.clear();
    this.#jar.removeAllCookiesSync();
  }

  /** Every live cookie: the any-host ones (domain `""`), then the jar's in creation order. */
  *[Symbol.iterator](): IterableIterator<CookieInfo> {
    const now = Date.now();
    for (const c of [...this.#anyHost.values()].sort((a, b) => a.seq - b.seq)) {
      if (isExpired(c.expires, now)) continue;
      yield { name: c.name, value: c.value, domain: "", path: c.path, secure: c.secure, httpOnly: c.httpOnly, expires: c.expires, hostOnly: false, sameSite: c.sameSite };
    }
    for (const c of this.#stored()) {
      const info = toInfo(c, now);
      if (info) yield info;
    }
  }

  /**
   * The `Cookie` header for a handshake to `url`, or undefined when there is no cookie to send. `extra`
   * (per-call cookies) replaces the session's cookies of the same name for this request only.
   */
  async cookieHeaderFor(url: URL, extra?: Record<string, string>): Promise<string | undefined> {
    const pairs: Array<[string, string]> = [];
    const names = new Set<string>();
    // An empty store has nothing to match, expire or sort: skip tough-cookie's lookup (domain
    // canonicalisation, public-suffix tables), which costs more than the rest of an upgrade request.
    if (!storeIsEmpty(this.#jar.store)) {
      const stored = await this.#jar.getCookies(httpUrl(url), { http: true, expire: true, sort: true });
      for (const c of stored) {
        pairs.push([c.key, c.value]);
        names.add(c.key);
      }
    }
    if (this.#anyHost.size > 0) this.#addAnyHost(url, pairs, names);

    if (extra) {
      for (const [name, value] of Object.entries(extra)) {
        checkName(name);
        checkValue(name, value);
        const first = pairs.findIndex((p) => p[0] === name);
        if (first === -1) {
          pairs.push([name, value]);
          continue;
        }
        pairs[first] = [name, value];
        for (let i = pairs.length - 1; i > first; i--) if (pairs[i]![0] === name) pairs.splice(i, 1);
      }
    }
    if (pairs.length === 0) return undefined;
    return pairs.map(([n, v]) => `${n}=${v}`).join("; ");
  }

  /**
   * Stores the `Set-Cookie` headers of a response to a request for `url` (a 101, or a redirect). Invalid or
   * refused cookies (bad syntax, another domain, a public suffix, Secure over ws://) are ignored.
   */
  async storeFromResponse(url: URL, setCookieHeaders: string[]): Promise<void> {
    const target = httpUrl(url);
    for (const header of setCookieHeaders) {
      try {
        const cookie = Cookie.parse(header);
        if (!cookie) continue;
        // RFC 6265 §5.2.2: Max-Age counts from when the cookie is received. tough-cookie counts it from the
        // last access (a sliding expiry), so turn it into an absolute expiry now. Max-Age <= 0 expires at once.
        if (cookie.maxAge !== null && cookie.maxAge !== undefined && cookie.maxAge !== "Infinity") {
          const ms = typeof cookie.maxAge === "number" && cookie.maxAge > 0 ? cookie.maxAge * 1000 : -Infinity;
          cookie.expires = new Date(Math.max(0, Math.min(Date.now() + ms, 8.64e15)));
          cookie.maxAge = null;
        }
        await this.#jar.setCookie(cookie, target, { ignoreError: true, http: true });
      } catch {
        // ignored, as a browser would
      }
    }
  }

  // ------------------------------------------------------------------ internals

  /** Adds the any-host cookies for `url` whose name none of `names` has (RFC 6265 §5.4 order among them). */
  #addAnyHost(url: URL, pairs: Array<[string, string]>, names: Set<string>): void {
    const now = Date.now();
    // As httpUrl: wss: counts as https: for Secure.
    const secure = url.protocol === "wss:" || url.protocol === "https:";
    const path = url.pathname || "/";
    const anyHost: AnyHostCookie[] = [];
    for (const [key, c] of this.#anyHost) {
      if (isExpired(c.expires, now)) {
        this.#anyHost.delete(key);
        continue;
      }
      if (c.secure && !secure) continue;
      if (!pathMatch(path, c.path)) continue;
      if (names.has(c.name)) continue;
      anyHost.push(c);
    }
    anyHost.sort((a, b) => b.path.length - a.path.length || a.seq - b.seq);
    for (const c of anyHost) pairs.push([c.name, c.value]);
  }

  #stored(): Cookie[] {
    let out: Cookie[] = [];
    // MemoryCookieStore calls back synchronously.
    this.#jar.store.getAllCookies((err, cookies) => {
      if (!err && cookies) out = cookies;
    });
    return out;
  }

  #removeStored(domain: string, path: string, key: string): void {
    this.#jar.store.removeCookie(domain, path, key, () => {});
  }

  *#find(name: string, scope: CookieScope): Generator<CookieInfo> {
    const now = Date.now();
    const domain = scope.domain === undefined || scope.domain === "" ? scope.domain : normDomain(scope.domain);
    if (domain === undefined || domain === "") {
      for (const c of [...this.#anyHost.values()].sort((a, b) => a.seq - b.seq)) {
        if (c.name !== name || (scope.path !== undefined && c.path !== scope.path) || isExpired(c.expires, now)) continue;
        yield { name, value: c.value, domain: "", path: c.path, secure: c.secure, httpOnly: c.httpOnly, expires: c.expires, hostOnly: false, sameSite: c.sameSite };
      }
      if (domain === "") return;
    }
    for (const c of this.#stored()) {
      if (c.key !== name) continue;
      if (domain !== undefined && c.domain !== domain) continue;
      if (scope.path !== undefined && c.path !== scope.path) continue;
      const info = toInfo(c, now);
      if (info) yield info;
    }
  }
}

/**
 * True when the store holds no cookie (live or expired). Cookies reach the store through this
 * class and through `jar` (the tough-cookie jar is public), so the store itself is asked: a
 * MemoryCookieStore keeps them in `idx` (domain, then path, then name), emptied entries included.
 * Another kind of store is never assumed empty.
 */
function storeIsEmpty(store: unknown): boolean {
  if (!(store instanceof MemoryCookieStore)) return false;
  const idx = store.idx;
  for (const domain in idx) {
    const paths = idx[domain];
    for (const path in paths) {
      for (const _key in paths[path]) return false;
    }
  }
  return true;
}

function toInfo(c: Cookie, now: number): CookieInfo | undefined {
  const expiry = c.expiryTime(); // Max-Age wins over Expires; undefined for session cookies
  if (expiry !== undefined && expiry <= now) return undefined;
  const sameSite = c.sameSite === "strict" || c.sameSite === "lax" || c.sameSite === "none" ? c.sameSite : undefined;
  return {
    name: c.key,
    value: c.value,
    domain: c.domain ?? "",
    path: c.path ?? "/",
    secure: c.secure,
    httpOnly: c.httpOnly,
    expires: expiry === undefined || !Number.isFinite(expiry) ? undefined : new Date(expiry),
    hostOnly: c.hostOnly === true,
    sameSite,
  };
}
