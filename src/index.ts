/**
 * masq: a fast async WebSocket client for Node.js with bounded queues, backpressure, sessions
 * (cookies, proxies, auth, redirects), permessage-deflate and browser impersonation.
 *
 * This module is the public surface only.
 */
export { AsyncSession } from "./session.js";
export type { SessionOptions, HeadersInit, ParamsInit } from "./session.js";
export { AsyncWebSocket } from "./websocket/connection.js";
export { WebSocket } from "./standard/websocket.js";
export type { WebSocketOptions, BinaryType, WebSocketSendData, WebSocketEventHandler, WebSocketReadyState } from "./standard/websocket.js";
export { CloseEvent, ErrorEvent } from "./standard/events.js";
export type { CloseEventInit, CloseEventLike, CloseEventConstructor, ErrorEventInit, BaseEventInit } from "./standard/events.js";
export type { HandshakeResponse, OperationOptions, SendData } from "./websocket/connection.js";
export type { ConnectionOptions } from "./websocket/options.js";
export type { Received, WaitOptions } from "./websocket/recv-queue.js";
export { WsFlag, CurlWsFlag } from "./websocket/flags.js";
export { WebSocketRetryStrategy } from "./websocket/retry.js";
export type { RetryOptions } from "./websocket/retry.js";
export { CookieJar } from "./cookies.js";
export type { CookieSetOptions, CookieScope, CookieInfo, SameSite } from "./cookies.js";
export { setZlibConcurrency, zlibJobStats } from "./websocket/deflate.js";
export {
  WebSocketError,
  WebSocketClosed,
  WebSocketTimeout,
  ProtocolError,
  HandshakeError,
  ProxyError,
  TlsError,
} from "./errors.js";
export type { ErrorReason, ProtocolErrorReason, HandshakeErrorReason, TlsErrorReason } from "./errors.js";
export {
  profileNames,
  targetNames,
  getProfile,
  profileFromJa3,
  http2FromAkamai,
  akamaiOf,
  chromiumBrands,
  formatSecChUa,
} from "./impersonate/index.js";
export type { BrowserProfile, HeaderTemplate, Http2Fingerprint, Ja3Options, ProfileInfo } from "./impersonate/index.js";
export type { ClientHelloProfile, ExtensionSpec, EchGreaseSpec } from "./tls/client-hello.js";
export type { ProxyMap } from "./transport/index.js";
export type { CaOption } from "./transport/index.js";
export type { DeflateOffer } from "./protocol/extensions.js";
export { HANDSHAKE_ERROR_REASONS, PROTOCOL_ERROR_REASONS, TLS_ERROR_REASONS } from "./errors.js";
export type { HeartbeatOptions } from "./websocket/options.js";
export type { UaBrand } from "./impersonate/index.js";
