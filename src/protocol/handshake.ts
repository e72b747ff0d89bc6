/**
 * The opening handshake (RFC 6455 §4.1 client requirements, §4.2.2 server response), without
 * I/O: build and serialise the upgrade request, parse the response head incrementally, and
 * check that the server accepted exactly what we offered.
 */
import * as nodeCrypto from "node:crypto";
import { createHash, randomFillSync } from "node:crypto";
import { HandshakeError, WebSocketError, headersFromRaw, type HandshakeErrorReason } from "../errors.js";
import { isToken } from "./extensions.js";

/** The GUID every server appends to the key before hashing (§1.3, §4.2.2). */
const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Longest response head we wait for before giving up on the server. */
export const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;

/** A header list in wire order: `[name, value]` pairs, names in the spelling to send. */
export type HeaderList = Array<[name: string, value: string]>;

/**
 * Random bytes for keys, 16 per key: one randomFillSync per 64 keys instead of a randomBytes call
 * (a few µs) per connection. The nonce only has to be fresh and random (§4.1 item 7), and it is
 * sent in clear anyway.
 */
const KEY_POOL = Buffer.allocUnsafeSlow(16 * 64);
let keyPoolPos = KEY_POOL.length;

/** A fresh Sec-WebSocket-Key: 16 random bytes, base64 (§4.1 item 7). */
export function generateKey(): string {
  if (keyPoolPos === KEY_POOL.length) {
    randomFillSync(KEY_POOL);
    keyPoolPos = 0;
  }
  const key = KEY_POOL.toString("base64", keyPoolPos, keyPoolPos + 16);
  keyPoolPos += 16;
  return key;
}

/** `crypto.hash` (Node ≥ 20.12): a one-shot digest without a Hash object, about half the cost. */
const oneShotHash = (nodeCrypto as unknown as { hash?: (algorithm: string, data: string, encoding: "base64") => string }).hash;
/** Any character outside ASCII (crypto.hash reads a string as UTF-8; the accept value takes the key as latin1). */
const NON_ASCII = /[^\x00-\x7f]/;

/** The Sec-WebSocket-Accept value a server must answer `key` with: base64(SHA-1(key + GUID)). */
export function acceptFor(key: string): string {
  if (oneShotHash !== undefined && !NON_ASCII.test(key)) return oneShotHash("sha1", key + WS_GUID, "base64");
  return createHash("sha1").update(key + WS_GUID, "latin1").digest("base64");
}

/** Headers whose values masq must control for the handshake to mean what it says. */
const OWNED = new Set(["upgrade", "connection", "sec-websocket-key", "sec-websocket-version"]);

/** Input of {@link buildRequestHeaders}. */
export interface RequestHeaderOptions {
  /** `host[:port]`, port omitted when it is the scheme's default. */
  host: string;
  /** The Sec-WebSocket-Key, from {@link generateKey}. */
  key: string;
  /** Subprotocols to offer, in preference order. */
  protocols?: string[];
  /** Origin header value, if any. */
  origin?: string;
  /** Sec-WebSocket-Extensions offer, if any. */
  extensions?: string;
  /** User headers in the caller's order. */
  headers?: HeaderList;
  /** Impersonation profile: header names and values in browser order; computed ones are filled in. */
  template?: HeaderList;
}

/**
 * Assembles the upgrade request headers.
 *
 * Without a template the order is Host, Upgrade, Connection, Sec-WebSocket-Key,
 * Sec-WebSocket-Version, [Sec-WebSocket-Protocol], [Sec-WebSocket-Extensions], [Origin], then the
 * user headers. With a template, its order and spelling are kept; Host, Sec-WebSocket-Key,
 * Sec-WebSocket-Extensions, Origin and Sec-WebSocket-Protocol get the computed values (and are
 * dropped when there is none); any required header the template lacks is appended.
 *
 * A user header whose name matches one already present (case-insensitively) replaces that value
 * in place, under the user's spelling; other user headers are appended in order. Upgrade,
 * Connection, Sec-WebSocket-Key and Sec-WebSocket-Version belong to masq: a user value for them
 * throws {@link WebSocketError} (code 0).
 */
