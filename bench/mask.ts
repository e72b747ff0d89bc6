/**
 * Micro-benchmark: masq's masking kernels against bufferutil (the native addon ws uses).
 * Run: `npx tsx bench/mask.ts` (add `--quick` for a short run). Prints a markdown table of
 * throughput (GB/s, median of 5 runs) per payload size.
 *
 * Columns:
 * - bufferutil: `require('bufferutil').mask(src, key, dst, 0, n)`, src and dst ordinary Buffers.
 * - masq mask(): the public `mask()` with ordinary Buffers (JS word loop below WASM_MASK_MIN,
 *   above it copy into a wasm scratch block, SIMD XOR, copy out).
 * - masq JS: the JS word loop alone.
 * - masq → arena: `mask()` into a destination inside a MaskArena (how a writer builds frames in
 *   wasm memory): one copy in + SIMD XOR in place, no copy out.
 * - SIMD in place: the kernel alone on data already in wasm memory.
 */
import { createRequire } from "node:module";
import { MaskArena, mask, wasmSimdAvailable } from "../src/protocol/mask.js";
import { maskJs } from "../src/protocol/mask-js.js";

const require = createRequire(import.meta.url);
const bufferutil = require("bufferutil") as {
  mask(src: Uint8Array, key: Uint8Array, out: Uint8Array, offset: number, length: number): void;
};

const quick = process.argv.includes("--quick");
const SIZES = process.argv.includes("--crossover") ? [128, 256, 384, 512, 768, 1024, 2048] : process.argv.includes("--small") ? [16, 64, 125, 256, 512] : [16, 125, 1024, 64 * 1024, 1024 * 1024];
const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const arena = MaskArena.create(2 * 1024 * 1024);

/** Runs `fn` until about `ms` milliseconds pass; returns bytes per second. */
function measure(fn: () => void, bytesPerCall: number, ms: number): number {
  // Warm-up and calibration.
  let iters = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) fn();
    const dt = Number(process.hrtime.bigint() - t0) / 1e6;
    if (dt > 20) {
      iters = Math.max(1, Math.round((iters * ms) / dt));
      break;
    }
    iters *= 4;
  }
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return (iters * bytesPerCall) / s;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const runs = quick ? 3 : 5;
const ms = quick ? 60 : 200;
const cols = ["bufferutil", "masq mask()", "masq JS", "masq → arena", "SIMD in place"] as const;
const rows: string[] = [];
for (const n of SIZES) {
  const src = Buffer.alloc(n, 0x5a);
  const dst = Buffer.alloc(n);
  const fns: Record<(typeof cols)[number], (() => void) | null> = {
    bufferutil: () => bufferutil.mask(src, key, dst, 0, n),
    "masq mask()": () => mask(src, key, dst, 0, n),
    "masq JS": () => maskJs(src, 0, n, key, 0, dst, 0),
    "masq → arena": arena ? () => mask(src, key, arena.buffer, 64, n) : null,
    "SIMD in place": arena ? () => arena.maskInPlace(64, n, key) : null,
  };
  const cells: string[] = [];
  for (const c of cols) {
    const fn = fns[c];
    if (!fn) {
      cells.push("n/a");
      continue;
    }
    const r: number[] = [];
    for (let i = 0; i < runs; i++) r.push(measure(fn, n, ms));
    cells.push((median(r) / 1e9).toFixed(2));
  }
  const label = n >= 1024 * 1024 ? `${n / 1024 / 1024} MiB` : n >= 1024 ? `${n / 1024} KiB` : `${n} B`;
  rows.push(`| ${label} | ${cells.join(" | ")} |`);
}
console.log(`Masking throughput, GB/s (median of ${runs}); node ${process.version}, wasm SIMD: ${wasmSimdAvailable}`);
console.log(`| size | ${cols.join(" | ")} |`);
console.log(`|---|${cols.map(() => "---:").join("|")}|`);
for (const r of rows) console.log(r);
