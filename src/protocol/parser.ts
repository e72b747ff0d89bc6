/**
 * Incremental, pull-based frame parser for frames a server sends to us (RFC 6455 §5).
 *
 * `push` hands over socket chunks (kept by reference: socket chunks are never reused);
 * `next` returns one event at a time, or null when it needs more bytes. Zero-copy: a frame
 * payload that lies inside one pushed chunk is returned as a `subarray` of it. A frame that
 * spans chunks is assembled into one buffer allocated at its known length; a fragmented message
 * is joined once, at its final frame.
 *
 * The parser keeps an index into the current chunk rather than re-slicing its input, and the
 * hot path — a small unfragmented frame inside one chunk — is a few byte reads, one subarray
 * and one event object.
 */
import { isUtf8 } from "node:buffer";
import { ProtocolError, type ProtocolErrorReason } from "../errors.js";
import { bufferView } from "./buffer-view.js";
import { decodeClosePayload } from "./close.js";
import { Utf8Validator } from "./utf8.js";

/** What {@link FrameParser.next} produces. */
export type FrameEvent =
  | { kind: "message"; opcode: 1 | 2; data: Buffer; compressed: boolean }
  | { kind: "ping"; data: Buffer }
  | { kind: "pong"; data: Buffer }
  | { kind: "close"; code: number; reason: string; data: Buffer };

/** Options of {@link FrameParser}. */
export interface FrameParserOptions {
  /** Largest message (sum of its frames' payloads) accepted; more is a 1009 error. */
  maxMessageSize: number;
  /** RSV1 means "compressed" (permessage-deflate, RFC 7692 §6); only set when negotiated. */
  rsv1Allowed?: boolean;
}

const EMPTY = Buffer.alloc(0);
/**
 * Scratch for a frame header split across chunks (at most 2 + 8 bytes; masked frames fail
 * first). Shared by every parser: it is filled and read within one synchronous call, and an idle
 * connection should not own a buffer of its own.
 */
const HDR_SCRATCH = Buffer.alloc(10);
const NO_FRAGMENTS: Buffer[] = Object.freeze([]) as unknown as Buffer[];
/**
 * The event object of the hot path (a whole small message inside one chunk), shared and reused
 * from call to call so that receiving millions of small messages does not also allocate millions
 * of event objects. Callers read an event before calling next() again (on any parser).
 */
const HOT_EVENT: { kind: "message"; opcode: 1 | 2; data: Buffer; compressed: false } = {
  kind: "message",
  opcode: 2,
  data: EMPTY,
  compressed: false,
};

/** True when all `n` bytes of `b` from `start` are ASCII (valid UTF-8 with no call into C++). */
function isAsciiRange(b: Buffer, start: number, n: number): boolean {
  const end = start + n;
  for (let i = start; i < end; i++) if (b[i]! >= 0x80) return false;
  return true;
}

/**
 * Parses frames from a server (RFC 6455 §5.2) into events; see the module comment. One parser per
 * connection, fed in socket order.
 */
export class FrameParser {
  #maxMessageSize: number;
  #rsv1Allowed: boolean;

  /** Pushed chunks not yet fully read; `#chunks[#head]` is the current one, read from `#pos`. */
  #chunks: Buffer[] = [];
  #head = 0;
  #pos = 0;
  /** Unread bytes in `#chunks`. */
  #queued = 0;
  /**
   * `.buffer` / `.byteOffset` of the chunk last sliced in the hot path. Reading them costs
   * ~15 ns each in Node 20 (and `Buffer#subarray` reads both), so they are read once per chunk
   * and slices are made with {@link bufferView}.
   */
  #sliceChunk: Buffer | null = null;
  #sliceAb: ArrayBufferLike = EMPTY.buffer;
  #sliceBase = 0;