export function buildRequestHeaders(o: RequestHeaderOptions): HeaderList {
  const computed = new Map<string, string | undefined>([
    ["host", o.host],
    ["sec-websocket-key", o.key],
    ["sec-websocket-protocol", o.protocols && o.protocols.length > 0 ? o.protocols.join(", ") : undefined],
    ["sec-websocket-extensions", o.extensions ? o.extensions : undefined],
    ["origin", o.origin ? o.origin : undefined],
  ]);
  const defaults: HeaderList = [
    ["Host", o.host],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", o.key],
    ["Sec-WebSocket-Version", "13"],
  ];
  for (const [name, lower] of [
    ["Sec-WebSocket-Protocol", "sec-websocket-protocol"],
    ["Sec-WebSocket-Extensions", "sec-websocket-extensions"],
    ["Origin", "origin"],
  ] as const) {
    const v = computed.get(lower);
    if (v !== undefined) defaults.push([name, v]);
  }

  let out: HeaderList;
  if (!o.template) {
    out = defaults;
  } else {
    out = [];
    for (const [name, value] of o.template) {
      const lower = name.toLowerCase();
      if (computed.has(lower)) {
        const v = computed.get(lower);
        if (v !== undefined) out.push([name, v]);
      } else {
        out.push([name, value]);
      }
    }
    // A template that forgot a required header must not produce a broken handshake.
    for (const entry of defaults) {
      const lower = entry[0].toLowerCase();
      if (!out.some(([n]) => n.toLowerCase() === lower)) out.push(entry);
    }
  }

  // Only entries that came from masq (defaults or template) are replaceable; repeated user
  // headers (e.g. two Cookie lines) are all kept.
  const replaceable = out.length;
  const replaced = new Set<number>();
  for (const [name, value] of o.headers ?? []) {
    const lower = name.toLowerCase();
    if (OWNED.has(lower)) {
      throw new WebSocketError(`the ${name} header is set by masq for the WebSocket handshake and cannot be overridden`, 0);
    }
    let at = -1;
    for (let i = 0; i < replaceable; i++) {
      if (!replaced.has(i) && out[i]![0].toLowerCase() === lower) {
        at = i;
        break;
      }
    }
    if (at >= 0) {
      out[at] = [name, value];
      replaced.add(at);
    } else {
      out.push([name, value]);
    }
  }
  return out;
}

const FORBIDDEN = /[\r\n\0]/;

/**
 * `GET <target> HTTP/1.1\r\n` + `Name: value\r\n` lines + `\r\n`, UTF-8. Throws
 * {@link WebSocketError} (code 0) for a CR, LF or NUL anywhere (header injection) or a name that
 * is not a token; the message names the header but never echoes a value (it may be a secret).
 */
export function serializeRequest(target: string, headers: HeaderList): Buffer {
  if (target.length === 0 || FORBIDDEN.test(target) || /[ \t]/.test(target)) {
    throw new WebSocketError("request target contains whitespace, CR, LF or NUL, or is empty", 0);
  }
  let s = `GET ${target} HTTP/1.1\r\n`;
  for (const [name, value] of headers) {
    if (!isToken(name)) throw new WebSocketError("invalid header name: header names must be RFC 7230 tokens", 0);
    if (FORBIDDEN.test(value)) {
      throw new WebSocketError(`the value of header ${name} contains CR, LF or NUL`, 0);
    }
    s += `${name}: ${value}\r\n`;
  }
  s += "\r\n";
  return Buffer.from(s, "utf8");
}

