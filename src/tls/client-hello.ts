/**
 * Byte-exact ClientHello builder (RFC 8446 §4.1.2) driven by a profile that is pure data.
 *
 * A profile lists what a client offers and in which order; this module only serialises it. The
 * per-connection randomness a browser adds is drawn here from one `rng`, so that a fixed `rng`
 * gives a fixed hello (tests) and the default (`crypto.randomBytes`) gives a fresh one:
 *
 * - GREASE (RFC 8701): every `GREASE_PLACEHOLDER` (0x0a0a) in a list, and every `{ kind: "grease" }`
 *   extension, is replaced by a random 0x?a?a value. Like BoringSSL there is one value per *slot
 *   kind* (cipher, group — shared by supported_groups and key_share —, version, signature
 *   algorithm, first and second fake extension), and the two fake extensions never share a value.
 * - Extension permutation (BoringSSL `SSL_set_permute_extensions`, on in Chrome since 110): a
 *   Fisher–Yates shuffle of all extensions except the fixed ones (GREASE, padding,
 *   pre_shared_key), which keep their profile positions (GREASE first and last for Chrome).
 * - ECH GREASE (draft-ietf-tls-esni §6.2): an outer `encrypted_client_hello` with a random config
 *   id, a real X25519 public key as `enc` and a random payload whose length is drawn from the
 *   profile's list (BoringSSL: 32 × {4..7} + the AEAD tag, i.e. 144/176/208/240 bytes).
 *
 * For a second ClientHello after a HelloRetryRequest (RFC 8446 §4.1.2: "the same ClientHello"
 * except key_share, cookie, early_data and pre_shared_key) pass the same `state` object, the same
 * random and session id, `retry: true`, the one new key share and the server's cookie.
 */
import { randomBytes } from "node:crypto";
import { newX25519KeyPair, x25519KeyPairFrom } from "./x25519-keys.js";
import { isIP } from "node:net";
import { ByteWriter } from "./byte-writer.js";
import { ExtensionType, GREASE_PLACEHOLDER, NamedGroup } from "./constants.js";

// Code points live in one table (constants.ts); the builder names extensions by IANA name.
const EXT = ExtensionType;

/**
 * One entry of a profile's extension list. Contents that are shared with the rest of the
 * handshake (groups, key shares, signature algorithms, ALPN) come from the profile's top-level
 * fields so the TLS engine can check the server's choices against them.
 */
export type ExtensionSpec =
  /** RFC 8701 fake extension: the first one is empty, later ones carry one zero byte (BoringSSL). */
  | { kind: "grease" }
  /** RFC 6066 §3; omitted for IP literals and when no servername is given. */
  | { kind: "server_name" }
  /** RFC 6066 §8 OCSP request with empty responder list and extensions. */
  | { kind: "status_request" }
  | { kind: "supported_groups" }
  /** RFC 8422 §5.1.2; `[0]` = uncompressed only. */
  | { kind: "ec_point_formats"; formats: number[] }
  | { kind: "signature_algorithms" }
  /** RFC 7301; omitted when the ALPN list is empty. */
  | { kind: "alpn" }
  /** RFC 6962 §3.3.1, empty. */
  | { kind: "signed_certificate_timestamp" }
  /** RFC 7627, empty. */
  | { kind: "extended_master_secret" }
  /** RFC 8879: 1 zlib, 2 brotli, 3 zstd. */
  | { kind: "compress_certificate"; algorithms: number[] }
  /** RFC 8449. */
  | { kind: "record_size_limit"; limit: number }
  /** RFC 9345: signature schemes accepted for delegated credentials. */
  | { kind: "delegated_credentials"; algorithms: number[] }
  /** RFC 5077, empty (no ticket). */
  | { kind: "session_ticket" }
  /** RFC 8446 §4.2.1, may contain GREASE_PLACEHOLDER. */
  | { kind: "supported_versions"; versions: number[] }
  /** RFC 8446 §4.2.2; only sent in a retry hello that carries the server's cookie. */
  | { kind: "cookie" }
  /** RFC 8446 §4.2.9: 1 = psk_dhe_ke. */
  | { kind: "psk_key_exchange_modes"; modes: number[] }
  | { kind: "key_share" }
  /** draft-ietf-tls-trust-anchor-ids: the trust anchor IDs (binary relative OIDs, hex). */
  | { kind: "trust_anchors"; ids: string[] }
  /** draft-ietf-tls-esni §6.2 GREASE: outer ECH with random contents. */
  | { kind: "ech_grease" } & EchGreaseSpec
  /**
   * ALPS (draft-vvv-tls-alps), Chrome's `application_settings`: code point 0x4469 up to Chrome 132,
   * 0x44cd since 133. Lists the offered ALPN protocols that have settings (`h2`); not sent when
   * the connection's ALPN offers none of them (a wss hello offers only http/1.1).
   */
  | { kind: "application_settings"; codepoint: number; protocols: string[] }
  /** RFC 5746 §3.4: empty renegotiated_connection. */
  | { kind: "renegotiation_info" }
  /**
   * RFC 7685 padding. BoringSSL's rule (default): pad a 256–511 byte hello to 512 bytes (F5 bug),
   * otherwise send none. `always`: the extension is always present (a JA3 that lists it), padding
   * a shorter hello to 512 bytes and empty on a longer one.
   */
  | { kind: "padding"; always?: boolean }
  /** Any other extension, contents given as hex. */
  | { kind: "raw"; type: number; data: string };

