/**
 * ClientHello parsing and fingerprints: JA4, JA4_r, JA4_o, JA4_ro (FoxIO JA4 specification) and
 * JA3 (Salesforce). Used by the tests to compare masq's hellos with real browsers (and the
 * curl_cffi captures), and as a debugging tool (`describeClientHello`). Test-only: nothing in src/
 * needs it (custom fingerprints parse JA3 strings, they never compute one).
 *
 * GREASE values (RFC 8701) are ignored everywhere, as both specifications require.
 */
import { createHash } from "node:crypto";
import { TlsError } from "../../src/errors.js";
import { isGrease as grease } from "../../src/tls/constants.js";

/** A parsed ClientHello; extension bodies are views into the input. */
export interface ParsedClientHello {
  /** legacy_record_version of the record, or undefined when the input had no record header. */
  recordVersion: number | undefined;
  legacyVersion: number;
  random: Buffer;
  sessionId: Buffer;
  cipherSuites: number[];
  compressionMethods: number[];
  extensions: Array<{ type: number; data: Buffer }>;
}

function fail(what: string): never {
  throw new TlsError(`malformed ClientHello: ${what}`, { alert: "decode_error" });
}

/**
 * Parses a ClientHello given as a TLS record (first byte 22), a handshake message (first byte 1)
 * or a hex string of either. Throws `TlsError` (`decode_error`) on malformed input.
 */
export function parseClientHello(input: Uint8Array | string): ParsedClientHello {
  let buf = typeof input === "string" ? Buffer.from(input.replace(/\s+/g, ""), "hex") : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  let recordVersion: number | undefined;
  if (buf[0] === 22) {
    if (buf.length < 5) fail("short record header");
    recordVersion = buf.readUInt16BE(1);
    const len = buf.readUInt16BE(3);
    if (buf.length < 5 + len) fail("truncated record");
    buf = buf.subarray(5, 5 + len);
  }
  let p = 0;
  const need = (n: number, what: string): void => {
    if (p + n > buf.length) fail(`truncated ${what}`);
  };
  const u8 = (what: string): number => (need(1, what), buf[p++]!);
  const u16 = (what: string): number => (need(2, what), (p += 2), buf.readUInt16BE(p - 2));
  const bytes = (n: number, what: string): Buffer => (need(n, what), (p += n), buf.subarray(p - n, p));

  if (u8("handshake type") !== 1) fail("not a client_hello");
  need(3, "handshake length");
  const len = buf.readUIntBE(p, 3);
  p += 3;
  if (buf.length < p + len) fail("truncated handshake message");
  buf = buf.subarray(0, p + len);
  const legacyVersion = u16("legacy_version");
  const random = bytes(32, "random");
  const sessionId = bytes(u8("session id length"), "session id");
  const cs = bytes(u16("cipher suites length"), "cipher suites");
  if (cs.length % 2) fail("odd cipher suites length");
  const cipherSuites: number[] = [];
  for (let i = 0; i < cs.length; i += 2) cipherSuites.push(cs.readUInt16BE(i));
  const compressionMethods = [...bytes(u8("compression length"), "compression methods")];
  const extensions: Array<{ type: number; data: Buffer }> = [];
  if (p < buf.length) {
    const extLength = u16("extensions length");
    const end = p + extLength;
    if (end !== buf.length) fail("extensions length mismatch");
    while (p < end) {
      const type = u16("extension type");
      extensions.push({ type, data: bytes(u16("extension length"), "extension data") });
    }
  }
  return { recordVersion, legacyVersion, random, sessionId, cipherSuites, compressionMethods, extensions };
}

const hex4 = (v: number): string => v.toString(16).padStart(4, "0");

function extensionData(h: ParsedClientHello, type: number): Buffer | undefined {
  return h.extensions.find((e) => e.type === type)?.data;
}

/** A u16 list behind a length prefix of `prefix` bytes. */
function u16List(data: Buffer | undefined, prefix: 1 | 2): number[] {
  if (!data || data.length < prefix) return [];
  const n = prefix === 1 ? data[0]! : data.readUInt16BE(0);
  const out: number[] = [];
  for (let i = prefix; i + 1 < prefix + n && i + 1 < data.length; i += 2) out.push(data.readUInt16BE(i));
  return out;
}

/** Supported groups (0x000a), GREASE included, wire order. */
export function helloGroups(h: ParsedClientHello): number[] {
  return u16List(extensionData(h, 0x000a), 2);
}

/** Signature algorithms (0x000d), GREASE included, wire order. */
export function helloSignatureAlgorithms(h: ParsedClientHello): number[] {
  return u16List(extensionData(h, 0x000d), 2);
}

/** Supported versions (0x002b), GREASE included, wire order. */
export function helloVersions(h: ParsedClientHello): number[] {
  return u16List(extensionData(h, 0x002b), 1);
}

/** ALPN protocol names (0x0010), wire order. */
export function helloAlpn(h: ParsedClientHello): string[] {
  const d = extensionData(h, 0x0010);
  const out: string[] = [];
  if (!d || d.length < 2) return out;
  for (let i = 2; i < d.length && i < 2 + d.readUInt16BE(0); ) {
    const n = d[i]!;
    out.push(d.subarray(i + 1, i + 1 + n).toString("latin1"));
    i += 1 + n;
  }
  return out;
}

/** The SNI host name (0x0000), if any. */
export function helloServerName(h: ParsedClientHello): string | undefined {
  const d = extensionData(h, 0x0000);
  if (!d || d.length < 5 || d[2] !== 0) return undefined;
  return d.subarray(5, 5 + d.readUInt16BE(3)).toString("latin1");
}

