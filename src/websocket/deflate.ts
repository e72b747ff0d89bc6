/**
 * permessage-deflate codec (RFC 7692 §7.2), client side, on top of node:zlib.
 *
 * - `compress()` returns the payload of a compressed message (§7.2.1): DEFLATE with a sync flush, the
 *   trailing `00 00 ff ff` removed. The caller sets RSV1 on the first frame.
 * - `decompress()` appends `00 00 ff ff` and inflates (§7.2.2), enforcing `maxMessageSize` on the inflated
 *   size while inflating: a decompression bomb is stopped at the first output chunk (16 KiB) past the limit.
 * - Context takeover follows the agreed parameters: our deflater keeps its LZ77 window between messages
 *   unless `client_no_context_takeover`, our inflater unless `server_no_context_takeover`. Streams are
 *   created lazily and freed after each message when their direction does not take over the context, so an
 *   idle connection without context takeover holds no zlib memory at all.
 * - Calls are processed strictly in call order per direction (compress calls among themselves, decompress
 *   calls among themselves; the two directions are independent streams). Callers may fire several calls
 *   without awaiting.
 * - Process-wide, at most {@link setZlibConcurrency} (default 10) zlib jobs run at once across every
 *   connection, in FIFO order, so that compression cannot monopolise libuv's threadpool (4 threads by
 *   default, shared with dns.lookup and file I/O). node:zlib submits one threadpool work item per 16 KiB
 *   output chunk and libuv's queue is FIFO, so with at most N jobs in flight other threadpool work waits
 *   behind at most N small items, however many connections are inflating large messages.
 *
 * Memory per idle connection (Node 20, zlib 1.3, 1,000 instances after one message each way, RSS / JS
 * heap / external per instance): context takeover both ways with 15-bit windows ~240 KiB / 3 KiB / 32 KiB
 * (the deflater's state dominates: 2^(windowBits+2) + 2^(memLevel+9) bytes; the inflater keeps a
 * 2^windowBits window; each stream keeps a 16 KiB output buffer); with 12-bit windows ~125 KiB; without
 * context takeover nothing is retained (~20 KiB RSS of allocator high-water mark, 0 external).
 */
import zlib from "node:zlib";
import { ProtocolError, WebSocketError } from "../errors.js";
import type { DeflateParams } from "../protocol/extensions.js";

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** §7.2.3.6: an empty DEFLATE block with no compression, minus the tail, is the single byte 0x00. */
const EMPTY_PAYLOAD = Buffer.from([0x00]);

// ---------------------------------------------------------------------------------------------
// Process-wide limiter

const DEFAULT_CONCURRENCY = 10;

class ZlibLimiter {
  limit = DEFAULT_CONCURRENCY;
  running = 0;
  peak = 0;
  #queue: Array<() => void> = [];
  #head = 0;

  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Calls `start` now if a slot is free, else when one frees up (FIFO). `start` must lead to one release(). */
  acquire(start: () => void): void {
    if (this.running < this.limit && this.queued === 0) {
      this.#grant(start);
    } else {
      this.#queue.push(start);
    }
  }

  release(): void {
    this.running--;
    this.drain();
  }

  drain(): void {
    while (this.running < this.limit && this.#head < this.#queue.length) {
      const next = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as () => void;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      this.#grant(next);
    }
  }

  #grant(start: () => void): void {
    this.running++;
    if (this.running > this.peak) this.peak = this.running;
    start();
  }
}

const limiter = new ZlibLimiter();

/**
 * Sets how many zlib jobs (one compress or decompress call each) may run at once across the whole
 * process (default 10). Raising it starts waiting jobs at once; lowering it lets running jobs finish.
 * Also resets the peak reported by {@link zlibJobStats}.
 */
export function setZlibConcurrency(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new WebSocketError(`zlib concurrency must be a positive integer, got ${String(n)}`, 0);
  limiter.limit = n;
  limiter.peak = limiter.running;
  limiter.drain();
}

/** The limiter's state: jobs running now, jobs waiting for a slot, the limit, and the most that ran at once. */
export function zlibJobStats(): { running: number; queued: number; limit: number; peak: number } {
  return { running: limiter.running, queued: limiter.queued, limit: limiter.limit, peak: limiter.peak };
}

// ---------------------------------------------------------------------------------------------
// Codec

export interface PerMessageDeflateOptions {
  /** Largest inflated message in bytes; beyond it decompress() rejects with ProtocolError 1009. */
  maxMessageSize: number;
  /** Messages smaller than this many bytes are sent uncompressed (default 1024). */
  threshold?: number;
  /** zlib compression level, -1 (zlib's default, 6) or 0..9. */
  level?: number;
  /** zlib memLevel 1..9 (default 8): deflater memory is 2^(windowBits+2) + 2^(memLevel+9) bytes. */
  memLevel?: number;
}

