/**
 * HTTP/2 frames (RFC 9113 §4.1, §6): the 9-octet header, encoders for the frames a client sends,
 * and a reader that cuts a byte stream into frames without copying whole frames it can view.
 */
import { ProtocolError } from "../../errors.js";

/** Frame types (RFC 9113 §6). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Frame flags (RFC 9113 §6). */
export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** SETTINGS identifiers (RFC 9113 §6.5.2; 8 from RFC 8441 §3). */
export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
  ENABLE_CONNECT_PROTOCOL: 0x8,
} as const;

/** Error codes (RFC 9113 §7). */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

const ERROR_NAMES = Object.fromEntries(Object.entries(ErrorCode).map(([k, v]) => [v, k])) as Record<number, string>;

/** `CANCEL (0x8)`-style name of an error code, for messages. */
export function errorCodeName(code: number): string {
  return `${ERROR_NAMES[code] ?? "unknown error"} (0x${code.toString(16)})`;
}

/** The client connection preface (RFC 9113 §3.4). */
export const PREFACE: Buffer = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** Largest frame payload anyone may send before SETTINGS say otherwise (§4.2), and the largest allowed at all. */
export const DEFAULT_MAX_FRAME_SIZE = 16384;
export const MAX_ALLOWED_FRAME_SIZE = 16777215;
/** §6.9.1: windows never exceed 2^31 - 1. */
export const MAX_WINDOW = 0x7fffffff;

/** Writes a frame header into `buf` at `at`. */
export function writeFrameHeader(buf: Uint8Array, at: number, length: number, type: number, flags: number, streamId: number): void {
  buf[at] = (length >>> 16) & 0xff;
  buf[at + 1] = (length >>> 8) & 0xff;
  buf[at + 2] = length & 0xff;
  buf[at + 3] = type;
  buf[at + 4] = flags;
  buf[at + 5] = (streamId >>> 24) & 0x7f;
  buf[at + 6] = (streamId >>> 16) & 0xff;
  buf[at + 7] = (streamId >>> 8) & 0xff;
  buf[at + 8] = streamId & 0xff;
}

/** A frame header alone (DATA payloads travel beside it, uncopied). */
export function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const b = Buffer.allocUnsafe(9);
  writeFrameHeader(b, 0, length, type, flags, streamId);
  return b;
}

/** A complete frame with a small payload. */
export function encodeFrame(type: number, flags: number, streamId: number, payload: Uint8Array = EMPTY): Buffer {
  const b = Buffer.allocUnsafe(9 + payload.length);
  writeFrameHeader(b, 0, payload.length, type, flags, streamId);
  b.set(payload, 9);
  return b;
}

const EMPTY = new Uint8Array(0);

/** SETTINGS (§6.5) with the parameters in the given order, or an empty ACK. */
export function encodeSettings(settings: ReadonlyArray<readonly [number, number]>, ack = false): Buffer {
  if (ack) return encodeFrame(FrameType.SETTINGS, Flag.ACK, 0);
  const p = Buffer.allocUnsafe(6 * settings.length);
  settings.forEach(([id, value], i) => {
    p.writeUInt16BE(id, 6 * i);
    p.writeUInt32BE(value >>> 0, 6 * i + 2);
  });
  return encodeFrame(FrameType.SETTINGS, 0, 0, p);
}

/** WINDOW_UPDATE (§6.9). */
export function encodeWindowUpdate(streamId: number, increment: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(increment & MAX_WINDOW);
  return encodeFrame(FrameType.WINDOW_UPDATE, 0, streamId, p);
}

/** PING (§6.7) with its 8 opaque octets. */
export function encodePing(data: Uint8Array, ack: boolean): Buffer {
  return encodeFrame(FrameType.PING, ack ? Flag.ACK : 0, 0, data);
}

/** RST_STREAM (§6.4). */
export function encodeRstStream(streamId: number, code: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(code >>> 0);
  return encodeFrame(FrameType.RST_STREAM, 0, streamId, p);
}

/** GOAWAY (§6.8). */
export function encodeGoaway(lastStreamId: number, code: number, debug: Uint8Array = EMPTY): Buffer {
  const p = Buffer.allocUnsafe(8 + debug.length);
  p.writeUInt32BE(lastStreamId & MAX_WINDOW);
  p.writeUInt32BE(code >>> 0, 4);
  p.set(debug, 8);
  return encodeFrame(FrameType.GOAWAY, 0, 0, p);
}

/** Priority fields of HEADERS (§6.2; deprecated by RFC 9113 §5.3.2 but still sent by browsers). */
export interface PriorityFields {
  exclusive: boolean;
  dependency: number;
  /** The wire byte (weight - 1), 0–255. */
  weight: number;
}

/** PRIORITY (§6.3), as old Firefox sent after its SETTINGS. */
export function encodePriority(streamId: number, p: PriorityFields): Buffer {
  const b = Buffer.allocUnsafe(5);
  b.writeUInt32BE(((p.dependency & MAX_WINDOW) | (p.exclusive ? 0x80000000 : 0)) >>> 0);
  b[4] = p.weight & 0xff;
  return encodeFrame(FrameType.PRIORITY, 0, streamId, b);
}

