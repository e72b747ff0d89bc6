/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): top functions by self time and self
 * time per source (masq's src/, each node_modules package, node internals, GC, idle).
 * Usage standalone: `npx tsx bench/cpuprofile.ts file.cpuprofile [topN]`.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const REPO = fileURLToPath(new URL("..", import.meta.url));

function shortUrl(url: string): string {
  let u = url.replace(/^file:\/\//, "");
  if (u.startsWith(REPO)) u = u.slice(REPO.length);
  return u;
}

/** Which bucket a frame's self time belongs to in the per-source breakdown. */
function source(cf: CallFrame): string {
  const u = shortUrl(cf.url);
  if (!u) return cf.functionName.startsWith("(") ? cf.functionName : "(native / builtins)";
  if (u.startsWith("node:")) return "node internals";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (nm) return nm[1]!;
  const dir = /^(src|bench)\/([^/]+)/.exec(u);
  if (dir) return dir[1] === "src" && !dir[2]!.includes(".") ? `src/${dir[2]}/` : `${dir[1]}/${dir[2]}`;
  return u;
}

/** Self time in ms per node id (each sample lasts until the next one). */
function selfTimes(p: CpuProfile): Map<number, number> {
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (i + 1 < p.timeDeltas.length ? p.timeDeltas[i + 1]! : 0) / 1000;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + dt);
  }
  return self;
}

/** Text report: total, per-source self time, then the `top` functions by self time. */
export function summarise(p: CpuProfile, top = 25): string {
  const self = selfTimes(p);
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map<string, { ms: number; where: string; name: string }>();
  const bySource = new Map<string, number>();
  for (const node of p.nodes) {
    const ms = self.get(node.id) ?? 0;
    if (ms === 0) continue;
    const cf = node.callFrame;
    const where = cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : "";
    const key = `${cf.functionName}\u0000${where}`;
    const e = byFn.get(key) ?? { ms: 0, where, name: cf.functionName || "(anonymous)" };
    e.ms += ms;
    byFn.set(key, e);
    const s = source(cf);
    bySource.set(s, (bySource.get(s) ?? 0) + ms);
  }
  const pct = (ms: number): string => `${((100 * ms) / total).toFixed(1).padStart(5)}%`;
  const lines = [`total sampled: ${total.toFixed(0)} ms in ${p.samples.length} samples`, "", "self time by source:"];
  for (const [s, ms] of [...bySource].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    lines.push(`  ${pct(ms)} ${ms.toFixed(0).padStart(7)} ms  ${s}`);
  }
  lines.push("", `top ${top} functions by self time:`);
  for (const e of [...byFn.values()].sort((a, b) => b.ms - a.ms).slice(0, top)) {
    lines.push(`  ${pct(e.ms)} ${e.ms.toFixed(0).padStart(7)} ms  ${e.name}  ${e.where}`);
  }
  return lines.join("\n");
}

/** Sampled ms that were not idle: tells the main thread's profile from a helper thread's. */
export function busyMs(file: string): number {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const idle = new Set(p.nodes.filter((n) => n.callFrame.functionName === "(idle)").map((n) => n.id));
  const self = selfTimes(p);
  let busy = 0;
  for (const [id, ms] of self) if (!idle.has(id)) busy += ms;
  return busy;
}

export function summariseFile(file: string, top?: number): string {
  return summarise(JSON.parse(readFileSync(file, "utf8")) as CpuProfile, top);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: tsx bench/cpuprofile.ts file.cpuprofile [topN]");
    process.exit(2);
  }
  console.log(summariseFile(file, process.argv[3] ? Number(process.argv[3]) : undefined));
}