interface Job {
  data: Buffer;
  resolve: (b: Buffer) => void;
  reject: (e: unknown) => void;
  done: boolean;
}

/** One direction: a FIFO of jobs, at most one of them in zlib at a time. */
interface Lane {
  queue: Job[];
  active: Job | null;
}

export class PerMessageDeflate {
  readonly params: Readonly<DeflateParams>;
  readonly threshold: number;
  readonly maxMessageSize: number;
  readonly #level: number;
  readonly #memLevel: number;
  readonly #deflateBits: number;
  readonly #inflateBits: number;

  #deflater: zlib.DeflateRaw | null = null;
  #inflater: zlib.InflateRaw | null = null;
  readonly #out: Lane = { queue: [], active: null };
  readonly #in: Lane = { queue: [], active: null };
  #closed = false;

  constructor(params: DeflateParams, opts: PerMessageDeflateOptions) {
    this.params = { ...params };
    this.maxMessageSize = opts.maxMessageSize;
    this.threshold = opts.threshold ?? 1024;
    this.#level = opts.level ?? zlib.constants.Z_DEFAULT_COMPRESSION;
    this.#memLevel = opts.memLevel ?? 8;
    // zlib cannot deflate with a 256-byte window (windowBits 8): since zlib 1.2.9 deflateInit2 refuses 8 for
    // raw streams (older versions silently used 9). We use 9, as ws and Chromium do. This stays within what
    // the peer agreed to: zlib never emits a match farther back than the window size minus MIN_LOOKAHEAD
    // (262 bytes), i.e. at most 250 bytes back with a 512-byte window, which a 256-byte inflater decodes.
    this.#deflateBits = Math.max(9, params.clientMaxWindowBits);
    // Inflater: the server's window. For 8 we also use 9, to accept peers that (like zlib-based servers
    // configured with 8) actually compress with a 512-byte window; a larger inflate window never hurts
    // correctness, it only costs 256 bytes.
    this.#inflateBits = Math.max(9, params.serverMaxWindowBits);
  }

  /** True when a message of this many bytes should be sent compressed (at least `threshold` bytes). */
  shouldCompress(byteLength: number): boolean {
    return !this.#closed && byteLength >= this.threshold;
  }

  /** The §7.2.1 payload for one whole message (RSV1 goes on its first frame). */
  compress(data: Buffer): Promise<Buffer> {
    return this.#enqueue(this.#out, data);
  }

  /** Inflates one whole compressed message (the concatenated payloads of its frames). */
  decompress(data: Buffer): Promise<Buffer> {
    return this.#enqueue(this.#in, data);
  }

  /** Frees the zlib streams and rejects every pending call. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const err = new WebSocketError("permessage-deflate: the codec was closed (connection closed)", 1006);
    for (const lane of [this.#out, this.#in]) {
      for (const job of lane.queue) this.#settle(job, err);
      lane.queue.length = 0;
      if (lane.active) this.#settle(lane.active, err);
    }
    this.#freeDeflater();
    this.#freeInflater();
  }

  /** Whether zlib streams are currently allocated (for memory tests and diagnostics). */
  get streams(): { deflate: boolean; inflate: boolean } {
    return { deflate: this.#deflater !== null, inflate: this.#inflater !== null };
  }

  // ------------------------------------------------------------------ queueing

  #enqueue(lane: Lane, data: Buffer): Promise<Buffer> {
    if (this.#closed) return Promise.reject(new WebSocketError("permessage-deflate: the codec was closed (connection closed)", 1006));
    return new Promise<Buffer>((resolve, reject) => {
      lane.queue.push({ data, resolve, reject, done: false });
      if (lane.active === null) this.#next(lane);
    });
  }

  #next(lane: Lane): void {
    if (this.#closed || lane.active !== null) return;
    const job = lane.queue.shift();
    if (!job) return;
    lane.active = job;
    limiter.acquire(() => {
      if (job.done) {
        // closed while waiting for a slot
        limiter.release();
        return;
      }
      let released = false;
      const finish = (): void => {
        if (released) return;
        released = true;
        limiter.release();
        lane.active = null;
        this.#next(lane);
      };
      try {
        if (lane === this.#out) this.#runCompress(job, finish);
        else this.#runDecompress(job, finish);
      } catch (err) {
        this.#settle(job, err);
        finish();
      }
    });
  }

  #settle(job: Job, result: Buffer | unknown): void {
    if (job.done) return;
    job.done = true;
    job.data = EMPTY_PAYLOAD; // drop the reference early
    if (Buffer.isBuffer(result)) job.resolve(result);
    else job.reject(result);
  }

  // ------------------------------------------------------------------ deflate

  #runCompress(job: Job, finish: () => void): void {
    let d = this.#deflater;
    if (d === null) {
      d = zlib.createDeflateRaw({
        level: this.#level,
        memLevel: this.#memLevel,
        windowBits: this.#deflateBits,
        flush: zlib.constants.Z_SYNC_FLUSH,
      });
      this.#deflater = d;
    }
    const stream = d;
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      total += chunk.length;
    };
    const onError = (err: Error): void => {
      cleanup();
      if (this.#deflater === stream) this.#deflater = null;
      stream.destroy();
      this.#settle(job, new WebSocketError(`permessage-deflate: compression failed: ${err.message}`, 1011, { cause: err }));
      finish();
    };
    const cleanup = (): void => {
      stream.removeListener("data", onData);
      stream.removeListener("error", onError);
    };
    stream.on("data", onData);
    stream.on("error", onError);
    // With flush: Z_SYNC_FLUSH every write ends with a sync flush; all of its output has been emitted as
    // 'data' (synchronously from zlib's callback, the stream flowing) before the write callback runs.
    stream.write(job.data, (err) => {
      if (err || job.done) {
        if (!job.done) onError(err as Error);
        else {
          cleanup();
          finish();
        }
        return;
      }
      cleanup();
      let out = total === 0 ? EMPTY_PAYLOAD : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
      if (total > 0) {
        // §7.2.1: the output of a sync flush ends with an empty stored block; remove its 00 00 ff ff.
        if (out.length < 4 || out.readUInt32BE(out.length - 4) !== 0x0000ffff) {
          // Cannot happen with zlib; fail loudly rather than send something the peer cannot inflate.
          this.#freeDeflater();
          this.#settle(job, new WebSocketError("permessage-deflate: zlib output does not end with a sync flush", 1011));
          finish();
          return;
        }
        out = out.subarray(0, out.length - 4);
        // A flush right after another flush produces nothing but 00 00 ff ff's block header byte.
        if (out.length === 0) out = EMPTY_PAYLOAD;
      }
      if (this.params.clientNoContextTakeover) this.#freeDeflater();
      this.#settle(job, out);
      finish();
    });
  }