/**
 * How a client shapes its GREASE encrypted_client_hello (draft-ietf-tls-esni §6.2).
 * BoringSSL (Chrome): HKDF-SHA256, AES-128-GCM (ChaCha20 without AES hardware), an X25519 public
 * key as `enc`, payload 32·{4..7} + 16 bytes. NSS (Firefox): AES-128-GCM or ChaCha20 by coin flip,
 * random `enc`, payload = the padded inner ClientHello (names padded to 100 bytes) + 16.
 */
export interface EchGreaseSpec {
  /** HPKE KDF id (1 = HKDF-SHA256). */
  kdf: number;
  /** HPKE AEAD ids to pick from uniformly per connection (1 = AES-128-GCM, 3 = ChaCha20-Poly1305). */
  aeads: number[];
  /** `enc`: a real X25519 public key (BoringSSL) or 32 random bytes (NSS). */
  enc: "x25519" | "random";
  /** Payload lengths to pick from uniformly per connection. */
  payloadLengths: number[];
  /**
   * NSS pads the server name to this many bytes inside the inner hello: a longer name makes the
   * payload longer by the excess, rounded up to 32 bytes.
   */
  nameLengthPadding?: number;
}

/** What a ClientHello offers and in which order: data only, no code paths. */
export interface ClientHelloProfile {
  /** Profile name, for messages. */
  name: string;
  /** TLSPlaintext.legacy_record_version of the record carrying the hello (0x0301 for browsers). */
  recordVersion: number;
  /** ClientHello.legacy_version (0x0303). */
  legacyVersion: number;
  /** Cipher suites in wire order; GREASE_PLACEHOLDER marks where a GREASE value goes. */
  cipherSuites: number[];
  /** Extensions in wire order (before permutation). */
  extensions: ExtensionSpec[];
  /** supported_groups in wire order; may contain GREASE_PLACEHOLDER. */
  groups: number[];
  /** Groups that get a key share in the first hello, in wire order; GREASE_PLACEHOLDER = a 1-byte GREASE share. */
  keyShareGroups: number[];
  /**
   * NSS (Firefox): the X25519 half of the X25519MLKEM768 share is the same key as the X25519
   * share (Firefox ESR 153.8's capture carries one X25519 public key twice). BoringSSL (Chrome,
   * and curl_cffi's imitations) draws two keys. Absent: two keys.
   */
  hybridReusesX25519?: boolean;
  /** signature_algorithms in wire order; may contain GREASE_PLACEHOLDER. */
  signatureAlgorithms: number[];
  /** ALPN protocols offered when the caller does not override them. */
  alpn: string[];
  /** Shuffle the non-fixed extensions per connection (BoringSSL extension permutation). */
  permuteExtensions: boolean;
  /**
   * Extensions the browser leaves out of a TLS 1.3 resumption hello (one with pre_shared_key):
   * NSS drops session_ticket and compress_certificate (captured, Firefox ESR 153.8).
   */
  resumptionOmits?: Array<ExtensionSpec["kind"]>;
  /** Replace the GREASE placeholders (false: drop them, and the `grease` extensions). */
  grease: boolean;
}

