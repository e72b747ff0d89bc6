/**
 * The one validation step (issue 14, src/websocket/validate.ts), table-driven: for every option
 * and every method argument in the validation tables, a wrong type, a wrong range (where the
 * value has one) and a valid edge value. Each wrong value must give the typed error (exactly
 * `WebSocketError`, code 0, naming the option and what it accepts) and touch no socket: session
 * options against a TCP server that counts connections, method arguments against a `ws` server
 * that records every frame it gets. The README's table must be the one the code uses.
 */
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { AsyncSession, type SessionOptions } from "../../src/session.js";
import { WebSocketError, WebSocketTimeout } from "../../src/errors.js";
import { WebSocketRetryStrategy } from "../../src/websocket/retry.js";
import { WsFlag } from "../../src/websocket/flags.js";
import type { AsyncWebSocket } from "../../src/websocket/connection.js";
import {
  ARGUMENT_RULES,
  OPTION_RULES,
  sendArgsError,
  validateOptions,
  type ValidatedOption,
} from "../../src/websocket/validate.js";
import { readmeBlock, renderValidationTable } from "../../scripts/validation-table.js";
import { startWsServer, type ConnRecord, type TestWsServer } from "../helpers/ws-server.js";
import { failOnUnhandledRejections } from "../helpers/unhandled.js";

failOnUnhandledRejections();

/** One row's cases. `range: []` only where every value of the right type is valid (booleans, free strings). */
interface Cases {
  type: unknown[];
  range: unknown[];
  edge: unknown[];
}

const bool: Cases = { type: ["yes", 1, null], range: [], edge: [false, true] };
const posInt: Cases = { type: ["5", true, 5n], range: [0, -1, 1.5, NaN, Infinity], edge: [1] };
const slice: Cases = { type: ["10", null], range: [-1, NaN, -Infinity], edge: [0, Infinity] };

/**
 * Every option, typed by the table's own keys: a row without cases does not compile, and
 * {@link SESSION_OPTION_NAMES} below ties the table to SessionOptions.
 */
const OPTION_CASES: Record<ValidatedOption, Cases> = {
  recvQueueSize: posInt,
  sendQueueSize: posInt,
  maxSendQueueBytes: posInt,
  blockOnRecvQueueFull: bool,
  maxMessageSize: posInt,
  coalesceFrames: bool,
  maxSendBatchSize: posInt,
  drainOnError: bool,
  wsRetry: { type: [{ retry: true, count: 3, delay: 300 }, "retry"], range: [], edge: [new WebSocketRetryStrategy({ count: 0, delay: 0 })] },
  recvTimeSlice: slice,
  sendTimeSlice: slice,
  autoclose: bool,
  heartbeat: {
    type: [true, "1000", 5, null],
    range: [{ interval: 0, timeout: 10 }, { interval: 10 }, { interval: 10, timeout: NaN }, { interval: Infinity, timeout: 10 }, { interval: "10", timeout: 10 }],
    edge: [false, { interval: 1, timeout: 0x7fffffff }],
  },
  headers: { type: ["X-A: 1", 5], range: [[["X-A"]], [["a", "b", "c"]], { "X-A": 1 }, [{ "X-A": "1" }]], edge: [{}, [], [["X-A", ""]]] },
  cookies: { type: ["a=1", ["a", "1"]], range: [{ a: 1 }], edge: [{}, { a: "" }] },
  auth: { type: ["user:pass", { user: "u" }], range: [["user"], ["u", 1], ["u", "p", "x"]], edge: [["", ""]] },
  params: { type: ["a=1", 5], range: [{ a: {} }, [["a"]], { a: null }], edge: [{}, [], new URLSearchParams("a=1"), [["a", "1"]], { a: 0, b: false }] },
  timeout: { type: ["300", true], range: [0, -5, NaN, -Infinity], edge: [Number.MIN_VALUE, Infinity] },
  verify: bool,
  ca: { type: [5, true], range: [[5], ["pem", 1]], edge: ["", [], [Buffer.alloc(0), ""]] },
  protocols: { type: ["chat", 5], range: [[""], ["a b"], ["x", "x"], [5], ["chat\r\nX: 1"]], edge: [[], ["chat"]] },
  origin: { type: [5, {}], range: [], edge: [""] },
  proxy: { type: [5, {}, new URL("http://127.0.0.1:1")], range: [], edge: [""] },
  proxies: { type: ["http://127.0.0.1:1", 5], range: [{ ftp: "x" }, { ws: 5 }], edge: [{}, { all: "" }] },
  trustEnv: bool,
  maxRedirects: { type: ["3", null], range: [-1, 1.5, NaN, Infinity], edge: [0] },
  allowInsecureRedirect: bool,
  compress: {
    type: ["yes", 5, null],
    range: [{ serverMaxWindowBits: 16 }, { clientMaxWindowBits: 7 }, { clientNoContextTakeover: "yes" }, { bogus: true }],
    edge: [false, {}, { clientMaxWindowBits: 8, serverMaxWindowBits: 15, clientNoContextTakeover: true }, { clientMaxWindowBits: false }],
  },
  compressThreshold: { type: ["1024"], range: [-1, 1.5, NaN], edge: [0] },
  // The profile name itself is checked by getProfile (a separate test below), before any socket.
  impersonate: { type: [5, true], range: [], edge: ["chrome", "firefox153"] },
  tls: { type: [true, 1], range: ["bogus", "Native", ""], edge: ["native", "masq"] },
  http2: bool,
  http2IdleTimeout: slice,
  tlsSessionCache: bool,
  cert: { type: [5, {}, ["pem"]], range: [], edge: [""] },
  key: { type: [5, {}, ["pem"]], range: [], edge: [""] },
  passphrase: { type: [5, Buffer.from("x")], range: [], edge: [""] },
  signal: { type: [{ aborted: false }, "abort"], range: [], edge: [new AbortController().signal] },
};

