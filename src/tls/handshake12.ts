import { TlsError } from "../errors.js";
import type { VersionHandlers } from "./handshake.js";

/** TLS 1.2 (RFC 5246): not supported yet. */
export const tls12ServerHello: VersionHandlers["tls12"] = () => {
  throw new TlsError("server negotiated TLS 1.2, which masq's TLS engine does not support yet", {
    alert: "protocol_version",
  });
};
