// A scripted raw TCP server sends each protocol violation of RFC 6455; the client must answer
// with a close frame carrying the right code (§7.1.7, asserted on the bytes the server received)
// and fail with a WebSocketError of that code, with no unhandled rejection and no crash.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import {
  WsFlag,
  WebSocketError,
  WebSocketClosed,
  ProtocolError,
  HandshakeError,
  type AsyncWebSocket,
  type SessionOptions,
} from "../../src/index.js";
import { OP, acceptKey, closePayload, type RawConn, type RawServerOptions } from "../helpers/raw-server.js";
import { withRawSession as withRaw } from "../helpers/raw-session.js";
import { failOnUnhandledRejections } from "../helpers/unhandled.js";

const unhandled = failOnUnhandledRejections(30);

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => assert.fail(`expected a rejection, got ${JSON.stringify(v, (_k, x) => (Buffer.isBuffer(x) ? x.toString("hex") : x))}`),
    (e: unknown) => e,
  );
}

/**
 * Connects, lets the raw server `send` its bytes, and checks: recv rejects with a ProtocolError
 * of `code`; the server received a close frame with `code`; later calls reject too.
 */
async function expectViolation(
  send: (c: RawConn) => Promise<void>,
  code: number,
  session: SessionOptions = {},
  { immediate = false }: { immediate?: boolean } = {},
): Promise<void> {
  // By default the bad bytes come 30 ms after the 101, once the connection object exists;
  // `immediate` writes them right behind the 101 so they arrive with the handshake response.
  const handler = async (c: RawConn): Promise<void> => {
    if (!immediate) await sleep(30);
    await send(c);
  };
  await withRaw(handler, async (server, s) => {
    const ws = await s.wsConnect(server.url + "/");
    const err = await failure(ws.recv({ timeout: 5000 }));
    assert.ok(err instanceof WebSocketError, `expected WebSocketError, got ${String(err)}`);
    assert.ok(err instanceof ProtocolError, `expected ProtocolError, got ${(err as Error).name}: ${String(err)}`);
    assert.equal(err.code, code, `error code (message: ${err.message})`);
    assert.ok(err.message.length > 0);
    const conn = await server.connection(0);
    const close = await conn.closeFrame(3000);
    assert.ok(close, "the client closed TCP without sending a close frame");
    assert.equal(close.code, code, "close code the client sent");
    assert.equal(conn.parseError, undefined, "client frames must be well-formed");
    // The client fails the connection after its close frame (§7.1.7): TCP ends soon.
    await Promise.race([conn.closed, sleep(4000).then(() => assert.fail("TCP not closed after the failure"))]);
    const again = await failure(ws.recv({ timeout: 1000 }));
    assert.ok(again instanceof WebSocketError);
    assert.equal((again as WebSocketError).code, code, "the error is sticky");
    await assert.rejects(ws.sendStr("after failure"), WebSocketError);
  }, { session });
}

describe("protocol violations -> close 1002", () => {
  for (const [name, rsv] of [["RSV1", 4], ["RSV2", 2], ["RSV3", 1]] as const) {
    test(`${name} set on a TEXT frame without an extension`, () =>
      expectViolation((c) => c.sendFrame(OP.TEXT, "hi", { rsv }), 1002));
  }
  test("RSV1 on a PING", () => expectViolation((c) => c.sendFrame(OP.PING, "p", { rsv: 4 }), 1002));
  for (const opcode of [3, 7, 0xb, 0xf]) {
    test(`unknown opcode 0x${opcode.toString(16)}`, () => expectViolation((c) => c.sendFrame(opcode, "x"), 1002));
  }
  test("fragmented PING (FIN clear)", () => expectViolation((c) => c.sendFrame(OP.PING, "p", { fin: false }), 1002));
  test("fragmented CLOSE (FIN clear)", () =>
    expectViolation((c) => c.sendFrame(OP.CLOSE, closePayload(1000), { fin: false }), 1002));
  test("126-byte PING", () => expectViolation((c) => c.sendFrame(OP.PING, Buffer.alloc(126, 1)), 1002));
  test("126-byte PONG", () => expectViolation((c) => c.sendFrame(OP.PONG, Buffer.alloc(126, 1)), 1002));
  test("a PING announcing a 64-bit length (fails on the header)", () =>
    expectViolation((c) => c.write(Buffer.from([0x89, 127, 0, 0, 0, 0, 0, 0x01, 0, 0])), 1002));
  test("masked server frame", () =>
    expectViolation((c) => c.sendFrame(OP.TEXT, "masked", { mask: Buffer.from([1, 2, 3, 4]) }), 1002));
  test("continuation without a start", () => expectViolation((c) => c.sendFrame(OP.CONT, "orphan"), 1002));
  test("new TEXT frame inside a fragmented TEXT message", () =>
    expectViolation(async (c) => {
      await c.sendFrame(OP.TEXT, "a", { fin: false });
      await c.sendFrame(OP.TEXT, "b");
    }, 1002));
  test("new BINARY frame inside a fragmented TEXT message (after a control frame)", () =>
    expectViolation(async (c) => {
      await c.sendFrame(OP.TEXT, "a", { fin: false });
      await c.sendFrame(OP.PING, "interleaved ping is fine");
      await c.sendFrame(OP.BINARY, "b");
    }, 1002));
  test("1-byte close payload", () => expectViolation((c) => c.sendFrame(OP.CLOSE, Buffer.from([0x03])), 1002));
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
    test(`close code ${code} on the wire`, () => expectViolation((c) => c.sendFrame(OP.CLOSE, closePayload(code, "x")), 1002));
  }
});