/** The GREASE values of one connection (RFC 8701), one per kind of slot as in BoringSSL. */
export interface GreaseValues {
  cipher: number;
  group: number;
  extension1: number;
  extension2: number;
  version: number;
  signatureAlgorithm: number;
  /** ECH GREASE config id (any byte). */
  echConfigId: number;
}

/**
 * Per-connection choices, kept so that a retry hello after HelloRetryRequest repeats them.
 * Pass an empty object on the first call: the builder fills it; pass it again with `retry: true`.
 */
export interface ClientHelloState {
  grease?: GreaseValues;
  /** Extension order as indices into `profile.extensions`. */
  order?: number[];
  /** The complete ECH GREASE extension body (the retry hello repeats it, draft-ietf-tls-esni §6.2). */
  ech?: Buffer;
}

/** Inputs of one ClientHello. */
export interface ClientHelloParams {
  /** DNS name for SNI; IP literals and `undefined` send no server_name. */
  servername?: string;
  /** 32 random bytes. */
  random: Buffer;
  /** legacy_session_id: 32 random bytes for middlebox compatibility (RFC 8446 §D.4), or empty. */
  sessionId: Buffer;
  /** The key shares, one per non-GREASE group of the profile (retry: the one group the server asked for). */
  keyShares: Array<{ group: number; key: Buffer }>;
  /** Overrides `profile.alpn` (e.g. `["http/1.1"]` for a WebSocket). */
  alpn?: string[];
  /** Randomness source; default `crypto.randomBytes`. */
  rng?: (n: number) => Buffer;
  /** Per-connection choices to reuse (retry) or fill (first hello). */
  state?: ClientHelloState;
  /** True for the second hello after a HelloRetryRequest: no GREASE key share, no padding. */
  retry?: boolean;
  /** The HelloRetryRequest's cookie (RFC 8446 §4.2.2), sent in the retry hello. */
  cookie?: Buffer;
  /**
   * A resumption offer: pre_shared_key (RFC 8446 §4.2.11) is appended as the last extension, with
   * one identity and a zero binder of `binderLength` bytes that the caller fills in afterwards.
   */
  psk?: { identity: Buffer; obfuscatedAge: number; binderLength: number };
  /** A TLS 1.2 session ticket to offer in the session_ticket extension (RFC 5077 §3.1); default empty. */
  ticket?: Buffer;
}

/** Draws the GREASE values of one connection from `rng`. */
export function drawGrease(rng: (n: number) => Buffer): GreaseValues {
  const seed = rng(7);
  // BoringSSL ssl_get_grease_value: keep the high nibble of a random byte, set the low one to 0xa.
  const g = (i: number): number => {
    const b = (seed[i]! & 0xf0) | 0x0a;
    return (b << 8) | b;
  };
  const extension1 = g(2);
  let extension2 = g(3);
  // Two extensions of one type are illegal (RFC 8446 §4.2): flip to a different GREASE value.
  if (extension2 === extension1) extension2 ^= 0x1010;
  return {
    cipher: g(0),
    group: g(1),
    extension1,
    extension2,
    version: g(4),
    signatureAlgorithm: g(5),
    echConfigId: seed[6]!,
  };
}

/** A fixed extension keeps its profile position when the others are permuted. */
function isFixed(spec: ExtensionSpec): boolean {
  return spec.kind === "grease" || spec.kind === "padding" || (spec.kind === "raw" && spec.type === EXT.PRE_SHARED_KEY);
}

