/**
 * Frame encoding (RFC 6455 §5.2). Pure functions over caller buffers, so the writer can batch
 * many frames into one pooled buffer.
 *
 * ```
 *  byte 0: FIN RSV1 RSV2 RSV3 opcode(4)
 *  byte 1: MASK len7            len7 < 126: the length; 126: 16-bit length follows;
 *                               127: 64-bit length follows (most significant bit 0)
 *  [extended length] [4-byte masking key when MASK] payload
 * ```
 */
import { WebSocketError } from "../errors.js";
import { maskRange, nextMaskKey } from "./mask.js";
import { isControlOpcode } from "./opcodes.js";

/** Largest payload a 64-bit length field may carry here: lengths are JS numbers. */
const MAX_PAYLOAD = Number.MAX_SAFE_INTEGER;

/** Bytes of header before the payload: 2, 4 or 10, plus 4 when masked. */
export function frameHeaderLength(payloadLength: number, masked: boolean): number {
  const base = payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Writes a frame header at `target[offset]` and returns the offset just after it (where the
 * payload goes). With a `maskKey` (a 32-bit key, see {@link nextMaskKey}: its bytes in
 * little-endian order are the key on the wire) the MASK bit is set and the 4 key bytes are
 * written; `null` writes an unmasked (server-side) header. The caller guarantees room for
 * {@link frameHeaderLength} bytes. No allocation.
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  fin: boolean,
  rsv1: boolean,
  opcode: number,
  payloadLength: number,
  maskKey: number | null,
): number {
  let o = offset;
  target[o++] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (opcode & 0x0f);
  const maskBit = maskKey === null ? 0 : 0x80;
  if (payloadLength < 126) {
    target[o++] = maskBit | payloadLength;
  } else if (payloadLength < 0x10000) {
    target[o++] = maskBit | 126;
    target[o++] = payloadLength >>> 8;
    target[o++] = payloadLength & 0xff;
  } else {
    target[o++] = maskBit | 127;
    const hi = Math.floor(payloadLength / 0x100000000);
    const lo = payloadLength >>> 0;
    target[o++] = hi >>> 24;
    target[o++] = (hi >>> 16) & 0xff;
    target[o++] = (hi >>> 8) & 0xff;
    target[o++] = hi & 0xff;
    target[o++] = lo >>> 24;
    target[o++] = (lo >>> 16) & 0xff;
    target[o++] = (lo >>> 8) & 0xff;
    target[o++] = lo & 0xff;
  }
  if (maskKey !== null) {
    target[o++] = maskKey & 0xff;
    target[o++] = (maskKey >>> 8) & 0xff;
    target[o++] = (maskKey >>> 16) & 0xff;
    target[o++] = maskKey >>> 24;
  }
  return o;
}

/**
 * Writes a complete client frame (RFC 6455 §5.2-5.3): header, `key` and `src[start..start+n)`
 * masked with it, at `target[offset]`; returns the offset after it. Room needed:
 * `frameHeaderLength(n, true) + n`. This is what the writer puts on the wire for every frame that
 * is not a small one (see {@link writeSmallClientFrame}); large payloads are masked by the wasm
 * kernel, in place when `target` lies in wasm memory. No allocation.
 */
export function writeClientFrame(
  target: Uint8Array,
  offset: number,
  fin: boolean,
  rsv1: boolean,
  opcode: number,
  src: Uint8Array,
  start: number,
  n: number,
  key: number,
): number {
  const payloadAt = writeFrameHeader(target, offset, fin, rsv1, opcode, n, key);
  // The key is read back from the header just written: no 4-byte view to allocate.
  if (n > 0) maskRange(src, start, start + n, target, payloadAt - 4, target, payloadAt);
  return payloadAt + n;
}

/**
 * The hot path for small messages: a whole client frame whose payload is under 126 bytes and
 * carries no RSV1 (so a 6-byte header), with the payload masked by an unrolled word loop that
 * needs no typed-array views (cheaper than {@link maskRange} at this size). Returns the offset after
 * the frame; room needed: `6 + payload.length`. No allocation.
 */
export function writeSmallClientFrame(target: Uint8Array, offset: number, fin: boolean, opcode: number, payload: Uint8Array, key: number): number {
  const len = payload.length;
  target[offset] = (fin ? 0x80 : 0) | opcode;
  target[offset + 1] = 0x80 | len;
  const k0 = key & 0xff, k1 = (key >>> 8) & 0xff, k2 = (key >>> 16) & 0xff, k3 = key >>> 24;
  target[offset + 2] = k0;
  target[offset + 3] = k1;
  target[offset + 4] = k2;
  target[offset + 5] = k3;
  const o = offset + 6;
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    target[o + i] = payload[i]! ^ k0;
    target[o + i + 1] = payload[i + 1]! ^ k1;
    target[o + i + 2] = payload[i + 2]! ^ k2;
    target[o + i + 3] = payload[i + 3]! ^ k3;
  }
  for (; i < len; i++) target[o + i] = payload[i]! ^ target[offset + 2 + (i & 3)]!;
  return o + len;
}

/**
 * Encodes one frame into a new Buffer. `maskKey` omitted: a fresh random key (client frames are
 * always masked, §5.1); `null`: unmasked (server-side frames, for tests and test peers).
 * Throws {@link WebSocketError} (code 0) for a control frame that breaks §5.5 or a bad opcode.
 */
export function encodeFrame(opts: {
  opcode: number;
  payload?: Uint8Array;
  fin?: boolean;
  rsv1?: boolean;
  maskKey?: Uint8Array | null;
}): Buffer {
  const { opcode } = opts;
  const payload = opts.payload ?? new Uint8Array(0);
  const fin = opts.fin ?? true;
  const len = payload.length;
  if (!Number.isInteger(opcode) || opcode < 0 || opcode > 15) {
    throw new WebSocketError(`invalid opcode ${String(opcode)}`, 0);
  }
  if (isControlOpcode(opcode) && (len > 125 || !fin)) {
    throw new WebSocketError("control frames must be final and carry at most 125 bytes", 0);
  }
  if (len > MAX_PAYLOAD) throw new WebSocketError("payload too large", 0);
  const bytes = opts.maskKey;
  const rsv1 = opts.rsv1 ?? false;
  if (bytes === null) {
    const out = Buffer.allocUnsafe(frameHeaderLength(len, false) + len);
    out.set(payload, writeFrameHeader(out, 0, fin, rsv1, opcode, len, null));
    return out;
  }
  // A given key's bytes, in wire order, as the 32-bit number the frame writers take.
  const key = bytes === undefined ? nextMaskKey() : (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
  const out = Buffer.allocUnsafe(frameHeaderLength(len, true) + len);
  writeClientFrame(out, 0, fin, rsv1, opcode, payload, 0, len, key);
  return out;
}
