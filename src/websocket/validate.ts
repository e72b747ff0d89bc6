/**
 * The one validation step at masq's API boundary (issue 14): every session / `wsConnect` option
 * and every argument of the connection's public methods is checked here, by type and range,
 * before anything touches a socket. A wrong value is a {@link WebSocketError} with code 0 whose
 * message names the option and what it accepts: `recvQueueSize must be a positive integer, got 0`.
 *
 * The rules live in two tables, {@link OPTION_RULES} and {@link ARGUMENT_RULES}; the README's
 * validation table is checked against them by test/websocket/validate.test.ts. Nothing is
 * coerced: `"300"` is not a number and `"yes"` is not a boolean. Unknown option names are
 * ignored (TypeScript catches typos; options added later pass until they get a row).
 *
 * Messages show a rejected value only when it is a number, a boolean or `null`, or a string
 * for an option whose values are never secret (`echo`): a string passed as `headers` or
 * `auth` may hold a credential, and errors never carry one.
 */
import { WebSocketError } from "../errors.js";
import { isValidWireCloseCode, MAX_CLOSE_REASON_BYTES } from "../protocol/close.js";
import { isToken } from "../protocol/extensions.js";
import { WsFlag } from "./flags.js";
import { WebSocketRetryStrategy } from "./retry.js";

/** One row of a validation table. */
export interface ValidationRule {
  /** What the option accepts, as it reads after "must be" in the error and in the README. */
  readonly accepts: string;
  /** True when `v` (never `undefined`: an absent option is always fine) is acceptable. */
  readonly check: (v: unknown) => boolean;
  /** The rejected value may be quoted in the message (it can never be a secret). */
  readonly echo?: boolean;
}

// ------------------------------------------------------------------ predicates

const isBool = (v: unknown): boolean => typeof v === "boolean";
const isString = (v: unknown): boolean => typeof v === "string";
const isPositiveInt = (v: unknown): boolean => typeof v === "number" && Number.isInteger(v) && v >= 1;
const isNonNegativeInt = (v: unknown): boolean => typeof v === "number" && Number.isInteger(v) && v >= 0;
/** A duration: finite and >= 0, or Infinity ("no bound"). NaN fails every comparison. */
const isDuration = (v: unknown): boolean => typeof v === "number" && v >= 0;
/** A delay setTimeout can honour: > 0 and at most 2^31 - 1 ms. */
const isTimerMs = (v: unknown): boolean => typeof v === "number" && v > 0 && v <= 0x7fffffff;
const isPem = (v: unknown): boolean => typeof v === "string" || Buffer.isBuffer(v);
const isPositiveDuration = (v: unknown): boolean => typeof v === "number" && v > 0;
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof URLSearchParams) && !Buffer.isBuffer(v);
const isPair = (v: unknown): boolean => Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && typeof v[1] === "string";
const isBytes = (v: unknown): boolean => v instanceof ArrayBuffer || ArrayBuffer.isView(v);
const isSendData = (v: unknown): boolean => typeof v === "string" || isBytes(v);
const isAbortSignal = (v: unknown): boolean => v instanceof AbortSignal;
const isWindowBits = (v: unknown): boolean => typeof v === "number" && Number.isInteger(v) && v >= 8 && v <= 15;
const objectOf = (v: unknown, value: (x: unknown) => boolean): boolean => isPlainObject(v) && Object.values(v).every(value);
const headerValue = (v: unknown): boolean => typeof v === "string";
const paramValue = (v: unknown): boolean => typeof v === "string" || typeof v === "number" || typeof v === "boolean";
/** Every flag bit `send()` knows (WsFlag); anything else is a typo or a foreign constant. */
const SEND_FLAG_BITS = Object.values(WsFlag).reduce((a, b) => a | b, 0);
const PROXY_KEYS = new Set(["ws", "wss", "http", "https", "all"]);
const DEFLATE_OFFER_CHECKS: Readonly<Record<string, (v: unknown) => boolean>> = {
  clientMaxWindowBits: (v) => isBool(v) || isWindowBits(v),
  serverMaxWindowBits: isWindowBits,
  clientNoContextTakeover: isBool,
  serverNoContextTakeover: isBool,
};