/**
 * Extension order for one connection: a Fisher–Yates shuffle of the movable extensions over the
 * movable slots (BoringSSL draws a 32-bit seed per step and reduces it modulo i + 1).
 */
export function drawExtensionOrder(profile: ClientHelloProfile, rng: (n: number) => Buffer): number[] {
  const order = profile.extensions.map((_, i) => i);
  if (!profile.permuteExtensions) return order;
  const slots = order.filter((i) => !isFixed(profile.extensions[i]!));
  const movable = [...slots];
  if (movable.length > 1) {
    const seeds = rng(4 * (movable.length - 1));
    for (let i = movable.length - 1; i > 0; i--) {
      const j = seeds.readUInt32BE(4 * (i - 1)) % (i + 1);
      const t = movable[i]!;
      movable[i] = movable[j]!;
      movable[j] = t;
    }
  }
  slots.forEach((slot, k) => (order[slot] = movable[k]!));
  return order;
}

/** An X25519 public key for a private key drawn from `rng`, as BoringSSL's ECH GREASE `enc`. */
function x25519PublicKey(rng: (n: number) => Buffer): Buffer {
  // The usual case: a fresh pair; a fixed rng (tests) gives its private key to the slower path.
  return rng === randomBytes ? newX25519KeyPair().publicKey : x25519KeyPairFrom(rng(32)).publicKey;
}

/** The body of a GREASE encrypted_client_hello extension (draft-ietf-tls-esni §5, §6.2). */
export function buildEchGrease(
  spec: EchGreaseSpec,
  configId: number,
  rng: (n: number) => Buffer,
  servername?: string,
): Buffer {
  const pick = rng(2);
  const aead = spec.aeads[pick[0]! % spec.aeads.length]!;
  let payloadLength = spec.payloadLengths[pick[1]! % spec.payloadLengths.length]!;
  const nameLength = sendsServerName(servername) ? Buffer.byteLength(servername!) : 0;
  if (spec.nameLengthPadding !== undefined && nameLength > spec.nameLengthPadding) {
    payloadLength += Math.ceil((nameLength - spec.nameLengthPadding) / 32) * 32;
  }
  const enc = spec.enc === "x25519" ? x25519PublicKey(rng) : rng(32);
  const w = new ByteWriter(10 + enc.length + payloadLength);
  w.u8(0); // ECHClientHelloType outer
  w.u16(spec.kdf).u16(aead).u8(configId);
  w.block(2, enc);
  w.block(2, rng(payloadLength));
  return w.finish();
}

/** Whether a server_name is sent (RFC 6066 §3): a name, and not an IP literal. */
function sendsServerName(servername: string | undefined): boolean {
  return !!servername && isIP(servername.replace(/^\[|\]$/g, "")) === 0;
}

/**
 * Extension bytes that never change for a frozen spec object (the catalogue's profiles are deeply
 * frozen): serialised once per process instead of once per connect. Unfrozen specs (a caller's
 * own profile, which it might change) are serialised every time.
 */
const STATIC_EXTENSIONS = new WeakMap<object, Buffer>();

function isDeepFrozen(spec: object): boolean {
  if (!Object.isFrozen(spec)) return false;
  for (const v of Object.values(spec)) if (typeof v === "object" && v !== null && !Object.isFrozen(v)) return false;
  return true;
}

