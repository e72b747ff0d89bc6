#!/usr/bin/env node
// Installs wreq-js (a BoringSSL-based client: a benchmark peer, and the reference ClientHello
// peer of test/tls/boringssl-crosscheck.test.ts) when it is missing.
//
// It is not a devDependency because this machine's npm registry serves only the linux-x64
// builds of its optional per-platform bindings; npm then writes a lock file that its own
// `npm ci` rejects ("Missing: @wreq-js/binding-darwin-arm64"), which would break the
// project's set-up. `npm run bench` and .ci/run install it here instead, without touching
// package.json or the lock file. Without it the bench shows "—" and the cross-check is skipped.
import { createRequire } from "node:module";
import { spawnSync } from "node:child_process";

const require = createRequire(import.meta.url);
const WREQ = "wreq-js@3.1.0";
try {
  require.resolve("wreq-js");
} catch {
  console.log(`installing ${WREQ} (optional peer, not saved to package.json)`);
  const r = spawnSync("npm", ["install", "--no-save", "--no-audit", "--no-fund", WREQ], { stdio: "inherit" });
  if (r.status !== 0) console.log(`could not install ${WREQ}; the bench shows "—" for it and its cross-check test is skipped`);
}