/** Every key of SessionOptions, spelt out so that a new option fails the type-check until it has a row. */
const SESSION_OPTION_NAMES: Record<keyof SessionOptions, true> = {
  recvQueueSize: true, sendQueueSize: true, maxSendQueueBytes: true, blockOnRecvQueueFull: true, maxMessageSize: true,
  coalesceFrames: true, maxSendBatchSize: true, drainOnError: true, wsRetry: true, recvTimeSlice: true, sendTimeSlice: true,
  autoclose: true, headers: true, cookies: true, auth: true, params: true, timeout: true, verify: true, ca: true,
  protocols: true, origin: true, proxy: true, proxies: true, trustEnv: true, maxRedirects: true, allowInsecureRedirect: true,
  compress: true, compressThreshold: true, impersonate: true, tls: true, http2: true, http2IdleTimeout: true, signal: true,
  heartbeat: true, tlsSessionCache: true, cert: true, key: true, passphrase: true,
};

/** Exactly a validation error: WebSocketError itself (not a timeout or a closed error), code 0, naming `name`. */
function isValidationError(name: string): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof WebSocketError, `not a WebSocketError: ${String(e)}`);
    assert.equal(e.constructor, WebSocketError, `a ${e.constructor.name}, not the validation error: ${e.message}`);
    assert.equal(e.code, 0);
    assert.ok(e.message.includes(name) && e.message.includes(" must be "), `message names ${name}: ${e.message}`);
    return true;
  };
}

function show(v: unknown): string {
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof URLSearchParams) return `URLSearchParams(${v})`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

// ------------------------------------------------------------------ a server that counts connections

let tcp: net.Server;
let tcpConnections = 0;
let tcpUrl = "";
before(async () => {
  tcp = net.createServer((s) => {
    tcpConnections++;
    s.destroy();
  });
  await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
  tcpUrl = `ws://127.0.0.1:${(tcp.address() as net.AddressInfo).port}/`;
});
after(async () => {
  await new Promise<void>((r) => tcp.close(() => r()));
});

