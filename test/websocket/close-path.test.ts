// The end of a connection (issue 11, connect cost): the clean close's WebSocketClosed is one object
// for every waiter and every later call; the upgrade response's socket is handed over without a
// pause, and bytes that arrive before the connection's reader attaches are not lost.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { setImmediate as tick } from "node:timers/promises";
import { AsyncSession, WsFlag, WebSocketClosed, WebSocketError } from "../../src/index.js";
import { exchangeHandshake, readErrorBody } from "../../src/websocket/handshake-io.js";
import { connectTcp } from "../../src/transport/tcp.js";
import { attachDirectRead, directReadOption } from "../../src/transport/direct-read.js";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { OP, closePayload, startRawServer } from "../helpers/raw-server.js";
import { failOnUnhandledRejections } from "../helpers/unhandled.js";

failOnUnhandledRejections(20);

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => assert.fail("expected a rejection"),
    (e: unknown) => e,
  );
}

describe("the clean close's error", () => {
  test("close() answered by the peer: every waiter, later recv, send, ping and flush get the same WebSocketClosed with the peer's code and reason", async () => {
    const server = await startRawServer(async (c) => {
      await c.closeFrame(5000);
      await c.sendFrame(OP.CLOSE, closePayload(4001, "app"));
      c.socket.end();
    });
    const session = new AsyncSession({ timeout: 5000 });
    try {
      const ws = await session.wsConnect(server.url + "/");
      const waiters = Promise.allSettled([ws.recv({ timeout: 5000 }), ws.recv({ timeout: 5000 }), ws.recv({ timeout: 5000 })]);
      await ws.close(1000, "", { timeout: 5000 });
      const [first, ...rest] = await waiters;
      assert.equal(first!.status, "fulfilled");
      assert.equal((first as PromiseFulfilledResult<{ flags: number }>).value.flags, WsFlag.CLOSE);
      const errors = rest.map((r) => (r as PromiseRejectedResult).reason as unknown);
      errors.push(await rejection(ws.recv()), await rejection(ws.recvStr()), await rejection(ws.send("x")), await rejection(ws.ping()));
      const closed = errors[0];
      assert.ok(closed instanceof WebSocketClosed, String(closed));
      assert.equal(closed.code, 4001);
      assert.equal(closed.reason, "app");
      assert.equal(closed.message, "the peer closed the connection (4001 app)");
      for (const e of errors) assert.equal(e, closed, "one object for everyone");
      assert.equal(ws.closeCode, 4001);
      assert.equal(ws.closeReason, "app");
      await ws.ended;
    } finally {
      await session.close();
      await server.close();
    }
  });

  test("200 clean closes in a row leave no connection behind", async () => {
    const server = await startRawServer(async (c) => {
      await c.closeFrame(5000);
      await c.sendFrame(OP.CLOSE, closePayload(1000, ""));
      c.socket.end();
    });
    const session = new AsyncSession({ timeout: 5000 });
    try {
      for (let i = 0; i < 200; i++) {
        const ws = await session.wsConnect(server.url + "/");
        await ws.close(1000, "", { timeout: 5000 });
        await ws.ended;
        assert.equal((await ws.recv()).flags, WsFlag.CLOSE, "the close item first");
        const e = await rejection(ws.recv());
        assert.ok(e instanceof WebSocketClosed && e.code === 1000, String(e));
      }
      assert.equal(session.connections.size, 0);
    } finally {
      await session.close();
      await server.close();
    }
  });
});

/** A Duplex standing in for a socket: what we write is dropped, `feed` delivers bytes. */
function fakeSocket(): Duplex {
  return new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
}

const HEAD = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";

