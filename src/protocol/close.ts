/**
 * Close frame payloads (RFC 6455 §5.5.1): an optional 2-byte big-endian status code followed
 * by an optional UTF-8 reason, at most 125 bytes in all.
 */
import { ProtocolError, WebSocketError } from "../errors.js";
import { isValidUtf8 } from "./utf8.js";

/** Longest reason that fits a control frame next to the 2-byte code (125 − 2). */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * Whether `code` may appear in a close frame (RFC 6455 §7.4.1, §7.4.2 and the IANA registry):
 * 1000–1003 and 1007–1014 are defined; 1004 is reserved, 1005/1006/1015 are for local use only
 * and must never be sent; 3000–3999 are registered and 4000–4999 private use. Everything else
 * (0–999, 1016–2999, ≥ 5000) is invalid.
 */
export function isValidWireCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/**
 * Encodes `text` as UTF-8 and cuts it to at most `maxBytes` bytes without splitting a code
 * point.
 */
export function truncateUtf8(text: string, maxBytes: number): Buffer {
  const buf = Buffer.from(text, "utf8");
  if (buf.length <= maxBytes) return buf;
  let end = Math.max(0, maxBytes);
  // Step back over continuation bytes (10xxxxxx) so the cut lands before a lead byte.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.subarray(0, end);
}

/**
 * Builds a close payload. `code === undefined` gives an empty payload (the peer then sees 1005).
 * A code that may not be sent throws {@link WebSocketError} with code 0, as does a reason without
 * a code (§5.5.1 puts the reason after the code) and a reason over 123 UTF-8 bytes: a control
 * frame holds 125 bytes (§5.5), and a cut reason would silently say something else (ws and the
 * WHATWG API reject it too).
 */
export function encodeClosePayload(code?: number, reason?: string): Buffer {
  if (code === undefined) {
    if (reason) throw new WebSocketError("a close reason needs a close code", 0);
    return Buffer.alloc(0);
  }
  if (!isValidWireCloseCode(code)) {
    throw new WebSocketError(`invalid close code ${String(code)}: use 1000-1003, 1007-1014 or 3000-4999`, 0);
  }
  const text = reason ? Buffer.from(reason, "utf8") : undefined;
  if (text && text.length > MAX_CLOSE_REASON_BYTES) {
    throw new WebSocketError(`close: reason must be a string of at most ${MAX_CLOSE_REASON_BYTES} UTF-8 bytes, got ${text.length} bytes`, 0);
  }
  const out = Buffer.allocUnsafe(2 + (text ? text.length : 0));
  out.writeUInt16BE(code, 0);
  if (text) text.copy(out, 2);
  return out;
}

/**
 * Decodes the payload of a received close frame. An empty payload means 1005 ("no status").
 * A 1-byte payload or a code that is not valid on the wire is a protocol error (1002); a reason
 * that is not UTF-8 is 1007 (§8.1).
 */
export function decodeClosePayload(payload: Uint8Array): { code: number; reason: string } {
  const n = payload.length;
  if (n === 0) return { code: 1005, reason: "" };
  if (n === 1) throw new ProtocolError("close frame with a 1-byte payload", 1002, { reason: "bad_close_payload" });
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidWireCloseCode(code)) throw new ProtocolError(`close frame with invalid close code ${code}`, 1002, { reason: "bad_close_code" });
  if (n === 2) return { code, reason: "" };
  const reasonBytes = payload.subarray(2);
  if (!isValidUtf8(reasonBytes)) throw new ProtocolError("close reason is not valid UTF-8", 1007, { reason: "invalid_utf8" });
  return { code, reason: Buffer.from(reasonBytes.buffer, reasonBytes.byteOffset, reasonBytes.length).toString("utf8") };
}
