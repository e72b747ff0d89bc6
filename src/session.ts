import type { Duplex } from "node:stream";
import { HandshakeError, TlsError, WebSocketError, WebSocketTimeout, headersFromRaw } from "./errors.js";
import { buildRequestHeaders, generateKey, parseResponseHead, serializeRequest, validateUpgradeResponse, type HeaderList } from "./protocol/handshake.js";
import { formatDeflateOffer, negotiateDeflate, type DeflateOffer } from "./protocol/extensions.js";
import { applyOriginRules, resolveProfile, siteRelation, type BrowserProfile } from "./impersonate/index.js";
import type { Http2Fingerprint } from "./impersonate/types.js";
import type { H2Session } from "./transport/h2-session.js";
import { ConnectAbort, nodeTlsError, openTransport, type TransportOptions, selectProxy, TlsSessionCache, type ClientCertOptions, type ProxyMap, type CaOption } from "./transport/index.js";
import { AsyncWebSocket, type ConnectionOwner, type HandshakeResponse } from "./websocket/connection.js";
import { exchangeHandshake, readErrorBody } from "./websocket/handshake-io.js";
import { MAX_TIMER_MS, resolveConnectionOptions, type ConnectionOptions, type ResolvedConnectionOptions } from "./websocket/options.js";
import { PerMessageDeflate } from "./websocket/deflate.js";
import { CookieJar } from "./cookies.js";
import { H2Pool, h2Phase, openH2, planH2, wsOverH2, type H2Plan } from "./session-h2.js";
import { validateConnectArgs, validateOptions } from "./websocket/validate.js";
import type { WebSocket as StandardWebSocket } from "./standard/websocket.js";

/**
 * Builds `session.WebSocket`. Set by src/standard/websocket.ts when it loads (that layer comes
 * after this one and imports it, so this file only knows its type).
 */
let webSocketBinder: ((session: AsyncSession) => typeof StandardWebSocket) | undefined;

/** @internal Called once by src/standard/websocket.ts. */
export function registerWebSocketBinder(bind: (session: AsyncSession) => typeof StandardWebSocket): void {
  webSocketBinder = bind;
}

/** Header input: a plain object or `[name, value]` pairs (order kept). */
export type HeadersInit = Record<string, string> | Array<[string, string]>;
/** Query parameters appended to the URL. */
export type ParamsInit = Record<string, string | number | boolean> | Array<[string, string]> | URLSearchParams;

/** Options shared by {@link AsyncSession} (as defaults) and `wsConnect` (per call). Times in ms. */
export interface SessionOptions extends ConnectionOptions {
  /** Extra request headers; per-call headers override session ones of the same name. */
  headers?: HeadersInit;
  /** Cookies `{ name: value }`: on the session they seed the jar; per call they are merged over the jar's for that request. */
  cookies?: Record<string, string>;
  /** HTTP Basic credentials, sent only to the origin of the URL given to `wsConnect`. */
  auth?: [user: string, password: string];
  /** Query parameters appended to the URL. */
  params?: ParamsInit;
  /** Bounds DNS + connect + proxy + TLS + handshake, all redirects included (ms; default 30 000; Infinity: no bound). */
  timeout?: number;
  /** Verify TLS certificates (default true). */
  verify?: boolean;
  /** Extra trusted CA certificates (PEM), added to Node's roots. */
  ca?: CaOption;
  /** Subprotocols to offer. */
  protocols?: string[];
  /** Origin header (impersonation derives one from the URL when not given). */
  origin?: string;
  /** A proxy URL for every connection: http://, https://, socks4://, socks4a://, socks5://, socks5h://. */
  proxy?: string;
  /** Proxies by target scheme: wss → wss ?? https ?? all, ws → ws ?? http ?? all. */
  proxies?: ProxyMap;
  /** Honour HTTP(S)_PROXY / ALL_PROXY / NO_PROXY from the environment (default false). */
  trustEnv?: boolean;
  /** Redirects followed on the upgrade request (default 10, 0 disables). */
  maxRedirects?: number;
  /** Allow a redirect from wss:// to ws:// (default false). */
  allowInsecureRedirect?: boolean;
  /** Offer permessage-deflate (true, or an offer object). Default false, or the profile's choice when impersonating. */
  compress?: boolean | DeflateOffer;
  /** Messages below this many bytes are sent uncompressed (default 1024). */
  compressThreshold?: number;
  /**
   * Impersonate a browser: a catalogue name ("chrome" = newest Chrome, "chrome124", "safari17_2_ios",
   * curl_cffi's spellings; see `profileNames()`), or a profile object (e.g. from `profileFromJa3`),
   * which is checked before connecting.
   */
  impersonate?: string | BrowserProfile;
  /** TLS engine: Node's ("native", default without impersonation) or masq's own ("masq"). */
  tls?: "native" | "masq";
  /**
   * Resume TLS sessions from this session's own cache (default true): tickets are kept per
   * host, port, profile and proxy, never shared with another AsyncSession, and forgotten by
   * `close()`. `false` on the session turns the cache off; per call, skips it for that connect.
   */
  tlsSessionCache?: boolean;
  /** Client certificate for servers that ask for one (mTLS): PEM (leaf first) or DER. Needs `key`. */
  cert?: string | Buffer;
  /** Private key of `cert`: PEM or PKCS#8 DER. */
  key?: string | Buffer;
  /** Passphrase of an encrypted `key`. */
  passphrase?: string;
  /** Abort the connection attempt. */
  signal?: AbortSignal;
  /**
   * Offer HTTP/2 for wss:// and carry the WebSocket as an RFC 8441 extended CONNECT stream when
   * the server allows it (HTTP/1.1 on a new connection otherwise). Default: false, or the
   * profile's choice when impersonating (Firefox offers h2; Chrome only reuses an h2 connection).
   */
  http2?: boolean;
  /** A session's idle HTTP/2 connection is closed this long after its last WebSocket ended (ms; default 60 000). */
  http2IdleTimeout?: number;
}