test("the table covers exactly SessionOptions, and the README shows the table the code uses", () => {
  assert.deepEqual(Object.keys(OPTION_RULES).sort(), Object.keys(SESSION_OPTION_NAMES).sort());
  assert.deepEqual(Object.keys(OPTION_CASES).sort(), Object.keys(OPTION_RULES).sort());
  const block = readmeBlock();
  assert.ok(block !== undefined, "README.md has the validation-table markers");
  assert.equal(block, renderValidationTable(), "README.md is out of date: run `npx tsx scripts/validation-table.ts`");
});

for (const [name, cases] of Object.entries(OPTION_CASES) as Array<[ValidatedOption, Cases]>) {
  test(`option ${name}: wrong type and range rejected (session and per call, no connection); edge values accepted`, async () => {
    const isBoolOrFree = cases === bool || ["wsRetry", "origin", "proxy", "impersonate", "signal", "cert", "key", "passphrase"].includes(name);
    assert.ok(cases.type.length > 0 && cases.edge.length > 0);
    assert.ok(cases.range.length > 0 || isBoolOrFree, `${name} needs a wrong-range case`);
    const session = new AsyncSession();
    try {
      const before = tcpConnections;
      for (const v of [...cases.type, ...cases.range]) {
        assert.throws(() => new AsyncSession({ [name]: v } as SessionOptions), isValidationError(name), `new AsyncSession({ ${name}: ${show(v)} })`);
        await assert.rejects(session.wsConnect(tcpUrl, { [name]: v } as SessionOptions), isValidationError(name), `wsConnect(url, { ${name}: ${show(v)} })`);
      }
      for (const v of cases.edge) {
        assert.doesNotThrow(() => validateOptions({ [name]: v }), `${name}: ${show(v)} is valid`);
        await new AsyncSession({ [name]: v } as SessionOptions).close();
      }
      // Let any stray connect reach the server before counting.
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(tcpConnections, before, "no connection was opened");
    } finally {
      await session.close();
    }
  });
}

test("wsConnect's own arguments: url and options are checked before any socket", async () => {
  const before = tcpConnections;
  const session = new AsyncSession();
  try {
    for (const url of [5, null, { href: tcpUrl }]) {
      await assert.rejects(session.wsConnect(url as unknown as string), isValidationError("url"));
    }
    for (const opts of ["timeout=5", 5, [["timeout", 5]]]) {
      await assert.rejects(session.wsConnect(tcpUrl, opts as SessionOptions), isValidationError("options"));
      assert.throws(() => new AsyncSession(opts as SessionOptions), isValidationError("options"));
    }
    // Edge: a URL object, and undefined per-call options ("not given").
    const u = new URL(tcpUrl);
    await assert.rejects(session.wsConnect(u, { timeout: undefined, maxRedirects: undefined }), (e) => !(e instanceof WebSocketError && / must be /.test(e.message)));
  } finally {
    await session.close();
  }
  assert.equal(tcpConnections, before + 1, "only the valid call connected");
});

test("impersonate: an unknown profile name fails with code 0 before any socket (getProfile)", async () => {
  const before = tcpConnections;
  const session = new AsyncSession();
  try {
    await assert.rejects(session.wsConnect(tcpUrl, { impersonate: "netscape4" }), (e: unknown) => e instanceof WebSocketError && e.code === 0 && /netscape4/.test(e.message));
  } finally {
    await session.close();
  }
  assert.equal(tcpConnections, before);
});

