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
import { MaskKeySource, maskRange } from "./mask.js";
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
 * payload goes). With a `maskKey` the MASK bit is set and the 4 key bytes are written; the
 * caller masks the payload (see {@link writeMaskedFrame} for both in one call). The caller
 * guarantees room for {@link frameHeaderLength} bytes.
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  fin: boolean,
  rsv1: boolean,
  opcode: number,
  payloadLength: number,
  maskKey: Uint8Array | null,
): number {
  let o = offset;
  target[o++] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (opcode & 0x0f);
  const maskBit = maskKey ? 0x80 : 0;
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
  if (maskKey) {
    target[o++] = maskKey[0]!;
    target[o++] = maskKey[1]!;
    target[o++] = maskKey[2]!;
    target[o++] = maskKey[3]!;
  }
  return o;
}

/**
 * Writes a complete client frame — header, a fresh key from `keys`, and `payload` masked with
 * it — at `target[offset]`, and returns the offset after it. Room needed:
 * `frameHeaderLength(payload.length, true) + payload.length`. No allocation.
 */
export function writeMaskedFrame(
  target: Uint8Array,
  offset: number,
  fin: boolean,
  rsv1: boolean,
  opcode: number,
  payload: Uint8Array,
  keys: MaskKeySource,
): number {
  const len = payload.length;
  // Header with a placeholder key, then the key written straight from the pool.
  const keyAt = writeFrameHeader(target, offset, fin, rsv1, opcode, len, null);
  target[offset + 1] = target[offset + 1]! | 0x80;
  keys.writeKey(target, keyAt);
  const payloadAt = keyAt + 4;
  if (len > 0) maskRange(payload, 0, len, target, keyAt, target, payloadAt);
  return payloadAt + len;
}

let defaultKeys: MaskKeySource | undefined;

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
  let key = opts.maskKey;
  if (key === undefined) key = (defaultKeys ??= new MaskKeySource()).next();
  const out = Buffer.allocUnsafe(frameHeaderLength(len, key !== null) + len);
  const at = writeFrameHeader(out, 0, fin, opts.rsv1 ?? false, opcode, len, key);
  if (key === null) out.set(payload, at);
  else if (len > 0) maskRange(payload, 0, len, key, 0, out, at);
  return out;
}