/**
 * A set of defaults, a cookie jar and the connections opened through it; the entry point of masq.
 *
 * @example
 * ```ts
 * await using session = new AsyncSession({ headers: { "X-App": "demo" }, timeout: 10_000 });
 * session.cookies.set("session_id", "xyz");
 * await using ws = await session.wsConnect("wss://example.test/stream", { params: { id: 123 } });
 * ```
 */
export class AsyncSession implements AsyncDisposable {
  /** The session's cookie jar (RFC 6265), shared by every connection it opens. */
  readonly cookies: CookieJar;
  readonly #defaults: SessionOptions;
  readonly #connDefaults: ResolvedConnectionOptions;
  /** The session's options as a connect without per-call options sees them (made on first use). */
  #plainOptions: SessionOptions | undefined;
  readonly #open = new Set<AsyncWebSocket>();
  /**
   * Connections that ended before they were registered in #open (one that ended while being
   * constructed, or while its h2 setup finished): weakly held, and only those, since a WeakSet
   * entry is an ephemeron that every garbage collection has to process.
   */
  readonly #ended = new WeakSet<AsyncWebSocket>();
  /** One owner object for all of this session's connections (no closure per connection). */
  readonly #owner: ConnectionOwner = {
    ended: (ws) => {
      if (!this.#open.delete(ws)) this.#ended.add(ws);
    },
  };
  /** Connection attempts under way (their abort functions), aborted by close(). */
  readonly #pending = new Set<(reason: unknown) => void>();
  /** HTTP/2 connections shared by this session's WebSockets, by origin (RFC 8441). */
  readonly #h2 = new H2Pool();
  #closed = false;
  #webSocket: typeof StandardWebSocket | undefined;
  /** TLS session tickets of this session only (issue 11), or undefined when turned off. */
  readonly #tlsSessions: TlsSessionCache | undefined;

  constructor(options: SessionOptions = {}) {
    validateOptions(options); // every option, by type and range (src/websocket/validate.ts)
    const { cookies, ...rest } = options;
    this.#defaults = rest;
    this.#tlsSessions = options.tlsSessionCache === false ? undefined : new TlsSessionCache();
    this.cookies = new CookieJar(cookies);
    // Reject bad defaults now, not at the first connect; connections that override none of them
    // share this one resolved object.
    this.#connDefaults = resolveConnectionOptions(rest);
  }

