import { ExtensionType } from "./constants.js";

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

/**
 * Parse a ClientHello handshake message (type 1 + length + body) that we built ourselves. Read by
 * offsets rather than through TlsReader (once per connect: ~25 reader objects and views saved).
 */
export function readOfferedHello(message: Buffer): OfferedHello {
  if (message[0] !== 1) throw new Error("not a ClientHello");
  const end = 4 + message.readUIntBE(1, 3);
  if (end > message.length) throw new Error("truncated ClientHello");
  let o = 4 + 2 + 32; // legacy_version, random
  const sidLength = at(message, o, 1, end);
  const sessionId = Buffer.from(message.subarray(o + 1, o + 1 + sidLength));
  o += 1 + sidLength;
  const suitesEnd = o + 2 + at(message, o, 2, end);
  const cipherSuites = u16s(message, o + 2, suitesEnd, end);
  o = suitesEnd;
  o += 1 + at(message, o, 1, end); // compression methods
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
  if (o === end) return offered;
  const extsEnd = o + 2 + at(message, o, 2, end);
  if (extsEnd !== end) throw new Error("ClientHello extensions do not end the message");
  o += 2;
  while (o < extsEnd) {
    const type = at(message, o, 2, extsEnd);
    const dataEnd = o + 4 + at(message, o + 2, 2, extsEnd);
    if (dataEnd > extsEnd) throw new Error("truncated ClientHello extension");
    const d = o + 4;
    offered.extensions.push(type);
    switch (type) {
      case ExtensionType.SUPPORTED_GROUPS:
        offered.groups = u16s(message, d + 2, d + 2 + at(message, d, 2, dataEnd), dataEnd);
        break;
      case ExtensionType.KEY_SHARE: {
        const listEnd = d + 2 + at(message, d, 2, dataEnd);
        if (listEnd > dataEnd) throw new Error("truncated key_share");
        for (let k = d + 2; k < listEnd; k += 4 + at(message, k + 2, 2, listEnd)) offered.keyShareGroups.push(at(message, k, 2, listEnd));
        break;
      }
      case ExtensionType.SIGNATURE_ALGORITHMS:
        offered.signatureAlgorithms = u16s(message, d + 2, d + 2 + at(message, d, 2, dataEnd), dataEnd);
        break;
      case ExtensionType.ALPN: {
        const listEnd = d + 2 + at(message, d, 2, dataEnd);
        if (listEnd > dataEnd) throw new Error("truncated ALPN");
        for (let k = d + 2; k < listEnd; ) {
          const n = at(message, k, 1, listEnd);
          if (k + 1 + n > listEnd) throw new Error("truncated ALPN");
          offered.alpn.push(message.toString("latin1", k + 1, k + 1 + n));
          k += 1 + n;
        }
        break;
      }
      case ExtensionType.COMPRESS_CERTIFICATE:
        offered.certCompression = u16s(message, d + 1, d + 1 + at(message, d, 1, dataEnd), dataEnd);
        break;
      case ExtensionType.RECORD_SIZE_LIMIT:
        offered.recordSizeLimit = at(message, d, 2, dataEnd);
        break;
      case ExtensionType.SUPPORTED_VERSIONS:
        offered.versions = u16s(message, d + 1, d + 1 + at(message, d, 1, dataEnd), dataEnd);
        break;
    }
    o = dataEnd;
  }
  return offered;
}

/** A big-endian integer of `size` bytes at `o`, which must end by `limit`. */
function at(b: Buffer, o: number, size: 1 | 2, limit: number): number {
  if (o + size > limit) throw new Error("truncated ClientHello");
  return size === 1 ? b[o]! : (b[o]! << 8) | b[o + 1]!;
}

/** The u16 values in [from, to), which must lie within `limit` and have an even length. */
function u16s(b: Buffer, from: number, to: number, limit: number): number[] {
  if (to > limit || (to - from) % 2 !== 0) throw new Error("malformed list in ClientHello");
  const out: number[] = [];
  for (let k = from; k < to; k += 2) out.push((b[k]! << 8) | b[k + 1]!);
  return out;
}
