// Interop over loopback with two independent real peers: the npm `ws` server and Debian's
// python3-websockets server, each over ws:// and wss:// (a CA made at test time, trusted via `ca`).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  AsyncSession,
  WsFlag,
  CurlWsFlag,
  WebSocketError,
  WebSocketClosed,
  WebSocketTimeout,
  TlsError,
  HandshakeError,
  type AsyncWebSocket,
} from "../../src/index.js";
import { startWsServer, testCerts, type TestWsServer } from "../helpers/ws-server.js";
import { startPythonServer, type PythonWsServer } from "../helpers/python-server.js";

const MiB = 1024 * 1024;
const SIZES = [0, 125, 126, 65535, 65536, 65537, 1 * MiB, 20 * MiB];

interface Peer {
  name: string;
  kind: "ws" | "python";
  tls: boolean;
  url: () => string;
  /** Only for the `ws` peer: what the server saw on connection `i`. */
  ws?: TestWsServer;
  close: () => Promise<void>;
}

function peers(): Peer[] {
  const list: Peer[] = [];
  for (const kind of ["ws", "python"] as const) {
    for (const tls of [false, true]) {
      let ws: TestWsServer | undefined;
      let py: PythonWsServer | undefined;
      const peer: Peer = {
        name: `${kind} ${tls ? "wss://" : "ws://"}`,
        kind,
        tls,
        url: () => (ws ?? py)!.url,
        close: async () => {
          await ws?.close();
          await py?.close();
        },
      };
      Object.defineProperty(peer, "start", {
        value: async () => {
          if (kind === "ws") peer.ws = ws = await startWsServer({ tls });
          else py = await startPythonServer({ tls });
        },
      });
      list.push(peer);
    }
  }
  return list;
}

async function closeQuietly(ws: AsyncWebSocket | undefined): Promise<void> {
  if (!ws) return;
  try {
    await ws.close(1000, "", { timeout: 1000 });
  } catch {
    ws.terminate();
  }
}

test("WsFlag values and the CurlWsFlag alias", () => {
  assert.deepEqual({ ...WsFlag }, { TEXT: 1, BINARY: 2, CONT: 4, CLOSE: 8, PING: 16, OFFSET: 32, PONG: 64 });
  assert.deepEqual({ ...CurlWsFlag }, { ...WsFlag });
});