  /**
   * A WHATWG `WebSocket` class bound to this session (one per session): `new session.WebSocket(url)`
   * connects with this session's defaults, cookie jar, proxies and impersonation. For libraries
   * that take a WebSocket class (graphql-ws `webSocketImpl`, partysocket `WebSocket`, ...).
   */
  get WebSocket(): typeof StandardWebSocket {
    if (!this.#webSocket) {
      if (!webSocketBinder) throw new WebSocketError('session.WebSocket needs masq\'s standard WebSocket: import it from "masq"', 0);
      this.#webSocket = webSocketBinder(this);
    }
    return this.#webSocket;
  }

  /** Connections opened by this session and not yet closed. */
  get connections(): ReadonlySet<AsyncWebSocket> {
    return this.#open;
  }

  /**
   * Opens a WebSocket (ws:// or wss://). Session options apply; `options` merge over them
   * (headers by name, params appended, cookies merged for this request).
   */
  async wsConnect(url: string | URL, options: SessionOptions = {}): Promise<AsyncWebSocket> {
    validateConnectArgs(url, options); // every option, by type and range (src/websocket/validate.ts)
    if (this.#closed) throw new WebSocketError("the session is closed", 0);
    // Without per-call options every connect merges the same: once per session (frozen, so that
    // nothing below can change it for the next connect).
    let o = hasOwnKeys(options) ? mergeOptions(this.#defaults, options) : (this.#plainOptions ??= Object.freeze(mergeOptions(this.#defaults, {})));
    const connOpts = hasConnectionOption(options) ? resolveConnectionOptions(o) : this.#connDefaults;
    const profile = o.impersonate !== undefined ? resolveProfile(o.impersonate) : undefined;
    const startUrl = buildUrl(url, this.#defaults.params, options.params);
    if (startUrl.username || startUrl.password) {
      // Userinfo in the URL acts like `auth` for that origin (as curl does), unless `auth` is
      // given; it is never sent in the request line nor shown in response.url.
      o = { ...o, auth: o.auth ?? [decodeURIComponent(startUrl.username), decodeURIComponent(startUrl.password)] };
      startUrl.username = "";
      startUrl.password = "";
    }
    const maxRedirects = o.maxRedirects ?? 10;

    // Like curl_cffi's requests, a connect is bounded by default; Infinity waits forever.
    const timeout = o.timeout ?? DEFAULT_CONNECT_TIMEOUT;
    if (o.signal?.aborted) throw o.signal.reason;
    const scope = new ConnectAbort();
    // The hop under way. An abort (timeout, the caller's signal, session.close()) answers its
    // caller at once, whatever stage the attempt is in: every stage also watches the signal, this
    // guarantees the caller is never left waiting on one that missed it. A connection the
    // abandoned attempt still produces is terminated.
    let hopUnderWay: { attempt: Promise<AttemptResult>; reject: (reason: unknown) => void } | undefined;
    const abort = (reason: unknown): void => {
      if (scope.aborted) return;
      scope.abort(reason);
      const hop = hopUnderWay;
      hopUnderWay = undefined;
      if (hop) {
        hop.attempt.then(dispose, noop);
        hop.reject(reason);
      }
    };
    this.#pending.add(abort);
    const onUserAbort = (): void => abort(o.signal!.reason);
    o.signal?.addEventListener("abort", onUserAbort, { once: true });
    const timer =
      timeout <= MAX_TIMER_MS // larger (or Infinity) would overflow setTimeout: treat as unbounded
        ? setTimeout(() => abort(new WebSocketTimeout(`connecting to ${startUrl.host} timed out after ${timeout} ms${scope.madeSignal ? h2Phase(scope.madeSignal) : ""}`, 1006)), timeout)
        : undefined;
    try {
      let target = startUrl;
      for (let hop = 0; ; hop++) {
        if (scope.aborted) throw scope.reason;
        const sameOrigin = target === startUrl || target.origin === startUrl.origin;
        const attempt = this.#attempt(target, o, connOpts, profile, scope, sameOrigin);
        const step = await new Promise<AttemptResult>((resolve, reject) => {
          hopUnderWay = { attempt, reject };
          attempt.then(
            (v) => {
              hopUnderWay = undefined;
              resolve(v);
            },
            (err: unknown) => {
              hopUnderWay = undefined;
              reject(err);
            },
          );
        });
        if ("ws" in step) {
          return step.ws;
        }
        if (hop >= maxRedirects) {
          throw new HandshakeError(
            maxRedirects === 0
              ? `the server redirected (HTTP ${step.status}) and redirects are disabled (maxRedirects: 0)`
              : `too many redirects (more than ${maxRedirects})`,
            { status: step.status, rawHeaders: step.rawHeaders },
          );
        }
        target = nextUrl(target, step.location, o.allowInsecureRedirect ?? false, step);
      }
    } finally {
      this.#pending.delete(abort);
      if (timer) clearTimeout(timer);
      o.signal?.removeEventListener("abort", onUserAbort);
    }
  }

  /** Closes every open connection of this session (gracefully, in parallel). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const abort of this.#pending) abort(new WebSocketError("the session was closed while connecting", 1006));
    this.#pending.clear();
    this.#tlsSessions?.clear(); // tickets link connections: a closed session forgets them
    await Promise.allSettled([...this.#open].map((ws) => ws.close()));
    this.#open.clear();
    this.#h2.closeAll();
  }

  /** `await using` support. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A WebSocket as an extended CONNECT stream on `h2` (session-h2.ts), registered like any other. */
  async #overH2(
    h2: H2Session,
    fp: Http2Fingerprint,
    target: URL,
    o: SessionOptions,
    connOpts: ResolvedConnectionOptions,
    profile: BrowserProfile | undefined,
    signal: ConnectAbort,
    sameOrigin: boolean,
  ): Promise<{ ws: AsyncWebSocket } | { location: string; status: number; rawHeaders: string[] }> {
    const { offer, user } = await this.#requestParts(target, o, profile, sameOrigin);
    const origin = o.origin ?? (profile ? `https://${target.host}` : undefined);
    const step = await wsOverH2(h2, {
      target, fp, profile, origin, protocols: o.protocols, offer, headers: user, connOpts,
      compressThreshold: o.compressThreshold, owner: this.#owner, signal: signal.signal,
    });
    // Set-Cookie on the 200 (or a redirect) goes to the jar, as on HTTP/1.1.
    const setCookie = setCookies("ws" in step ? step.ws.response.rawHeaders : step.rawHeaders);
    if (setCookie.length > 0) {
      try {
        await this.cookies.storeFromResponse(target, setCookie);
      } catch (err) {
        if ("ws" in step) step.ws.terminate();
        throw err;
      }
    }
    if ("ws" in step) {
      if (signal.aborted) {
        step.ws.terminate();
        throw signal.reason;
      }
      if (!this.#ended.has(step.ws)) this.#open.add(step.ws);
    }
    return step;
  }

  /**
   * What an upgrade request carries whatever its transport (HTTP/1.1 or an h2 stream): the
   * permessage-deflate offer, and the caller's headers with Basic auth and the Cookie header.
   */
  #requestParts(
    target: URL,
    o: SessionOptions,
    profile: BrowserProfile | undefined,
    sameOrigin: boolean,
  ): RequestParts | Promise<RequestParts> {
    const compress = o.compress ?? profile?.compress ?? false;
    const offer: DeflateOffer | undefined =
      compress === false ? undefined : compress === true ? (profile?.deflateOffer ?? {}) : compress;
    const user = headerList(o.headers);
    // Authorization and per-call cookies belong to the origin the caller named (never forwarded).
    if (o.auth && sameOrigin && !hasHeader(user, "authorization")) {
      user.push(["Authorization", "Basic " + Buffer.from(`${o.auth[0]}:${o.auth[1]}`, "utf8").toString("base64")]);
    }
    if (!sameOrigin) {
      // Credentials the caller gave for the first origin never follow a redirect elsewhere;
      // the jar's cookies for the new origin are added below by RFC 6265 rules.
      removeHeader(user, "authorization");
      removeHeader(user, "cookie");
    }
    const extra = sameOrigin ? o.cookies : undefined;
    // No cookie anywhere: answered at once (every await of a connect costs a promise and a turn
    // of the microtask queue).
    if (extra === undefined && this.cookies.isEmpty) return { offer, user };
    return this.cookies.cookieHeaderFor(target, extra).then((cookie) => {
      if (cookie && !hasHeader(user, "cookie")) user.push(["Cookie", cookie]);
      return { offer, user };
    });
  }

  /** One connection attempt: a WebSocket, or a redirect to follow. */
  #attempt(
    target: URL,
    o: SessionOptions,
    connOpts: ResolvedConnectionOptions,
    profile: BrowserProfile | undefined,
    signal: ConnectAbort,
    sameOrigin: boolean,
  ): Promise<AttemptResult> {
    let proxy: string | undefined;
    try {
      proxy = selectProxy(target, { proxy: o.proxy, proxies: o.proxies, trustEnv: o.trustEnv ?? false });
    } catch (err) {
      return Promise.reject(err);
    }
    const engine = o.tls ?? (profile ? "masq" : "native");
    // HTTP/2 needs TLS here (ALPN): a ws:// connect neither offers h2 nor rides a pooled h2
    // connection, whose streams would carry it over TLS although the URL says otherwise. (Called
    // directly, not awaited: each async layer costs a connect promises and microtask turns.)
    if (target.protocol !== "wss:") return this.#fresh(target, o, connOpts, profile, signal, sameOrigin, proxy, engine, undefined, undefined);
    return this.#attemptSecure(target, o, connOpts, profile, signal, sameOrigin, proxy, engine);
  }

  /** A wss:// attempt: over a pooled h2 connection when there is one, else a fresh connection. */
  async #attemptSecure(
    target: URL,
    o: SessionOptions,
    connOpts: ResolvedConnectionOptions,
    profile: BrowserProfile | undefined,
    signal: ConnectAbort,
    sameOrigin: boolean,
    proxy: string | undefined,
    engine: "native" | "masq",
  ): Promise<AttemptResult> {
    // A WebSocket to an origin this session holds an h2 connection to (allowing extended CONNECT)
    // becomes a new stream on it, as browsers do (RFC 8441).
    const h2plan = planH2(target, o, profile, engine, proxy);
    const pooled = await this.#h2.use(h2plan.key, h2plan.offer);
    if ("session" in pooled) return this.#overH2(pooled.session, h2plan.fp, target, o, connOpts, profile, signal, sameOrigin);
    const settled = pooled.settled;
    try {
      return await this.#fresh(target, o, connOpts, profile, signal, sameOrigin, proxy, engine, h2plan, settled);
    } finally {
      settled?.();
    }
  }

