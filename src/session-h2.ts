/**
 * The session's side of WebSockets over HTTP/2 (RFC 8441): which ALPN to offer, the pool of h2
 * connections a session shares between WebSockets to one origin (as browsers do), and one
 * WebSocket opened as an extended CONNECT stream. Kept out of session.ts so that file stays
 * readable; session.ts calls in at three points (offer, the `h2` ALPN answer, close()).
 */
import type { Duplex } from "node:stream";
import { HandshakeError, WebSocketError, type HandshakeErrorReason } from "./errors.js";
import { formatDeflateOffer, negotiateDeflate, type DeflateOffer } from "./protocol/extensions.js";
import type { BrowserProfile, Http2Fingerprint } from "./impersonate/types.js";
import { H2Session } from "./transport/h2-session.js";
import { MASQ_HTTP2, buildConnectRequest, connectionOptionsOf } from "./transport/h2-request.js";
import { AsyncWebSocket, type ConnectionOwner, type HandshakeResponse } from "./websocket/connection.js";
import type { ResolvedConnectionOptions } from "./websocket/options.js";
import { PerMessageDeflate } from "./websocket/deflate.js";
import { headersFromRaw } from "./errors.js";

/** What a connect needs to know about HTTP/2 for one target. */
export interface H2Plan {
  /** The fingerprint (the profile's, or masq's own). */
  fp: Http2Fingerprint;
  /** Pool key: origin, profile, TLS engine and proxy (a connection is shared only when all match). */
  key: string;
  /** ALPN list for a fresh connection. */
  alpn: string[];
  /** A fresh connection offers h2. */
  offer: boolean;
}

/**
 * Decides the ALPN offer. A profile whose browser opens WebSockets over h2 on a fresh connection
 * (Firefox) offers its own list (`h2, http/1.1`); one that only reuses an h2 connection (Chromium)
 * and masq without a profile offer `http/1.1` alone unless `http2: true`; `http2: false` never
 * offers h2. Plain ws:// never does (RFC 8441 needs TLS here, as in every browser).
 */
export function planH2(
  target: URL,
  o: { http2?: boolean | undefined },
  profile: BrowserProfile | undefined,
  engine: string,
  proxy: string | undefined,
): H2Plan {
  const fp = profile?.http2 ?? MASQ_HTTP2;
  const secure = target.protocol === "wss:";
  // Through a proxy the browsers differ: Chromium tries WebSockets over h2 only on direct
  // connections (http_stream_factory_job.cc: `try_websocket_over_http2_` requires
  // `proxy_info_.is_direct()`), while Firefox speaks h2 inside the proxy's tunnel (its tests
  // test_h2_ws_with_h1_insecure_proxy / _secure_proxy in netwerk/test/unit/test_websocket_server.js).
  // A Chromium-like profile ("existing") therefore stays on HTTP/1.1 through a proxy; Firefox's
  // profile and `http2: true` without a profile offer h2 in the tunnel.
  const proxied = proxy !== undefined && proxy !== "";
  const chromiumProxied = proxied && profile?.http2?.websocket === "existing";
  const offer = secure && !chromiumProxied && (o.http2 ?? (profile?.http2?.websocket === "fresh"));
  const base = profile?.tls.alpn ?? ["http/1.1"];
  const alpn = offer ? (base.includes("h2") ? base : ["h2", ...base.filter((p) => p !== "h2")]) : base.filter((p) => p !== "h2");
  const key = `${target.host}|${profile?.name ?? ""}|${engine}|${proxy ?? ""}`;
  return { fp, key, alpn: alpn.length > 0 ? alpn : ["http/1.1"], offer };
}

/**
 * The session's h2 connections by {@link H2Plan.key}. While a connection that offers h2 is being
 * set up, other connects to the same origin wait for it instead of opening their own (browsers
 * coalesce the same way), then share it if it turned out to allow extended CONNECT.
 */
export class H2Pool {
  readonly #map = new Map<string, H2Session>();
  readonly #connecting = new Map<string, Promise<void>>();

  /**
   * A pooled connection that can carry another WebSocket; or, when there is none, a function to
   * call once a fresh connection offering h2 (`offer`) has settled, other connects to the origin
   * waiting for it meanwhile. Checking and reserving happen in one synchronous step, so concurrent
   * connects open one connection, not one each.
   */
  async use(key: string, offer: boolean): Promise<{ session: H2Session } | { settled: (() => void) | undefined }> {
    let waited = false;
    for (;;) {
      const s = this.#map.get(key);
      if (s?.usable) return { session: s };
      const pending = this.#connecting.get(key);
      // After waiting for one that did not give a shareable connection, open our own at once.
      if (!pending || waited) return { settled: offer && !pending ? this.#reserve(key) : undefined };
      await pending;
      waited = true;
    }
  }

  #reserve(key: string): () => void {
    let done!: () => void;
    this.#connecting.set(key, new Promise<void>((r) => (done = r)));
    let once = false;
    return () => {
      if (once) return;
      once = true;
      this.#connecting.delete(key);
      done();
    };
  }