/** A parsed response status line and headers. */
export interface ResponseHead {
  status: number;
  statusText: string;
  /** `[name, value, name, value, ...]` in received order and case. */
  rawHeaders: string[];
  /** Lower-cased names; repeated headers joined with ", " (set-cookie with "\n"). */
  headers: Record<string, string>;
  /** The head as received (latin1), without the final CR LF CR LF: {@link parseResponseHead} gives the rest back. */
  text: string;
}

const HTTP_PREFIX = Buffer.from("HTTP/", "latin1");
const STATUS_LINE = /^HTTP\/1\.[01] ([1-9][0-9]{2})(?: ([^\r\n]*))?$/;

/**
 * Incremental parser for the HTTP/1.1 response head. Feed socket chunks to `push`; it returns
 * the head and the bytes after it (the first WebSocket frames may ride in the same chunk) once
 * the blank line has arrived, or null while more is needed. Throws {@link HandshakeError} for
 * anything that is not an HTTP/1.x response head, or when 64 KiB pass without its end.
 *
 * Each byte is looked at once (a small state machine finds CRLF CRLF across chunk boundaries),
 * so a server dribbling one byte per packet costs linear time.
 */
export class ResponseHeadParser {
  #chunks: Buffer[] = [];
  #total = 0;
  /** How much of CR LF CR LF the input so far ends with (0–3). */
  #match = 0;
  #done = false;