for (const peer of peers()) {
  describe(`interop: ${peer.name}`, () => {
    let session: AsyncSession;
    before(async () => {
      await (peer as unknown as { start: () => Promise<void> }).start();
      session = new AsyncSession({ ca: testCerts().ca, maxMessageSize: 32 * MiB, timeout: 10_000 });
    });
    after(async () => {
      await session?.close();
      await peer.close();
    });

    test("text, binary and JSON round trips; the 101 is exposed", async () => {
      const ws = await session.wsConnect(peer.url() + "/echo");
      try {
        assert.equal(ws.response.status, 101);
        assert.equal(ws.response.headers["upgrade"]?.toLowerCase(), "websocket");
        assert.equal(ws.protocol, "");
        assert.equal(ws.extensions, "", "no extension was offered");
        assert.equal(ws.closed, false);
        await ws.sendStr("héllo wörld ✓ 😀");
        const t = await ws.recv();
        assert.equal(t.flags & (WsFlag.TEXT | WsFlag.BINARY), WsFlag.TEXT);
        assert.ok(Buffer.isBuffer(t.data));
        assert.equal(t.data.toString("utf8"), "héllo wörld ✓ 😀");

        const bin = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80]);
        await ws.sendBytes(bin);
        const b = await ws.recv();
        assert.equal(b.flags & (WsFlag.TEXT | WsFlag.BINARY), WsFlag.BINARY);
        assert.deepEqual(b.data, bin);

        // send() picks the type from the data; the other byte views are accepted.
        await ws.send("auto text");
        assert.equal(await ws.recvStr(), "auto text");
        await ws.send(new Uint8Array([9, 8, 7]));
        assert.deepEqual(await ws.recvBytes(), Buffer.from([9, 8, 7]));
        await ws.send(new Uint8Array([1, 2, 3, 4]).buffer);
        assert.deepEqual(await ws.recvBytes(), Buffer.from([1, 2, 3, 4]));
        await ws.send(new DataView(new Uint8Array([5, 6, 7, 8]).buffer, 1, 2));
        assert.deepEqual(await ws.recvBytes(), Buffer.from([6, 7]));
        // bytes sent with the TEXT flag go as TEXT
        await ws.send(Buffer.from("as text"), WsFlag.TEXT);
        assert.equal(await ws.recvStr(), "as text");

        const obj = { a: 1, b: [true, null, "x"], c: { d: "é" } };
        await ws.sendJson(obj);
        assert.deepEqual(await ws.recvJson(), obj);
      } finally {
        await closeQuietly(ws);
      }
    });

    for (const size of SIZES) {
      test(`binary message of ${size} bytes round-trips intact`, async () => {
        const ws = await session.wsConnect(peer.url() + "/echo");
        try {
          const payload = randomBytes(size);
          await ws.sendBytes(payload);
          const { data, flags } = await ws.recv({ timeout: 30_000 });
          assert.equal(flags & WsFlag.BINARY, WsFlag.BINARY);
          assert.equal(data.length, size);
          assert.ok(data.equals(payload), "payload differs");
        } finally {
          await closeQuietly(ws);
        }
      });
    }

    for (const size of [0, 126, 65536, 65537, 1 * MiB]) {
      test(`text message of ${size} bytes (multi-byte UTF-8) round-trips intact`, async () => {
        const ws = await session.wsConnect(peer.url() + "/echo");
        try {
          // "é€😀a" is 2+3+4+1 = 10 bytes; pad with ASCII to exactly `size` bytes.
          const text = "é€😀a".repeat(Math.floor(size / 10)) + "a".repeat(size % 10);
          assert.equal(Buffer.byteLength(text), size);
          await ws.sendStr(text);
          assert.equal(await ws.recvStr({ timeout: 30_000 }), text);
        } finally {
          await closeQuietly(ws);
        }
      });
    }

    test("ping: resolves, the PONG is never delivered, later messages still arrive", async () => {
      const ws = await session.wsConnect(peer.url() + "/echo");
      try {
        await ws.ping("are you there");
        await ws.ping();
        await ws.sendStr("after ping");
        const m = await ws.recv({ timeout: 5000 });
        assert.equal(m.flags & WsFlag.TEXT, WsFlag.TEXT);
        assert.equal(m.data.toString(), "after ping");
        await assert.rejects(ws.recv({ timeout: 150 }), WebSocketTimeout, "a PONG must not be delivered");
        if (peer.ws) {
          const conn = peer.ws.connections.at(-1)!;
          assert.deepEqual(conn.pings.map((p) => p.toString()), ["are you there", ""]);
        }
        await assert.rejects(ws.ping(Buffer.alloc(126)), WebSocketError, "a 126-byte ping payload is refused");
      } finally {
        await closeQuietly(ws);
      }
    });

    test("client-initiated close with a code and reason", async () => {
      const before = peer.ws?.connections.length ?? 0;
      const ws = await session.wsConnect(peer.url() + "/echo");
      await ws.sendStr("last");
      await ws.close(4000, "bye now", { timeout: 3000 });
      assert.equal(ws.closed, true);
      // Both peers echo the close code (RFC 6455 §5.5.1).
      assert.equal(ws.closeCode, 4000);
      assert.equal(ws.closeReason, "bye now");
      if (peer.ws) {
        const conn = peer.ws.connections[before]!;
        assert.deepEqual(await conn.closed, { code: 4000, reason: "bye now" });
        assert.equal(conn.messages.at(-1)!.data.toString(), "last", "queued messages go before the close frame");
      }
      await assert.rejects(ws.sendStr("too late"), WebSocketClosed);
      // The echo of "last" may still be buffered (returned first); then WebSocketClosed.
      let sawClosed = false;
      for (let i = 0; i < 3 && !sawClosed; i++) {
        try {
          const r = await ws.recv({ timeout: 2000 });
          assert.ok(r.flags & (WsFlag.TEXT | WsFlag.CLOSE), `unexpected item flags ${r.flags}`);
        } catch (e) {
          assert.ok(e instanceof WebSocketClosed, `expected WebSocketClosed, got ${String(e)}`);
          sawClosed = true;
        }
      }
      assert.ok(sawClosed, "recv after close() must end in WebSocketClosed");
      await ws.close(); // idempotent
    });

    test("server-initiated close: one CLOSE item, then WebSocketClosed with the peer's code and reason", async () => {
      const ws = await session.wsConnect(peer.url() + "/close?code=4001&reason=" + encodeURIComponent("server says bye é"));
      const before = (peer.ws?.connections.length ?? 1) - 1;
      const item = await ws.recv({ timeout: 5000 });
      assert.equal(item.flags, WsFlag.CLOSE);
      assert.equal(item.data.readUInt16BE(0), 4001);
      assert.equal(item.data.subarray(2).toString("utf8"), "server says bye é");
      const err = await ws.recv({ timeout: 5000 }).then(
        () => assert.fail("recv after the CLOSE item must reject"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WebSocketClosed, `expected WebSocketClosed, got ${String(err)}`);
      assert.equal(err.code, 4001);
      assert.equal(err.reason, "server says bye é");
      assert.equal(ws.closeCode, 4001);
      assert.equal(ws.closeReason, "server says bye é");
      await assert.rejects(ws.recvStr({ timeout: 1000 }), WebSocketClosed);
      if (peer.ws) {
        // autoclose answers with the same code.
        assert.equal((await peer.ws.connections[before]!.closed).code, 4001);
      }
      await ws.close();
    });

    if (peer.kind === "ws") {
      test("server close with an empty payload: closeCode 1005, the client answers 1000", async () => {
        const ws = await session.wsConnect(peer.url() + "/close");
        const conn = await peer.ws!.connection(peer.ws!.connections.length - 1);
        const item = await ws.recv({ timeout: 5000 });
        assert.equal(item.flags, WsFlag.CLOSE);
        assert.equal(item.data.length, 0);
        await assert.rejects(ws.recv({ timeout: 5000 }), (e: unknown) => e instanceof WebSocketClosed && e.code === 1005 && e.reason === "");
        assert.equal(ws.closeCode, 1005);
        assert.equal(ws.closeReason, "");
        assert.equal((await conn.closed).code, 1000);
      });
    }

    test("for await yields each message and ends without error when the peer closes", async () => {
      const ws = await session.wsConnect(peer.url() + "/send?count=5&size=20&close=1000");
      const got: string[] = [];
      for await (const chunk of ws) {
        assert.ok(Buffer.isBuffer(chunk));
        got.push(chunk.toString());
        assert.ok(got.length <= 5, "more messages than the server sent");
      }
      assert.equal(got.length, 5);
      got.forEach((m, i) => {
        assert.equal(m.length, 20);
        assert.ok(m.startsWith(`${i}:`), `message ${i} out of order: ${m}`);
      });
      assert.equal(ws.closeCode, 1000);
    });

    test("await using closes the connection at the end of the block", async () => {
      let kept: AsyncWebSocket | undefined;
      const before = peer.ws?.connections.length ?? 0;
      {
        await using ws = await session.wsConnect(peer.url() + "/echo");
        kept = ws;
        await ws.sendStr("in block");
        assert.equal(await ws.recvStr({ timeout: 5000 }), "in block");
      }
      assert.equal(kept.closed, true);
      if (peer.ws) assert.equal((await peer.ws.connections[before]!.closed).code, 1000);
      await assert.rejects(kept.sendStr("x"), WebSocketClosed);
    });

    test("await using on the session closes its connections", async () => {
      let kept: AsyncWebSocket | undefined;
      {
        await using s = new AsyncSession({ ca: testCerts().ca });
        kept = await s.wsConnect(peer.url() + "/echo");
        await kept.sendStr("x");
        assert.equal(await kept.recvStr({ timeout: 5000 }), "x");
      }
      assert.equal(kept.closed, true);
    });

    test("session options reach the server: headers, params appended to the query, Basic auth", async () => {
      const s = new AsyncSession({
        ca: testCerts().ca,
        headers: { "X-Session-Header": "from-session", "X-Override": "session" },
        params: { a: "1", sp: "x y" },
        auth: ["alice", "p@ss:wörd"],
      });
      try {
        const ws = await s.wsConnect(peer.url() + "/headers?q=0", {
          headers: { "X-Call-Header": "from-call", "X-Override": "call" },
          params: { b: 2 },
        });
        const info = JSON.parse(await ws.recvStr({ timeout: 5000 })) as {
          url?: string;
          path?: string;
          rawHeaders?: string[];
          headers: Record<string, string> | Array<[string, string]>;
        };
        await closeQuietly(ws);
        const target = info.url ?? info.path!;
        const u = new URL(target, "http://x");
        assert.equal(u.pathname, "/headers");
        assert.deepEqual([...u.searchParams.entries()], [["q", "0"], ["a", "1"], ["sp", "x y"], ["b", "2"]]);
        const pairs: Array<[string, string]> = Array.isArray(info.headers)
          ? info.headers
          : Array.from({ length: info.rawHeaders!.length / 2 }, (_, i) => [info.rawHeaders![2 * i]!, info.rawHeaders![2 * i + 1]!]);
        const get = (n: string): string[] => pairs.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
        assert.deepEqual(get("x-session-header"), ["from-session"]);
        assert.deepEqual(get("x-call-header"), ["from-call"]);
        assert.deepEqual(get("x-override"), ["call"], "per-call headers override session ones");
        assert.deepEqual(get("authorization"), ["Basic " + Buffer.from("alice:p@ss:wörd", "utf8").toString("base64")]);
        assert.equal(get("host")[0], new URL(peer.url()).host);
        assert.deepEqual(get("upgrade").map((v) => v.toLowerCase()), ["websocket"]);
        assert.deepEqual(get("sec-websocket-version"), ["13"]);
      } finally {
        await s.close();
      }
    });

    test("new AsyncSession() with no options connects", { skip: peer.tls ? "wss needs the test CA" : false }, async () => {
      const s = new AsyncSession();
      try {
        const ws = await s.wsConnect(peer.url() + "/echo");
        await ws.sendStr("plain");
        assert.equal(await ws.recvStr({ timeout: 5000 }), "plain");
        await closeQuietly(ws);
      } finally {
        await s.close();
      }
    });

    if (peer.tls) {
      test("without the CA the certificate is rejected with a TlsError", async () => {
        const s = new AsyncSession();
        try {
          const err = await s.wsConnect(peer.url() + "/echo").then(
            (ws) => {
              ws.terminate();
              assert.fail("connected to a server whose certificate is not trusted");
            },
            (e: unknown) => e,
          );
          assert.ok(err instanceof TlsError, `expected TlsError, got ${String(err)}`);
          assert.ok(err instanceof WebSocketError);
          assert.ok(err.message.length > 0);
        } finally {
          await s.close();
        }
      });

      test("verify: false connects without the CA", async () => {
        const s = new AsyncSession({ verify: false });
        try {
          const ws = await s.wsConnect(peer.url() + "/echo");
          await ws.sendStr("unverified");
          assert.equal(await ws.recvStr({ timeout: 5000 }), "unverified");
          await closeQuietly(ws);
        } finally {
          await s.close();
        }
      });

      test("per-call ca merges over a session without one", async () => {
        const s = new AsyncSession();
        try {
          const ws = await s.wsConnect(peer.url() + "/echo", { ca: testCerts().ca });
          await ws.sendStr("trusted per call");
          assert.equal(await ws.recvStr({ timeout: 5000 }), "trusted per call");
          await closeQuietly(ws);
        } finally {
          await s.close();
        }
      });
    }
  });
}

