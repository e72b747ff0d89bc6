/**
 * The argument steps of the standard WebSocket's constructor and `close()` (WebSockets standard,
 * "new WebSocket(url, protocols)" and "close(code, reason)"; WebIDL conversions).
 */
import { isToken } from "../protocol/extensions.js";

/** The standard's URL steps: http(s) → ws(s), only ws/wss, no fragment. */
export function parseUrl(url: string | URL): URL {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    throw new DOMException(`invalid URL ${JSON.stringify(String(url))}`, "SyntaxError");
  }
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  if (u.protocol !== "ws:" && u.protocol !== "wss:") {
    throw new DOMException(`unsupported URL scheme ${u.protocol} (use ws:, wss:, http: or https:)`, "SyntaxError");
  }
  if (u.hash !== "" || String(url).includes("#")) throw new DOMException("a WebSocket URL cannot have a fragment", "SyntaxError");
  return u;
}

/** WebIDL `[Clamp] unsigned short`: clamp to 0-65535, round half to even, NaN → 0. */
export function clampUint16(v: unknown): number {
  let x = Number(v);
  if (Number.isNaN(x)) return 0;
  x = Math.min(Math.max(x, 0), 65535);
  const f = Math.floor(x);
  const diff = x - f;
  if (diff > 0.5 || (diff === 0.5 && f % 2 === 1)) return f + 1;
  return f;
}

/** The protocols argument as a list: unique RFC 7230 tokens, else a `SyntaxError`. */
export function parseProtocols(protocols: string | string[] | undefined): string[] {
  const list = protocols === undefined ? [] : typeof protocols === "string" ? [protocols] : [...protocols].map(String);
  const seen = new Set<string>();
  for (const p of list) {
    if (!isToken(p) || seen.has(p)) {
      throw new DOMException(`invalid or repeated subprotocol ${JSON.stringify(p)}`, "SyntaxError");
    }
    seen.add(p);
  }
  return list;
}