  /** A new transport connection for one attempt (HTTP/1.1 upgrade, or h2 when ALPN picks it). */
  async #fresh(
    target: URL,
    o: SessionOptions,
    connOpts: ResolvedConnectionOptions,
    profile: BrowserProfile | undefined,
    signal: ConnectAbort,
    sameOrigin: boolean,
    proxy: string | undefined,
    engine: "native" | "masq",
    /** Undefined for ws:// (no ALPN, no h2). */
    h2plan: H2Plan | undefined,
    settled: (() => void) | undefined,
  ): Promise<{ ws: AsyncWebSocket } | { location: string; status: number; rawHeaders: string[] }> {
    const secure = target.protocol === "wss:";
    const port = target.port ? Number(target.port) : secure ? 443 : 80;
    const topts: TransportOptions = {
      signal,
      verify: o.verify ?? true,
      ca: o.ca,
      alpn: h2plan?.alpn,
      tlsEngine: engine,
      tlsProfile: profile?.tls,
      proxy,
    };
    if (this.#tlsSessions && o.tlsSessionCache !== false) {
      topts.sessionCache = this.#tlsSessions;
      topts.sessionScope = profile?.name ?? "";
    }
    const clientCert = clientCertOf(o).clientCert;
    if (clientCert) topts.clientCert = clientCert;
    const socket: Duplex = await openTransport({ host: target.hostname, port, secure }, topts);
    if (signal.aborted) {
      // Aborted (timeout, user signal, session closed) while the transport was finishing.
      socket.destroy();
      throw signal.reason;
    }
    try {
      const alpn = (socket as Duplex & { alpnProtocol?: string | false }).alpnProtocol;
      if (alpn === "h2" && h2plan) {
        // Firefox's way (captured): wait for the server's SETTINGS; with ENABLE_CONNECT_PROTOCOL
        // the WebSocket is an extended CONNECT on this connection, without it the connection is
        // closed and the WebSocket upgrades over HTTP/1.1 on a new one offering http/1.1 alone.
        const h2 = await openH2(socket, target, h2plan, signal.signal, o.http2IdleTimeout);
        if (!h2.extendedConnect) {
          h2.close();
          settled?.();
          return await this.#attempt(target, { ...o, http2: false }, connOpts, profile, signal, sameOrigin);
        }
        this.#h2.add(h2plan.key, h2);
        settled?.(); // WebSockets waiting for this origin may now share the connection
        return await this.#overH2(h2, h2plan.fp, target, o, connOpts, profile, signal, sameOrigin);
      }
      const key = generateKey();
      const parts = this.#requestParts(target, o, profile, sameOrigin);
      const { offer, user } = parts instanceof Promise ? await parts : parts;
      const extensions = offer ? formatDeflateOffer(offer) : undefined;
      const origin = o.origin ?? (profile ? `${secure ? "https" : "http"}://${target.host}` : undefined);
      const headers: HeaderList = buildRequestHeaders({
        host: target.host,
        key,
        protocols: o.protocols,
        origin,
        extensions,
        headers: user,
        // Sec-Fetch-Site (and Firefox's Sec-Fetch-Storage-Access) agree with the Origin in use.
        template: profile ? applyOriginRules(profile.headers, siteRelation(origin ?? "null", target)) : undefined,
      });
      if (profile?.cookieAfter) placeAfter(headers, "cookie", profile.cookieAfter);
      const request = serializeRequest(target.pathname + target.search, headers);
      const { head, handOver } = await exchangeHandshake(socket, request, signal);
      const setCookie = setCookies(head.rawHeaders);
      if (setCookie.length > 0) await this.cookies.storeFromResponse(target, setCookie);

      if (REDIRECTS.has(head.status) && head.headers["location"] !== undefined) {
        socket.destroy();
        return { location: head.headers["location"], status: head.status, rawHeaders: head.rawHeaders };
      }
      if (head.status !== 101) {
        const body = await readErrorBody(socket, head, handOver(true), 2000, signal);
        throw new HandshakeError(
          `the server refused the WebSocket upgrade: HTTP ${head.status}${head.statusText ? " " + head.statusText : ""}`,
          { status: head.status, rawHeaders: head.rawHeaders, body },
        );
      }
      const accepted = validateUpgradeResponse(head, { key, protocols: o.protocols, extensionsOffered: offer !== undefined });
      const params = offer ? negotiateDeflate(accepted.extensions || undefined, offer) : null;
      const deflate = params
        ? new PerMessageDeflate(params, { maxMessageSize: connOpts.maxMessageSize, threshold: o.compressThreshold })
        : undefined;
      const response = new UpgradeResponse(head.status, head.statusText, head.text, target.href);
      const ws = new AsyncWebSocket({
        socket,
        rest: handOver(), // the socket's reader attaches in this constructor
        options: connOpts,
        protocol: accepted.protocol,
        extensions: accepted.extensions,
        response,
        deflate,
        owner: this.#owner,
      });
      if (signal.aborted) {
        // close() ran while this handshake was finishing: do not hand out a connection the
        // session will never close.
        ws.terminate();
        throw signal.reason;
      }
      // A connection can end inside its constructor (a violation right behind the 101).
      if (!this.#ended.has(ws)) this.#open.add(ws);
      return { ws };
    } catch (err) {
      socket.destroy();
      throw secure ? tlsFailureAfterHandshake(err, o.cert !== undefined) : err;
    }
  }
}

