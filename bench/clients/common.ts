/** Pieces shared by every client driver: timing, idle-RSS measurement, result shapes. */
import { readFileSync, writeFileSync } from "node:fs";
import { findSourceMap } from "node:module";
import { setTimeout as sleep } from "node:timers/promises";
import { percentileSorted } from "../stats.js";
import type { RunResult, RunSpec } from "../cases.js";

export const now = (): number => performance.now();

/** Throughput result: bytes/s for 1 MiB cases, messages/s for 16 B cases. */
export function throughput(spec: RunSpec, ms: number, extra: Record<string, number> = {}): RunResult {
  const s = ms / 1000;
  const value = spec.size >= 1024 ? (spec.count * spec.size) / s : spec.count / s;
  return { ok: true, value, extra: { seconds: s, ...extra } };
}

/** Echo result from per-round-trip durations in ms: value = p50 µs, extra.p99 µs. */
export function latency(samplesMs: Float64Array): RunResult {
  const sorted = Float64Array.from(samplesMs).sort();
  return {
    ok: true,
    value: percentileSorted(sorted, 50) * 1000,
    extra: { p99: percentileSorted(sorted, 99) * 1000, p999: percentileSorted(sorted, 99.9) * 1000, n: sorted.length },
  };
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) g();
}

/** RSS after a full GC and a short settle, so freed handshake buffers do not count. */
export async function settledRss(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(50);
  }
  return process.memoryUsage().rss;
}

/**
 * The idle case, same shape for every client: one connection opened and closed first (loads lazy
 * code paths), then RSS, then `count` connections opened `batch` at a time, then RSS again.
 * Value = (after - before) / count in bytes.
 */
export async function idleCase<C>(
  spec: RunSpec,
  open: () => Promise<C>,
  close: (c: C) => Promise<void> | void,
  batch = 200,
): Promise<RunResult> {
  const first = await open();
  await close(first);
  const before = await settledRss();
  const held: C[] = [];
  const t0 = now();
  while (held.length < spec.count) {
    const n = Math.min(batch, spec.count - held.length);
    held.push(...(await Promise.all(Array.from({ length: n }, () => open()))));
  }
  const openMs = now() - t0;
  const after = await settledRss();
  const heap = process.memoryUsage().heapUsed;
  // Keep `held` reachable until after the measurement.
  if (held.length !== spec.count) throw new Error("lost connections");
  return { ok: true, value: (after - before) / spec.count, extra: { rssBefore: before, rssAfter: after, heapUsed: heap, openMs } };
}

/** A 1-byte message used to start the peer's `/send` mode (it waits for the client's first byte). */
export const TRIGGER = new Uint8Array([0x21]);

export function payload(size: number): Buffer {
  return Buffer.alloc(size, 0x61);
}

/** Installed version of a dependency, read from node_modules (some packages do not export package.json). */
export function pkgVersion(name: string): string {
  const file = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}

interface ProfileNode {
  callFrame: { url: string; lineNumber: number; columnNumber: number };
}

/**
 * Runs the timed part of a case; when BENCH_CPU_PROFILE names a file (profile mode), under the V8
 * sampling profiler, so the profile holds the hot loop rather than module loading. Positions are
 * mapped back to the TypeScript sources through tsx's source maps (needs --enable-source-maps).
 */
export async function profiled<T>(fn: () => Promise<T>): Promise<T> {
  const out = process.env.BENCH_CPU_PROFILE;
  if (!out) return fn();
  const { Session } = await import("node:inspector/promises");
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 1000 });
  await session.post("Profiler.start");
  try {
    return await fn();
  } finally {
    const { profile } = await session.post("Profiler.stop");
    session.disconnect();
    for (const node of profile.nodes as ProfileNode[]) {
      const cf = node.callFrame;
      if (!cf.url.startsWith("file:")) continue;
      const entry = findSourceMap(cf.url)?.findEntry(cf.lineNumber, cf.columnNumber) as
        | { originalSource?: string; originalLine?: number; originalColumn?: number }
        | undefined;
      if (entry?.originalSource !== undefined && entry.originalLine !== undefined) {
        cf.url = entry.originalSource;
        cf.lineNumber = entry.originalLine;
        cf.columnNumber = entry.originalColumn ?? 0;
      }
    }
    writeFileSync(out, JSON.stringify(profile));
  }
}

/**
 * The connect case (issue 11), same shape for every client: `warmup` untimed connects, then
 * `count` timed ones, each `once()` = connect, one echo, close (awaited). Value = client CPU per
 * connection in µs (process.cpuUsage: user + system of this process, so work in Node's TLS and
 * libuv threads counts too), extra.wall = wall µs per connection.
 */
export async function connectCase(spec: RunSpec, once: () => Promise<void>): Promise<RunResult> {
  for (let i = 0; i < spec.warmup; i++) await once();
  return profiled(async () => {
    const c0 = process.cpuUsage();
    const t0 = now();
    for (let i = 0; i < spec.count; i++) await once();
    const wallMs = now() - t0;
    const cpu = process.cpuUsage(c0);
    return {
      ok: true,
      value: (cpu.user + cpu.system) / spec.count,
      extra: { wall: (wallMs * 1000) / spec.count, user: cpu.user / spec.count, system: cpu.system / spec.count },
    } satisfies RunResult;
  });
}