function isDeflateOffer(v: unknown): boolean {
  if (!isPlainObject(v)) return false;
  for (const [k, x] of Object.entries(v)) {
    const check = DEFLATE_OFFER_CHECKS[k];
    if (check === undefined || (x !== undefined && !check(x))) return false;
  }
  return true;
}

/** RFC 6455 §4.1 item 10: the offered subprotocols are unique, non-empty tokens. */
function isProtocolList(v: unknown): boolean {
  return Array.isArray(v) && v.every((p) => typeof p === "string" && isToken(p)) && new Set(v).size === v.length;
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

function byteLength(v: string | ArrayBuffer | ArrayBufferView): number {
  return typeof v === "string" ? utf8Length(v) : v.byteLength;
}

// ------------------------------------------------------------------ the tables

/**
 * Every option of `new AsyncSession(options)` and `wsConnect(url, options)` (SessionOptions,
 * which includes the per-connection ConnectionOptions). Times are milliseconds.
 */
export const OPTION_RULES = {
  // Connection tuning (ConnectionOptions, src/websocket/options.ts).
  recvQueueSize: { accepts: "a positive integer", check: isPositiveInt, echo: true },
  sendQueueSize: { accepts: "a positive integer", check: isPositiveInt, echo: true },
  maxSendQueueBytes: { accepts: "a positive integer", check: isPositiveInt, echo: true },
  blockOnRecvQueueFull: { accepts: "a boolean", check: isBool, echo: true },
  maxMessageSize: { accepts: "a positive integer", check: isPositiveInt, echo: true },
  coalesceFrames: { accepts: "a boolean", check: isBool, echo: true },
  maxSendBatchSize: { accepts: "a positive integer", check: isPositiveInt, echo: true },
  drainOnError: { accepts: "a boolean", check: isBool, echo: true },
  wsRetry: { accepts: "a WebSocketRetryStrategy", check: (v) => v instanceof WebSocketRetryStrategy },
  recvTimeSlice: { accepts: "a number >= 0 (ms) or Infinity", check: isDuration, echo: true },
  sendTimeSlice: { accepts: "a number >= 0 (ms) or Infinity", check: isDuration, echo: true },
  autoclose: { accepts: "a boolean", check: isBool, echo: true },
  heartbeat: {
    accepts: "false or { interval, timeout }: positive numbers of milliseconds, at most 2147483647",
    check: (v) => v === false || (isPlainObject(v) && isTimerMs(v["interval"]) && isTimerMs(v["timeout"])),
  },
  // The upgrade request and the way to the server (SessionOptions, src/session.ts).
  headers: {
    accepts: "an object of string values or an array of [name, value] string pairs",
    check: (v) => (Array.isArray(v) ? v.every(isPair) : objectOf(v, headerValue)),
  },
  cookies: { accepts: "an object of string values", check: (v) => objectOf(v, headerValue) },
  auth: { accepts: "a [user, password] pair of strings", check: isPair },
  params: {
    accepts: "an object of string, number or boolean values, an array of [name, value] string pairs, or a URLSearchParams",
    check: (v) => v instanceof URLSearchParams || (Array.isArray(v) ? v.every(isPair) : objectOf(v, paramValue)),
  },
  timeout: { accepts: "a positive number of milliseconds or Infinity", check: isPositiveDuration, echo: true },
  verify: { accepts: "a boolean", check: isBool, echo: true },
  ca: {
    accepts: "a PEM string or Buffer, or an array of them",
    check: (v) => (Array.isArray(v) ? v.every((c) => isString(c) || Buffer.isBuffer(c)) : isString(v) || Buffer.isBuffer(v)),
  },
  protocols: { accepts: "an array of unique non-empty RFC 7230 tokens", check: isProtocolList },
  origin: { accepts: "a string", check: isString },
  proxy: { accepts: "a proxy URL string", check: isString },
  proxies: {
    accepts: "an object with proxy URL strings under ws, wss, http, https or all",
    check: (v) => isPlainObject(v) && Object.entries(v).every(([k, x]) => PROXY_KEYS.has(k) && (x === undefined || isString(x))),
  },
  trustEnv: { accepts: "a boolean", check: isBool, echo: true },
  maxRedirects: { accepts: "an integer >= 0", check: isNonNegativeInt, echo: true },
  allowInsecureRedirect: { accepts: "a boolean", check: isBool, echo: true },
  compress: {
    accepts:
      "a boolean or a permessage-deflate offer { clientMaxWindowBits?: boolean | 8-15, serverMaxWindowBits?: 8-15, clientNoContextTakeover?: boolean, serverNoContextTakeover?: boolean }",
    check: (v) => isBool(v) || isDeflateOffer(v),
    echo: true,
  },
  compressThreshold: { accepts: "an integer >= 0 (bytes)", check: isNonNegativeInt, echo: true },
  impersonate: {
    accepts: "a profile name (string) or a browser profile object",
    check: (v) => isString(v) || isPlainObject(v),
    echo: true,
  },
  tls: { accepts: '"native" or "masq"', check: (v) => v === "native" || v === "masq", echo: true },
  http2: { accepts: "a boolean", check: isBool, echo: true },
  tlsSessionCache: { accepts: "a boolean", check: isBool, echo: true },
  // Client certificate: never echoed (a key or its passphrase must not reach a message or a log).
  cert: { accepts: "a PEM string or Buffer", check: isPem },
  key: { accepts: "a PEM string or Buffer", check: isPem },
  passphrase: { accepts: "a string", check: isString },
  http2IdleTimeout: { accepts: "a number >= 0 (ms) or Infinity", check: isDuration, echo: true },
  signal: { accepts: "an AbortSignal", check: isAbortSignal },
} as const satisfies Readonly<Record<string, ValidationRule>>;

/** Names of the options in {@link OPTION_RULES}. */
export type ValidatedOption = keyof typeof OPTION_RULES;

const OPERATION_TIMEOUT: ValidationRule = { accepts: "a number >= 0 (ms) or Infinity", check: isDuration, echo: true };
const SIGNAL: ValidationRule = { accepts: "an AbortSignal", check: isAbortSignal };
const OPTIONS_OBJECT: ValidationRule = { accepts: "an options object", check: isPlainObject };

/**
 * Every argument of the connection's public methods, by method, then argument (options
 * objects as `opts` with their fields as `opts.timeout`, `opts.signal`).
 */
export const ARGUMENT_RULES = {
  wsConnect: {
    url: { accepts: "a ws://, wss://, http:// or https:// URL (string or URL)", check: (v) => isString(v) || v instanceof URL },
    options: OPTIONS_OBJECT,
  },
  send: {
    data: { accepts: "a string, Uint8Array, ArrayBuffer or ArrayBufferView", check: isSendData },
    flags: {
      accepts: "an integer made of WsFlag bits",
      check: (v) => isNonNegativeInt(v) && ((v as number) & ~SEND_FLAG_BITS) === 0,
      echo: true,
    },
    opts: OPTIONS_OBJECT,
    "opts.timeout": OPERATION_TIMEOUT,
    "opts.signal": SIGNAL,
  },
  sendStr: { text: { accepts: "a string", check: isString } },
  sendBytes: { bytes: { accepts: "a Uint8Array, ArrayBuffer or ArrayBufferView", check: isBytes } },
  ping: {
    payload: {
      accepts: "a string, Uint8Array, ArrayBuffer or ArrayBufferView of at most 125 bytes",
      check: (v) => isSendData(v) && byteLength(v as string | ArrayBufferView) <= 125,
    },
  },
  flush: { opts: OPTIONS_OBJECT, "opts.timeout": OPERATION_TIMEOUT },
  recv: { opts: OPTIONS_OBJECT, "opts.timeout": OPERATION_TIMEOUT, "opts.signal": SIGNAL },
  close: {
    code: {
      accepts: "a close code that may be sent (1000-1003, 1007-1014, 3000-4999)",
      check: (v) => typeof v === "number" && isValidWireCloseCode(v),
      echo: true,
    },
    reason: {
      accepts: `a string of at most ${MAX_CLOSE_REASON_BYTES} UTF-8 bytes`,
      check: (v) => isString(v) && utf8Length(v as string) <= MAX_CLOSE_REASON_BYTES,
    },
    opts: OPTIONS_OBJECT,
    "opts.timeout": OPERATION_TIMEOUT,
  },
} as const satisfies Readonly<Record<string, Readonly<Record<string, ValidationRule>>>>;

// ------------------------------------------------------------------ errors

/** A short, credential-free description of a rejected value. */
function describe(v: unknown, echo: boolean | undefined): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "number":
    case "boolean":
      return String(v);
    case "string":
      return echo && v.length <= 40 ? `the string ${JSON.stringify(v)}` : `a string (${v.length} characters)`;
    case "object":
      if (Array.isArray(v)) return `an array of ${v.length}`;
      if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return `${v.constructor.name} of ${v.byteLength} bytes`;
      return v.constructor?.name && v.constructor !== Object ? `${/^[AEIOU]/.test(v.constructor.name) ? "an" : "a"} ${v.constructor.name}` : "an object";
    default:
      return typeof v === "undefined" ? "undefined" : `a ${typeof v}`;
  }
}