/**
 * Under TLS 1.3 the server judges a client certificate after our Finished (RFC 8446 §4.4.2.4),
 * so its refusal arrives while the upgrade request is under way: an alert (certificate_required,
 * unknown_ca, ...) or, from servers that send none (Node's), a bare close. Either is reported as
 * the TLS failure it is rather than as an upgrade failure.
 */
function tlsFailureAfterHandshake(err: unknown, sentCert: boolean): unknown {
  if (!(err instanceof WebSocketError) || err instanceof TlsError) return err;
  if (err instanceof HandshakeError) {
    if (!sentCert || err.reason !== "connection_closed" || err.status !== 0) return err;
    return new TlsError(
      "the server closed the connection right after the TLS handshake, before answering the upgrade: it refused the client certificate",
      { alert: "CLIENT_CERTIFICATE_REFUSED", reason: "connection_closed", cause: err },
    );
  }
  for (let c: unknown = err.cause, depth = 0; c !== undefined && c !== null && depth < 4; c = (c as { cause?: unknown }).cause, depth++) {
    if (c instanceof TlsError) return c;
    const code = (c as NodeJS.ErrnoException).code;
    if (typeof code === "string" && code.startsWith("ERR_SSL_")) return nodeTlsError(`TLS failure after the handshake: ${(c as Error).message}`, c);
  }
  return err;
}

