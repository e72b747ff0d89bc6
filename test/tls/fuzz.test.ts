/**
 * Fuzzing the handshake parser: the client engine, driven in memory against the scripted server,
 * gets random and mutated server flights. Whatever happens, it may only connect (for untouched
 * flights) or throw TlsError - never anything else, never hang, never connect on a mutated
 * transcript. Seeded and bounded, so failures reproduce.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { TlsError } from "../../src/errors.js";
import { TlsClientEngine } from "../../src/tls/engine.js";
import { basicHelloBuilder } from "../helpers/basic-hello.js";
import { NamedGroup } from "../../src/tls/constants.js";
import { FakeServerCore, type FakeServerOptions } from "./helpers/fake-server.js";
import { Fake12Core, type Fake12Options } from "./helpers/fake-server12.js";
import { profileHelloBuilder } from "../../src/tls/hello-builder.js";
import { chrome156Hello } from "../../src/impersonate/chrome.js";
import { tlsTestPki, type TlsTestPki } from "./helpers/pki.js";

let pki!: TlsTestPki;
before(() => {
  pki = tlsTestPki();
});

/** Small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutateBytes(b: Buffer, rnd: () => number): Buffer {
  const c = Buffer.from(b);
  const kind = Math.floor(rnd() * 5);
  if (c.length === 0) return Buffer.from([Math.floor(rnd() * 256)]);
  const at = Math.floor(rnd() * c.length);
  switch (kind) {
    case 0: // bit flip(s)
      for (let i = 0, n = 1 + Math.floor(rnd() * 4); i < n; i++) c[Math.floor(rnd() * c.length)]! ^= 1 << Math.floor(rnd() * 8);
      return c;
    case 1: // truncate
      return c.subarray(0, at);
    case 2: // insert random bytes
      return Buffer.concat([c.subarray(0, at), Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 8) }, () => Math.floor(rnd() * 256))), c.subarray(at)]);
    case 3: // set a byte to an edge value
      c[at] = [0, 0xff, 0x7f, 0x80, 1][Math.floor(rnd() * 5)]!;
      return c;
    default: // overwrite a length-looking pair
      if (at + 1 < c.length) c.writeUInt16BE([0, 0xffff, c.length, 1][Math.floor(rnd() * 4)]! & 0xffff, at);
      return c;
  }
}

interface Outcome {
  connected: boolean;
  error: unknown;
}

function run(serverOpts: Partial<FakeServerOptions>, mutateWire?: (b: Buffer) => Buffer, helloGroups?: number[]): Outcome {
  const core = new FakeServerCore({ chain: [pki.leafViaInter.cert, pki.inter.cert], key: pki.leafViaInter.key, ...serverOpts });
  let connected = false;
  const toServer: Buffer[] = [];
  const engine = new TlsClientEngine(
    {
      hello: basicHelloBuilder({ servername: "localhost", alpn: ["http/1.1"], certCompression: [2, 1], ...(helloGroups ? { keyShareGroups: helloGroups } : {}) }),
      verifyChain: () => {},
    },
    { send: (b) => toServer.push(b), data: () => {}, connected: () => (connected = true), closed: () => {} },
  );
  try {
    engine.start();
    for (let round = 0; round < 4 && !connected; round++) {
      const out = Buffer.concat(toServer.splice(0));
      try {
        core.receive(out);
      } catch {
        break; // the fake server gave up (e.g. it could not parse what the client sent)
      }
      let flight = core.take();
      if (flight.length === 0) break;
      if (mutateWire) flight = mutateWire(flight);
      engine.receive(flight);
    }
    return { connected, error: undefined };
  } catch (e) {
    return { connected, error: e };
  }
}

function assertOnlyTlsError(o: Outcome, label: string): void {
  if (o.error !== undefined) assert.ok(o.error instanceof TlsError, `${label}: threw ${(o.error as Error)?.stack ?? String(o.error)}`);
}

test("fuzz: baseline flights connect", () => {
  assert.equal(run({}).connected, true);
  assert.equal(run({ compress: "brotli" }).connected, true);
  assert.equal(run({ group: NamedGroup.SECP256R1 }).connected, true); // via HRR
});

test("fuzz: mutated handshake messages (inside valid records) -> TlsError, never connected", () => {
  const rnd = prng(0x5eed1);
  let errors = 0;
  for (let i = 0; i < 400; i++) {
    const which = Math.floor(rnd() * 4);
    const compress = rnd() < 0.3 ? ("brotli" as const) : undefined;
    let changed = false;
    const o = run({
      ...(compress ? { compress } : {}),
      recordPerMessage: rnd() < 0.5,
      mutateFlight: (msgs) => {
        const out = msgs.slice();
        const m = mutateBytes(out[which]!, rnd);
        changed = !m.equals(out[which]!);
        out[which] = m;
        return out;
      },
    });
    assertOnlyTlsError(o, `case ${i}`);
    if (changed) assert.equal(o.connected, false, `case ${i}: connected with a mutated transcript`);
    if (o.error) errors++;
  }
  assert.ok(errors > 300);
});

test("fuzz: mutated ServerHello -> only TlsError", () => {
  const rnd = prng(0x5eed2);
  for (let i = 0; i < 300; i++) {
    const o = run({ mutateServerHello: (b) => mutateBytes(b, rnd) });
    assertOnlyTlsError(o, `case ${i}`);
  }
});

test("fuzz: mutated wire bytes (record layer), random chopping -> only TlsError", () => {
  const rnd = prng(0x5eed3);
  for (let i = 0; i < 300; i++) {
    const o = run({ group: rnd() < 0.2 ? NamedGroup.SECP384R1 : NamedGroup.X25519 }, (b) => mutateBytes(b, rnd));
    assertOnlyTlsError(o, `case ${i}`);
  }
});

test("fuzz: random records and random bytes -> only TlsError", () => {
  const rnd = prng(0x5eed4);
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
  for (let i = 0; i < 300; i++) {
    const type = [20, 21, 22, 23, Math.floor(rnd() * 256)][Math.floor(rnd() * 5)]!;
    const body = bytes(Math.floor(rnd() * 300));
    const payload =
      rnd() < 0.5
        ? Buffer.concat([Buffer.from([type, 3, 3, body.length >> 8, body.length & 0xff]), body])
        : type === 22
          ? Buffer.concat([Buffer.from([22, 3, 3, 0, body.length + 4, 2, 0, body.length >> 8, body.length & 0xff]).subarray(0, 9), body])
          : bytes(Math.floor(rnd() * 64));
    const engine = new TlsClientEngine(
      { hello: basicHelloBuilder({ servername: "localhost" }), verifyChain: () => {} },
      { send: () => {}, data: () => {}, connected: () => assert.fail("connected on random bytes"), closed: () => {} },
    );
    engine.start();
    try {
      engine.receive(payload);
    } catch (e) {
      assert.ok(e instanceof TlsError, `case ${i}: ${(e as Error)?.stack ?? String(e)}`);
    }
  }
});

// ---- TLS 1.2 (the scripted TLS 1.2 server, the chrome profile's hello) -------------------------

function run12(serverOpts: Partial<Fake12Options>, mutateWire?: (b: Buffer) => Buffer): Outcome {
  const core = new Fake12Core({ chain: [pki.leafViaInter.cert, pki.inter.cert], key: pki.leafViaInter.key, ticket: Buffer.from("fuzz-ticket"), ...serverOpts });
  let connected = false;
  const toServer: Buffer[] = [];
  const engine = new TlsClientEngine(
    { hello: profileHelloBuilder(chrome156Hello, "localhost", undefined), verifyChain: () => {} },
    { send: (b) => toServer.push(b), data: () => {}, connected: () => (connected = true), closed: () => {} },
  );
  try {
    engine.start();
    for (let round = 0; round < 4 && !connected; round++) {
      try {
        core.receive(Buffer.concat(toServer.splice(0)));
      } catch {
        break; // the fake server gave up (e.g. the client's flight did not verify)
      }
      let flight = core.take();
      if (flight.length === 0) break;
      if (mutateWire) flight = mutateWire(flight);
      engine.receive(flight);
    }
    return { connected, error: undefined };
  } catch (e) {
    return { connected, error: e };
  }
}

const SUITES12 = [0xc02b, 0xc02c, 0xcca9, 0xc02f, 0xc013];
function suiteOpts(suite: number): Partial<Fake12Options> {
  // ECDHE_RSA suites need the RSA leaf; ECDSA ones the EC chain.
  return suite === 0xc02f || suite === 0xc013 ? { suite, chain: [pki.leafRsa.cert], key: pki.leafRsa.key } : { suite };
}

test("fuzz 1.2: baseline flights connect (GCM, ChaCha20, CBC; ECDSA and RSA)", () => {
  for (const suite of SUITES12) assert.equal(run12(suiteOpts(suite)).connected, true, `0x${suite.toString(16)}`);
});

test("fuzz 1.2: mutated ServerHello / Certificate / ServerKeyExchange / ServerHelloDone -> TlsError, never connected", () => {
  const rnd = prng(0x5eed12);
  let errors = 0;
  for (let i = 0; i < 300; i++) {
    const which = Math.floor(rnd() * 4);
    let changed = false;
    const o = run12({
      ...suiteOpts(SUITES12[Math.floor(rnd() * SUITES12.length)]!),
      mutateFlight: (msgs) => {
        const out = msgs.slice();
        const m = mutateBytes(out[which]!, rnd);
        changed = !m.equals(out[which]!);
        out[which] = m;
        return out;
      },
    });
    assertOnlyTlsError(o, `case ${i}`);
    if (changed) assert.equal(o.connected, false, `case ${i}: connected with a mutated transcript`);
    if (o.error) errors++;
  }
  // The rest got as far as their Finished, which the server rejects (its transcript is the original).
  assert.ok(errors > 150, `only ${errors} errors`);
});

test("fuzz 1.2: mutated ServerHello bodies and mutated wire bytes (both server flights) -> only TlsError", () => {
  const rnd = prng(0x5eed13);
  for (let i = 0; i < 200; i++) {
    assertOnlyTlsError(run12({ mutateServerHello: (b) => mutateBytes(b, rnd) }), `sh case ${i}`);
  }
  for (let i = 0; i < 200; i++) {
    const o = run12(suiteOpts(SUITES12[i % SUITES12.length]!), (b) => (rnd() < 0.5 ? mutateBytes(b, rnd) : b));
    assertOnlyTlsError(o, `wire case ${i}`);
  }
});
