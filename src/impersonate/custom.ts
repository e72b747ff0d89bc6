/**
 * Custom fingerprints, as curl_cffi offers them: a JA3 string (Salesforce JA3: version, ciphers,
 * extensions, groups, point formats) becomes a ClientHello profile, an Akamai HTTP/2 string
 * (`SETTINGS|WINDOW_UPDATE|PRIORITY|pseudo-headers`) an {@link Http2Fingerprint}. What JA3 cannot
 * say (GREASE, permutation, certificate compression, ECH GREASE, key shares, headers) comes from
 * options and from a base profile. A JA3 that names something masq cannot build or complete is a
 * `WebSocketError` (code 0), never a hello that differs from it.
 */
import { WebSocketError } from "../errors.js";
import { ExtensionType as X, GREASE_PLACEHOLDER as G, NamedGroup } from "../tls/constants.js";
import type { ClientHelloProfile, EchGreaseSpec, ExtensionSpec } from "../tls/client-hello.js";
import { CHROME_156_TRUST_ANCHOR_IDS } from "./chrome.js";
import { BORINGSSL_ECH } from "./chrome-hellos.js";
import { NSS_ECH } from "./firefox-hellos.js";
import type { BrowserProfile, HeaderTemplate, Http2Fingerprint } from "./types.js";
import { getProfile } from "./registry.js";
import { checkHelloProfile } from "./validate.js";

/** Options for {@link profileFromJa3}. */
export interface Ja3Options {
  /** Profile name (messages, `BrowserProfile.name`). Default `"custom"`. */
  name?: string;
  /** Profile (or catalogue name) whose headers, deflate offer and HTTP/2 data are the defaults. Default `"chrome"`. */
  base?: string | BrowserProfile;
  /** Akamai HTTP/2 fingerprint string; replaces the base profile's SETTINGS, WINDOW_UPDATE, PRIORITY frames and pseudo-header order. */
  akamai?: string;
  /** GREASE (RFC 8701) in ciphers, extensions (first and last), groups, key shares and versions, as BoringSSL places it. Default false. */
  grease?: boolean;
  /** Shuffle the extensions per connection (BoringSSL). Default false. */
  permute?: boolean;
  /** compress_certificate algorithms for extension 27 (1 zlib, 2 brotli, 3 zstd). Default `[2]`. */
  certCompression?: number[];
  /** ECH GREASE shape for extension 0xfe0d: `"boringssl"` (default), `"nss"` or a full spec. */
  echGrease?: "boringssl" | "nss" | EchGreaseSpec;
  /** Groups that get a key share. Default: the hybrid (0x11ec or 0x6399) if listed, then X25519, else the first group. */
  keyShares?: number[];
  /** signature_algorithms. Default Chrome's list. */
  signatureAlgorithms?: number[];
  /** supported_versions. Default `[0x0304, 0x0303]`. */
  versions?: number[];
  /** Trust anchor IDs for extension 0xca34 (binary relative OIDs, hex). Default Chromium 156's list. */
  trustAnchors?: string[];
  /** ALPN protocols. Default `["http/1.1"]`, or `["h2", "http/1.1"]` when the JA3 lists ALPS. */
  alpn?: string[];
  /** User-Agent to put into the base profile's header template. */
  userAgent?: string;
  /** A whole upgrade header template (order, case, values), instead of the base profile's. */
  headers?: HeaderTemplate;
}

const CHROME_SIGALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];

function bad(what: string): never {
  throw new WebSocketError(`ja3: ${what}`, 0);
}

function numbers(field: string, what: string): number[] {
  if (field === "") return [];
  return field.split("-").map((s) => {
    if (!/^\d{1,5}$/.test(s) || Number(s) > 0xffff) bad(`${what} ${JSON.stringify(s)} is not a 16-bit decimal number`);
    return Number(s);
  });
}