/** The complete bytes (type, length, body) of an extension whose contents depend on the spec alone, else null. */
function staticExtension(spec: ExtensionSpec): Buffer | null {
  const cached = STATIC_EXTENSIONS.get(spec);
  if (cached) return cached;
  const w = new ByteWriter(64);
  switch (spec.kind) {
    case "status_request":
      // status_type ocsp(1), responder_id_list <0>, request_extensions <0>.
      w.u16(EXT.STATUS_REQUEST).block(2, Buffer.from([1, 0, 0, 0, 0]));
      break;
    case "ec_point_formats":
      w.u16(EXT.EC_POINT_FORMATS).block(2, Buffer.from([spec.formats.length, ...spec.formats]));
      break;
    case "signed_certificate_timestamp":
      w.u16(EXT.SCT).u16(0);
      break;
    case "extended_master_secret":
      w.u16(EXT.EXTENDED_MASTER_SECRET).u16(0);
      break;
    case "compress_certificate": {
      w.u16(EXT.COMPRESS_CERTIFICATE);
      const h = w.open(2);
      w.u16List(1, spec.algorithms, null);
      w.close(h);
      break;
    }
    case "record_size_limit":
      w.u16(EXT.RECORD_SIZE_LIMIT).u16(2).u16(spec.limit);
      break;
    case "delegated_credentials": {
      w.u16(EXT.DELEGATED_CREDENTIALS);
      const h = w.open(2);
      w.u16List(2, spec.algorithms, null);
      w.close(h);
      break;
    }
    case "psk_key_exchange_modes":
      w.u16(EXT.PSK_KEY_EXCHANGE_MODES).block(2, Buffer.from([spec.modes.length, ...spec.modes]));
      break;
    case "trust_anchors": {
      w.u16(EXT.TRUST_ANCHORS);
      const h = w.open(2);
      const l = w.open(2);
      for (const id of spec.ids) w.block(1, Buffer.from(id, "hex"));
      w.close(l).close(h);
      break;
    }
    case "renegotiation_info":
      w.u16(EXT.RENEGOTIATION_INFO).block(2, Buffer.from([0]));
      break;
    case "raw":
      w.u16(spec.type).block(2, Buffer.from(spec.data, "hex"));
      break;
    default:
      return null;
  }
  const out = w.finish();
  if (isDeepFrozen(spec)) STATIC_EXTENSIONS.set(spec, out);
  return out;
}

/**
 * Builds a ClientHello handshake message (type 1, uint24 length, body) for `profile`.
 * The caller wraps it in a record with `profile.recordVersion` and keeps the bytes for the
 * transcript.
 */
export function buildClientHello(profile: ClientHelloProfile, p: ClientHelloParams): Buffer {
  const rng = p.rng ?? randomBytes;
  const state = p.state ?? {};
  if (p.random.length !== 32) throw new RangeError("ClientHello random must be 32 bytes");
  if (p.sessionId.length > 32) throw new RangeError("legacy_session_id is at most 32 bytes");
  const grease = (state.grease ??= drawGrease(rng));
  const order = (state.order ??= drawExtensionOrder(profile, rng));
  const useGrease = profile.grease;
  const alpn = p.alpn ?? profile.alpn;

  const w = new ByteWriter(2048);
  w.u8(1); // HandshakeType client_hello
  const bodyStart = 4;
  const body = w.open(3);
  w.u16(profile.legacyVersion).bytes(p.random);
  w.block(1, p.sessionId);
  w.u16List(2, profile.cipherSuites, useGrease ? grease.cipher : null);
  w.u8(1).u8(0); // legacy_compression_methods: null only
  const exts = w.open(2);
  let greaseSeen = 0;
  for (const index of order) {
    const spec = profile.extensions[index]!;
    if (spec.kind === "padding") {
      writePadding(w, w.length - bodyStart + 4, p.retry === true, spec.always === true);
      continue;
    }
    if (spec.kind === "grease") {
      if (!useGrease) continue;
      // BoringSSL: the first fake extension is empty, the second carries a single zero byte.
      const first = greaseSeen++ === 0;
      if (first) w.u16(grease.extension1).u16(0);
      else w.u16(grease.extension2).u16(1).u8(0);
      continue;
    }
    if (p.psk && profile.resumptionOmits?.includes(spec.kind)) continue;
    const fixed = staticExtension(spec);
    if (fixed) w.bytes(fixed);
    else writeExtension(w, spec, profile, p, alpn, grease, state, rng);
  }
  const psk = p.psk;
  if (psk) {
    // RFC 8446 §4.2.11: pre_shared_key MUST be the last extension (browsers put it there too).
    w.u16(EXT.PRE_SHARED_KEY);
    const ext = w.open(2);
    const ids = w.open(2);
    w.block(2, psk.identity).u16(psk.obfuscatedAge >>> 16).u16(psk.obfuscatedAge);
    w.close(ids);
    const binders = w.open(2);
    w.block(1, Buffer.alloc(psk.binderLength));
    w.close(binders).close(ext);
  }
  w.close(exts).close(body);
  return w.finish();
}