function invalid(name: string, rule: ValidationRule, v: unknown): WebSocketError {
  return new WebSocketError(`${name} must be ${rule.accepts}, got ${describe(v, rule.echo)}`, 0);
}

/** The error for `v` under `rule`, or undefined when it passes (undefined always passes). */
function check(name: string, rule: ValidationRule, v: unknown): WebSocketError | undefined {
  return v === undefined || rule.check(v) ? undefined : invalid(name, rule, v);
}

// ------------------------------------------------------------------ entry points

/**
 * Checks session or `wsConnect` options (absent or `undefined` values pass; defaults apply
 * later). Throws the first violation as a {@link WebSocketError} with code 0.
 */
export function validateOptions(options: unknown): void {
  if (options === undefined) return;
  if (!isPlainObject(options)) throw invalid("options", OPTIONS_OBJECT, options);
  for (const name in OPTION_RULES) {
    const v = options[name];
    if (v === undefined) continue;
    const rule: ValidationRule = OPTION_RULES[name as ValidatedOption];
    if (!rule.check(v)) throw invalid(name, rule, v);
  }
}

/** Checks `wsConnect(url, options)`; throws like {@link validateOptions}. */
export function validateConnectArgs(url: unknown, options: unknown): void {
  const r = ARGUMENT_RULES.wsConnect;
  if (!r.url.check(url)) throw invalid("wsConnect: url", r.url, url);
  validateOptions(options);
}

