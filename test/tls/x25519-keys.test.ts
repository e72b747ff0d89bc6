// Fresh X25519 key pairs (src/tls/x25519-keys.ts): correct on every Node, and never the Node 20
// generate + JWK-export deadlock (a bare loop of that hangs within seconds there).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createPublicKey, diffieHellman, generateKeyPairSync } from "node:crypto";
import { fileURLToPath } from "node:url";
import { newX25519KeyPair } from "../../src/tls/x25519-keys.js";

test("a new pair: 32-byte public key of its private key, agreeing with a peer, fresh every time", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const { privateKey, publicKey } = newX25519KeyPair();
    assert.equal(publicKey.length, 32);
    assert.equal(publicKey.toString("base64url"), createPublicKey(privateKey).export({ format: "jwk" }).x);
    const peer = generateKeyPairSync("x25519");
    const ours = diffieHellman({ privateKey, publicKey: peer.publicKey });
    const theirs = diffieHellman({ privateKey: peer.privateKey, publicKey: createPublicKey({ key: { kty: "OKP", crv: "X25519", x: publicKey.toString("base64url") }, format: "jwk" }) });
    assert.ok(ours.equals(theirs));
    seen.add(publicKey.toString("hex"));
  }
  assert.equal(seen.size, 200);
});

test("key generation in a tight loop for 4 s never hangs (child process, bounded to 60 s)", async () => {
  const module = fileURLToPath(new URL("../../src/tls/x25519-keys.ts", import.meta.url));
  const script = `const { newX25519KeyPair } = await import(${JSON.stringify(module)});
    const t0 = Date.now(); let n = 0; const keep = [];
    while (Date.now() - t0 < 4000) { keep.push(newX25519KeyPair()); if (keep.length > 256) keep.length = 0; n++; }
    console.log("keys " + n);`;
  const child = spawn(process.execPath, [...process.execArgv, "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
  clearTimeout(timer);
  assert.equal(code, 0, `the key loop hung or failed: ${out}`);
  assert.match(out, /keys \d+/);
});