  push(chunk: Buffer): { head: ResponseHead; rest: Buffer } | null {
    if (this.#done) throw new WebSocketError("ResponseHeadParser: the response head is already complete", 0);
    // Fail fast on a peer that does not speak HTTP at all.
    for (let i = 0; this.#total + i < HTTP_PREFIX.length && i < chunk.length; i++) {
      if (chunk[i] !== HTTP_PREFIX[this.#total + i]) throw new HandshakeError("the server did not answer with an HTTP response", { reason: "not_http" });
    }
    let match = this.#match;
    let end = -1;
    const limit = Math.min(chunk.length, MAX_RESPONSE_HEAD_BYTES - this.#total);
    // A terminator begun in earlier chunks ends within this chunk's first 3 bytes; one wholly
    // inside the chunk is found by Buffer#indexOf (native: no per-byte JavaScript loop, which
    // made this function hot enough for an optimising compile of ~15 ms in the first few
    // hundred connects). Only the last 3 bytes are needed to carry a partial match onwards.
    if (match > 0) {
      for (let i = 0; i < limit && i < 3; i++) {
        match = nextMatch(match, chunk[i]!);
        if (match === 4) {
          end = i + 1;
          break;
        }
      }
    }
    if (end < 0) {
      const at = chunk.indexOf(HEAD_END);
      if (at >= 0 && at + 4 <= limit) end = at + 4;
    }
    if (end < 0) {
      if (limit >= 3) {
        match = 0;
        for (let i = limit - 3; i < limit; i++) match = nextMatch(match, chunk[i]!);
      } else if (this.#match === 0) {
        // A chunk of 1-2 bytes after no partial match (the loop above covered it otherwise).
        for (let i = 0; i < limit; i++) match = nextMatch(match, chunk[i]!);
      }
      if (this.#total + chunk.length >= MAX_RESPONSE_HEAD_BYTES) {
        throw new HandshakeError(`the server's response head exceeds ${MAX_RESPONSE_HEAD_BYTES} bytes`, { reason: "head_too_large" });
      }
      this.#match = match;
      this.#chunks.push(chunk);
      this.#total += chunk.length;
      return null;
    }
    this.#done = true;
    this.#chunks.push(chunk.subarray(0, end));
    const headBytes = Buffer.concat(this.#chunks, this.#total + end);
    this.#chunks = [];
    // Without the final CR LF CR LF.
    const head = parseHead(headBytes.toString("latin1", 0, headBytes.length - 4));
    return { head, rest: chunk.subarray(end) };
  }
}

const HEAD_END = Buffer.from("\r\n\r\n", "latin1");

/**
 * How much of CR LF CR LF the input ends with after byte `b`, given that it ended with `match`
 * bytes of it before (the longest such suffix; 4: complete).
 */
function nextMatch(match: number, b: number): number {
  if (b === 0x0d) return match === 2 ? 3 : 1;
  if (b === 0x0a) return match === 1 ? 2 : match === 3 ? 4 : 0;
  return 0;
}

/** Parses a response head's text (as in {@link ResponseHead.text}). Throws {@link HandshakeError}. */
export function parseResponseHead(text: string): ResponseHead {
  return parseHead(text);
}

function parseHead(text: string): ResponseHead {
  const lines = text.split("\r\n");
  const m = STATUS_LINE.exec(lines[0]!);
  if (!m) throw new HandshakeError("malformed HTTP status line in the server's response", { reason: "malformed_response" });
  const rawHeaders: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    // No obsolete line folding (RFC 7230 §3.2.4 lets a client reject it), no empty names, no
    // bare CR or LF smuggled into a value.
    if (colon <= 0 || !isToken(line.slice(0, colon)) || /[\r\n\0]/.test(line)) {
      throw new HandshakeError("malformed header line in the server's response", {
        status: Number(m[1]),
        rawHeaders,
        reason: "malformed_response",
      });
    }
    rawHeaders.push(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return { status: Number(m[1]), statusText: m[2] ?? "", rawHeaders, headers: headersFromRaw(rawHeaders), text };
}

/** Comma-separated list elements, trimmed and lower-cased, empties dropped (RFC 7230 §7). */
function tokens(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(",")
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t.length > 0);
}

/**
 * Checks a response head against RFC 6455 §4.1 (client side, "the client MUST fail the
 * connection if …"). Returns the chosen subprotocol ("" when none) and the raw
 * Sec-WebSocket-Extensions value ("" when absent). Throws {@link HandshakeError}.
 */
export function validateUpgradeResponse(
  head: ResponseHead,
  o: { key: string; protocols?: string[]; extensionsOffered: boolean },
): { protocol: string; extensions: string } {
  const fail = (msg: string, reason: HandshakeErrorReason): HandshakeError =>
    new HandshakeError(msg, { status: head.status, rawHeaders: head.rawHeaders, reason });
  if (head.status !== 101) {
    throw fail(`the server refused the WebSocket upgrade: HTTP ${head.status}${head.statusText ? " " + head.statusText : ""}`, "unexpected_status");
  }
  const h = head.headers;
  if (!tokens(h["upgrade"]).includes("websocket")) throw fail("the 101 response lacks Upgrade: websocket", "missing_upgrade");
  if (!tokens(h["connection"]).includes("upgrade")) throw fail("the 101 response lacks Connection: Upgrade", "missing_upgrade");
  const accept = h["sec-websocket-accept"];
  if (accept === undefined) throw fail("the 101 response lacks Sec-WebSocket-Accept", "bad_accept");
  if (accept.trim() !== acceptFor(o.key)) throw fail("Sec-WebSocket-Accept does not match the key we sent", "bad_accept");

  const offered = o.protocols ?? [];
  const chosen = h["sec-websocket-protocol"];
  let protocol = "";
  if (chosen !== undefined) {
    protocol = chosen.trim();
    if (offered.length === 0) throw fail(`the server chose subprotocol "${protocol}" but none was offered`, "bad_subprotocol");
    if (!offered.includes(protocol)) throw fail(`the server chose subprotocol "${protocol}", which was not offered`, "bad_subprotocol");
  }
  const extensions = h["sec-websocket-extensions"];
  if (extensions !== undefined && extensions.trim() !== "" && !o.extensionsOffered) {
    throw fail("the server accepted extensions that were not offered", "bad_extension");
  }
  return { protocol, extensions: extensions === undefined ? "" : extensions.trim() };
}