/** The `cert` / `key` / `passphrase` options as transport's clientCert (both or neither). */
function clientCertOf(o: SessionOptions): { clientCert?: ClientCertOptions } {
  if (o.cert === undefined && o.key === undefined) return {};
  if (o.cert === undefined || o.key === undefined) {
    throw new WebSocketError(`a client certificate needs both "cert" and "key" (got only "${o.cert === undefined ? "key" : "cert"}")`, 0);
  }
  return { clientCert: { cert: o.cert, key: o.key, ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}) } };
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const DEFAULT_CONNECT_TIMEOUT = 30_000;

/** What an upgrade request carries besides the handshake's own headers (see #requestParts). */
interface RequestParts {
  offer: DeflateOffer | undefined;
  user: HeaderList;
}

/** What one connection attempt gives: a WebSocket, or a redirect to follow. */
type AttemptResult = { ws: AsyncWebSocket } | { location: string; status: number; rawHeaders: string[] };

function noop(): void {}

/** Terminates the connection an abandoned attempt still produced (a redirect step holds none). */
function dispose(step: unknown): void {
  if (step && typeof step === "object" && "ws" in step) (step as { ws: AsyncWebSocket }).ws.terminate();
}

/** The options that shape a connection (a per-call value for any of them needs its own resolved set). */
const CONNECTION_KEYS: ReadonlyArray<keyof ConnectionOptions> = [
  "recvQueueSize",
  "sendQueueSize",
  "maxSendQueueBytes",
  "blockOnRecvQueueFull",
  "maxMessageSize",
  "coalesceFrames",
  "maxSendBatchSize",
  "drainOnError",
  "wsRetry",
  "recvTimeSlice",
  "sendTimeSlice",
  "autoclose",
  "heartbeat",
];