  /** Header of the frame whose payload is being assembled across chunks (`#frameBuf` non-null). */
  #frameBuf: Buffer | null = null;
  #frameFill = 0;
  #frameB0 = 0;
  /**
   * The frame being assembled is (part of) an uncompressed TEXT message: its bytes go through
   * `#utf8` as they arrive, so bad UTF-8 fails before the rest of a large frame is buffered.
   */
  #frameText = false;
  /** Scratch for a header split across chunks (at most 2 + 8 bytes; masked frames fail first). */
  // (A header split across chunks is copied into the module-level HDR_SCRATCH and read at once.)

  /** Fragmented message in progress: opcode 0 means none. */
  #msgOpcode = 0;
  #msgCompressed = false;
  #msgLength = 0;
  /** Fragments of the open message; the shared NO_FRAGMENTS until the first one (idle parsers allocate nothing). */
  #fragments: Buffer[] = NO_FRAGMENTS;
  #utf8Validator: Utf8Validator | undefined;

  #error: ProtocolError | null = null;


  constructor(opts: FrameParserOptions) {
    this.#maxMessageSize = opts.maxMessageSize;
    this.#rsv1Allowed = opts.rsv1Allowed ?? false;
  }

  /** The incremental validator for fragmented text, created on first use. */
  #utf8(): Utf8Validator {
    return (this.#utf8Validator ??= new Utf8Validator());
  }

  /** Set after the handshake negotiated permessage-deflate. */
  set rsv1Allowed(v: boolean) {
    this.#rsv1Allowed = v;
  }

  get rsv1Allowed(): boolean {
    return this.#rsv1Allowed;
  }

  /** Bytes pushed but not yet turned into events (queued input plus partial frames/messages). */
  get bufferedBytes(): number {
    return this.#queued + this.#frameFill + this.#msgLength;
  }