/**
 * BoringSSL's padding rule (RFC 7685): a hello of 256–511 bytes is padded to 512. With `always`
 * the extension is written in every hello: up to 512 bytes, or empty (RFC 7685 §3 allows zero).
 */
function writePadding(w: ByteWriter, helloLengthSoFar: number, retry: boolean, always: boolean): void {
  if (retry) return;
  if (always && (helloLengthSoFar <= 0xff || helloLengthSoFar >= 0x200)) {
    const n = helloLengthSoFar < 0x200 - 4 ? 0x200 - 4 - helloLengthSoFar : 0;
    w.u16(EXT.PADDING).u16(n).zeros(n);
    return;
  }
  if (helloLengthSoFar <= 0xff || helloLengthSoFar >= 0x200) return;
  let n = 0x200 - helloLengthSoFar;
  n = n >= 4 + 1 ? n - 4 : 1;
  w.u16(EXT.PADDING).u16(n).zeros(n);
}

/** A list of strings as 1-byte-prefixed latin1 entries behind a 2-byte length (ALPN, ALPS). */
function protocolList(w: ByteWriter, protocols: readonly string[]): void {
  const l = w.open(2);
  for (const proto of protocols) w.block(1, Buffer.from(proto, "latin1"));
  w.close(l);
}

/** Writes one extension whose contents vary per connection (type, length, body), or nothing when it is not sent this time. */
function writeExtension(
  w: ByteWriter,
  spec: Exclude<ExtensionSpec, { kind: "grease" } | { kind: "padding" }>,
  profile: ClientHelloProfile,
  p: ClientHelloParams,
  alpn: readonly string[],
  grease: GreaseValues,
  state: ClientHelloState,
  rng: (n: number) => Buffer,
): void {
  const g = profile.grease;
  switch (spec.kind) {
    case "server_name": {
      if (!sendsServerName(p.servername)) return;
      const name = Buffer.from(p.servername!, "ascii");
      w.u16(EXT.SERVER_NAME).u16(name.length + 5).u16(name.length + 3).u8(0).block(2, name);
      return;
    }
    case "supported_groups":
      w.u16(EXT.SUPPORTED_GROUPS).u16(2 + 2 * countSent(profile.groups, g)).u16List(2, profile.groups, g ? grease.group : null);
      return;
    case "signature_algorithms":
      w.u16(EXT.SIGNATURE_ALGORITHMS)
        .u16(2 + 2 * countSent(profile.signatureAlgorithms, g))
        .u16List(2, profile.signatureAlgorithms, g ? grease.signatureAlgorithm : null);
      return;
    case "supported_versions":
      w.u16(EXT.SUPPORTED_VERSIONS).u16(1 + 2 * countSent(spec.versions, g)).u16List(1, spec.versions, g ? grease.version : null);
      return;
    case "alpn": {
      if (alpn.length === 0) return;
      w.u16(EXT.ALPN);
      const h = w.open(2);
      protocolList(w, alpn);
      w.close(h);
      return;
    }
    case "session_ticket":
      w.u16(EXT.SESSION_TICKET).block(2, p.ticket ?? Buffer.alloc(0));
      return;
    case "cookie": {
      if (!p.cookie) return;
      w.u16(EXT.COOKIE).u16(p.cookie.length + 2).block(2, p.cookie);
      return;
    }
    case "key_share": {
      w.u16(EXT.KEY_SHARE);
      const h = w.open(2);
      writeKeyShares(w, profile, p, grease);
      w.close(h);
      return;
    }
    case "ech_grease": {
      const body = (state.ech ??= buildEchGrease(spec, grease.echConfigId, rng, p.servername));
      w.u16(EXT.ENCRYPTED_CLIENT_HELLO).block(2, body);
      return;
    }
    case "application_settings": {
      const offered = spec.protocols.filter((proto) => alpn.includes(proto));
      if (offered.length === 0) return;
      w.u16(spec.codepoint);
      const h = w.open(2);
      protocolList(w, offered);
      w.close(h);
      return;
    }
    default:
      // Every other kind is static (staticExtension): unreachable with a well-formed profile.
      throw new RangeError(`ClientHello extension kind ${(spec as { kind: string }).kind} is not known`);
  }
}

