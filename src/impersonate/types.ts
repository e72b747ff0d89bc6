import type { ClientHelloProfile } from "../tls/client-hello.js";

/** Header list in wire order, names in wire case. */
export type HeaderTemplate = Array<[name: string, value: string]>;

/** A browser to impersonate: its TLS ClientHello and its WebSocket upgrade request. */
export interface BrowserProfile {
  /** Profile name (`chrome156`, `firefox153`, …). */
  name: string;
  /** ClientHello shape for masq's TLS engine. */
  tls: ClientHelloProfile;
  /**
   * The upgrade request's headers in the browser's order and case. Empty values are filled in by
   * the handshake builder: `Host`, `Origin`, `Sec-WebSocket-Key`; `Sec-WebSocket-Extensions` and
   * `Sec-WebSocket-Protocol` get the connection's values and are dropped when it has none.
   */
  headers: HeaderTemplate;
  /** The browser offers permessage-deflate (the value of its Sec-WebSocket-Extensions header). */
  compress: boolean;
  /**
   * Where the browser puts a `Cookie` header: right after the template header of this name
   * (Chrome: after Accept-Language; Firefox: after Connection). Undefined: append at the end.
   */
  cookieAfter?: string;
}