  #freeDeflater(): void {
    const d = this.#deflater;
    if (d) {
      this.#deflater = null;
      d.on("error", noop); // a destroyed stream may still report its pending write
      d.destroy();
    }
  }

  // ------------------------------------------------------------------ inflate

  #runDecompress(job: Job, finish: () => void): void {
    let inf = this.#inflater;
    if (inf === null) {
      inf = zlib.createInflateRaw({ windowBits: this.#inflateBits, flush: zlib.constants.Z_SYNC_FLUSH });
      this.#inflater = inf;
    }
    const stream = inf;
    const limit = this.maxMessageSize;
    const chunks: Buffer[] = [];
    let total = 0;
    let ended = false;

    const abort = (err: unknown): void => {
      cleanup();
      // The stream's state is unusable now (and a bomb must not keep inflating): free it.
      if (this.#inflater === stream) this.#inflater = null;
      stream.on("error", noop);
      stream.destroy();
      chunks.length = 0;
      this.#settle(job, err);
      finish();
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > limit) {
        // Destroying the stream from here stops zlib before it produces the next chunk (its callback checks
        // `destroyed` right after emitting this one), so at most one chunk past the limit is ever allocated.
        abort(new ProtocolError(`permessage-deflate: the inflated message exceeds maxMessageSize (${limit} bytes)`, 1009, { reason: "message_too_big" }));
        return;
      }
      chunks.push(chunk);
    };
    const onError = (err: Error): void => {
      abort(new ProtocolError(`permessage-deflate: invalid compressed data (${err.message})`, 1007, { cause: err, reason: "bad_compression" }));
    };
    const onEnd = (): void => {
      ended = true;
    };
    const cleanup = (): void => {
      stream.removeListener("data", onData);
      stream.removeListener("error", onError);
      stream.removeListener("end", onEnd);
    };
    stream.on("data", onData);
    stream.on("error", onError);
    stream.on("end", onEnd);

    const input = job.data.length === 0 ? TAIL : Buffer.concat([job.data, TAIL], job.data.length + 4);
    stream.write(input, (err) => {
      if (job.done) {
        cleanup();
        finish();
        return;
      }
      if (err) {
        onError(err);
        return;
      }
      cleanup();
      const out = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
      // A message whose last block had BFINAL set ends the DEFLATE stream (§7.2.3.3 allows this): the next
      // message starts a new one. The same holds without context takeover.
      if (ended || stream.readableEnded || this.params.serverNoContextTakeover) this.#freeInflater();
      this.#settle(job, out);
      finish();
    });
  }

  #freeInflater(): void {
    const inf = this.#inflater;
    if (inf) {
      this.#inflater = null;
      inf.on("error", noop);
      inf.destroy();
    }
  }
}

function noop(): void {}
