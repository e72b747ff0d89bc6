/**
 * `Sec-WebSocket-Extensions` header grammar (RFC 6455 §9.1) and permessage-deflate negotiation
 * (RFC 7692 §7.1), client side. Pure: no zlib, no I/O.
 *
 * ```abnf
 * Sec-WebSocket-Extensions = extension-list
 * extension-list  = 1#extension
 * extension       = extension-token *( ";" extension-param )
 * extension-token = registered-token
 * registered-token = token
 * extension-param = token [ "=" (token | quoted-string) ]
 *     ; When using the quoted-string syntax variant, the value after
 *     ; quoted-string unescaping MUST conform to the 'token' ABNF.
 * ```
 */
import { HandshakeError, WebSocketError } from "../errors.js";

/** One element of an extension list: its name and its parameters (`true` for a parameter without value). */
export interface ExtensionElement {
  name: string;
  params: Record<string, string | true>;
}

/** What we offer. Every field is optional; `{}` is the default offer `permessage-deflate; client_max_window_bits`. */
export interface DeflateOffer {
  /**
   * `client_max_window_bits`: `true` (the default) offers the parameter without a value, i.e. "the server may
   * limit our window"; a number 8..15 also tells the server which window we will use at most; `false` leaves
   * the parameter out (then the server must not send it back).
   */
  clientMaxWindowBits?: number | boolean;
  /** `server_max_window_bits=N` (8..15): ask the server to compress with at most a 2^N byte window. */
  serverMaxWindowBits?: number;
  /** `client_no_context_takeover`: we announce that we will not reuse the compression context between messages. */
  clientNoContextTakeover?: boolean;
  /** `server_no_context_takeover`: ask the server not to reuse its compression context between messages. */
  serverNoContextTakeover?: boolean;
}

/** The agreed parameters (RFC 7692 §7.1), with the defaults filled in. */
export interface DeflateParams {
  /** The server resets its compressor after each message: our inflater must too. */
  serverNoContextTakeover: boolean;
  /** We reset our compressor after each message. */
  clientNoContextTakeover: boolean;
  /** The server compresses with at most a 2^N byte window (inflater side). 8..15, default 15. */
  serverMaxWindowBits: number;
  /** We compress with at most a 2^N byte window (deflater side). 8..15, default 15. */
  clientMaxWindowBits: number;
}

export const PERMESSAGE_DEFLATE = "permessage-deflate";

// ---------------------------------------------------------------------------------------------
// Grammar

/** RFC 7230 tchar. */
const TCHAR = (() => {
  const t = new Uint8Array(128);
  for (const c of "!#$%&'*+-.^_`|~") t[c.charCodeAt(0)] = 1;
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  return t;
})();

function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

/** True when `s` is a non-empty RFC 7230 token. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTchar(s.charCodeAt(i))) return false;
  return true;
}

function fail(header: string, what: string): never {
  // The header comes from the server; keep the message readable but bounded.
  const shown = header.length > 200 ? header.slice(0, 200) + "…" : header;
  return failMsg(`invalid Sec-WebSocket-Extensions header ${JSON.stringify(shown)}: ${what}`);
}

function failMsg(message: string): never {
  throw new HandshakeError(message, { status: 101, reason: "bad_extension" });
}

/**
 * Parses a `Sec-WebSocket-Extensions` value into its elements, in order. Whitespace (SP, HTAB) is allowed
 * around every separator; empty list elements (`a, , b`) are ignored as RFC 7230 §7 asks; a parameter value
 * may be a token or a quoted-string whose unescaped content is a token. A repeated parameter name within
 * one element is rejected (every extension we know treats that as invalid, and the result could not hold it).
 *
 * @throws HandshakeError when the value does not follow the grammar.
 */
