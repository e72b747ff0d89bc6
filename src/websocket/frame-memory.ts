import { MaskArena } from "../protocol/mask.js";

/** A region of the arena handed out for one frame buffer. */
export interface ArenaRegion {
  buf: Buffer;
  /** Call once when the socket is done with `buf` (the write's callback). */
  release: () => void;
}

/**
 * Memory the writer builds outgoing frames in.
 *
 * Large frames go into a process-wide WebAssembly arena when it has room: the payload is copied in
 * once and masked there in place by the SIMD kernel, with no allocation for the GC to track. A
 * region is handed to the socket as a Buffer view and released by that write's callback.
 *
 * The arena is a ring: regions are handed out in order and the space before the oldest live
 * region is reused once it (and everything before it) has been released. Releases may come out of
 * order (several connections share the ring); a released region in the middle simply waits for
 * the ones before it. When the ring is full, or WebAssembly SIMD is missing, the caller falls back
 * to ordinary heap Buffers: slower, never wrong.
 */
export class FrameArena {
  readonly #buf: Buffer | undefined;
  readonly #size: number;
  /** Live regions, oldest first: their start offsets and whether each has been released. */
  #starts: number[] = [];
  #released: boolean[] = [];
  #first = 0;
  /** Where the next region starts. */
  #head = 0;

  constructor(bytes: number) {
    this.#buf = MaskArena.create(bytes)?.buffer;
    this.#size = this.#buf?.length ?? 0;
  }

  /** A region of `n` bytes, or undefined when the ring cannot hold it now. */
  alloc(n: number): ArenaRegion | undefined {
    const buf = this.#buf;
    if (buf === undefined || n <= 0 || n > this.#size) return undefined;
    let at: number;
    if (this.#first === this.#starts.length) {
      at = 0; // empty ring: start over at the bottom
    } else {
      const tail = this.#starts[this.#first]!;
      const head = this.#head;
      if (head > tail) {
        if (head + n <= this.#size) at = head;
        else if (n <= tail) at = 0; // wrap
        else return undefined;
      } else if (head < tail) {
        if (head + n <= tail) at = head;
        else return undefined;
      } else return undefined; // head === tail with live regions: full
    }
    const index = this.#base + this.#starts.length;
    this.#starts.push(at);
    this.#released.push(false);
    this.#head = at + n;
    return { buf: buf.subarray(at, at + n), release: () => this.#release(index) };
  }

  #release(index: number): void {
    // Regions are numbered from the ring's creation; #base is the number of the array's first entry.
    const i = index - this.#base;
    if (i < this.#first || this.#released[i]) return;
    this.#released[i] = true;
    while (this.#first < this.#released.length && this.#released[this.#first]) this.#first++;
    if (this.#first === this.#released.length) {
      this.#base += this.#released.length;
      this.#starts.length = 0;
      this.#released.length = 0;
      this.#first = 0;
    } else if (this.#first > 1024) {
      this.#base += this.#first;
      this.#starts = this.#starts.slice(this.#first);
      this.#released = this.#released.slice(this.#first);
      this.#first = 0;
    }
  }

  #base = 0;

  /** Regions handed out and not yet released, counting released ones behind an older live one. */
  get live(): number {
    return this.#starts.length - this.#first;
  }
}

/**
 * A 64 KiB block that small frames are written into back to back. The writer owns it while it
 * fills it; every slice handed to the socket holds a reference that its write callback drops.
 * Once nobody holds it, it goes back to a process-wide free list, so a steady stream of small
 * messages reuses a few blocks instead of allocating (and making the GC collect) a new one every
 * few thousand messages.
 */
export class PoolBlock {
  static readonly SIZE = 64 * 1024;
  readonly buf: Buffer;
  #refs = 1;
  /** Drops one reference; bound once so it can be passed as a write callback. */
  readonly unref = (): void => {
    if (--this.#refs === 0 && freeBlocks.length < MAX_FREE_BLOCKS) freeBlocks.push(this);
  };

  private constructor() {
    this.buf = Buffer.allocUnsafeSlow(PoolBlock.SIZE);
  }

  /** A block owned by the caller (one reference). */
  static take(): PoolBlock {
    const b = freeBlocks.pop();
    if (b === undefined) return new PoolBlock();
    b.#refs = 1;
    return b;
  }

  /** Adds a reference (a slice about to be handed to the socket). */
  ref(): void {
    this.#refs++;
  }
}

/** At most 4 MiB of idle blocks are kept for reuse. */
const MAX_FREE_BLOCKS = 64;
const freeBlocks: PoolBlock[] = [];

let shared: FrameArena | undefined;

/** The process-wide arena (32 MiB of wasm memory, reserved on first use by a large frame). */
export function frameArena(): FrameArena {
  shared ??= new FrameArena(32 * 1024 * 1024);
  return shared;
}
