/**
 * WebAssembly SIMD masking kernel, shipped as bytes so that nothing needs compiling at install
 * or build time. The module imports its memory (so each {@link MaskArena} owns a fixed-size
 * memory that never grows: growing would detach the ArrayBuffer under Buffers the writer may
 * still be flushing) and exports one function:
 *
 * ```wat
 * (module
 *   (import "env" "memory" (memory 1))
 *   ;; mask(p, n, k): XOR n bytes at p in place with the key k (key byte 0 in the low byte).
 *   (func (export "mask") (param $p i32) (param $n i32) (param $k i32)
 *     (local $end i32) (local $kv v128)
 *     (local.set $end (i32.add (local.get $p) (local.get $n)))
 *     (local.set $kv (i32x4.splat (local.get $k)))
 *     (block $done64 (loop $l64                     ;; 4 x 16 bytes per iteration
 *       (br_if $done64 (i32.gt_u (i32.add (local.get $p) (i32.const 64)) (local.get $end)))
 *       (v128.store offset=0  (local.get $p) (v128.xor (v128.load offset=0  (local.get $p)) (local.get $kv)))
 *       (v128.store offset=16 (local.get $p) (v128.xor (v128.load offset=16 (local.get $p)) (local.get $kv)))
 *       (v128.store offset=32 (local.get $p) (v128.xor (v128.load offset=32 (local.get $p)) (local.get $kv)))
 *       (v128.store offset=48 (local.get $p) (v128.xor (v128.load offset=48 (local.get $p)) (local.get $kv)))
 *       (local.set $p (i32.add (local.get $p) (i32.const 64)))
 *       (br $l64)))
 *     (block $done16 (loop $l16                     ;; then 16 bytes at a time
 *       (br_if $done16 (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
 *       (v128.store (local.get $p) (v128.xor (v128.load (local.get $p)) (local.get $kv)))
 *       (local.set $p (i32.add (local.get $p) (i32.const 16)))
 *       (br $l16)))
 *     (block $done4 (loop $l4                       ;; then 4 (every step so far is a multiple of 4,
 *       (br_if $done4 (i32.gt_u (i32.add (local.get $p) (i32.const 4)) (local.get $end)))  ;; so k is in phase)
 *       (i32.store (local.get $p) (i32.xor (i32.load (local.get $p)) (local.get $k)))
 *       (local.set $p (i32.add (local.get $p) (i32.const 4)))
 *       (br $l4)))
 *     (block $done1 (loop $l1                       ;; last 0-3 bytes, shifting the key down
 *       (br_if $done1 (i32.ge_u (local.get $p) (local.get $end)))
 *       (i32.store8 (local.get $p) (i32.xor (i32.load8_u (local.get $p)) (local.get $k)))
 *       (local.set $k (i32.shr_u (local.get $k) (i32.const 8)))
 *       (local.set $p (i32.add (local.get $p) (i32.const 1)))
 *       (br $l1)))))
 * ```
 *
 * Assembled with `wat2wasm` (wabt 1.0.32) during development; the bytes below are its output,
 * annotated by hand. Wasm memory is little-endian on every platform, so the key word is
 * `key[0] | key[1] << 8 | key[2] << 16 | key[3] << 24` everywhere.
 */

// prettier-ignore
const MASK_WASM = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,       // "\0asm", version 1
  // type section: 1 type, func (i32, i32, i32) -> ()
  0x01, 0x07, 0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00,
  // import section: 1 import, "env" "memory", memory, limits flag 0 (no max), min 1 page
  0x02, 0x0f, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x01,
  // function section: 1 function of type 0
  0x03, 0x02, 0x01, 0x00,
  // export section: 1 export, "mask", func 0
  0x07, 0x08, 0x01, 0x04, 0x6d, 0x61, 0x73, 0x6b, 0x00, 0x00,
  // code section (234 bytes), 1 body of 231 bytes
  0x0a, 0xea, 0x01, 0x01, 0xe7, 0x01,
  0x02, 0x01, 0x7f, 0x01, 0x7b,                         // locals: 1 x i32 ($end = 3), 1 x v128 ($kv = 4)
  0x20, 0x00, 0x20, 0x01, 0x6a, 0x21, 0x03,             // $end = $p + $n
  0x20, 0x02, 0xfd, 0x11, 0x21, 0x04,                   // $kv = i32x4.splat($k)
  // 64-byte loop
  0x02, 0x40, 0x03, 0x40,                               // block, loop
  0x20, 0x00, 0x41, 0xc0, 0x00, 0x6a, 0x20, 0x03, 0x4b, 0x0d, 0x01, // br_if block ($p + 64 > $end)
  0x20, 0x00, 0x20, 0x00, 0xfd, 0x00, 0x04, 0x00, 0x20, 0x04, 0xfd, 0x51, 0xfd, 0x0b, 0x04, 0x00, // [p+0]  ^= kv
  0x20, 0x00, 0x20, 0x00, 0xfd, 0x00, 0x04, 0x10, 0x20, 0x04, 0xfd, 0x51, 0xfd, 0x0b, 0x04, 0x10, // [p+16] ^= kv
  0x20, 0x00, 0x20, 0x00, 0xfd, 0x00, 0x04, 0x20, 0x20, 0x04, 0xfd, 0x51, 0xfd, 0x0b, 0x04, 0x20, // [p+32] ^= kv
  0x20, 0x00, 0x20, 0x00, 0xfd, 0x00, 0x04, 0x30, 0x20, 0x04, 0xfd, 0x51, 0xfd, 0x0b, 0x04, 0x30, // [p+48] ^= kv
  0x20, 0x00, 0x41, 0xc0, 0x00, 0x6a, 0x21, 0x00,       // $p += 64
  0x0c, 0x00, 0x0b, 0x0b,                               // br loop, end loop, end block
  // 16-byte loop
  0x02, 0x40, 0x03, 0x40,
  0x20, 0x00, 0x41, 0x10, 0x6a, 0x20, 0x03, 0x4b, 0x0d, 0x01, // br_if block ($p + 16 > $end)
  0x20, 0x00, 0x20, 0x00, 0xfd, 0x00, 0x04, 0x00, 0x20, 0x04, 0xfd, 0x51, 0xfd, 0x0b, 0x04, 0x00, // [p] ^= kv
  0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00,             // $p += 16
  0x0c, 0x00, 0x0b, 0x0b,
  // 4-byte loop
  0x02, 0x40, 0x03, 0x40,
  0x20, 0x00, 0x41, 0x04, 0x6a, 0x20, 0x03, 0x4b, 0x0d, 0x01, // br_if block ($p + 4 > $end)
  0x20, 0x00, 0x20, 0x00, 0x28, 0x02, 0x00, 0x20, 0x02, 0x73, 0x36, 0x02, 0x00, // i32 [p] ^= k
  0x20, 0x00, 0x41, 0x04, 0x6a, 0x21, 0x00,             // $p += 4
  0x0c, 0x00, 0x0b, 0x0b,
  // byte loop
  0x02, 0x40, 0x03, 0x40,
  0x20, 0x00, 0x20, 0x03, 0x4f, 0x0d, 0x01,             // br_if block ($p >= $end)
  0x20, 0x00, 0x20, 0x00, 0x2d, 0x00, 0x00, 0x20, 0x02, 0x73, 0x3a, 0x00, 0x00, // u8 [p] ^= k
  0x20, 0x02, 0x41, 0x08, 0x76, 0x21, 0x02,             // $k >>>= 8
  0x20, 0x00, 0x41, 0x01, 0x6a, 0x21, 0x00,             // $p += 1
  0x0c, 0x00, 0x0b, 0x0b,
  0x0b,                                                 // end func
]);

