// Issue 11 item 4 (idle RSS per impersonated connection): once masq's TLS engine is connected,
// nothing may keep the handshake alive. The hello builder stands in for the handshake's data: the
// engine's handshake states, its options and the key schedule all reach it, so if any of them
// outlives the handshake the builder does too. Checked with a WeakRef and a forced GC while the
// connection stays open, also on the path that keeps something of the handshake's time (under
// rejectUnauthorized: false the chain check, or its error: an error thrown during the handshake
// and kept with its V8 stack unread pinned every frame's receiver, about 20 KiB per connection).
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { masqDefaultHello } from "../../src/tls/client-hello.js";
import { profileHelloBuilder } from "../../src/tls/hello-builder.js";
import { connectEngine, type MasqTlsSocket } from "../../src/tls/socket.js";
import { Pki, type Issued } from "./helpers/pki.js";
import { roundTrip, startNodeTlsEcho, tcp, type RunningServer } from "./helpers/servers.js";

// A gc() of our own without --expose-gc on the runner: the flag, set now, applies to new contexts.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

let root!: Issued;
let leaf!: Issued;
let server!: RunningServer;
const open: MasqTlsSocket[] = [];

before(async () => {
  const pki = new Pki();
  root = pki.issue({ name: "root", ca: true });
  leaf = pki.issue({ name: "leaf", issuer: root });
  server = await startNodeTlsEcho({ key: leaf.key, cert: leaf.cert });
});
after(async () => {
  for (const s of open) s.destroy();
  await server?.close();
});

/** Connects with a hello builder only the handshake holds; returns the socket and a WeakRef to the builder. */
async function connect(o: { ca?: string; rejectUnauthorized: boolean }): Promise<{ tls: MasqTlsSocket; hello: WeakRef<object> }> {
  const sock = await tcp(server.port);
  let hello: ReturnType<typeof profileHelloBuilder> | undefined = profileHelloBuilder(masqDefaultHello, "localhost", undefined);
  const ref = new WeakRef(hello);
  const pending = connectEngine(sock, { hello, verifyHost: "localhost", rejectUnauthorized: o.rejectUnauthorized, ...(o.ca !== undefined ? { ca: o.ca } : {}) });
  hello = undefined;
  const tls = await pending;
  open.push(tls);
  return { tls, hello: ref };
}

/** Whether `ref` is cleared after full GCs (a WeakRef target survives until the current job ends). */
async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
    if (ref.deref() === undefined) return true;
  }
  return false;
}

test("a verified connection keeps nothing of its handshake", async () => {
  const { tls, hello } = await connect({ ca: root.cert, rejectUnauthorized: true });
  assert.equal(tls.authorized, true);
  const data = randomBytes(64);
  assert.deepEqual(await roundTrip(tls, data), data);
  assert.ok(await collected(hello), "the hello builder outlived the handshake");
  // The connection still works after the handshake's data is gone.
  assert.deepEqual(await roundTrip(tls, data), data);
  assert.equal(tls.engine.secrets.schedule, undefined);
});

test("rejectUnauthorized: false keeps the certificate check or its error, not the handshake", async () => {
  // No `ca`: the test root is unknown to the default store, so validation fails and is recorded.
  const { tls, hello } = await connect({ rejectUnauthorized: false });
  // Before anyone asks: the deferred validation holds the chain, not the handshake.
  assert.ok(await collected(hello), "the hello builder outlived the handshake (pinned by the pending certificate check?)");
  assert.equal(tls.authorized, false);
  assert.ok(tls.authorizationError, "expected an authorizationError");
  assert.match(tls.authorizationError.message, /certificate/i);
  // The error stays useful: message and stack are still there.
  assert.match(String(tls.authorizationError.stack), /certificate/i);
  const data = randomBytes(64);
  assert.deepEqual(await roundTrip(tls, data), data);
});