export function parseExtensions(header: string): ExtensionElement[] {
  const out: ExtensionElement[] = [];
  const n = header.length;
  let i = 0;

  const skipWs = (): void => {
    while (i < n) {
      const c = header.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09) break;
      i++;
    }
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && isTchar(header.charCodeAt(i))) i++;
    return header.slice(start, i);
  };
  const readQuoted = (): string => {
    // at '"'
    i++;
    let value = "";
    for (;;) {
      if (i >= n) fail(header, "unterminated quoted-string");
      const c = header.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return value;
      }
      if (c === 0x5c) {
        // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
        if (i + 1 >= n) fail(header, "unterminated quoted-pair");
        const d = header.charCodeAt(i + 1);
        if (!(d === 0x09 || (d >= 0x20 && d !== 0x7f && d <= 0xff))) fail(header, "invalid quoted-pair");
        value += header[i + 1];
        i += 2;
        continue;
      }
      // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
      if (!(c === 0x09 || c === 0x20 || c === 0x21 || (c >= 0x23 && c <= 0x7e) || (c >= 0x80 && c <= 0xff))) {
        fail(header, "invalid character in quoted-string");
      }
      value += header[i];
      i++;
    }
  };

  for (;;) {
    skipWs();
    if (i >= n) break;
    if (header.charCodeAt(i) === 0x2c /* , */) {
      // empty list element
      i++;
      continue;
    }
    const name = readToken();
    if (name === "") fail(header, `unexpected character ${JSON.stringify(header[i])} where an extension name was expected`);
    const params: Record<string, string | true> = Object.create(null);
    skipWs();
    while (i < n && header.charCodeAt(i) === 0x3b /* ; */) {
      i++;
      skipWs();
      const pname = readToken();
      if (pname === "") {
        fail(header, i >= n ? `missing parameter name after ";" in ${name}` : `unexpected character ${JSON.stringify(header[i])} where a parameter name of ${name} was expected`);
      }
      if (Object.prototype.hasOwnProperty.call(params, pname)) fail(header, `duplicate parameter ${pname} in ${name}`);
      skipWs();
      let value: string | true = true;
      if (i < n && header.charCodeAt(i) === 0x3d /* = */) {
        i++;
        skipWs();
        if (i < n && header.charCodeAt(i) === 0x22) {
          value = readQuoted();
          if (!isToken(value)) fail(header, `the quoted value of ${pname} in ${name} is not a token`);
        } else {
          value = readToken();
          if (value === "") fail(header, `missing value for parameter ${pname} of ${name}`);
        }
        skipWs();
      }
      params[pname] = value;
    }
    out.push({ name, params });
    if (i >= n) break;
    if (header.charCodeAt(i) !== 0x2c) fail(header, `unexpected character ${JSON.stringify(header[i])} after extension ${name}`);
    i++;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// permessage-deflate

function checkBits(what: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 8 || v > 15) {
    throw new WebSocketError(`${what} must be an integer from 8 to 15, got ${String(v)}`, 0);
  }
  return v;
}

/**
 * The offer for the `Sec-WebSocket-Extensions` request header. `formatDeflateOffer({})` is
 * `"permessage-deflate; client_max_window_bits"`.
 *
 * @throws WebSocketError (code 0) for window bits outside 8..15.
 */
export function formatDeflateOffer(o: DeflateOffer = {}): string {
  let s = PERMESSAGE_DEFLATE;
  if (o.clientNoContextTakeover) s += "; client_no_context_takeover";
  if (o.serverNoContextTakeover) s += "; server_no_context_takeover";
  if (o.serverMaxWindowBits !== undefined) s += `; server_max_window_bits=${checkBits("serverMaxWindowBits", o.serverMaxWindowBits)}`;
  const c = o.clientMaxWindowBits ?? true;
  if (c === true) s += "; client_max_window_bits";
  else if (c !== false) s += `; client_max_window_bits=${checkBits("clientMaxWindowBits", c)}`;
  return s;
}

/** `1*DIGIT` without leading zeros, 8..15 (RFC 7692 §7.1.2.1, §7.1.2.2). */
function parseBits(param: string, value: string | true): number {
  if (value === true) failMsg(`permessage-deflate: the server sent ${param} without a value`);
  if (!/^(8|9|1[0-5])$/.test(value)) {
    failMsg(`permessage-deflate: the server sent ${param}=${JSON.stringify(value)}, which is not an integer from 8 to 15`);
  }
  return Number(value);
}