/** How many entries of `list` go on the wire (GREASE placeholders only when GREASE is on). */
function countSent(list: readonly number[], grease: boolean): number {
  if (grease) return list.length;
  let n = 0;
  for (const v of list) if (v !== GREASE_PLACEHOLDER) n++;
  return n;
}

/**
 * KeyShareClientHello (RFC 8446 §4.2.8): the caller's shares in the profile's group order, with a
 * one-byte GREASE share (BoringSSL sends a single 0x00) where the profile puts the placeholder.
 * A retry hello carries only the share the server asked for.
 */
function writeKeyShares(w: ByteWriter, profile: ClientHelloProfile, p: ClientHelloParams, grease: GreaseValues): void {
  const rank = (group: number): number => {
    const i = profile.keyShareGroups.indexOf(group);
    return i < 0 ? profile.keyShareGroups.length : i;
  };
  const shares = [...p.keyShares].sort((a, b) => rank(a.group) - rank(b.group));
  const l = w.open(2);
  let i = 0;
  for (const group of profile.keyShareGroups) {
    if (group === GREASE_PLACEHOLDER) {
      if (profile.grease && !p.retry) w.u16(grease.group).u16(1).u8(0);
      continue;
    }
    // Real shares are written in profile order as they come up.
    while (i < shares.length && rank(shares[i]!.group) <= rank(group)) {
      const s = shares[i++]!;
      w.u16(s.group).block(2, s.key);
    }
  }
  for (; i < shares.length; i++) w.u16(shares[i]!.group).block(2, shares[i]!.key);
  w.close(l);
}

/** Wraps a handshake message in one plaintext handshake record (RFC 8446 §5.1). */
export function clientHelloRecord(profile: ClientHelloProfile, hello: Buffer): Buffer {
  const head = Buffer.allocUnsafe(5);
  head[0] = 22;
  head.writeUInt16BE(profile.recordVersion, 1);
  head.writeUInt16BE(hello.length, 3);
  return Buffer.concat([head, hello]);
}

/**
 * masq's own ClientHello for connections that do not impersonate a browser: a plain, modern
 * TLS 1.3 offer (TLS 1.2 AEAD suites kept for a later TLS 1.2 fallback), no GREASE, fixed order.
 * X25519 gets the only key share; servers that want P-256/P-384 answer with HelloRetryRequest.
 */
export const masqDefaultHello: ClientHelloProfile = deepFreeze({
  name: "masq",
  recordVersion: 0x0301,
  legacyVersion: 0x0303,
  cipherSuites: [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8],
  extensions: [
    { kind: "server_name" },
    { kind: "extended_master_secret" },
    { kind: "renegotiation_info" },
    { kind: "supported_groups" },
    { kind: "ec_point_formats", formats: [0] },
    { kind: "alpn" },
    { kind: "signature_algorithms" },
    { kind: "key_share" },
    { kind: "psk_key_exchange_modes", modes: [1] },
    { kind: "supported_versions", versions: [0x0304, 0x0303] },
    { kind: "cookie" },
  ],
  groups: [NamedGroup.X25519, NamedGroup.SECP256R1, NamedGroup.SECP384R1],
  keyShareGroups: [NamedGroup.X25519],
  // ECDSA, Ed25519, RSA-PSS, then PKCS#1 (still needed for certificate chain signatures, §4.2.3).
  signatureAlgorithms: [0x0403, 0x0503, 0x0603, 0x0807, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601],
  alpn: ["http/1.1"],
  permuteExtensions: false,
  grease: false,
});

/** Frozen all the way down, like the catalogue's profiles: its static extensions are then serialised once. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