describe("handing the socket over after the upgrade response", () => {
  test("a direct-read TCP socket (ws://) keeps flowing: no pause/resume, the bytes after the head come back from handOver", async () => {
    const server = createServer((c) => c.once("data", () => c.write(HEAD + "AB")));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const socket = await connectTcp("127.0.0.1", (server.address() as AddressInfo).port, undefined, { directRead: true });
    try {
      const paused: boolean[] = [];
      const pause = socket.pause.bind(socket);
      socket.pause = () => (paused.push(true), pause());
      const { head, handOver } = await exchangeHandshake(socket, Buffer.from("GET / HTTP/1.1\r\n\r\n"), undefined);
      assert.equal(head.status, 101);
      assert.equal(handOver().toString(), "AB");
      assert.deepEqual(paused, [], "never paused");
      assert.equal(socket.isPaused(), false);
      assert.equal(socket.listenerCount("data") + socket.listenerCount("error") + socket.listenerCount("close"), 0);
    } finally {
      socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test("a direct-read socket: bytes that arrive before handOver are kept, in order, and it waits paused", async () => {
    const socket = fakeSocket();
    attachDirectRead(socket as unknown as Socket, directReadOption().port); // counts as direct-read
    const p = exchangeHandshake(socket, Buffer.from("GET / HTTP/1.1\r\n\r\n"), undefined);
    await tick();
    socket.push(Buffer.from(HEAD + "AB"));
    assert.equal(socket.isPaused(), false, "not paused at the head");
    socket.push(Buffer.from("CD")); // same turn: before the caller's continuation runs
    const { handOver } = await p;
    socket.push(Buffer.from("EF")); // later, while the caller still holds it
    assert.equal(handOver().toString(), "ABCD");
    assert.equal(socket.isPaused(), true);
    // What stayed in the stream's buffer reaches the next reader.
    const more: Buffer[] = [];
    socket.on("data", (c: Buffer) => more.push(c));
    socket.resume();
    await tick();
    assert.equal(Buffer.concat(more).toString(), "EF");
    socket.destroy();
  });

  test("any other socket (TLS, a tunnel) waits paused from the head on: what follows, its end and close stay for the next reader", async () => {
    const socket = fakeSocket();
    const p = exchangeHandshake(socket, Buffer.from("GET / HTTP/1.1\r\n\r\n"), undefined);
    await tick();
    socket.push(Buffer.from(HEAD + "AB"));
    socket.push(Buffer.from("CD")); // same turn, as a TLS socket delivers several records
    socket.push(null); // and the peer's close
    const { handOver } = await p;
    await tick();
    assert.equal(socket.isPaused(), true);
    assert.equal(socket.readableEnded, false, "the end waits for the reader");
    assert.equal(handOver().toString(), "AB");
    const more: Buffer[] = [];
    let ended = false;
    socket.on("data", (c: Buffer) => more.push(c));
    socket.on("end", () => (ended = true));
    socket.resume();
    await tick();
    await tick();
    assert.equal(Buffer.concat(more).toString(), "CD");
    assert.equal(ended, true);
    socket.destroy();
  });

  test("a socket that fails before handOver: handOver throws a WebSocketError (1006) instead of handing over a dead socket", async () => {
    const socket = fakeSocket();
    const p = exchangeHandshake(socket, Buffer.from("GET / HTTP/1.1\r\n\r\n"), undefined);
    await tick();
    socket.push(Buffer.from(HEAD));
    const { handOver } = await p;
    socket.destroy(new Error("ECONNRESET"));
    await tick();
    await tick();
    assert.throws(handOver, (e: unknown) => e instanceof WebSocketError && e.code === 1006 && /right after the upgrade: ECONNRESET/.test(e.message));
  });

  test("a refused upgrade whose page and close came before handOver: handOver(true) returns the page and readErrorBody ends at once", async () => {
    const socket = fakeSocket();
    const p = exchangeHandshake(socket, Buffer.from("GET / HTTP/1.1\r\n\r\n"), undefined);
    await tick();
    socket.push(Buffer.from("HTTP/1.0 200 ok\r\nContent-type: text/html\r\n\r\n<pre>"));
    socket.push(Buffer.from("page</pre>"));
    const { head, handOver } = await p;
    socket.push(null);
    socket.destroy();
    await tick();
    await tick();
    assert.throws(() => handOver(), (e: unknown) => e instanceof WebSocketError && e.code === 1006);
    const rest = handOver(true);
    assert.equal(rest.toString(), "<pre>page</pre>");
    let settled = false;
    const body = readErrorBody(socket, head, rest, 60_000, undefined).finally(() => (settled = true));
    await tick();
    assert.equal(settled, true, "no wait for the 60 s body timeout: the socket is already gone");
    assert.equal((await body).toString(), "<pre>page</pre>");
  });

  test("a real server that sends a message and closes right behind the 101: the message and the close arrive", async () => {
    const server = await startRawServer(async (c) => {
      await c.sendFrame(OP.TEXT, "hello");
      await c.sendFrame(OP.CLOSE, closePayload(1001, "bye"));
      c.socket.end();
    });
    const session = new AsyncSession({ timeout: 5000 });
    try {
      for (let i = 0; i < 20; i++) {
        const ws = await session.wsConnect(server.url + "/");
        assert.equal(await ws.recvStr({ timeout: 5000 }), "hello");
        const item = await ws.recv({ timeout: 5000 });
        assert.equal(item.flags, WsFlag.CLOSE);
        assert.equal(ws.closeCode, 1001);
        await ws.ended;
      }
    } finally {
      await session.close();
      await server.close();
    }
  });
});
