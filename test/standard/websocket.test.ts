/**
 * The WHATWG WebSocket class against real peers over loopback: event order, readyState at each
 * step, bufferedAmount, close() argument errors, binaryType switching, Blob sends, backpressure
 * without a message listener, and session binding (cookies, headers, impersonation, proxy).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { AsyncSession, WebSocket, CloseEvent, ErrorEvent, HandshakeError, ProxyError, WebSocketError, type CloseEventLike } from "../../src/index.js";
import { startWsServer, seqOf, type TestWsServer } from "../helpers/ws-server.js";
import { startRawServer, OP } from "../helpers/raw-server.js";
import { startHttpProxy } from "../helpers/proxies.js";
import { testCerts } from "../helpers/certs.js";

let server: TestWsServer;
let tlsServer: TestWsServer;
before(async () => {
  server = await startWsServer();
  tlsServer = await startWsServer({ tls: true });
});
after(async () => {
  await server.close();
  await tlsServer.close();
});

/** Records every event as "type:readyState" (plus details) until `close`. */
function record(ws: WebSocket): { log: string[]; events: Event[]; closed: Promise<CloseEventLike> } {
  const log: string[] = [];
  const events: Event[] = [];
  let done!: (ev: never) => void;
  const closed = new Promise<never>((r) => (done = r));
  for (const type of ["open", "message", "error", "close"]) {
    ws.addEventListener(type, (ev) => {
      events.push(ev);
      log.push(`${type}:${ws.readyState}`);
      if (type === "close") done(ev as never);
    });
  }
  return { log, events, closed };
}

