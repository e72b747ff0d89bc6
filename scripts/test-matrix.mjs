#!/usr/bin/env node
// Runs the README's test command (scripts/run-tests.mjs) once per Node binary and ends with one
// summary line over all runs, so that CI shows every version's result in one place.
//
// Usage: node scripts/test-matrix.mjs [--fail-also NAME]... [--filter SUBSTRING]... [NODE_BIN...]
//   NODE_BIN defaults to this node, then .node/22/bin/node and .node/24/bin/node (made by
//   scripts/install-node.mjs). `--fail-also typecheck` marks an earlier CI step as failed: it is
//   named in the summary and makes the exit status non-zero. `--filter` is passed on to run-tests.
// Exit status: 0 only when every run passed with no failed or cancelled test.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const REPO = resolve(fileURLToPath(new URL("..", import.meta.url)));
/** One Node version's whole suite; well above the ~1-2 min an idle machine needs. */
const RUN_TIMEOUT_MS = 7 * 60_000;

const failAlso = [];
const bins = [];
const filters = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--fail-also") failAlso.push(argv[++i] ?? "?");
  else if (a === "--filter") filters.push(argv[++i] ?? "");
  else bins.push(resolve(a));
}
if (bins.length === 0) bins.push(process.execPath, join(REPO, ".node/22/bin/node"), join(REPO, ".node/24/bin/node"));

/** The last value of each counter in a node:test summary, TAP (`# pass 3`) or spec (`ℹ pass 3`). */
function counts(out) {
  const c = {};
  for (const m of out.matchAll(/^(?:#|ℹ) (tests|pass|fail|cancelled|skipped|todo) (\d+)\s*$/gm)) c[m[1]] = Number(m[2]);
  return c;
}

/** Runs the suite under `bin`, echoing its output; resolves with what it reported. */
function runSuite(bin) {
  return new Promise((done) => {
    if (!existsSync(bin)) return done({ name: bin, error: "binary missing (run node scripts/install-node.mjs)" });
    // The tested node comes first on PATH too, for tests and npm scripts that spawn `node`.
    const env = { ...process.env, PATH: `${dirname(bin)}:${process.env.PATH ?? ""}` };
    const child = spawn(bin, ["scripts/run-tests.mjs", ...filters], { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.stderr.on("data", (d) => process.stderr.write(d));
    const timer = setTimeout(() => {
      process.stderr.write(`\n${bin}: suite still running after ${RUN_TIMEOUT_MS / 60_000} min, killed\n`);
      child.kill("SIGKILL");
    }, RUN_TIMEOUT_MS);
    const version = `node ${spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout.trim()}`;
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      done({ name: version, code, signal, ...counts(out) });
    });
  });
}

const results = [];
for (const bin of bins) {
  console.log(`\n=== test suite on ${bin} ===\n`);
  results.push(await runSuite(bin));
}

let pass = 0;
let fail = 0;
const parts = [];
let ok = failAlso.length === 0;
for (const r of results) {
  if (r.error) {
    ok = false;
    fail++;
    parts.push(`${r.name}: ${r.error}`);
    continue;
  }
  const p = r.pass ?? 0;
  // A run that failed without a failed test (a crash, a timeout) still counts as one failure.
  const broken = r.code !== 0 || r.tests === undefined;
  const f = Math.max((r.fail ?? 0) + (r.cancelled ?? 0), broken ? 1 : 0);
  pass += p;
  fail += f;
  const status = broken ? `, exit ${r.code ?? r.signal}` : "";
  if (f > 0) ok = false;
  parts.push(`${r.name}: ${p} passed, ${f} failed, ${r.skipped ?? 0} skipped${status}`);
}
const also = failAlso.length > 0 ? `; also failed: ${failAlso.join(", ")}` : "";
// A failed earlier step counts as one failure, so that the last line agrees with the exit status.
fail += failAlso.length;
console.log(`\n${ok ? "PASS" : "FAIL"} on ${results.length} Node versions (${parts.join("; ")})${also}`);
console.log(`${pass} passed, ${fail} failed`);
process.exit(ok ? 0 : 1);