/** The extension spec JA3's extension `type` stands for, with masq's defaults for its contents. */
function extensionFor(type: number, o: Ja3Options, formats: number[]): ExtensionSpec {
  switch (type) {
    case X.SERVER_NAME: return { kind: "server_name" };
    case X.STATUS_REQUEST: return { kind: "status_request" };
    case X.SUPPORTED_GROUPS: return { kind: "supported_groups" };
    case X.EC_POINT_FORMATS: return { kind: "ec_point_formats", formats: formats.length > 0 ? formats : [0] };
    case X.SIGNATURE_ALGORITHMS: return { kind: "signature_algorithms" };
    case X.ALPN: return { kind: "alpn" };
    case X.SCT: return { kind: "signed_certificate_timestamp" };
    case X.PADDING: return { kind: "padding" };
    case X.EXTENDED_MASTER_SECRET: return { kind: "extended_master_secret" };
    case X.COMPRESS_CERTIFICATE: return { kind: "compress_certificate", algorithms: o.certCompression ?? [2] };
    case X.RECORD_SIZE_LIMIT: return { kind: "record_size_limit", limit: 0x4001 };
    case X.DELEGATED_CREDENTIALS: return { kind: "delegated_credentials", algorithms: [0x0403, 0x0503, 0x0603, 0x0203] };
    case X.SESSION_TICKET: return { kind: "session_ticket" };
    case X.SUPPORTED_VERSIONS: return { kind: "supported_versions", versions: [...(o.grease ? [G] : []), ...(o.versions ?? [0x0304, 0x0303])] };
    case X.PSK_KEY_EXCHANGE_MODES: return { kind: "psk_key_exchange_modes", modes: [1] };
    case X.KEY_SHARE: return { kind: "key_share" };
    case X.APPLICATION_SETTINGS:
    case X.APPLICATION_SETTINGS_NEW:
      return { kind: "application_settings", codepoint: type, protocols: ["h2"] };
    case X.ENCRYPTED_CLIENT_HELLO: {
      const e = o.echGrease ?? "boringssl";
      return e === "boringssl" ? BORINGSSL_ECH : e === "nss" ? NSS_ECH : { kind: "ech_grease", ...e };
    }
    case X.RENEGOTIATION_INFO: return { kind: "renegotiation_info" };
    case X.TRUST_ANCHORS: return { kind: "trust_anchors", ids: o.trustAnchors ?? [...CHROME_156_TRUST_ANCHOR_IDS] };
    default:
      return bad(`extension ${type} (0x${type.toString(16).padStart(4, "0")}) is not one masq can build (its contents are not in JA3)`);
  }
}

/** The ClientHello profile a JA3 string describes (plus the knobs JA3 cannot express). */
export function helloFromJa3(ja3: string, o: Ja3Options): ClientHelloProfile {
  const fields = String(ja3).trim().split(",");
  if (fields.length !== 5) bad(`expected 5 comma-separated fields (version,ciphers,extensions,groups,formats), got ${fields.length}`);
  const [version, cipherField, extField, groupField, formatField] = fields as [string, string, string, string, string];
  if (!/^(769|770|771|772)$/.test(version)) bad(`version ${JSON.stringify(version)} is not 769-772`);
  const ciphers = numbers(cipherField, "cipher suite");
  const types = numbers(extField, "extension");
  const groups = numbers(groupField, "group");
  const formats = numbers(formatField, "point format");
  if (new Set(types).size !== types.length) bad("an extension is listed twice (RFC 8446 §4.2)");
  const grease = o.grease ?? false;
  const extensions: ExtensionSpec[] = [];
  if (grease) extensions.push({ kind: "grease" });
  let padding = false;
  for (const t of types) {
    if (t === X.PADDING) padding = true;
    else extensions.push(extensionFor(t, o, formats));
  }
  // The cookie is only written into a retry hello (RFC 8446 §4.2.2), so JA3 never shows it.
  extensions.push({ kind: "cookie" });
  if (grease) extensions.push({ kind: "grease" });
  // JA3 lists padding only when that hello had it: keep it in every hello, as the string says.
  if (padding) extensions.push({ kind: "padding", always: true });
  const hybrid = groups.find((g) => g === NamedGroup.X25519MLKEM768 || g === NamedGroup.X25519KYBER768DRAFT00);
  const defaultShares =
    hybrid !== undefined && groups.includes(NamedGroup.X25519)
      ? [hybrid, NamedGroup.X25519]
      : groups.includes(NamedGroup.X25519)
        ? [NamedGroup.X25519]
        : groups.slice(0, 1);
  const profile: ClientHelloProfile = {
    name: o.name ?? "custom",
    recordVersion: 0x0301,
    legacyVersion: Number(version),
    cipherSuites: [...(grease ? [G] : []), ...ciphers],
    extensions,
    groups: [...(grease ? [G] : []), ...groups],
    keyShareGroups: [...(grease ? [G] : []), ...(o.keyShares ?? defaultShares)],
    signatureAlgorithms: o.signatureAlgorithms ?? CHROME_SIGALGS,
    // ALPS (0x4469/0x44cd) only goes with h2 in ALPN: a JA3 that lists it came from an h2 offer.
    alpn: o.alpn ?? (types.includes(X.APPLICATION_SETTINGS) || types.includes(X.APPLICATION_SETTINGS_NEW) ? ["h2", "http/1.1"] : ["http/1.1"]),
    permuteExtensions: o.permute ?? false,
    grease,
  };
  checkHelloProfile(profile);
  return profile;
}

const PSEUDO: Record<string, string> = { m: ":method", a: ":authority", s: ":scheme", p: ":path" };