test("error messages are clear and never quote a value that could be a secret", () => {
  const msg = (o: SessionOptions): string => {
    try {
      validateOptions(o);
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  };
  assert.equal(msg({ recvQueueSize: 0 }), "recvQueueSize must be a positive integer, got 0");
  assert.equal(msg({ timeout: "300" as unknown as number }), 'timeout must be a positive number of milliseconds or Infinity, got the string "300"');
  assert.equal(msg({ tls: "bogus" as "masq" }), 'tls must be "native" or "masq", got the string "bogus"');
  assert.match(msg({ blockOnRecvQueueFull: "yes" as unknown as boolean }), /^blockOnRecvQueueFull must be a boolean, got the string "yes"$/);
  const secret = "Authorization: Bearer s3cret-token";
  assert.equal(msg({ headers: secret as unknown as Record<string, string> }).includes("s3cret"), false);
  assert.equal(msg({ auth: "alice:s3cret" as unknown as [string, string] }).includes("s3cret"), false);
  assert.equal(msg({ auth: ["alice", 5] as unknown as [string, string] }).includes("alice"), false);
});

// ------------------------------------------------------------------ method arguments

type Method = keyof typeof ARGUMENT_RULES;
/** A call of a public method with one argument made wrong (the others valid). */
type Call = (ws: AsyncWebSocket, v: unknown) => Promise<unknown>;
interface ArgCases extends Cases {
  call: Call;
}

const str = (v: unknown): string => v as string;
const opts = (v: unknown): { timeout?: number } => v as { timeout?: number };

/** Every method argument of ARGUMENT_RULES except wsConnect's (tested above). */
const ARGUMENT_CASES: { [M in Exclude<Method, "wsConnect">]: Record<keyof (typeof ARGUMENT_RULES)[M], ArgCases> } = {
  send: {
    data: { call: (ws, v) => ws.send(v as string), type: [5, null, {}, [1, 2]], range: [], edge: ["", new Uint8Array(0)] },
    flags: {
      call: (ws, v) => ws.send("x", v as number),
      type: ["1", null],
      range: [128, -1, 1.5, NaN, WsFlag.TEXT | 256],
      edge: [0, WsFlag.BINARY],
    },
    opts: { call: (ws, v) => ws.send("x", 0, opts(v)), type: ["x", 5], range: [], edge: [{}] },
    "opts.timeout": { call: (ws, v) => ws.send("x", 0, { timeout: v as number }), type: ["x", "300"], range: [NaN, -1, -Infinity], edge: [0, Infinity] },
    "opts.signal": { call: (ws, v) => ws.send("x", 0, { signal: v as AbortSignal }), type: [{ aborted: false }, true], range: [], edge: [new AbortController().signal] },
  },
  sendStr: { text: { call: (ws, v) => ws.sendStr(str(v)), type: [5, Buffer.from("x"), null], range: [], edge: [""] } },
  sendBytes: { bytes: { call: (ws, v) => ws.sendBytes(v as Uint8Array), type: ["bytes", 5, [1]], range: [], edge: [new ArrayBuffer(0), new DataView(new ArrayBuffer(1))] } },
  ping: {
    payload: {
      call: (ws, v) => ws.ping(v as string),
      type: [5, null],
      range: ["x".repeat(126), Buffer.alloc(126), "€".repeat(42)],
      edge: ["x".repeat(125), Buffer.alloc(0)],
    },
  },
  flush: {
    opts: { call: (ws, v) => ws.flush(opts(v)), type: ["x", 5], range: [], edge: [{}] },
    "opts.timeout": { call: (ws, v) => ws.flush({ timeout: v as number }), type: ["x", null], range: [NaN, -1], edge: [Infinity] },
  },
  recv: {
    opts: { call: (ws, v) => ws.recv(opts(v)), type: ["x", 5], range: [], edge: [{ timeout: 0 }] },
    "opts.timeout": { call: (ws, v) => ws.recvStr({ timeout: v as number }), type: ["x", "300", null], range: [NaN, -1, -Infinity], edge: [0] },
    "opts.signal": { call: (ws, v) => ws.recvBytes({ timeout: 0, signal: v as AbortSignal }), type: [{}, "s"], range: [], edge: [new AbortController().signal] },
  },
  close: {
    code: { call: (ws, v) => ws.close(v as number), type: ["1000", null], range: [1005, 1006, 999, 1000.5, NaN, 5000], edge: [] },
    reason: { call: (ws, v) => ws.close(1000, str(v)), type: [5, Buffer.from("bye")], range: ["a".repeat(124), "€".repeat(42)], edge: [] },
    opts: { call: (ws, v) => ws.close(1000, "", opts(v)), type: ["x", 5], range: [], edge: [] },
    "opts.timeout": { call: (ws, v) => ws.close(1000, "", { timeout: v as number }), type: ["x"], range: [NaN, -1], edge: [] },
  },
};

let server: TestWsServer;
before(async () => {
  server = await startWsServer();
});
after(async () => {
  await server.close();
});

test("method arguments: every wrong value rejects with the validation error, sends nothing and leaves the connection usable", async () => {
  const session = new AsyncSession({ timeout: 10_000 });
  try {
    // /silent records what arrives and answers nothing, so recv's edge values time out.
    const ws = await session.wsConnect(`${server.url}/silent`);
    const conn: ConnRecord = await server.connection(0);
    let expectedMessages = 0;
    let expectedPings = 0;
    for (const [method, args] of Object.entries(ARGUMENT_CASES) as Array<[string, Record<string, ArgCases>]>) {
      for (const [arg, c] of Object.entries(args)) {
        const argName = arg.replace(/^opts\.?/, "") || "options";
        assert.ok(c.type.length > 0, `${method} ${arg}: a wrong-type case`);
        for (const v of [...c.type, ...c.range]) {
          await assert.rejects(c.call(ws, v), isValidationError(argName), `${method}(${arg} = ${show(v)})`);
        }
        // Valid edge values go through (the close edge is the last step below).
        for (const v of c.edge) {
          const r = await c.call(ws, v).then(
            () => "ok",
            (e: unknown) => e,
          );
          if (method === "recv") {
            assert.ok(r instanceof WebSocketTimeout, `${method}(${arg} = ${show(v)}): nothing queued, so a timeout: ${String(r)}`);
            continue;
          }
          assert.equal(r, "ok", `${method}(${arg} = ${show(v)})`);
          if (method === "ping") expectedPings++;
          else if (method.startsWith("send")) expectedMessages++;
        }
      }
    }
    // Nothing a rejected call carried reached the server; the connection still works.
    assert.equal(ws.closed, false);
    await ws.sendStr("last");
    const deadline = Date.now() + 5000;
    while (conn.messages.length < expectedMessages + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(conn.messages.length, expectedMessages + 1, "only the valid sends arrived");
    assert.equal(conn.messages.at(-1)!.data.toString(), "last");
    assert.equal(conn.pings.length, expectedPings, "only the valid pings arrived");
    // The close edge: a 123-byte reason (41 x "€") is sent whole.
    await ws.close(1000, "€".repeat(41), { timeout: 3000 });
    const closed = await conn.closed;
    assert.deepEqual(closed, { code: 1000, reason: "€".repeat(41) });
  } finally {
    await session.close();
  }
});

test("recv with a timeout of NaN or a string rejects at once instead of waiting forever", async () => {
  const session = new AsyncSession({ timeout: 10_000 });
  try {
    const ws = await session.wsConnect(`${server.url}/silent`);
    for (const timeout of [NaN, "x", "300"]) {
      await assert.rejects(ws.recv({ timeout: timeout as number }), isValidationError("timeout"));
    }
    await assert.rejects(ws.recvJson({ timeout: NaN }), isValidationError("recvJson: timeout"));
    await assert.rejects(ws.sendJson({}, { timeout: NaN }), isValidationError("sendJson: timeout"));
    ws.terminate();
  } finally {
    await session.close();
  }
});

test("send's fast path gives the same answers as the full check", () => {
  for (const [data, flags, o] of [
    ["x", 0, undefined],
    ["x", 1.5, undefined],
    ["x", -1, undefined],
    ["x", 2 ** 31, undefined],
    [5, 0, undefined],
    [new Uint8Array(1), WsFlag.BINARY | WsFlag.CONT, undefined],
    ["x", 0, { timeout: "1" }],
  ] as Array<[unknown, unknown, unknown]>) {
    const fast = sendArgsError(data, flags, o);
    const slow = sendArgsError(data, flags, o ?? {});
    assert.equal(fast?.message, slow?.message, `send(${show(data)}, ${show(flags)})`);
  }
});