/** Key share entries (0x0033): group and key length, wire order. */
export function helloKeyShares(h: ParsedClientHello): Array<{ group: number; length: number }> {
  const d = extensionData(h, 0x0033);
  const out: Array<{ group: number; length: number }> = [];
  if (!d || d.length < 2) return out;
  for (let i = 2; i + 4 <= d.length; ) {
    const length = d.readUInt16BE(i + 2);
    out.push({ group: d.readUInt16BE(i), length });
    i += 4 + length;
  }
  return out;
}

const VERSION_CODES: Record<number, string> = {
  0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
  0xfeff: "d1", 0xfefd: "d2", 0xfefc: "d3",
};

/** JA4 ALPN code: first and last character of the first protocol, hex nibbles if not alphanumeric. */
function alpnCode(h: ParsedClientHello): string {
  const first = helloAlpn(h)[0];
  if (!first) return "00";
  const a = first.charCodeAt(0);
  const z = first.charCodeAt(first.length - 1);
  const alnum = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  if (alnum(a) && alnum(z)) return first[0]! + first[first.length - 1]!;
  return a.toString(16).padStart(2, "0")[0]! + z.toString(16).padStart(2, "0")[1]!;
}

/** The four JA4 parts before hashing. */
function ja4Parts(h: ParsedClientHello, original: boolean): { a: string; b: string; c: string } {
  const ciphers = h.cipherSuites.filter((c) => !grease(c));
  const exts = h.extensions.map((e) => e.type).filter((t) => !grease(t));
  const versions = helloVersions(h).filter((v) => !grease(v));
  const version = VERSION_CODES[versions.length ? Math.max(...versions) : h.legacyVersion] ?? "00";
  const sni = exts.includes(0x0000) ? "d" : "i";
  const count = (n: number): string => String(Math.min(n, 99)).padStart(2, "0");
  const a = `t${version}${sni}${count(ciphers.length)}${count(exts.length)}${alpnCode(h)}`;
  const cipherList = ciphers.map(hex4);
  const b = (original ? cipherList : [...cipherList].sort()).join(",");
  // JA4 drops SNI and ALPN from the sorted list; JA4_o keeps every extension in wire order.
  const extList = original ? exts.map(hex4) : exts.filter((t) => t !== 0x0000 && t !== 0x0010).map(hex4).sort();
  const sigs = helloSignatureAlgorithms(h).filter((s) => !grease(s)).map(hex4).join(",");
  const c = extList.join(",") + (sigs ? `_${sigs}` : "");
  return { a, b, c };
}

const hash12 = (s: string): string => createHash("sha256").update(s).digest("hex").slice(0, 12);

/** JA4 (sorted, hashed), e.g. `t13d1516h1_8daaf6152771_5b37b36a67c0`. */
export function ja4(h: ParsedClientHello): string {
  const { a, b, c } = ja4Parts(h, false);
  return `${a}_${b ? hash12(b) : "000000000000"}_${c ? hash12(c) : "000000000000"}`;
}

/** JA4_r: the raw (sorted, unhashed) form. */
export function ja4r(h: ParsedClientHello): string {
  const { a, b, c } = ja4Parts(h, false);
  return `${a}_${b}_${c}`;
}

/** JA4_o: original order, hashed. */
export function ja4o(h: ParsedClientHello): string {
  const { a, b, c } = ja4Parts(h, true);
  return `${a}_${b ? hash12(b) : "000000000000"}_${c ? hash12(c) : "000000000000"}`;
}

/** JA4_ro: original order, raw. */
export function ja4ro(h: ParsedClientHello): string {
  const { a, b, c } = ja4Parts(h, true);
  return `${a}_${b}_${c}`;
}

/** The JA3 input string: version,ciphers,extensions,groups,point formats (decimal, GREASE dropped). */
export function ja3String(h: ParsedClientHello): string {
  const dash = (l: number[]): string => l.filter((v) => !grease(v)).join("-");
  const formats = extensionData(h, 0x000b);
  return [
    String(h.legacyVersion),
    dash(h.cipherSuites),
    dash(h.extensions.map((e) => e.type)),
    dash(helloGroups(h)),
    formats && formats.length ? [...formats.subarray(1, 1 + formats[0]!)].join("-") : "",
  ].join(",");
}

/** JA3: MD5 of `ja3String`. */
export function ja3(h: ParsedClientHello): string {
  return createHash("md5").update(ja3String(h)).digest("hex");
}

/** A human-readable dump of a ClientHello, one line per field, for debugging. */
export function describeClientHello(input: Uint8Array | string | ParsedClientHello): string {
  const h = typeof input === "string" || input instanceof Uint8Array ? parseClientHello(input) : input;
  const lines = [
    `record ${h.recordVersion === undefined ? "-" : hex4(h.recordVersion)} legacy ${hex4(h.legacyVersion)} session id ${h.sessionId.length} B`,
    `ciphers ${h.cipherSuites.map(hex4).join(",")}`,
  ];
  for (const e of h.extensions) {
    const d = e.data.toString("hex");
    lines.push(`ext ${hex4(e.type)} (${e.data.length} B) ${d.length > 64 ? `${d.slice(0, 64)}…` : d}`);
  }
  lines.push(`JA4 ${ja4(h)}`, `JA4_r ${ja4r(h)}`, `JA4_o ${ja4o(h)}`, `JA3 ${ja3(h)}`);
  return lines.join("\n");
}