/** `{ timeout, signal }` of send / recv / flush / close, prefixed with the method name. */
function opsError(method: string, opts: unknown, withSignal: boolean): WebSocketError | undefined {
  if (opts === undefined) return undefined;
  if (!isPlainObject(opts)) return invalid(`${method}: options`, OPTIONS_OBJECT, opts);
  return (
    check(`${method}: timeout`, OPERATION_TIMEOUT, opts["timeout"]) ??
    (withSignal ? check(`${method}: signal`, SIGNAL, opts["signal"]) : undefined)
  );
}

/**
 * The error for bad `send(data, flags, opts)` arguments, or undefined. `method` names the
 * public method the call came through (sendStr, sendBytes, sendJson share send's options).
 */
export function sendArgsError(data: unknown, flags: unknown, opts: unknown, method = "send"): WebSocketError | undefined {
  const r = ARGUMENT_RULES.send;
  // Hot path: a string or bytes, a small integer flag and no options pass three typeof tests.
  if (opts === undefined && typeof flags === "number" && (flags & ~SEND_FLAG_BITS) === 0 && flags >= 0 && (typeof data === "string" || isBytes(data))) {
    return Number.isInteger(flags) ? undefined : invalid(`${method}: flags`, r.flags, flags);
  }
  return sendArgsErrorSlow(data, flags, opts, method);
}

