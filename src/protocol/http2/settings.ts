/**
 * Reading a peer's SETTINGS frame (RFC 9113 §6.5): its size, and the values each known parameter
 * may take (§6.5.2; RFC 8441 §3 for ENABLE_CONNECT_PROTOCOL). Unknown parameters are kept for the
 * caller to ignore.
 */
import { DEFAULT_MAX_FRAME_SIZE, ErrorCode, H2ConnectionError, MAX_ALLOWED_FRAME_SIZE, MAX_WINDOW, Setting } from "./frames.js";

/** The `[identifier, value]` pairs of a SETTINGS payload, in order; throws H2ConnectionError for a bad one. */
export function parseSettings(payload: Buffer): Array<[id: number, value: number]> {
  if (payload.length % 6 !== 0) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS of the wrong size");
  const out: Array<[number, number]> = [];
  for (let i = 0; i < payload.length; i += 6) {
    const id = payload.readUInt16BE(i);
    const value = payload.readUInt32BE(i + 2);
    if (id === Setting.INITIAL_WINDOW_SIZE && value > MAX_WINDOW) {
      throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE above 2^31-1");
    }
    if (id === Setting.MAX_FRAME_SIZE && (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_ALLOWED_FRAME_SIZE)) {
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `MAX_FRAME_SIZE ${value} out of range`);
    }
    if (id === Setting.ENABLE_CONNECT_PROTOCOL && value > 1) {
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "invalid SETTINGS_ENABLE_CONNECT_PROTOCOL");
    }
    out.push([id, value]);
  }
  return out;
}