/** Whether `o` has any key (a per-call options object that is not `{}`). */
function hasOwnKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

/** Whether `options` gives any of {@link CONNECTION_KEYS}. */
function hasConnectionOption(options: SessionOptions): boolean {
  for (const k of CONNECTION_KEYS) if (options[k] !== undefined) return true;
  return false;
}

/** The 101's description; the lower-cased lookup is built on first use (idle connections keep only the raw list). */
class UpgradeResponse implements HandshakeResponse {
  readonly status: number;
  readonly statusText: string;
  readonly url: string;
  /**
   * The head as received, parsed again on first access: an open connection keeps one flat
   * string instead of a header array of substrings (about 300 bytes less per idle connection).
   */
  readonly #text: string;
  #rawHeaders: string[] | undefined;
  #headers: Record<string, string> | undefined;

  constructor(status: number, statusText: string, text: string, url: string) {
    this.status = status;
    this.statusText = statusText;
    this.#text = text;
    this.url = url;
  }

  /** `[name, value, name, value, ...]` in received order and case. */
  get rawHeaders(): string[] {
    return (this.#rawHeaders ??= parseResponseHead(this.#text).rawHeaders);
  }

  get headers(): Record<string, string> {
    return (this.#headers ??= headersFromRaw(this.rawHeaders));
  }

  toJSON(): HandshakeResponse {
    return { status: this.status, statusText: this.statusText, headers: this.headers, rawHeaders: this.rawHeaders, url: this.url };
  }
}

/** Session defaults with per-call options over them; headers merged by name, cookies by name. */
function mergeOptions(base: SessionOptions, call: SessionOptions): SessionOptions {
  // An option given as undefined per call means "not given": it keeps the session's value.
  const merged: SessionOptions = { ...base };
  for (const k of Object.keys(call) as Array<keyof SessionOptions>) {
    const v = call[k];
    if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
  }
  // A per-call header replaces every session header of that name; repeated names within one
  // list (two X-Dup pairs) are all kept. Without per-call headers the session's stand as given
  // (#requestParts makes its own list from them).
  if (call.headers === undefined) {
    merged.headers = base.headers;
  } else {
    const h = headerList(base.headers);
    const own = headerList(call.headers);
    for (const [name] of own) removeHeader(h, name);
    merged.headers = [...h, ...own];
  }
  merged.cookies = call.cookies;
  return merged;
}

function headerList(h: HeadersInit | undefined): HeaderList {
  if (h === undefined) return [];
  if (Array.isArray(h)) return h.map(([n, v]) => [String(n), String(v)] as [string, string]);
  return Object.entries(h).map(([n, v]) => [n, String(v)] as [string, string]);
}

function hasHeader(h: HeaderList, name: string): boolean {
  const lower = name.toLowerCase();
  return h.some(([n]) => n.toLowerCase() === lower);
}

function removeHeader(h: HeaderList, name: string): void {
  const lower = name.toLowerCase();
  for (let i = h.length - 1; i >= 0; i--) if (h[i]![0].toLowerCase() === lower) h.splice(i, 1);
}

/** Moves header `name` to just after header `after` (a browser's fixed position for it). */
function placeAfter(h: HeaderList, name: string, after: string): void {
  const from = h.findIndex(([n]) => n.toLowerCase() === name);
  if (from < 0) return;
  const entry = h.splice(from, 1)[0]!;
  const at = h.findIndex(([n]) => n.toLowerCase() === after.toLowerCase());
  h.splice(at < 0 ? h.length : at + 1, 0, entry);
}

function setCookies(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === "set-cookie") out.push(raw[i + 1]!);
  return out;
}

function appendParams(u: URL, params: ParamsInit | undefined): void {
  if (params === undefined) return;
  const entries: Array<[string, string]> =
    params instanceof URLSearchParams
      ? [...params.entries()]
      : Array.isArray(params)
        ? params.map(([k, v]) => [String(k), String(v)] as [string, string])
        : Object.entries(params).map(([k, v]) => [k, String(v)] as [string, string]);
  for (const [k, v] of entries) u.searchParams.append(k, v);
}

/** Parses and checks the URL (ws:// or wss://; http(s) is mapped), then appends params. */
function buildUrl(url: string | URL, sessionParams: ParamsInit | undefined, callParams: ParamsInit | undefined): URL {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    throw new WebSocketError(`invalid URL: ${redactCredentials(String(url))}`, 0);
  }
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  if (u.protocol !== "ws:" && u.protocol !== "wss:") {
    throw new WebSocketError(`unsupported URL scheme ${u.protocol} (use ws:// or wss://)`, 0);
  }
  if (u.hash) u.hash = ""; // RFC 6455 §3: fragments are not part of WebSocket URIs
  appendParams(u, sessionParams);
  appendParams(u, callParams);
  return u;
}

/** The redirect target, with RFC 6455 scheme mapping and the wss→ws downgrade rule. */
function nextUrl(from: URL, location: string, allowInsecure: boolean, step: { status: number; rawHeaders: string[] }): URL {
  let u: URL;
  try {
    u = new URL(location, from);
  } catch {
    throw new HandshakeError(`the redirect's Location is not a valid URL`, { status: step.status, rawHeaders: step.rawHeaders });
  }
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  if (u.protocol !== "ws:" && u.protocol !== "wss:") {
    throw new HandshakeError(`refusing a redirect to the ${u.protocol} scheme`, { status: step.status, rawHeaders: step.rawHeaders });
  }
  if (from.protocol === "wss:" && u.protocol === "ws:" && !allowInsecure) {
    throw new HandshakeError(`refusing a redirect from wss:// to ws:// (set allowInsecureRedirect to allow it)`, {
      status: step.status,
      rawHeaders: step.rawHeaders,
    });
  }
  u.hash = "";
  // Credentials in a Location are not followed (nor shown in response.url).
  u.username = "";
  u.password = "";
  return u;
}

function redactCredentials(s: string): string {
  return s.replace(/\/\/[^/@]*@/, "//***@");
}