  /** Adds input. The chunk is kept by reference and must not be modified afterwards. */
  push(chunk: Buffer): void {
    if (this.#error || chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#queued += chunk.length;
  }

  /**
   * Where the next input bytes may be written in place instead of pushed: the unfilled rest of a
   * frame payload that is being assembled, when no other input is queued and at least `min`
   * bytes of it remain. An I/O layer can read from its socket straight into this view (saving a
   * copy per byte of large messages) and must then call {@link commitDirect} with the count
   * before anything else is pushed. Null when input must go through {@link push}.
   */
  directTarget(min: number): Buffer | null {
    const buf = this.#frameBuf;
    if (buf === null || this.#queued !== 0 || this.#error !== null) return null;
    const fill = this.#frameFill;
    return buf.length - fill >= min ? buf.subarray(fill) : null;
  }

  /**
   * Records that `n` bytes were written at the start of the last {@link directTarget} view.
   * A UTF-8 violation in them fails the parser: the next {@link next} call throws it.
   */
  commitDirect(n: number): void {
    if (this.#error !== null) return;
    const buf = this.#frameBuf;
    const from = this.#frameFill;
    if (buf === null || this.#queued !== 0 || !(n > 0) || from + n > buf.length) {
      throw new RangeError("commitDirect without a matching directTarget");
    }
    this.#frameFill = from + n;
    if (this.#frameText && !this.#utf8().push(buf.subarray(from, from + n))) {
      this.#fail(1007, "invalid UTF-8 in a text message", "invalid_utf8");
    }
  }

  /**
   * The next event, or null when more input is needed. Throws {@link ProtocolError} (code 1002,
   * 1007 or 1009) on a violation, and the same error on every later call. The returned object
   * may be reused by the next call (its `data` never is): read what you need from it first.
   */
  next(): FrameEvent | null {
    if (this.#error) throw this.#error;
    for (;;) {
      let payload: Buffer;
      let b0: number;
      let textChecked = false;
      if (this.#frameBuf !== null) {
        // Continue assembling a frame that spans chunks.
        if (!this.#fillFrame()) return null;
        payload = this.#frameBuf;
        b0 = this.#frameB0;
        this.#frameBuf = null;
        this.#frameFill = 0;
        textChecked = this.#frameText;
      } else {
        if (this.#queued < 2) return null;
        const chunk = this.#chunks[this.#head]!;
        let pos = this.#pos;
        const avail = chunk.length - pos;
        b0 = chunk[pos]!;
        let len: number;
        let hdrLen: number;
        if (avail >= 2) {
          const b1 = chunk[pos + 1]!;
          len = b1 & 0x7f;
          // Hot path: final TEXT/BINARY frame, no RSV bits, unmasked, short, inside this chunk,
          // no fragmented message open.
          if ((b0 === 0x82 || b0 === 0x81) && b1 < 126 && avail >= 2 + len && this.#msgOpcode === 0) {
            if (len > this.#maxMessageSize) throw this.#fail(1009, `message of ${len} bytes exceeds maxMessageSize`, "message_too_big");
            pos += 2;
            const end = pos + len;
            if (chunk !== this.#sliceChunk) {
              this.#sliceChunk = chunk;
              this.#sliceAb = chunk.buffer;
              this.#sliceBase = chunk.byteOffset;
            }
            const data = bufferView(this.#sliceAb, this.#sliceBase + pos, len);
            if (b0 === 0x81 && !((len <= 32 && isAsciiRange(chunk, pos, len)) || isUtf8(data))) {
              throw this.#fail(1007, "invalid UTF-8 in a text message", "invalid_utf8");
            }
            if (end < chunk.length) {
              this.#pos = end;
              this.#queued -= 2 + len;
            } else {
              this.#consume(2 + len);
            }
            const ev = HOT_EVENT;
            ev.opcode = (b0 & 0x0f) as 1 | 2;
            ev.data = data;
            return ev;
          }
          if (b1 & 0x80) throw this.#fail(1002, "the server sent a masked frame", "masked_frame");
        } else {
          // Header split across chunks: look at byte 1 in the next chunk.
          const b1 = this.#chunks[this.#head + 1]![0]!;
          if (b1 & 0x80) throw this.#fail(1002, "the server sent a masked frame", "masked_frame");
          len = b1 & 0x7f;
        }
        // A control frame can never need an extended length (§5.5); fail before waiting for it.
        if (len > 125 && (b0 & 0x08) !== 0) throw this.#fail(1002, "control frame with a payload over 125 bytes", "control_too_long");
        hdrLen = len < 126 ? 2 : len === 126 ? 4 : 10;
        if (this.#queued < hdrLen) return null;
        let hdr: Uint8Array;
        let h: number;
        if (avail >= hdrLen) {
          hdr = chunk;
          h = pos;
        } else {
          this.#copyOut(HDR_SCRATCH, 0, hdrLen);
          hdr = HDR_SCRATCH;
          h = 0;
        }
        if (len === 126) {
          len = (hdr[h + 2]! << 8) | hdr[h + 3]!;
        } else if (len === 127) {
          const hi = ((hdr[h + 2]! << 24) | (hdr[h + 3]! << 16) | (hdr[h + 4]! << 8) | hdr[h + 5]!) >>> 0;
          if (hi >= 0x80000000) throw this.#fail(1002, "64-bit payload length with the most significant bit set", "bad_length");
          const lo = ((hdr[h + 6]! << 24) | (hdr[h + 7]! << 16) | (hdr[h + 8]! << 8) | hdr[h + 9]!) >>> 0;
          len = hi * 0x100000000 + lo;
        }
        this.#checkHeader(b0, len);
        if (avail >= hdrLen) this.#consume(hdrLen);
        // Payload: zero-copy when it lies inside the current chunk.
        const cur = this.#chunks[this.#head];
        if (len === 0) {
          payload = EMPTY;
        } else if (cur !== undefined && cur.length - this.#pos >= len) {
          payload = cur.subarray(this.#pos, this.#pos + len);
          this.#consume(len);
        } else {
          this.#frameBuf = Buffer.allocUnsafe(len);
          this.#frameFill = 0;
          this.#frameB0 = b0;
          const op = b0 & 0x0f;
          this.#frameText =
            (op === 1 && (b0 & 0x40) === 0) || (op === 0 && this.#msgOpcode === 1 && !this.#msgCompressed);
          if (!this.#fillFrame()) return null;
          payload = this.#frameBuf;
          this.#frameBuf = null;
          this.#frameFill = 0;
          textChecked = this.#frameText;
        }
      }
      const ev = this.#onFrame(b0, payload, textChecked);
      if (ev !== null) return ev;
    }
  }

  /** RFC 6455 §5.2, §5.4, §5.5 checks on a frame header, and the 1009 size limit. */
  #checkHeader(b0: number, len: number): void {
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    if (b0 & 0x30) throw this.#fail(1002, "RSV2/RSV3 set without a negotiated extension", "reserved_bits");
    const rsv1 = (b0 & 0x40) !== 0;
    if (opcode >= 8) {
      if (opcode > 10) throw this.#fail(1002, `reserved control opcode ${opcode}`, "bad_opcode");
      if (!fin) throw this.#fail(1002, "fragmented control frame", "fragmented_control");
      if (len > 125) throw this.#fail(1002, `control frame with a ${len}-byte payload (max 125)`, "control_too_long");
      if (rsv1) throw this.#fail(1002, "RSV1 set on a control frame", "reserved_bits");
      return;
    }
    if (opcode === 0) {
      if (this.#msgOpcode === 0) throw this.#fail(1002, "continuation frame without a message to continue", "bad_continuation");
      if (rsv1) throw this.#fail(1002, "RSV1 set on a continuation frame", "reserved_bits");
    } else if (opcode <= 2) {
      if (this.#msgOpcode !== 0) throw this.#fail(1002, "new data frame inside a fragmented message", "bad_continuation");
      if (rsv1 && !this.#rsv1Allowed) throw this.#fail(1002, "RSV1 set without permessage-deflate", "reserved_bits");
    } else {
      throw this.#fail(1002, `reserved data opcode ${opcode}`, "bad_opcode");
    }
    if (this.#msgLength + len > this.#maxMessageSize) {
      throw this.#fail(1009, `message of at least ${this.#msgLength + len} bytes exceeds maxMessageSize`, "message_too_big");
    }
  }

  /**
   * Turns a complete frame into an event (or null for a non-final fragment). `textChecked`: the
   * payload already went through `#utf8` while it was assembled.
   */
  #onFrame(b0: number, payload: Buffer, textChecked: boolean): FrameEvent | null {
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    if (opcode === 9) return { kind: "ping", data: payload };
    if (opcode === 10) return { kind: "pong", data: payload };
    if (opcode === 8) {
      let cr: { code: number; reason: string };
      try {
        cr = decodeClosePayload(payload);
      } catch (e) {
        if (e instanceof ProtocolError) throw this.#fail(e.code, e.message, e.reason);
        throw e;
      }
      return { kind: "close", code: cr.code, reason: cr.reason, data: payload };
    }
    if (opcode !== 0) {
      // First frame of a message.
      const compressed = (b0 & 0x40) !== 0;
      if (fin) {
        if (opcode === 1 && !compressed) {
          if (textChecked) {
            const ok = this.#utf8().end();
            this.#utf8Validator?.reset();
            if (!ok) throw this.#fail(1007, "text message ends inside a UTF-8 sequence", "invalid_utf8");
          } else if (!isUtf8(payload)) {
            throw this.#fail(1007, "invalid UTF-8 in a text message", "invalid_utf8");
          }
        }
        return { kind: "message", opcode: opcode as 1 | 2, data: payload, compressed };
      }
      this.#msgOpcode = opcode;
      this.#msgCompressed = compressed;
    }
    this.#msgLength += payload.length;
    if (payload.length > 0) {
      if (this.#fragments === NO_FRAGMENTS) this.#fragments = [];
      this.#fragments.push(payload);
    }
    if (this.#msgOpcode === 1 && !this.#msgCompressed) {
      // Validate each fragment as it completes, carrying a split code point (§8.1).
      if (!textChecked && !this.#utf8().push(payload)) throw this.#fail(1007, "invalid UTF-8 in a text message", "invalid_utf8");
      if (fin && !this.#utf8().end()) throw this.#fail(1007, "text message ends inside a UTF-8 sequence", "invalid_utf8");
    }
    if (!fin) return null;
    const frags = this.#fragments;
    const data = frags.length === 1 ? frags[0]! : frags.length === 0 ? EMPTY : Buffer.concat(frags, this.#msgLength);
    const ev: FrameEvent = { kind: "message", opcode: this.#msgOpcode as 1 | 2, data, compressed: this.#msgCompressed };
    this.#msgOpcode = 0;
    this.#msgCompressed = false;
    this.#msgLength = 0;
    this.#fragments = NO_FRAGMENTS;
    this.#utf8Validator?.reset();
    return ev;
  }

  /** Copies queued input into `#frameBuf`; true once it is full. */
  #fillFrame(): boolean {
    const buf = this.#frameBuf!;
    const want = buf.length - this.#frameFill;
    const n = Math.min(want, this.#queued);
    if (n > 0) {
      const from = this.#frameFill;
      this.#copyOut(buf, from, n);
      this.#frameFill = from + n;
      if (this.#frameText && !this.#utf8().push(buf.subarray(from, from + n))) {
        throw this.#fail(1007, "invalid UTF-8 in a text message", "invalid_utf8");
      }
    }
    return this.#frameFill === buf.length;
  }

  /** Copies the next `n` queued bytes (n ≤ #queued) into `dst` at `off` and consumes them. */
  #copyOut(dst: Uint8Array, off: number, n: number): void {
    let head = this.#head;
    let pos = this.#pos;
    let left = n;
    while (left > 0) {
      const c = this.#chunks[head]!;
      const take = Math.min(left, c.length - pos);
      dst.set(take === c.length ? c : c.subarray(pos, pos + take), off);
      off += take;
      left -= take;
      pos += take;
      if (pos === c.length) {
        head++;
        pos = 0;
      }
    }
    this.#advanceTo(head, pos, n);
  }

  /** Moves the read position forward by `n` bytes (n ≤ #queued). */
  #consume(n: number): void {
    let head = this.#head;
    let pos = this.#pos + n;
    let c = this.#chunks[head];
    while (c !== undefined && pos >= c.length) {
      pos -= c.length;
      head++;
      c = this.#chunks[head];
    }
    this.#advanceTo(head, pos, n);
  }

  #advanceTo(head: number, pos: number, n: number): void {
    this.#queued -= n;
    if (head >= this.#chunks.length) {
      // Everything read: drop the references so the chunks can be collected. (Setting
      // `length = 0` is a slow runtime call, measured at ~2 µs per 16 KiB TLS chunk.)
      if (this.#chunks.length === 1) this.#chunks.pop();
      else this.#chunks = [];
      this.#head = 0;
      this.#pos = 0;
      this.#sliceChunk = null;
      this.#sliceAb = EMPTY.buffer;
      return;
    }
    if (head > 32 && head * 2 > this.#chunks.length) {
      this.#chunks.splice(0, head);
      head = 0;
    } else if (head > this.#head) {
      for (let i = this.#head; i < head; i++) (this.#chunks as Array<Buffer | undefined>)[i] = undefined;
    }
    this.#head = head;
    this.#pos = pos;
  }

  #fail(code: number, message: string, reason: ProtocolErrorReason): ProtocolError {
    this.#error = new ProtocolError(message, code, { reason });
    // Release buffered input; the parser is unusable from now on.
    this.#chunks = [];
    this.#head = 0;
    this.#pos = 0;
    this.#queued = 0;
    this.#sliceChunk = null;
    this.#sliceAb = EMPTY.buffer;
    this.#frameBuf = null;
    this.#frameFill = 0;
    this.#frameText = false;
    this.#fragments = NO_FRAGMENTS;
    this.#msgLength = 0;
    return this.#error;
  }
}