/**
 * Applies RFC 7692 §7.1 to the server's `Sec-WebSocket-Extensions` answer to our single permessage-deflate
 * offer. Returns `null` when the server did not accept the extension (header absent or empty) — the
 * connection then goes on uncompressed — and the agreed parameters otherwise.
 *
 * The answer is refused (HandshakeError, the client must _Fail the WebSocket Connection_) when it:
 * - names an extension other than permessage-deflate (we offered nothing else; RFC 6455 §9.1), or accepts
 *   permessage-deflate more than once;
 * - has an unknown parameter, a repeated one, a value on `*_no_context_takeover`, or a window-bits value that
 *   is missing, has leading zeros or lies outside 8..15;
 * - has `client_max_window_bits` although we did not offer it (§7.1.2.2), or with a value above the one we
 *   offered;
 * - lacks `server_max_window_bits` although we offered it, or answers it with a larger value (§7.1.2.1: the
 *   server accepts such an offer only by answering with the same or a smaller value);
 * - lacks `server_no_context_takeover` although we offered it (§7.1.1.1: the server accepts that offer only
 *   by including it).
 *
 * Allowed without an offer (§7.1.1.1, §7.1.1.2, §7.1.2.1): `server_no_context_takeover`,
 * `client_no_context_takeover` and `server_max_window_bits`.
 *
 * `clientNoContextTakeover` is true when the server asked for it or when we announced it in our offer (a
 * compressor may always start afresh; having announced it, we do). `clientMaxWindowBits` is the server's
 * value, else the value we offered, else 15.
 */
export function negotiateDeflate(responseHeader: string | undefined, offer: DeflateOffer): DeflateParams | null {
  if (responseHeader === undefined) return null;
  const elements = parseExtensions(responseHeader);
  if (elements.length === 0) return null;

  let accepted: ExtensionElement | undefined;
  for (const el of elements) {
    if (el.name !== PERMESSAGE_DEFLATE) {
      failMsg(`the server accepted the extension ${JSON.stringify(el.name)}, which we did not offer`);
    }
    if (accepted) failMsg("the server accepted permessage-deflate more than once; we made a single offer");
    accepted = el;
  }
  const p = accepted!.params;

  const offeredClientBits = offer.clientMaxWindowBits ?? true;
  const result: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: offer.clientNoContextTakeover === true,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: typeof offeredClientBits === "number" ? offeredClientBits : 15,
  };

  for (const name of Object.keys(p)) {
    const value = p[name]!;
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== true) failMsg(`permessage-deflate: the server sent ${name} with a value; it takes none`);
        if (name === "server_no_context_takeover") result.serverNoContextTakeover = true;
        else result.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits": {
        const bits = parseBits(name, value);
        if (offer.serverMaxWindowBits !== undefined && bits > offer.serverMaxWindowBits) {
          failMsg(`permessage-deflate: the server answered server_max_window_bits=${bits}, above the ${offer.serverMaxWindowBits} we offered`);
        }
        result.serverMaxWindowBits = bits;
        break;
      }
      case "client_max_window_bits": {
        if (offeredClientBits === false) {
          failMsg("permessage-deflate: the server sent client_max_window_bits, which we did not offer");
        }
        const bits = parseBits(name, value);
        if (typeof offeredClientBits === "number" && bits > offeredClientBits) {
          failMsg(`permessage-deflate: the server answered client_max_window_bits=${bits}, above the ${offeredClientBits} we offered`);
        }
        result.clientMaxWindowBits = bits;
        break;
      }
      default:
        failMsg(`permessage-deflate: the server sent the unknown parameter ${JSON.stringify(name)}`);
    }
  }

  if (offer.serverNoContextTakeover && !result.serverNoContextTakeover) {
    failMsg("permessage-deflate: we offered server_no_context_takeover and the server's answer lacks it");
  }
  if (offer.serverMaxWindowBits !== undefined && p["server_max_window_bits"] === undefined) {
    failMsg("permessage-deflate: we offered server_max_window_bits and the server's answer lacks it");
  }
  return result;
}
