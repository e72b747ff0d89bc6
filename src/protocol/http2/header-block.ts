/**
 * Assembles a header block from HEADERS and CONTINUATION frames (RFC 9113 §4.3, §6.10): nothing
 * may come between them, and the compressed size is bounded so a peer cannot make us buffer
 * without limit.
 */
import { ErrorCode, Flag, FrameType, H2ConnectionError, type Frame } from "./frames.js";

/** A complete header block, ready for HPACK. */
export interface HeaderBlock {
  streamId: number;
  /** Flags of the HEADERS frame (END_STREAM matters). */
  flags: number;
  block: Buffer;
}

export class HeaderBlockAssembler {
  readonly #limit: number;
  #streamId = 0;
  #flags = 0;
  #parts: Buffer[] = [];
  #size = 0;
  #open = false;

  /** `limit`: largest compressed block accepted (a block need never exceed the decoded list bound). */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** A block is waiting for CONTINUATION frames: any other frame now is a connection error. */
  get pending(): boolean {
    return this.#open;
  }

  /**
   * Takes a HEADERS frame (its fragment already without padding and priority fields) or a
   * CONTINUATION; returns the block once END_HEADERS arrived, else null.
   */
  push(f: Frame, fragment: Buffer): HeaderBlock | null {
    if (f.type === FrameType.HEADERS) {
      this.#streamId = f.streamId;
      this.#flags = f.flags;
      this.#parts = [];
      this.#size = 0;
      this.#open = true;
    } else if (!this.#open || f.streamId !== this.#streamId) {
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "CONTINUATION without a header block");
    }
    this.#size += fragment.length;
    if (this.#size > this.#limit) throw new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "the server's header block is too large");
    if (!(f.flags & Flag.END_HEADERS)) {
      // The fragment views the reader's input, which is reused after this push: keep a copy.
      this.#parts.push(Buffer.from(fragment));
      return null;
    }
    this.#parts.push(fragment);
    this.#open = false;
    const block = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#size);
    this.#parts = [];
    return { streamId: this.#streamId, flags: this.#flags, block };
  }
}