describe("violations arriving in the same read as the 101 response", () => {
  test("continuation without a start -> 1002", () =>
    expectViolation((c) => c.sendFrame(OP.CONT, "orphan"), 1002, {}, { immediate: true }));
  test("invalid UTF-8 -> 1007", () =>
    expectViolation((c) => c.sendFrame(OP.TEXT, Buffer.from([0xff])), 1007, {}, { immediate: true }));
  test("too large -> 1009", () =>
    expectViolation((c) => c.sendFrame(OP.BINARY, Buffer.alloc(20)), 1009, { maxMessageSize: 10 }, { immediate: true }));
  test("a valid message and a close frame right behind the 101 are delivered", async () => {
    await withRaw(async (c) => {
      await c.sendFrame(OP.TEXT, "early");
      await c.sendFrame(OP.CLOSE, closePayload(4000, "early close"));
    }, async (server, s) => {
      const ws = await s.wsConnect(server.url + "/");
      assert.equal(await ws.recvStr({ timeout: 5000 }), "early");
      const item = await ws.recv({ timeout: 5000 });
      assert.equal(item.flags, WsFlag.CLOSE);
      assert.equal(ws.closeCode, 4000);
      assert.equal((await (await server.connection(0)).closeFrame(3000))?.code, 4000);
    });
  });
});

describe("invalid UTF-8 -> close 1007", () => {
  const bad: Array<[string, number[]]> = [
    ["a lone 0xFF", [0x61, 0xff, 0x62]],
    ["an overlong encoding of '/'", [0xc0, 0xaf]],
    ["a UTF-16 surrogate (U+D800)", [0xed, 0xa0, 0x80]],
    ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
    ["a sequence truncated at the end of the message", [0x61, 0xe2, 0x82]],
  ];
  for (const [name, bytes] of bad) {
    test(`TEXT with ${name}`, () => expectViolation((c) => c.sendFrame(OP.TEXT, Buffer.from(bytes)), 1007));
  }
  test("TEXT fragments whose join is invalid (E2 | 41)", () =>
    expectViolation(async (c) => {
      await c.sendFrame(OP.TEXT, Buffer.from([0x61, 0xe2]), { fin: false });
      await c.sendFrame(OP.CONT, Buffer.from([0x41]));
    }, 1007));
  test("a message that ends inside a sequence across fragments (… E2 82 | FIN)", () =>
    expectViolation(async (c) => {
      await c.sendFrame(OP.TEXT, Buffer.from([0x61, 0xe2]), { fin: false });
      await c.sendFrame(OP.CONT, Buffer.from([0x82]));
    }, 1007));
  test("invalid UTF-8 in a fragment is caught before the message ends", () =>
    expectViolation(async (c) => {
      await c.sendFrame(OP.TEXT, Buffer.from([0x61, 0xff]), { fin: false });
      // no final fragment ever comes: the client must still fail
    }, 1007));
  test("invalid UTF-8 in a close reason", () =>
    expectViolation((c) => c.sendFrame(OP.CLOSE, closePayload(1000, Buffer.from([0x6f, 0x6b, 0xff]))), 1007));
});