  add(key: string, s: H2Session): void {
    const old = this.#map.get(key);
    this.#map.set(key, s);
    if (old && old !== s && old.activeStreams === 0) old.close();
    s.onClose = (closed) => {
      if (this.#map.get(key) === closed) this.#map.delete(key);
    };
  }

  /** Number of pooled connections (for tests). */
  get size(): number {
    return this.#map.size;
  }

  /** Closes every pooled connection (session.close()). */
  closeAll(): void {
    for (const s of this.#map.values()) s.close();
    this.#map.clear();
  }
}

/** What the connect is waiting for, by attempt signal (named in a connect-timeout message). */
const waiting = new WeakMap<AbortSignal, string>();

/** `" while waiting for …"` when an attempt under `signal` is waiting on HTTP/2, else "". */
export function h2Phase(signal: AbortSignal): string {
  const w = waiting.get(signal);
  return w ? ` while waiting for ${w}` : "";
}

/** Starts HTTP/2 on a TLS socket that negotiated `h2` and waits for the server's SETTINGS. */
export async function openH2(socket: Duplex, target: URL, plan: H2Plan, signal: AbortSignal, idleTimeout: number | undefined): Promise<H2Session> {
  waiting.set(signal, `the server's HTTP/2 SETTINGS from ${target.host}`);
  try {
    return await H2Session.open(socket, { connection: connectionOptionsOf(plan.fp), authority: target.host, signal, idleTimeout });
  } finally {
    waiting.delete(signal);
  }
}

/** Input of {@link wsOverH2}, prepared by the session like its HTTP/1.1 request. */
export interface H2ConnectInput {
  target: URL;
  fp: Http2Fingerprint;
  profile: BrowserProfile | undefined;
  origin: string | undefined;
  protocols: string[] | undefined;
  offer: DeflateOffer | undefined;
  /** User headers with Authorization and Cookie already decided. */
  headers: Array<[string, string]>;
  connOpts: ResolvedConnectionOptions;
  compressThreshold: number | undefined;
  owner: ConnectionOwner;
  signal: AbortSignal;
}

/**
 * Opens one WebSocket as an extended CONNECT stream on `h2` (RFC 8441 §4-§5). A 200 accepts
 * (there is no Sec-WebSocket-Accept); a redirect is handed back for the session to follow;
 * anything else is a HandshakeError with the status.
 */
export async function wsOverH2(
  h2: H2Session,
  i: H2ConnectInput,
): Promise<{ ws: AsyncWebSocket } | { location: string; status: number; rawHeaders: string[] }> {
  const extensions = i.offer ? formatDeflateOffer(i.offer) : undefined;
  const request = buildConnectRequest(i.fp, {
    authority: i.target.host,
    path: i.target.pathname + i.target.search,
    target: i.target,
    origin: i.origin,
    protocols: i.protocols,
    extensions,
    headers: i.headers,
    profile: i.profile,
  });
  const res = await h2.connect(request, i.fp.priority, i.signal);
  const rawHeaders = res.headers.flat();
  const h = headersFromRaw(rawHeaders);
  if (!res.stream) {
    if (REDIRECTS.has(res.status) && h["location"] !== undefined) return { location: h["location"], status: res.status, rawHeaders };
    throw new HandshakeError(`the server refused the WebSocket (HTTP/2 extended CONNECT): HTTP ${res.status}`, { status: res.status, rawHeaders });
  }
  const stream = res.stream;
  try {
    const fail = (msg: string, reason: HandshakeErrorReason): HandshakeError => new HandshakeError(msg, { status: res.status, rawHeaders, reason });
    const offered = i.protocols ?? [];
    const chosen = h["sec-websocket-protocol"]?.trim();
    if (chosen !== undefined && !offered.includes(chosen)) throw fail(`the server chose subprotocol "${chosen}", which was not offered`, "bad_subprotocol");
    const accepted = h["sec-websocket-extensions"]?.trim() ?? "";
    if (accepted !== "" && !i.offer) throw fail("the server accepted extensions that were not offered", "bad_extension");
    const params = i.offer ? negotiateDeflate(accepted || undefined, i.offer) : null;
    const deflate = params ? new PerMessageDeflate(params, { maxMessageSize: i.connOpts.maxMessageSize, threshold: i.compressThreshold }) : undefined;
    const response: HandshakeResponse = { status: res.status, statusText: "", headers: h, rawHeaders, url: i.target.href };
    stream.pause(); // the reader attaches and resumes it
    const ws = new AsyncWebSocket({
      socket: stream,
      rest: Buffer.alloc(0),
      options: i.connOpts,
      protocol: chosen ?? "",
      extensions: accepted,
      response,
      deflate,
      owner: i.owner,
    });
    return { ws };
  } catch (err) {
    stream.destroy();
    throw err instanceof WebSocketError ? err : new HandshakeError(String(err), { status: res.status, rawHeaders });
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