type MaskFn = (p: number, n: number, k: number) => void;

// The project's `lib` has no DOM and @types/node 20 does not declare WebAssembly: declare the
// few members used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
  Memory: new (d: { initial: number; maximum: number }) => WasmMemory;
};

/** The compiled module, or null when this runtime has no WebAssembly SIMD. */
const wasmModule: object | null = (() => {
  try {
    if (typeof WebAssembly !== "object" || !WebAssembly.validate(MASK_WASM)) return null;
    return new WebAssembly.Module(MASK_WASM);
  } catch {
    return null;
  }
})();

/** Whether the SIMD kernel is available (WebAssembly with the SIMD proposal, Node ≥ 16.4). */
export const wasmSimdAvailable: boolean = wasmModule !== null;

const PAGE = 65536;

/** Arenas by the ArrayBuffer of their memory, so `mask` can spot a destination inside one. */
const arenas = new WeakMap<ArrayBufferLike, MaskArena>();
/** One-entry cache in front of `arenas`: a writer keeps masking into the same arena. */
let lastBuffer: ArrayBufferLike | undefined;
let lastArena: MaskArena | undefined;

/**
 * A fixed-size block of WebAssembly memory with the SIMD kernel bound to it. A frame writer can
 * build frames directly in {@link MaskArena.buffer} and mask payloads there in place: one copy of
 * the payload in (which building a frame needs anyway) and one SIMD pass, no copy out.
 *
 * Each arena reserves its own wasm memory (V8 reserves a large virtual range per memory), so
 * create few and reuse them — e.g. one per process or per writer pool, not per connection.
 * The memory never grows, so views of it stay valid for the arena's lifetime.
 */
export class MaskArena {
  /** The whole arena memory as a Buffer. */
  readonly buffer: Buffer;
  readonly #mask: MaskFn;

  private constructor(bytes: number) {
    const pages = Math.max(1, Math.ceil(bytes / PAGE));
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const instance = new WebAssembly.Instance(wasmModule!, { env: { memory } });
    this.#mask = instance.exports["mask"] as MaskFn;
    this.buffer = Buffer.from(memory.buffer);
    arenas.set(memory.buffer, this);
  }

  /** An arena of at least `bytes` bytes (rounded up to 64 KiB), or null without wasm SIMD. */
  static create(bytes: number): MaskArena | null {
    return wasmModule ? new MaskArena(bytes) : null;
  }

  /** The arena whose memory `buf` lies in, if any. */
  static of(buf: Uint8Array): MaskArena | undefined {
    return MaskArena.ofArrayBuffer(buf.buffer);
  }

  /** The arena whose memory is `b`, if any. */
  static ofArrayBuffer(b: ArrayBufferLike): MaskArena | undefined {
    if (b === lastBuffer) return lastArena;
    const a = arenas.get(b);
    if (a !== undefined) {
      lastBuffer = b;
      lastArena = a;
    }
    return a;
  }

  /**
   * Masks `length` bytes at `offset` (relative to the arena) in place; the first byte gets key
   * byte 0 of `key[keyOffset..keyOffset+4)`.
   */
  maskInPlace(offset: number, length: number, key: Uint8Array, keyOffset = 0): void {
    const k = key[keyOffset]! | (key[keyOffset + 1]! << 8) | (key[keyOffset + 2]! << 16) | (key[keyOffset + 3]! << 24);
    this.maskWord(offset, length, k);
  }

  /** {@link MaskArena.maskInPlace} with the key as a little-endian 32-bit word. */
  maskWord(offset: number, length: number, keyWord: number): void {
    if (offset < 0 || length < 0 || offset + length > this.buffer.length) throw new RangeError("range outside the arena");
    this.#mask(offset, length, keyWord);
  }
}