describe("valid UTF-8 split inside a multi-byte sequence is accepted", () => {
  const euro = Buffer.from("€", "utf8"); // e2 82 ac
  const emoji = Buffer.from("😀", "utf8"); // f0 9f 98 80

  async function expectText(send: (c: RawConn) => Promise<void>, expected: string): Promise<void> {
    await withRaw(send, async (server, s) => {
      const ws = await s.wsConnect(server.url + "/");
      const m = await ws.recv({ timeout: 5000 });
      assert.equal(m.flags & WsFlag.TEXT, WsFlag.TEXT);
      assert.equal(m.data.toString("utf8"), expected);
      const conn = await server.connection(0);
      await sleep(50);
      assert.equal(conn.frames.filter((f) => f.opcode === OP.CLOSE).length, 0, "no close frame for valid text");
      await ws.close(1000, "", { timeout: 1000 });
    });
  }

  test("across fragments: E2 | 82 AC", () =>
    expectText(async (c) => {
      await c.sendFrame(OP.TEXT, Buffer.concat([Buffer.from("x"), euro.subarray(0, 1)]), { fin: false });
      await c.sendFrame(OP.CONT, Buffer.concat([euro.subarray(1), Buffer.from("y")]));
    }, "x€y"));

  test("across four 1-byte fragments with an empty one and a PING in between", () =>
    expectText(async (c) => {
      await c.sendFrame(OP.TEXT, emoji.subarray(0, 1), { fin: false });
      await c.sendFrame(OP.CONT, emoji.subarray(1, 2), { fin: false });
      await c.sendFrame(OP.PING, "mid");
      await c.sendFrame(OP.CONT, Buffer.alloc(0), { fin: false });
      await c.sendFrame(OP.CONT, emoji.subarray(2, 3), { fin: false });
      await c.sendFrame(OP.CONT, emoji.subarray(3, 4));
    }, "😀"));

  test("across TCP writes of one byte each", () =>
    expectText(async (c) => {
      const frame = Buffer.concat([Buffer.from([0x81, 9]), Buffer.from("a€😀b")]);
      assert.equal(frame.length, 11);
      for (const byte of frame) {
        await c.write(Buffer.from([byte]));
        await sleep(3);
      }
    }, "a€😀b"));

  test("the answer to a PING sent in the middle of a fragmented message is a PONG with its payload", async () => {
    await withRaw(async (c) => {
      await c.sendFrame(OP.TEXT, "ab", { fin: false });
      await c.sendFrame(OP.PING, "hb-1");
      await c.sendFrame(OP.CONT, "cd");
    }, async (server, s) => {
      const ws = await s.wsConnect(server.url + "/");
      assert.equal(await ws.recvStr({ timeout: 5000 }), "abcd");
      const conn = await server.connection(0);
      const pong = await conn.nextFrame(3000);
      assert.equal(pong.opcode, OP.PONG);
      assert.equal(pong.payload.toString(), "hb-1");
      await ws.close(1000, "", { timeout: 500 });
    });
  });
});

describe("maxMessageSize -> close 1009", () => {
  const opts = { maxMessageSize: 1000 };
  test("a message of exactly the limit is accepted", async () => {
    await withRaw((c) => c.sendFrame(OP.BINARY, Buffer.alloc(1000, 7)), async (server, s) => {
      const ws = await s.wsConnect(server.url + "/");
      const m = await ws.recv({ timeout: 5000 });
      assert.equal(m.data.length, 1000);
      await ws.close(1000, "", { timeout: 500 });
    }, { session: opts });
  });
  test("exactly the limit across fragments (600 + 400) is accepted", async () => {
    await withRaw(async (c) => {
      await c.sendFrame(OP.TEXT, "a".repeat(600), { fin: false });
      await c.sendFrame(OP.CONT, "b".repeat(400));
    }, async (server, s) => {
      const ws = await s.wsConnect(server.url + "/");
      assert.equal(await ws.recvStr({ timeout: 5000 }), "a".repeat(600) + "b".repeat(400));
      await ws.close(1000, "", { timeout: 500 });
    }, { session: opts });
  });
  test("one byte more in a single frame", () =>
    expectViolation((c) => c.sendFrame(OP.BINARY, Buffer.alloc(1001, 7)), 1009, opts));
  test("one byte more across fragments (600 + 401)", () =>
    expectViolation(async (c) => {
      await c.sendFrame(OP.TEXT, "a".repeat(600), { fin: false });
      await c.sendFrame(OP.CONT, "b".repeat(401));
    }, 1009, opts));
  test("a frame header announcing 1 TiB fails on the header, before any payload", () =>
    expectViolation((c) => c.sendFrame(OP.BINARY, Buffer.alloc(0), { declaredLength: 2 ** 40 }), 1009, opts));
  test("default limit is 4 MiB: 4 MiB + 1 is refused", () =>
    expectViolation((c) => c.sendFrame(OP.BINARY, Buffer.alloc(0), { declaredLength: 4 * 1024 * 1024 + 1 }), 1009));
});

