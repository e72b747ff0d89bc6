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
   * the handshake builder: `Host`, `Origin`, `Sec-WebSocket-Key` (and `Sec-WebSocket-Extensions`
   * when the connection does not offer compression it is dropped).
   */
  headers: HeaderTemplate;
  /** The browser offers permessage-deflate (the value of its Sec-WebSocket-Extensions header). */
  compress: boolean;
}
