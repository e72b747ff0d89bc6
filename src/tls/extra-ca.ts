/**
 * The extra trusted CAs that Node adds to its bundled roots from the file named by
 * `NODE_EXTRA_CA_CERTS`. Read once, as Node does at startup; an unreadable file counts as none
 * (Node only prints a warning). Shared by masq's own certificate validator (tls/certificate.ts)
 * and the native-TLS transport (transport/native-tls.ts), so both trust the same roots.
 *
 * A module of its own, with no other imports from tls/, so that the transport can use it without
 * loading masq's TLS engine.
 */
import { readFileSync } from "node:fs";

let cached: string | null | undefined;

/** The PEM text of `NODE_EXTRA_CA_CERTS` (latin1), or null when unset or unreadable. */
export function extraCaFromEnv(): string | null {
  if (cached !== undefined) return cached;
  cached = null;
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (file) {
    try {
      cached = readFileSync(file, "latin1");
    } catch {
      cached = null; // Node prints a warning and goes on without them.
    }
  }
  return cached;
}
