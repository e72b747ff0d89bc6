import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ResponseHeadParser,
  acceptFor,
  buildRequestHeaders,
  generateKey,
  serializeRequest,
  validateUpgradeResponse,
  type HeaderList,
  type ResponseHead,
} from "../../src/protocol/handshake.js";
import { HandshakeError, WebSocketError } from "../../src/errors.js";

test("acceptFor: the RFC 6455 §1.3 example", () => {
  assert.equal(acceptFor("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

test("generateKey: 16 random bytes in base64", () => {
  const a = generateKey();
  assert.equal(Buffer.from(a, "base64").length, 16);
  assert.match(a, /^[A-Za-z0-9+/]{22}==$/);
  assert.notEqual(a, generateKey());
});

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

test("default header order", () => {
  assert.deepEqual(buildRequestHeaders({ host: "example.com", key: KEY }), [
    ["Host", "example.com"],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", KEY],
    ["Sec-WebSocket-Version", "13"],
  ]);
  assert.deepEqual(
    buildRequestHeaders({
      host: "h:8080",
      key: KEY,
      protocols: ["a", "b"],
      extensions: "permessage-deflate; client_max_window_bits",
      origin: "https://o",
      headers: [
        ["X-B", "2"],
        ["user-agent", "ua"],
        ["X-A", "1"],
      ],
    }),
    [
      ["Host", "h:8080"],
      ["Upgrade", "websocket"],
      ["Connection", "Upgrade"],
      ["Sec-WebSocket-Key", KEY],
      ["Sec-WebSocket-Version", "13"],
      ["Sec-WebSocket-Protocol", "a, b"],
      ["Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"],
      ["Origin", "https://o"],
      ["X-B", "2"],
      ["user-agent", "ua"],
      ["X-A", "1"],
    ],
  );
});

test("user headers replace defaults in place with their own spelling; repeats are kept", () => {
  const h = buildRequestHeaders({
    host: "h",
    key: KEY,
    origin: "https://o",
    headers: [
      ["ORIGIN", "https://mine"],
      ["host", "other"],
      ["Cookie", "a=1"],
      ["Cookie", "b=2"],
    ],
  });
  assert.deepEqual(h, [
    ["host", "other"],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", KEY],
    ["Sec-WebSocket-Version", "13"],
    ["ORIGIN", "https://mine"],
    ["Cookie", "a=1"],
    ["Cookie", "b=2"],
  ]);
});

test("masq-owned headers cannot be overridden", () => {
  for (const name of ["Upgrade", "connection", "SEC-WEBSOCKET-KEY", "Sec-WebSocket-Version"]) {
    assert.throws(
      () => buildRequestHeaders({ host: "h", key: KEY, headers: [[name, "x"]] }),
      (e: unknown) => e instanceof WebSocketError && e.code === 0 && e.message.includes(name),
    );
  }
});

test("template: order and spelling kept, computed values filled, empty ones dropped", () => {
  const template: HeaderList = [
    ["Host", ""],
    ["Connection", "Upgrade"],
    ["Pragma", "no-cache"],
    ["Upgrade", "websocket"],
    ["Origin", ""],
    ["Sec-WebSocket-Version", "13"],
    ["User-Agent", "Browser/1.0"],
    ["Accept-Encoding", "gzip, deflate, br, zstd"],
    ["Sec-WebSocket-Key", ""],
    ["Sec-WebSocket-Extensions", ""],
    ["Sec-WebSocket-Protocol", ""],
  ];
  const h = buildRequestHeaders({
    host: "h",
    key: KEY,
    origin: "https://o",
    extensions: "permessage-deflate; client_max_window_bits",
    template,
    headers: [
      ["user-agent", "mine"],
      ["X-Extra", "1"],
    ],
  });
  assert.deepEqual(h, [
    ["Host", "h"],
    ["Connection", "Upgrade"],
    ["Pragma", "no-cache"],
    ["Upgrade", "websocket"],
    ["Origin", "https://o"],
    ["Sec-WebSocket-Version", "13"],
    ["user-agent", "mine"],
    ["Accept-Encoding", "gzip, deflate, br, zstd"],
    ["Sec-WebSocket-Key", KEY],
    ["Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"],
    ["X-Extra", "1"],
  ]);
  // A template that lacks required headers still yields a valid handshake.
  const h2 = buildRequestHeaders({ host: "h", key: KEY, protocols: ["p"], template: [["User-Agent", "B"]] });
  assert.deepEqual(h2, [
    ["User-Agent", "B"],
    ["Host", "h"],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", KEY],
    ["Sec-WebSocket-Version", "13"],
    ["Sec-WebSocket-Protocol", "p"],
  ]);
});

test("serializeRequest", () => {
  const buf = serializeRequest("/chat?x=1", [
    ["Host", "h"],
    ["Upgrade", "websocket"],
  ]);
  assert.equal(buf.toString(), "GET /chat?x=1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n");
});

test("serializeRequest rejects injection and never echoes the value", () => {
  const secret = "s3cr3t";
  for (const bad of [`${secret}\r\nX-Evil: 1`, `${secret}\n`, `${secret}\r`, `${secret}\0`]) {
    assert.throws(
      () => serializeRequest("/", [["Authorization", bad]]),
      (e: unknown) => e instanceof WebSocketError && e.code === 0 && !e.message.includes(secret),
    );
  }
  for (const name of ["Bad Name", "X:Y", "", "X\r\nY", "Ä"]) {
    assert.throws(
      () => serializeRequest("/", [[name, "v"]]),
      (e: unknown) => e instanceof WebSocketError && e.code === 0,
    );
  }
  for (const target of ["/a b", "/\r\n", "", "/\0"]) {
    assert.throws(() => serializeRequest(target, []), WebSocketError);
  }
});

const RESPONSE =
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  `Sec-WebSocket-Accept: ${acceptFor(KEY)}\r\nX-Mixed-Case: Value\r\n\r\n`;

test("ResponseHeadParser: split at every byte, rest returned", () => {
  const full = Buffer.concat([Buffer.from(RESPONSE, "latin1"), Buffer.from([0x81, 0x02, 0x68, 0x69])]);
  for (let i = 0; i <= full.length; i++) {
    for (const j of [i, Math.min(full.length, i + 1), Math.min(full.length, i + 7)]) {
      const p = new ResponseHeadParser();
      const parts = [full.subarray(0, i), full.subarray(i, j), full.subarray(j)];
      let got: ReturnType<ResponseHeadParser["push"]> = null;
      const rest: Buffer[] = [];
      for (const part of parts) {
        if (got) rest.push(part);
        else got = p.push(part);
      }
      assert.ok(got, `split ${i},${j}`);
      assert.equal(got.head.status, 101);
      assert.equal(got.head.statusText, "Switching Protocols");
      assert.deepEqual(got.head.rawHeaders, [
        "Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Accept", acceptFor(KEY), "X-Mixed-Case", "Value",
      ]);
      assert.equal(got.head.headers["x-mixed-case"], "Value");
      assert.deepEqual(Buffer.concat([got.rest, ...rest]), Buffer.from([0x81, 0x02, 0x68, 0x69]));
    }
  }
});

test("ResponseHeadParser: garbage and oversized heads", () => {
  assert.throws(() => new ResponseHeadParser().push(Buffer.from("SSH-2.0-OpenSSH\r\n")), HandshakeError);
  assert.throws(() => new ResponseHeadParser().push(Buffer.from("HTTP/1.1 abc OK\r\n\r\n")), HandshakeError);
  assert.throws(() => new ResponseHeadParser().push(Buffer.from("HTTP/2 101 OK\r\n\r\n")), HandshakeError);
  assert.throws(() => new ResponseHeadParser().push(Buffer.from("HTTP/1.1 101 OK\r\nno colon\r\n\r\n")), HandshakeError);
  assert.throws(() => new ResponseHeadParser().push(Buffer.from("HTTP/1.1 101 OK\r\n folded\r\n\r\n")), HandshakeError);
  assert.throws(() => new ResponseHeadParser().push(Buffer.from("HTTP/1.1 101 OK\r\nX: a\nY: b\r\n\r\n")), HandshakeError);
  assert.throws(() => new ResponseHeadParser().push(Buffer.from("HTTP/1.1 101 OK\r\nX: a\rb\r\n\r\n")), HandshakeError);
  // Garbage is refused from its first byte, even split one byte at a time.
  const g = new ResponseHeadParser();
  assert.equal(g.push(Buffer.from("HT")), null);
  assert.throws(() => g.push(Buffer.from("X")), HandshakeError);
  const p = new ResponseHeadParser();
  assert.equal(p.push(Buffer.from("HTTP/1.1 101 OK\r\n")), null);
  let threw: unknown;
  for (let i = 0; i < 100 && !threw; i++) {
    try {
      p.push(Buffer.from(`X-Filler-${i}: ${"x".repeat(1000)}\r\n`));
    } catch (e) {
      threw = e;
    }
  }
  assert.ok(threw instanceof HandshakeError && /64|65536/.test(threw.message));
  // Without a reason phrase.
  assert.equal(new ResponseHeadParser().push(Buffer.from("HTTP/1.0 404\r\n\r\n"))!.head.status, 404);
});

function head(status: number, headers: Array<[string, string]>): ResponseHead {
  const raw = headers.flat();
  const p = new ResponseHeadParser();
  const r = p.push(Buffer.from(`HTTP/1.1 ${status} X\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`))!;
  assert.deepEqual(r.head.rawHeaders, raw);
  return r.head;
}

const OK: Array<[string, string]> = [
  ["Upgrade", "websocket"],
  ["Connection", "Upgrade"],
  ["Sec-WebSocket-Accept", acceptFor(KEY)],
];

test("validateUpgradeResponse: accepts a good answer", () => {
  assert.deepEqual(validateUpgradeResponse(head(101, OK), { key: KEY, extensionsOffered: false }), {
    protocol: "",
    extensions: "",
  });
  const h = head(101, [
    ["UPGRADE", "WebSocket"],
    ["connection", "keep-alive, UPGRADE"],
    ["sec-websocket-accept", acceptFor(KEY)],
    ["Sec-WebSocket-Protocol", "b"],
    ["Sec-WebSocket-Extensions", "permessage-deflate"],
  ]);
  assert.deepEqual(validateUpgradeResponse(h, { key: KEY, protocols: ["a", "b"], extensionsOffered: true }), {
    protocol: "b",
    extensions: "permessage-deflate",
  });
  // Offered but none chosen: protocol "".
  assert.equal(validateUpgradeResponse(head(101, OK), { key: KEY, protocols: ["a"], extensionsOffered: true }).protocol, "");
});

test("validateUpgradeResponse: each failure is a HandshakeError", () => {
  const bad = (status: number, hs: Array<[string, string]>, o: { protocols?: string[]; extensionsOffered?: boolean } = {}) => {
    const h = head(status, hs);
    assert.throws(
      () => validateUpgradeResponse(h, { key: KEY, protocols: o.protocols, extensionsOffered: o.extensionsOffered ?? false }),
      (e: unknown) => e instanceof HandshakeError && e.status === status && e.rawHeaders.length === hs.length * 2,
    );
  };
  bad(200, OK);
  bad(403, [["X-Reason", "nope"]]);
  bad(101, OK.filter(([n]) => n !== "Upgrade"));
  bad(101, [["Upgrade", "h2c"], ...OK.slice(1)]);
  bad(101, [OK[0]!, ["Connection", "keep-alive"], OK[2]!]);
  bad(101, OK.slice(0, 2));
  bad(101, [...OK.slice(0, 2), ["Sec-WebSocket-Accept", acceptFor("x" + KEY)]]);
  bad(101, [...OK, ["Sec-WebSocket-Protocol", "a"]]); // none offered
  bad(101, [...OK, ["Sec-WebSocket-Protocol", "c"]], { protocols: ["a", "b"] });
  bad(101, [...OK, ["Sec-WebSocket-Protocol", "a, b"]], { protocols: ["a", "b"] });
  bad(101, [...OK, ["Sec-WebSocket-Extensions", "permessage-deflate"]]);
  const e = (() => {
    try {
      validateUpgradeResponse(head(401, [["WWW-Authenticate", "Basic"]]), { key: KEY, extensionsOffered: false });
    } catch (err) {
      return err as HandshakeError;
    }
    return undefined;
  })();
  assert.ok(e);
  assert.equal(e.status, 401);
  assert.equal(e.headers["www-authenticate"], "Basic");
  assert.match(e.message, /401/);
});

test("ResponseHeadParser: CR LF CR LF split across 1-byte to 3-byte chunks, and near-misses", () => {
  const body = Buffer.from([0x81, 0x00]);
  const full = Buffer.concat([Buffer.from("HTTP/1.1 101 OK\r\nA: b\r\n\r\n", "latin1"), body]);
  // Every way of cutting the input into chunks of 1, 2 and 3 bytes (cycling).
  for (const sizes of [[1], [2], [3], [1, 2], [2, 1], [3, 1], [1, 3], [2, 3], [3, 2], [1, 1, 3]]) {
    for (let start = 0; start < 4; start++) {
      const p = new ResponseHeadParser();
      let off = 0;
      let k = 0;
      let got: ReturnType<ResponseHeadParser["push"]> = null;
      const first = Math.min(full.length, start === 0 ? 0 : start + 10);
      if (first > 0) {
        got = p.push(full.subarray(0, first));
        off = first;
      }
      while (!got && off < full.length) {
        const n = sizes[k++ % sizes.length]!;
        got = p.push(full.subarray(off, Math.min(full.length, off + n)));
        off += n;
      }
      assert.ok(got, `sizes ${sizes} start ${start}`);
      assert.deepEqual(got.head.rawHeaders, ["A", "b"]);
      assert.deepEqual(Buffer.concat([got.rest, full.subarray(Math.min(off, full.length))]), body, `sizes ${sizes} start ${start}`);
    }
  }
  // CR CR LF LF, CR LF LF, LF CR LF CR ... do not end the head.
  const p = new ResponseHeadParser();
  for (const part of ["HTTP/1.1 101 OK\r\nA: b\r", "\r\n", "\n", "\r\n\r", "X"]) assert.equal(p.push(Buffer.from(part, "latin1")), null, JSON.stringify(part));
});