/**
 * True for the arguments nearly every `send` gets (a Uint8Array or string, no options, an
 * integer flag of known bits): small enough for V8 to inline into `send()`, which then skips
 * {@link sendArgsError}. False means "check fully", not "invalid".
 */
export function isPlainSend(data: unknown, flags: number, opts: unknown): boolean {
  return opts === undefined && (flags & ~SEND_FLAG_BITS) === 0 && (flags | 0) === flags && flags >= 0 && (data instanceof Uint8Array || typeof data === "string");
}

function sendArgsErrorSlow(data: unknown, flags: unknown, opts: unknown, method: string): WebSocketError | undefined {
  const r = ARGUMENT_RULES.send;
  return check(`${method}: data`, r.data, data) ?? check(`${method}: flags`, r.flags, flags) ?? opsError(method, opts, true);
}

/** The error for bad `sendJson(value, opts)` options (any value; JSON.stringify judges it), or undefined. */
export function sendOptionsError(opts: unknown, method = "send"): WebSocketError | undefined {
  return opsError(method, opts, true);
}

/** The error for a bad `sendStr(text, opts)`, or undefined. */
export function sendStrArgsError(text: unknown, opts: unknown): WebSocketError | undefined {
  const r = ARGUMENT_RULES.sendStr.text;
  return typeof text === "string" ? opsError("sendStr", opts, true) : invalid("sendStr: text", r, text);
}

/** The error for a bad `sendBytes(bytes, opts)`, or undefined. */
export function sendBytesArgsError(bytes: unknown, opts: unknown): WebSocketError | undefined {
  const r = ARGUMENT_RULES.sendBytes.bytes;
  return isBytes(bytes) ? opsError("sendBytes", opts, true) : invalid("sendBytes: bytes", r, bytes);
}

/** The error for bad `recv*(opts)` options, or undefined. */
export function recvArgsError(opts: unknown, method = "recv"): WebSocketError | undefined {
  return opsError(method, opts, true);
}

/** The error for bad `flush(opts)` options, or undefined. */
export function flushArgsError(opts: unknown): WebSocketError | undefined {
  return opsError("flush", opts, false);
}

/** The error for a bad `ping(payload)`, or undefined. */
export function pingArgsError(payload: unknown): WebSocketError | undefined {
  return check("ping: payload", ARGUMENT_RULES.ping.payload, payload);
}

/**
 * The error for bad `close(code, reason, opts)` arguments, or undefined. A reason longer than
 * 123 UTF-8 bytes is rejected, not cut: it would not fit a control frame (RFC 6455 §5.5).
 */
export function closeArgsError(code: unknown, reason: unknown, opts: unknown): WebSocketError | undefined {
  const r = ARGUMENT_RULES.close;
  if (typeof reason === "string" && typeof code === "number" && isValidWireCloseCode(code)) {
    const n = utf8Length(reason);
    if (n > MAX_CLOSE_REASON_BYTES) {
      return new WebSocketError(`close: reason must be ${r.reason.accepts}, got ${n} bytes`, 0);
    }
  }
  return check("close: code", r.code, code) ?? check("close: reason", r.reason, reason) ?? opsError("close", opts, false);
}