describe("valid close codes from the peer", () => {
  for (const code of [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999]) {
    test(`close ${code} is accepted and echoed`, async () => {
      await withRaw((c) => c.sendFrame(OP.CLOSE, closePayload(code, "why")), async (server, s) => {
        const ws = await s.wsConnect(server.url + "/");
        const item = await ws.recv({ timeout: 5000 });
        assert.equal(item.flags, WsFlag.CLOSE);
        const err = await failure(ws.recv({ timeout: 5000 }));
        assert.ok(err instanceof WebSocketClosed, `expected WebSocketClosed, got ${String(err)}`);
        assert.equal(err.code, code);
        assert.equal(err.reason, "why");
        const close = await (await server.connection(0)).closeFrame(3000);
        assert.equal(close?.code, code);
      });
    });
  }
});

describe("handshake failures", () => {
  async function connectError(
    handler: (c: RawConn) => void | Promise<void>,
    server: RawServerOptions = { upgrade: false },
    session: SessionOptions = {},
  ): Promise<unknown> {
    let err: unknown;
    await withRaw(handler, async (srv, s) => {
      err = await failure(s.wsConnect(srv.url + "/chat"));
    }, { server, session });
    return err;
  }

  test("wrong Sec-WebSocket-Accept -> HandshakeError", async () => {
    const err = await connectError((c) => c.acceptUpgrade({ accept: "dGhlIHNhbXBsZSBub25jZQ==" }));
    assert.ok(err instanceof HandshakeError, `expected HandshakeError, got ${String(err)}`);
    assert.equal(err.status, 101);
    assert.match(err.message, /accept/i);
  });

  test("non-101 status -> HandshakeError with status, headers and body", async () => {
    const err = await connectError((c) =>
      c.write("HTTP/1.1 403 Forbidden\r\nX-Reason: no-entry\r\nSet-Cookie: a=1\r\nContent-Length: 6\r\nConnection: close\r\n\r\ndenied"),
    );
    assert.ok(err instanceof HandshakeError, `expected HandshakeError, got ${String(err)}`);
    assert.equal(err.status, 403);
    assert.equal(err.headers["x-reason"], "no-entry");
    assert.ok(err.rawHeaders.includes("X-Reason"));
    assert.equal(err.body.toString(), "denied");
    assert.match(err.message, /403/);
  });

  test("200 OK -> HandshakeError with status 200", async () => {
    const err = await connectError((c) => c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    assert.ok(err instanceof HandshakeError, `expected HandshakeError, got ${String(err)}`);
    assert.equal(err.status, 200);
  });

  test("garbage instead of HTTP -> HandshakeError", async () => {
    const err = await connectError(async (c) => {
      await c.write("SSH-2.0-OpenSSH_9.2\r\n\x00\x01\x02garbage\r\n\r\n");
      c.socket.end();
    });
    assert.ok(err instanceof WebSocketError, `expected WebSocketError, got ${String(err)}`);
    assert.ok(err instanceof HandshakeError, `expected HandshakeError, got ${(err as Error).name}`);
  });

  test("101 without Upgrade: websocket -> HandshakeError", async () => {
    const err = await connectError((c) =>
      c.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n`),
    );
    assert.ok(err instanceof HandshakeError, `expected HandshakeError, got ${String(err)}`);
  });

  test("a subprotocol we did not offer -> HandshakeError", async () => {
    const err = await connectError(
      (c) => c.acceptUpgrade({ extraHeaders: ["Sec-WebSocket-Protocol: evil"] }),
      { upgrade: false },
      { protocols: ["chat"] },
    );
    assert.ok(err instanceof HandshakeError, `expected HandshakeError, got ${String(err)}`);
  });

  test("an extension we did not offer -> HandshakeError", async () => {
    const err = await connectError((c) => c.acceptUpgrade({ extraHeaders: ["Sec-WebSocket-Extensions: permessage-deflate"] }));
    assert.ok(err instanceof HandshakeError, `expected HandshakeError, got ${String(err)}`);
  });

  test("the request head: GET target with query, Host with port, Upgrade, Connection, 16-byte key, version 13", async () => {
    await withRaw(() => {}, async (srv, s) => {
      const ws = await s.wsConnect(srv.url + "/path/x?y=1&z=%20");
      const { request } = await srv.connection(0);
      assert.equal(request.method, "GET");
      assert.equal(request.target, "/path/x?y=1&z=%20");
      assert.equal(request.httpVersion, "HTTP/1.1");
      assert.equal(request.headers["host"], `127.0.0.1:${srv.port}`);
      assert.equal(request.headers["upgrade"]?.toLowerCase(), "websocket");
      assert.ok(request.headers["connection"]?.toLowerCase().split(/\s*,\s*/).includes("upgrade"));
      assert.equal(Buffer.from(request.headers["sec-websocket-key"] ?? "", "base64").length, 16);
      assert.equal(request.headers["sec-websocket-version"], "13");
      assert.equal(request.rawHeaders.filter(([n]) => n.toLowerCase() === "host").length, 1);
      ws.terminate();
    });
  });

  test("header tokens are case-insensitive and Connection may be a list", async () => {
    await withRaw(async (c) => {
      await c.write(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n" +
          `sec-websocket-accept: ${acceptKey(c.request.headers["sec-websocket-key"]!)}\r\nX-Extra: 1\r\n\r\n`,
      );
      await c.sendFrame(OP.TEXT, "ok");
    }, async (srv, s) => {
      const ws = await s.wsConnect(srv.url + "/");
      assert.equal(await ws.recvStr({ timeout: 5000 }), "ok");
      assert.equal(ws.response.headers["x-extra"], "1");
      ws.terminate();
    }, { server: { upgrade: false } });
  });

  test("CR/LF in a user header is refused before anything is sent (no header injection)", async () => {
    await withRaw(() => {}, async (srv, s) => {
      const cases: Array<Record<string, string>> = [
        { "X-Evil": "a\r\nInjected: yes" },
        { "X-Evil": "a\nInjected: yes" },
        { "X-Evil\r\nInjected": "yes" },
        { "Bad Name": "x" },
      ];
      for (const headers of cases) {
        const err = await failure(s.wsConnect(srv.url + "/", { headers }));
        assert.ok(err instanceof WebSocketError, `expected WebSocketError, got ${String(err)}`);
      }
      await sleep(50);
      for (const c of srv.connections) {
        assert.ok(!c.request.rawHeaders.some(([n]) => n.toLowerCase() === "injected"), "an injected header reached the server");
      }
    });
  });

  test("each connection uses a fresh Sec-WebSocket-Key", async () => {
    await withRaw(() => {}, async (srv, s) => {
      const keys = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const ws = await s.wsConnect(srv.url + "/");
        keys.add((await srv.connection(i)).request.headers["sec-websocket-key"]!);
        ws.terminate();
      }
      assert.equal(keys.size, 5);
    });
  });

  test("the server picks the subprotocol we offered: ws.protocol", async () => {
    await withRaw(() => {}, async (srv, s) => {
      const ws = await s.wsConnect(srv.url + "/", { protocols: ["v1.chat", "v2.chat"] });
      assert.equal(ws.protocol, "v2.chat");
      assert.equal((await srv.connection(0)).request.headers["sec-websocket-protocol"], "v1.chat, v2.chat");
      ws.terminate();
    }, { server: { extraHeaders: ["Sec-WebSocket-Protocol: v2.chat"] } });
  });

  test("reset during the handshake -> WebSocketError", async () => {
    const err = await connectError((c) => {
      c.socket.resetAndDestroy();
    });
    assert.ok(err instanceof WebSocketError, `expected WebSocketError, got ${String(err)}`);
    assert.equal(err.code, 1006);
  });

  test("closed halfway through the 101 -> WebSocketError", async () => {
    const err = await connectError(async (c) => {
      await c.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n");
      c.socket.end();
    });
    assert.ok(err instanceof WebSocketError, `expected WebSocketError, got ${String(err)}`);
  });
});

describe("transport failures after the upgrade", () => {
  test("connection reset in the middle of a message -> WebSocketError 1006", async () => {
    await withRaw(async (c) => {
      await c.write(Buffer.concat([Buffer.from([0x82, 126, 0x03, 0xe8]), Buffer.alloc(10, 1)]));
      await sleep(50);
      c.socket.resetAndDestroy();
    }, async (server, s) => {
      const ws = await s.wsConnect(server.url + "/");
      const err = await failure(ws.recv({ timeout: 5000 }));
      assert.ok(err instanceof WebSocketError, `expected WebSocketError, got ${String(err)}`);
      assert.equal(err.code, 1006);
      assert.ok(err.message.length > 0);
      await assert.rejects(ws.sendStr("x"), WebSocketError);
      assert.equal(ws.closed, true);
    });
  });

  test("TCP closed without a close frame -> WebSocketError 1006 after the messages before it", async () => {
    await withRaw(async (c) => {
      await c.sendFrame(OP.TEXT, "one");
      await c.sendFrame(OP.TEXT, "two");
      c.socket.end();
    }, async (server, s) => {
      const ws = await s.wsConnect(server.url + "/", { drainOnError: true });
      assert.equal(await ws.recvStr({ timeout: 5000 }), "one");
      assert.equal(await ws.recvStr({ timeout: 5000 }), "two");
      const err = await failure(ws.recv({ timeout: 5000 }));
      assert.ok(err instanceof WebSocketError, `expected WebSocketError, got ${String(err)}`);
      assert.equal(err.code, 1006);
    });
  });

  test("for await throws (does not end quietly) when TCP drops without a close frame", async () => {
    await withRaw(async (c) => {
      await c.sendFrame(OP.TEXT, "one");
      await sleep(30);
      c.socket.resetAndDestroy();
    }, async (server, s) => {
      const ws = await s.wsConnect(server.url + "/");
      const got: string[] = [];
      const err = await failure((async () => {
        for await (const m of ws) got.push(m.toString());
      })());
      assert.ok(err instanceof WebSocketError);
      assert.deepEqual(got, ["one"]);
    });
  });

  test("a violation while nobody is awaiting: no unhandled rejection, the next recv gets the error", async () => {
    await withRaw(async (c) => {
      await sleep(30);
      await c.sendFrame(OP.CONT, "orphan");
    }, async (server, s) => {
      const ws: AsyncWebSocket = await s.wsConnect(server.url + "/");
      const conn = await server.connection(0);
      const close = await conn.closeFrame(3000);
      assert.equal(close?.code, 1002);
      await sleep(100);
      assert.deepEqual(unhandled.map(String), []);
      const err = await failure(ws.recv({ timeout: 1000 }));
      assert.equal((err as WebSocketError).code, 1002);
    });
  });

  test("a failure with pending sends, a flush and a close in flight: all settle, nothing unhandled", async () => {
    await withRaw(async (c) => {
      c.socket.pause(); // read nothing, so sends pile up
      await sleep(100);
      c.socket.resetAndDestroy();
    }, async (server, s) => {
      const ws = await s.wsConnect(server.url + "/", { sendQueueSize: 2 });
      const big = Buffer.alloc(256 * 1024);
      const pending: Array<Promise<unknown>> = [];
      for (let i = 0; i < 50; i++) pending.push(ws.sendBytes(big, { timeout: 10_000 }));
      pending.push(ws.flush({ timeout: 10_000 }));
      pending.push(ws.recv({ timeout: 10_000 }));
      const results = await Promise.allSettled(pending);
      const rejected = results.filter((r) => r.status === "rejected");
      assert.ok(rejected.length > 0, "something must fail when the peer resets");
      for (const r of rejected) {
        assert.ok((r as PromiseRejectedResult).reason instanceof WebSocketError, String((r as PromiseRejectedResult).reason));
      }
      await ws.close(1000, "", { timeout: 500 }); // must not throw or hang on a dead connection
      void server;
    });
  });
});