function withTimeout<T>(p: Promise<T>, ms = 10_000, what = "event"): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(`no ${what} within ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}

function once(ws: WebSocket, type: string): Promise<Event> {
  return withTimeout(new Promise((resolve) => ws.addEventListener(type, resolve, { once: true })), 10_000, type);
}

test("constants: static, on instances and on the prototype; url maps http to ws", async () => {
  for (const [name, v] of [["CONNECTING", 0], ["OPEN", 1], ["CLOSING", 2], ["CLOSED", 3]] as const) {
    assert.equal(WebSocket[name], v);
    assert.equal(WebSocket.prototype[name], v);
    assert.equal(Object.getOwnPropertyDescriptor(WebSocket, name)?.writable, false);
  }
  const ws = new WebSocket(server.url.replace("ws:", "http:") + "/echo");
  assert.equal(ws.OPEN, 1);
  assert.equal(ws.url, server.url + "/echo");
  assert.equal(ws.readyState, WebSocket.CONNECTING);
  assert.equal(ws.binaryType, "blob");
  assert.equal(ws.bufferedAmount, 0);
  assert.equal(Object.prototype.toString.call(ws), "[object WebSocket]");
  const r = record(ws);
  await once(ws, "open");
  ws.close();
  const ev = await r.closed;
  assert.equal(ev.wasClean, true);
});

test("CloseEvent (Node's where it exists, else masq's) and ErrorEvent: defaults and init values", () => {
  const empty = new CloseEvent("close");
  assert.deepEqual([empty.type, empty.code, empty.reason, empty.wasClean], ["close", 0, "", false]);
  const ev = new CloseEvent("close", { code: 4000, reason: "bye", wasClean: true });
  assert.deepEqual([ev.code, ev.reason, ev.wasClean], [4000, "bye", true]);
  assert.ok(ev instanceof Event);
  assert.equal(Object.prototype.toString.call(ev), "[object CloseEvent]");
  const cause = new WebSocketError("boom", 1006);
  const err = new ErrorEvent("error", { message: "boom", error: cause });
  assert.deepEqual([err.type, err.message, err.error], ["error", "boom", cause]);
  assert.ok(err instanceof Event);
});

test("constructor: SyntaxError for a bad URL, scheme, fragment or subprotocol list", () => {
  const bad: Array<[string, string | string[] | undefined]> = [
    ["not a url", undefined],
    ["ftp://127.0.0.1/", undefined],
    [server.url + "/echo#frag", undefined],
    [server.url + "/echo", "a b"],
    [server.url + "/echo", ["chat", "chat"]],
    [server.url + "/echo", [""]],
  ];
  for (const [url, protocols] of bad) {
    assert.throws(() => new WebSocket(url, protocols), (err: unknown) => err instanceof DOMException && err.name === "SyntaxError", `${url} ${String(protocols)}`);
  }
});

test("open → message → close, readyState at each step, subprotocol and server close code", async () => {
  const ws = new WebSocket(server.url + "/echo", ["chat", "superchat"]);
  const r = record(ws);
  assert.equal(ws.readyState, 0);
  assert.throws(() => ws.send("too early"), (e: unknown) => e instanceof DOMException && e.name === "InvalidStateError");
  await once(ws, "open");
  assert.equal(ws.readyState, 1);
  assert.equal(ws.protocol, "chat");
  ws.send("hello");
  const msg = (await once(ws, "message")) as MessageEvent;
  assert.equal(msg.data, "hello");
  assert.equal(msg.origin, server.url);
  ws.close(4001, "done");
  assert.equal(ws.readyState, 2);
  const ev = await r.closed;
  assert.ok(ev instanceof CloseEvent);
  assert.equal(ev.code, 4001); // the ws server echoes our code
  assert.equal(ev.reason, "done");
  assert.equal(ev.wasClean, true);
  assert.deepEqual(r.log, ["open:1", "message:1", "close:3"]);
  assert.equal((await (await server.connection(server.connections.length - 1)).closed).code, 4001);
});

test("server-initiated close: CLOSING, then close with its code; delivered even without a message listener", async () => {
  const ws = new WebSocket(server.url + "/close?code=4002&reason=bye");
  const states: number[] = [];
  ws.addEventListener("open", () => states.push(ws.readyState));
  const ev = (await once(ws, "close")) as CloseEventLike;
  states.push(ws.readyState);
  assert.deepEqual(states, [1, 3]);
  assert.equal(ev.code, 4002);
  assert.equal(ev.reason, "bye");
  assert.equal(ev.wasClean, true);
});

test("failed connection: error before close (1006, not clean), readyState CLOSED at both", async () => {
  const refused = new WebSocket("ws://127.0.0.1:1/");
  const r = record(refused);
  const ev = await r.closed;
  assert.deepEqual(r.log, ["error:3", "close:3"]);
  assert.equal(ev.code, 1006);
  assert.equal(ev.wasClean, false);
  const err = r.events[0] as ErrorEvent;
  assert.ok(err instanceof ErrorEvent);
  assert.ok(err.error instanceof WebSocketError);
  assert.match(err.message, /ECONNREFUSED|connect/);

  const rejected = new WebSocket(server.url + "/reject?status=403");
  const r2 = record(rejected);
  await r2.closed;
  assert.deepEqual(r2.log, ["error:3", "close:3"]);
  assert.ok((r2.events[0] as ErrorEvent).error instanceof HandshakeError);
});

test("close() while CONNECTING: CLOSING at once, then error and close 1006", async () => {
  const ws = new WebSocket(server.url + "/hang");
  const r = record(ws);
  ws.close();
  assert.equal(ws.readyState, 2);
  ws.close(); // no effect
  const ev = await r.closed;
  assert.deepEqual(r.log, ["error:3", "close:3"]);
  assert.equal(ev.code, 1006);
});

test("protocol violation by the peer: error then close 1006, not clean", async () => {
  const raw = await startRawServer(async (conn) => {
    await conn.sendFrame(OP.TEXT, "ok");
    await conn.sendFrame(0x3, "reserved opcode");
  });
  try {
    const ws = new WebSocket(raw.url);
    const r = record(ws);
    const ev = await r.closed;
    assert.deepEqual(r.log, ["open:1", "message:1", "error:3", "close:3"]);
    assert.equal(ev.code, 1006);
    assert.equal(ev.wasClean, false);
    assert.equal((r.events[1] as MessageEvent).data, "ok");
  } finally {
    await raw.close();
  }
});

test("close(): every argument error, checked before the state", async () => {
  const ws = new WebSocket(server.url + "/echo");
  await once(ws, "open");
  for (const code of [0, 999, 1001, 1005, 1006, 2999, 5000, 65535, NaN]) {
    assert.throws(() => ws.close(code), (e: unknown) => e instanceof DOMException && e.name === "InvalidAccessError", String(code));
  }
  assert.throws(() => ws.close(1000, "x".repeat(124)), (e: unknown) => e instanceof DOMException && e.name === "SyntaxError");
  assert.throws(() => ws.close(4000, "é".repeat(62)), (e: unknown) => e instanceof DOMException && e.name === "SyntaxError");
  assert.throws(() => ws.close(undefined, "é".repeat(62)), (e: unknown) => e instanceof DOMException && e.name === "SyntaxError");
  assert.equal(ws.readyState, 1); // none of them started closing
  ws.close(4999, "é".repeat(61) + "x"); // 123 bytes: fine
  const ev = (await once(ws, "close")) as CloseEventLike;
  assert.equal(ev.code, 4999);
  // After closing: argument errors still throw, valid calls do nothing.
  assert.throws(() => ws.close(1001), (e: unknown) => e instanceof DOMException && e.name === "InvalidAccessError");
  ws.close(1000);
  assert.equal(ws.readyState, 3);
});

test("bufferedAmount rises on send, stays while the peer does not read, falls to 0 once it does", async () => {
  const ws = new WebSocket(server.url + "/noread");
  await once(ws, "open");
  const conn = server.connections[server.connections.length - 1]!;
  const chunk = new Uint8Array(1024 * 1024);
  let expected = 0;
  for (let i = 0; i < 24; i++) {
    ws.send(chunk);
    expected += chunk.length;
    assert.equal(ws.bufferedAmount, expected); // counted at once, in this turn
  }
  ws.send("é"); // UTF-8 bytes, not UTF-16 units
  expected += 2;
  assert.equal(ws.bufferedAmount, expected);
  await new Promise((r) => setTimeout(r, 300));
  const stalled = ws.bufferedAmount;
  assert.ok(stalled > 0 && stalled <= expected, `bufferedAmount while the peer does not read: ${stalled}`);
  conn.socket.resume();
  const deadline = Date.now() + 15_000;
  while (ws.bufferedAmount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(ws.bufferedAmount, 0);
  ws.close();
  await once(ws, "close");
  // Once closed, send() drops the data but still counts it.
  ws.send("abc");
  assert.equal(ws.bufferedAmount, 3);
});

test("binaryType switching mid-stream: blob, arraybuffer, nodebuffer", async () => {
  const ws = new WebSocket(server.url + "/send?count=4&size=8&type=binary");
  const seen: string[] = [];
  const order: Array<WebSocket["binaryType"]> = ["arraybuffer", "nodebuffer", "blob", "blob"];
  const done = once(ws, "close");
  ws.onmessage = (ev) => {
    const d = (ev as MessageEvent).data as unknown;
    seen.push(Buffer.isBuffer(d) ? "buffer" : d instanceof ArrayBuffer ? "arraybuffer" : d instanceof Blob ? "blob" : typeof d);
    ws.binaryType = order[seen.length - 1]!;
    if (seen.length === 4) ws.close();
  };
  await done;
  assert.deepEqual(seen, ["blob", "arraybuffer", "buffer", "blob"]);
  (ws as { binaryType: string }).binaryType = "bogus"; // ignored, as the standard says
  assert.equal(ws.binaryType, "blob");
});

test("Blob sends keep their place among other sends; data types", async () => {
  const ws = new WebSocket(server.url + "/echo", [], { binaryType: "arraybuffer" });
  await once(ws, "open");
  const got: Array<string | number[]> = [];
  const five = new Promise<void>((resolve) => {
    ws.onmessage = (ev) => {
      const d = (ev as MessageEvent).data as string | ArrayBuffer;
      got.push(typeof d === "string" ? d : [...new Uint8Array(d)]);
      if (got.length === 5) resolve();
    };
  });
  const view = new Uint8Array([9, 8, 7, 6]);
  ws.send("a");
  ws.send(new Blob([new Uint8Array([1, 2]), "b"]));
  ws.send(view.subarray(1, 3));
  view[1] = 0; // the bytes were copied at send()
  ws.send(new Uint16Array([0x0201]).buffer);
  ws.send("z");
  await withTimeout(five);
  assert.deepEqual(got, ["a", [1, 2, 98], [8, 7], [1, 2], "z"]);
  ws.close();
  await once(ws, "close");
});

test("onX handlers: alongside listeners, replaced in place, removed with null", async () => {
  const ws = new WebSocket(server.url + "/echo");
  const calls: string[] = [];
  ws.onmessage = () => calls.push("handler1");
  ws.addEventListener("message", () => calls.push("listener"));
  ws.onmessage = () => calls.push("handler2"); // keeps the first one's place
  assert.equal(typeof ws.onmessage, "function");
  await once(ws, "open");
  ws.send("x");
  await once(ws, "message");
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(calls, ["handler2", "listener"]);
  ws.onmessage = null;
  assert.equal(ws.onmessage, null);
  ws.send("y");
  await once(ws, "message");
  assert.deepEqual(calls, ["handler2", "listener", "listener"]);
  ws.close();
  await once(ws, "close");
});

test("no message listener: messages wait in masq's bounded queue (none lost, the server is held back)", async () => {
  const ws = new WebSocket(server.url + "/flood?size=1024", [], { recvQueueSize: 8 });
  await once(ws, "open");
  const conn = server.connections[server.connections.length - 1]!;
  // Paused, the server's flood stalls once the queue (8) and the socket buffers are full: its
  // count stops moving. Unpaused (messages taken and dropped) it would keep growing.
  let last = -1;
  let stable = 0;
  const deadline = Date.now() + 5_000;
  while (stable < 3 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    stable = conn.sent === last ? stable + 1 : 0;
    last = conn.sent;
  }
  assert.equal(stable, 3, `the server kept sending while nobody listened (${conn.sent} messages)`);
  const seqs: number[] = [];
  await withTimeout(
    new Promise<void>((resolve) => {
      ws.onmessage = (ev) => {
        seqs.push(seqOf(Buffer.from((ev as MessageEvent).data as string)));
        if (seqs.length === 200) resolve();
      };
    }),
  );
  assert.deepEqual(seqs, Array.from({ length: 200 }, (_, i) => i));
  ws.close();
  await once(ws, "close");
});

test("a message taken while the last listener goes away is held for the next listener, not lost", async () => {
  const ws = new WebSocket(server.url + "/echo");
  await once(ws, "open");
  const got: string[] = [];
  const first = (ev: Event): void => void got.push(String((ev as MessageEvent).data));
  ws.addEventListener("message", first);
  ws.send("first");
  const deadline = Date.now() + 5_000;
  while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 100)); // the loop now waits in recv() (a listener was there)
  ws.removeEventListener("message", first);
  ws.send("second"); // taken from the queue with no one listening any more
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(got, ["first"]);
  const next = (await once(ws, "message")) as MessageEvent;
  assert.equal(next.data, "second");
  ws.close();
  await once(ws, "close");
});

test("session.WebSocket: one cached class per session carrying its cookies and headers", async () => {
  await using session = new AsyncSession({ headers: { "X-From-Session": "yes" } });
  session.cookies.set("sid", "s3cret");
  assert.equal(session.WebSocket, session.WebSocket);
  const Ctor = session.WebSocket;
  assert.equal(Ctor.OPEN, 1);
  const ws = new Ctor(server.url + "/headers");
  assert.ok(ws instanceof WebSocket);
  const msg = (await once(ws, "message")) as MessageEvent;
  const seen = JSON.parse(msg.data as string) as { headers: Record<string, string> };
  assert.equal(seen.headers["x-from-session"], "yes");
  assert.equal(seen.headers["cookie"], "sid=s3cret");
  ws.close();
  await once(ws, "close");
});

test("impersonate chrome over wss through an HTTP CONNECT proxy (which is really in the path)", async (t) => {
  const proxy = await startHttpProxy({ auth: { username: "ws-user", password: "ws-pass" } });
  t.after(() => proxy.stop());
  const ca = testCerts().ca.cert;
  // Without credentials the proxy answers 407: the connection goes through it.
  const refused = new WebSocket(tlsServer.url + "/echo", [], { impersonate: "chrome", ca, proxy: proxy.urlWith(null) });
  const r = record(refused);
  await r.closed;
  assert.deepEqual(r.log, ["error:3", "close:3"]);
  assert.ok((r.events[0] as ErrorEvent).error instanceof ProxyError, String((r.events[0] as ErrorEvent).message));

  await using session = new AsyncSession({ impersonate: "chrome", ca, proxy: proxy.url });
  const ws = new session.WebSocket(tlsServer.url + "/headers");
  const msg = (await once(ws, "message")) as MessageEvent;
  const seen = JSON.parse(msg.data as string) as { headers: Record<string, string> };
  assert.match(seen.headers["user-agent"] ?? "", /Chrome\//);
  ws.send("echoed");
  assert.equal(((await once(ws, "message")) as MessageEvent).data, "echoed");
  ws.close(1000);
  const ev = (await once(ws, "close")) as CloseEventLike;
  assert.equal(ev.wasClean, true);
});
