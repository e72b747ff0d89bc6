/** The profile of masq's TLS engine when no browser is impersonated. */
import { masqDefaultHello } from "../tls/client-hello.js";
import type { BrowserProfile } from "./types.js";

/**
 * Not a browser: masq's own ClientHello and no header template (an empty list means the
 * handshake builder uses its own default header order).
 */
export const masqDefault: BrowserProfile = {
  name: "masq",
  tls: masqDefaultHello,
  headers: [],
  compress: true,
};