describe("interop: connect failures", () => {
  let server: TestWsServer;
  before(async () => {
    server = await startWsServer();
  });
  after(async () => {
    await server.close();
  });

  test("timeout bounds the handshake against a server that never answers the upgrade", async () => {
    const s = new AsyncSession({ timeout: 300 });
    try {
      const t0 = Date.now();
      const err = await s.wsConnect(server.url + "/hang").then(
        () => assert.fail("connected to a server that never answered"),
        (e: unknown) => e,
      );
      const elapsed = Date.now() - t0;
      assert.ok(err instanceof WebSocketError, `expected WebSocketError, got ${String(err)}`);
      assert.ok(elapsed >= 250, `gave up too early (${elapsed} ms)`);
      assert.ok(elapsed < 300 + 3000, `timeout not honoured (${elapsed} ms)`);
    } finally {
      await s.close();
    }
  });

  test("per-call timeout overrides the session's", async () => {
    const s = new AsyncSession({ timeout: 60_000 });
    try {
      const t0 = Date.now();
      await assert.rejects(s.wsConnect(server.url + "/hang", { timeout: 200 }), WebSocketError);
      assert.ok(Date.now() - t0 < 200 + 3000);
    } finally {
      await s.close();
    }
  });

  test("a refused upgrade from a real HTTP server: HandshakeError with status, headers and body", async () => {
    const s = new AsyncSession();
    try {
      const err = await s.wsConnect(server.url + "/reject?status=429").then(
        () => assert.fail("connected although the server refused"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof HandshakeError, `expected HandshakeError, got ${String(err)}`);
      assert.equal(err.status, 429);
      assert.equal(err.headers["x-reject"], "yes");
      assert.equal(err.body.toString(), "nope");
      assert.match(err.message, /429/);
    } finally {
      await s.close();
    }
  });

  test("session cookies are sent in a Cookie header", async () => {
    const s = new AsyncSession({ cookies: { sid: "abc123", theme: "dark" } });
    try {
      const ws = await s.wsConnect(server.url + "/headers", { cookies: { extra: "1" } });
      const info = JSON.parse(await ws.recvStr({ timeout: 5000 })) as { headers: Record<string, string> };
      await closeQuietly(ws);
      const cookie = info.headers["cookie"] ?? "";
      const pairs = cookie.split(/;\s*/).sort();
      assert.deepEqual(pairs, ["extra=1", "sid=abc123", "theme=dark"]);
    } finally {
      await s.close();
    }
  });

  test("a URL that is not ws(s):// or not a URL at all is a WebSocketError", async () => {
    const s = new AsyncSession();
    try {
      for (const url of ["ftp://127.0.0.1/", "not a url", "file:///etc/passwd"]) {
        await assert.rejects(s.wsConnect(url), WebSocketError, url);
      }
    } finally {
      await s.close();
    }
  });

  test("connection refused is a WebSocketError with errno ECONNREFUSED", async () => {
    const tmp = await startWsServer();
    const url = tmp.url;
    await tmp.close();
    const s = new AsyncSession();
    try {
      const err = await s.wsConnect(url + "/echo").then(
        () => assert.fail("connected to a closed port"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WebSocketError, `expected WebSocketError, got ${String(err)}`);
      assert.equal(err.errno, "ECONNREFUSED");
    } finally {
      await s.close();
    }
  });
});

describe("interop: masq's own TLS engine (tls: \"masq\") against both peers", () => {
  for (const kind of ["ws", "python"] as const) {
    test(`${kind} wss:// echo of text and 1 MiB, then close`, async () => {
      const server = kind === "ws" ? await startWsServer({ tls: true }) : await startPythonServer({ tls: true });
      const s = new AsyncSession({ ca: testCerts().ca, tls: "masq", timeout: 10_000 });
      try {
        const ws = await s.wsConnect(server.url + "/echo");
        await ws.sendStr("over masq tls");
        assert.equal(await ws.recvStr({ timeout: 5000 }), "over masq tls");
        const big = randomBytes(1024 * 1024);
        await ws.sendBytes(big);
        assert.ok((await ws.recvBytes({ timeout: 10_000 })).equals(big));
        await ws.close(1000, "", { timeout: 3000 });
        assert.equal(ws.closeCode, 1000);
        const untrusted = new AsyncSession({ tls: "masq" });
        await assert.rejects(untrusted.wsConnect(server.url + "/echo"), TlsError);
        await untrusted.close();
      } finally {
        await s.close();
        await server.close();
      }
    });
  }
});