/**
 * An {@link Http2Fingerprint} from an Akamai string. The WebSocket stream's fields the string
 * does not carry (stream WINDOW_UPDATE, HEADERS priority, first stream id, header list, when h2
 * is used) come from `base`, or default to none / stream 1 / `"existing"`. `:protocol` (RFC 8441)
 * goes after the listed pseudo-headers, where Chromium and Firefox put it.
 */
export function http2FromAkamai(akamai: string, base?: Http2Fingerprint): Http2Fingerprint {
  const fail = (what: string): never => {
    throw new WebSocketError(`akamai: ${what}`, 0);
  };
  const parts = String(akamai).trim().split("|");
  if (parts.length !== 4) fail(`expected 4 |-separated fields (settings|window_update|priority|pseudo-headers), got ${parts.length}`);
  const [s, w, p, h] = parts as [string, string, string, string];
  const u32 = (v: string, what: string): number => {
    if (!/^\d{1,10}$/.test(v) || Number(v) > 0xffffffff) fail(`${what} ${JSON.stringify(v)} is not an unsigned 32-bit number`);
    return Number(v);
  };
  const settings = s === "" ? [] : s.split(/[;,]/).map((kv): [number, number] => {
    const m = /^(\d{1,5}):(\d{1,10})$/.exec(kv);
    if (!m || Number(m[1]) > 0xffff) return fail(`setting ${JSON.stringify(kv)} is not id:value`);
    return [Number(m[1]), u32(m[2]!, "setting value")];
  });
  const connectionWindowUpdate = u32(w, "WINDOW_UPDATE");
  if (connectionWindowUpdate > 0x7fffffff) fail("WINDOW_UPDATE exceeds 2^31-1 (RFC 9113 §6.9)");
  const priorityFrames = p === "0" || p === "" ? [] : p.split(",").map((f) => {
    const m = /^(\d+):([01]):(\d+):(\d+)$/.exec(f);
    if (!m || Number(m[4]) < 1 || Number(m[4]) > 256) return fail(`PRIORITY ${JSON.stringify(f)} is not stream:exclusive:dependency:weight(1-256)`);
    return { streamId: Number(m[1]), exclusive: m[2] === "1", dependency: Number(m[3]), weight: Number(m[4]) - 1 };
  });
  const letters = h.split(",");
  if (letters.length !== 4 || new Set(letters).size !== 4 || !letters.every((l) => l in PSEUDO)) {
    fail(`pseudo-header order ${JSON.stringify(h)} must list m, a, s and p once each`);
  }
  return {
    settings,
    connectionWindowUpdate,
    streamWindowUpdate: base?.streamWindowUpdate ?? 0,
    priority: base?.priority ?? null,
    ...(priorityFrames.length > 0 ? { priorityFrames } : {}),
    firstStreamId: base?.firstStreamId ?? 1,
    pseudoHeaderOrder: [...letters.map((l) => PSEUDO[l]!), ":protocol"],
    headers: base?.headers ?? [],
    websocket: base?.websocket ?? "existing",
  };
}

/** The Akamai string of a fingerprint (inverse of {@link http2FromAkamai}; `:protocol` is not part of it). */
export function akamaiOf(fp: Http2Fingerprint): string {
  const letter = Object.fromEntries(Object.entries(PSEUDO).map(([k, v]) => [v, k]));
  const prio = (fp.priorityFrames ?? []).map((f) => `${f.streamId}:${f.exclusive ? 1 : 0}:${f.dependency}:${f.weight + 1}`);
  return [
    fp.settings.map(([id, v]) => `${id}:${v}`).join(";"),
    String(fp.connectionWindowUpdate),
    prio.length > 0 ? prio.join(",") : "0",
    fp.pseudoHeaderOrder.filter((n) => n in letter).map((n) => letter[n]).join(","),
  ].join("|");
}

/** A browser profile from JA3 (and optionally Akamai) strings over a base profile. */
export function profileFromJa3(ja3: string, o: Ja3Options = {}): BrowserProfile {
  const tls = helloFromJa3(ja3, o);
  const base = typeof o.base === "object" ? o.base : getProfile(o.base ?? "chrome");
  let headers = o.headers ?? base.headers;
  if (o.userAgent !== undefined) {
    const ua = o.userAgent;
    headers = headers.map(([n, v]): [string, string] => (n.toLowerCase() === "user-agent" ? [n, ua] : [n, v]));
  }
  const http2 = o.akamai !== undefined ? http2FromAkamai(o.akamai, base.http2) : base.http2;
  return {
    name: tls.name,
    tls,
    headers,
    compress: base.compress,
    ...(base.deflateOffer ? { deflateOffer: base.deflateOffer } : {}),
    ...(base.cookieAfter ? { cookieAfter: base.cookieAfter } : {}),
    ...(http2 ? { http2 } : {}),
  };
}
