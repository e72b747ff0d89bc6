import { ExtensionType } from "./constants.js";
import { TlsReader } from "./reader.js";

/**
 * What a ClientHello offered, read back from its bytes. The engine checks the server's choices
 * against this, so it does not depend on how the hello was built (profile, GREASE, permutation).
 */
export interface OfferedHello {
  sessionId: Buffer;
  cipherSuites: number[];
  /** Extension types in wire order. */
  extensions: number[];
  groups: number[];
  keyShareGroups: number[];
  signatureAlgorithms: number[];
  alpn: string[];
  /** compress_certificate algorithms (RFC 8879). */
  certCompression: number[];
  /** record_size_limit offered (RFC 8449), or undefined. */
  recordSizeLimit: number | undefined;
  /** supported_versions offered (RFC 8446 §4.2.1); empty when the hello has none. */
  versions: number[];
}

/** Parse a ClientHello handshake message (type 1 + length + body) that we built ourselves. */
export function readOfferedHello(message: Buffer): OfferedHello {
  const r = new TlsReader(message);
  if (r.u8() !== 1) throw new Error("not a ClientHello");
  const body = r.sub(3);
  body.u16(); // legacy_version
  body.bytes(32); // random
  const sessionId = Buffer.from(body.vec(1));
  const suites = body.sub(2);
  const cipherSuites: number[] = [];
  while (suites.remaining > 0) cipherSuites.push(suites.u16());
  body.vec(1); // compression methods
  const offered: OfferedHello = {
    sessionId,
    cipherSuites,
    extensions: [],
    groups: [],
    keyShareGroups: [],
    signatureAlgorithms: [],
    alpn: [],
    certCompression: [],
    recordSizeLimit: undefined,
    versions: [],
  };
  if (body.remaining === 0) return offered;
  const exts = body.sub(2);
  while (exts.remaining > 0) {
    const type = exts.u16();
    const data = exts.sub(2);
    offered.extensions.push(type);
    switch (type) {
      case ExtensionType.SUPPORTED_GROUPS: {
        const l = data.sub(2);
        while (l.remaining > 0) offered.groups.push(l.u16());
        break;
      }
      case ExtensionType.KEY_SHARE: {
        const l = data.sub(2);
        while (l.remaining > 0) {
          offered.keyShareGroups.push(l.u16());
          l.vec(2);
        }
        break;
      }
      case ExtensionType.SIGNATURE_ALGORITHMS: {
        const l = data.sub(2);
        while (l.remaining > 0) offered.signatureAlgorithms.push(l.u16());
        break;
      }
      case ExtensionType.ALPN: {
        const l = data.sub(2);
        while (l.remaining > 0) offered.alpn.push(l.vec(1).toString("latin1"));
        break;
      }
      case ExtensionType.COMPRESS_CERTIFICATE: {
        const l = data.sub(1);
        while (l.remaining > 0) offered.certCompression.push(l.u16());
        break;
      }
      case ExtensionType.RECORD_SIZE_LIMIT:
        offered.recordSizeLimit = data.u16();
        break;
      case ExtensionType.SUPPORTED_VERSIONS: {
        const l = data.sub(1);
        while (l.remaining > 0) offered.versions.push(l.u16());
        break;
      }
    }
  }
  return offered;
}