/** HEADERS (§6.2) plus CONTINUATION frames (§6.10) when the block exceeds `maxFrameSize`. */
export function encodeHeaders(
  streamId: number,
  block: Uint8Array,
  opts: { endStream: boolean; priority: PriorityFields | null; maxFrameSize: number },
): Buffer[] {
  const prio = opts.priority ? 5 : 0;
  const first = Math.min(block.length, opts.maxFrameSize - prio);
  const frames: Buffer[] = [];
  let flags = (opts.endStream ? Flag.END_STREAM : 0) | (opts.priority ? Flag.PRIORITY : 0);
  if (first === block.length) flags |= Flag.END_HEADERS;
  const h = Buffer.allocUnsafe(9 + prio + first);
  writeFrameHeader(h, 0, prio + first, FrameType.HEADERS, flags, streamId);
  if (opts.priority) {
    const dep = (opts.priority.dependency & MAX_WINDOW) | (opts.priority.exclusive ? 0x80000000 : 0);
    h.writeUInt32BE(dep >>> 0, 9);
    h[13] = opts.priority.weight & 0xff;
  }
  h.set(block.subarray(0, first), 9 + prio);
  frames.push(h);
  for (let at = first; at < block.length; at += opts.maxFrameSize) {
    const part = block.subarray(at, Math.min(block.length, at + opts.maxFrameSize));
    const end = at + part.length >= block.length ? Flag.END_HEADERS : 0;
    frames.push(encodeFrame(FrameType.CONTINUATION, end, streamId, part));
  }
  return frames;
}

/** One received frame; `payload` may view the reader's input and is valid until the next push. */
export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/**
 * Cuts incoming bytes into frames without copying what it can view. An unpadded DATA frame whose
 * payload straddles reads is delivered in pieces as they arrive (each a DATA "frame" with the
 * frame's flags, END_STREAM only on the last piece), so large messages are not gathered twice;
 * other frames that straddle reads are copied once complete. Buffering is bounded by the largest
 * frame we allow (our SETTINGS_MAX_FRAME_SIZE, §4.2: a larger one is a FRAME_SIZE_ERROR).
 */
export class FrameReader {
  #maxFrameSize: number;
  #pending: Buffer | null = null;
  /** Payload bytes still to come of the DATA frame being streamed, its flags and stream. */
  #dataLeft = 0;
  #dataFlags = 0;
  #dataStream = 0;

  constructor(maxFrameSize = DEFAULT_MAX_FRAME_SIZE) {
    this.#maxFrameSize = maxFrameSize;
  }

  /** Bytes held back waiting for the rest of a frame. */
  get buffered(): number {
    return this.#pending?.length ?? 0;
  }

  /** Calls `onFrame` for each complete frame (or DATA piece) in `chunk` (after any held-back bytes). */
  push(chunk: Buffer, onFrame: (f: Frame) => void): void {
    let buf = chunk;
    let pos = 0;
    if (this.#dataLeft > 0) {
      const n = Math.min(this.#dataLeft, buf.length);
      this.#dataLeft -= n;
      const flags = this.#dataLeft === 0 ? this.#dataFlags : this.#dataFlags & ~Flag.END_STREAM;
      onFrame({ type: FrameType.DATA, flags, streamId: this.#dataStream, payload: buf.subarray(0, n) });
      pos = n;
    }
    if (this.#pending) {
      buf = Buffer.concat([this.#pending, buf.subarray(pos)]);
      pos = 0;
      this.#pending = null;
    }
    while (buf.length - pos >= 9) {
      const length = (buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!;
      if (length > this.#maxFrameSize) {
        throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `a ${length}-byte frame exceeds our limit of ${this.#maxFrameSize}`);
      }
      const type = buf[pos + 3]!;
      const flags = buf[pos + 4]!;
      const streamId = buf.readUInt32BE(pos + 5) & MAX_WINDOW;
      const avail = buf.length - pos - 9;
      if (avail < length) {
        if (type !== FrameType.DATA || flags & Flag.PADDED) break;
        // Stream the DATA payload: what is here now, the rest from the next reads.
        this.#dataLeft = length - avail;
        this.#dataFlags = flags;
        this.#dataStream = streamId;
        if (avail > 0) onFrame({ type, flags: flags & ~Flag.END_STREAM, streamId, payload: buf.subarray(pos + 9) });
        return;
      }
      const frame: Frame = { type, flags, streamId, payload: buf.subarray(pos + 9, pos + 9 + length) };
      pos += 9 + length;
      onFrame(frame);
    }
    if (pos < buf.length) this.#pending = Buffer.from(buf.subarray(pos));
  }
}

/**
 * A connection error (RFC 9113 §5.4.1): the connection sends GOAWAY with `h2code` and ends.
 * Surfaces as a ProtocolError (close code 1002) naming the HTTP/2 error.
 */
export class H2ConnectionError extends ProtocolError {
  /** The HTTP/2 error code (RFC 9113 §7). */
  readonly h2code: number;

  constructor(h2code: number, detail: string) {
    super(`HTTP/2 protocol error ${errorCodeName(h2code)}: ${detail}`, 1002, { reason: "http2_violation" });
    this.h2code = h2code;
  }
}
