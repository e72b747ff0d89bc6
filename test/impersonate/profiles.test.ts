import { fileURLToPath } from "node:url";
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { WebSocketError } from "../../src/errors.js";
import { chrome, chrome156, firefox, firefox153, getProfile, masqDefault, profileNames } from "../../src/impersonate/index.js";
import { buildClientHello, clientHelloRecord, masqDefaultHello } from "../../src/tls/client-hello.js";
import { ja3, ja4, ja4o, ja4r, parseClientHello } from "../helpers/ja4.js";

// Copies of the browser captures (test/fixtures/reference/README.md says where they come from).
const REF_DIR = fileURLToPath(new URL("../fixtures/reference", import.meta.url));
const doc = readFileSync(`${REF_DIR}/browser-fingerprints.md`, "utf8");

/** Header names whose values the handshake builder fills in per connection. */
const PER_CONNECTION = new Set(["Host", "Origin", "Sec-WebSocket-Key"]);

test("getProfile: names, aliases, case-insensitive, unknown names fail with the known list", () => {
  const names = profileNames();
  for (const n of ["chrome", "chrome156", "firefox", "firefox153", "safari", "safari_ios", "edge", "chrome_android", "tor"]) {
    assert.ok(names.includes(n), n);
  }
  assert.equal(getProfile("chrome"), chrome156);
  assert.equal(chrome, chrome156);
  assert.equal(firefox, firefox153);
  assert.equal(getProfile("Chrome156"), chrome156);
  assert.equal(getProfile("firefox"), firefox153);
  assert.throws(
    () => getProfile("netscape"),
    (e: unknown) =>
      e instanceof WebSocketError && e.code === 0 && /netscape/.test(e.message) && names.every((n) => e.message.includes(n)),
  );
});

test("profiles are frozen data", () => {
  assert.ok(Object.isFrozen(chrome156) && Object.isFrozen(chrome156.tls.cipherSuites) && Object.isFrozen(chrome156.headers[0]));
  assert.throws(() => (chrome156.tls.alpn as string[]).push("h2"));
  assert.equal(masqDefault.tls, masqDefaultHello);
  assert.deepEqual(masqDefault.headers, []);
});

test("chrome156 headers: exactly the reference order, case and fixed values", () => {
  // The reference's header block for Chromium is the first fenced block of the document.
  const block = /```\n([\s\S]*?)```/.exec(doc)![1]!;
  const expected = block
    .trim()
    .split("\n")
    .map((line) => {
      const i = line.indexOf(":");
      return [line.slice(0, i).trim(), line.slice(i + 1).trim()] as [string, string];
    });
  // Sec-WebSocket-Protocol (empty: only sent when subprotocols are requested) closes the list.
  assert.deepEqual(chrome156.headers.at(-1), ["Sec-WebSocket-Protocol", ""]);
  assert.deepEqual(chrome156.headers.slice(0, -1).map(([n]) => n), expected.map(([n]) => n));
  for (const [name, value] of expected) {
    if (PER_CONNECTION.has(name)) continue;
    assert.equal(chrome156.headers.find(([n]) => n === name)![1], value, name);
  }
  const ua = chrome156.headers.find(([n]) => n === "User-Agent")![1];
  assert.match(ua, / Chrome\/156\.0\.0\.0 /);
  assert.doesNotMatch(ua, /Headless/);
  assert.equal(chrome156.compress, true);
  assert.ok(!chrome156.headers.some(([n]) => /^sec-(ch|fetch)-/i.test(n)), "no sec-ch-ua / Sec-Fetch-* on Chrome's upgrade");
});

test("firefox153 headers: the reference order and values", () => {
  assert.deepEqual(firefox153.headers, [
    ["Host", ""],
    ["User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"],
    ["Accept", "*/*"],
    ["Accept-Language", "en-US,en;q=0.9"],
    ["Accept-Encoding", "gzip, deflate, br, zstd"],
    ["Sec-WebSocket-Version", "13"],
    ["Origin", ""],
    ["Sec-WebSocket-Protocol", ""],
    ["Sec-WebSocket-Extensions", "permessage-deflate"],
    ["Sec-WebSocket-Key", ""],
    ["Sec-Fetch-Storage-Access", "none"],
    ["Connection", "Upgrade"],
    ["Sec-Fetch-Dest", "empty"],
    ["Sec-Fetch-Mode", "websocket"],
    ["Sec-Fetch-Site", "cross-site"],
    ["Pragma", "no-cache"],
    ["Cache-Control", "no-cache"],
    ["Upgrade", "websocket"],
  ]);
  // Every name the document lists appears, in the document's order.
  const line = /Upgrade headers in order: ([\s\S]*?)\n\n/.exec(doc)![1]!;
  // Strip the `values` and (values), then the names are the first words of the comma list.
  const docNames = line
    .replace(/`[^`]*`/g, "")
    .replace(/\([^)]*\)/g, "")
    .split(",")
    .map((part) => part.trim().split(/\s+/)[0]!.replace(/\.$/, ""));
  assert.deepEqual(firefox153.headers.map(([n]) => n).filter((n) => n !== "Sec-WebSocket-Protocol"), docNames);
});

test("firefox153 reproduces the reference ClientHello byte for byte given its ECH GREASE", () => {
  const hex = readFileSync(`${REF_DIR}/firefox-esr-153-wss-clienthello.hex`, "utf8").trim();
  const ref = parseClientHello(hex);
  const ks = ref.extensions.find((e) => e.type === 0x0033)!.data;
  // key_share: 11ec (1216 B), 001d (32 B), 0017 (65 B).
  const mlkem = ks.subarray(6, 6 + 1216);
  const x25519 = ks.subarray(6 + 1216 + 4, 6 + 1216 + 4 + 32);
  const p256 = ks.subarray(6 + 1216 + 4 + 32 + 4);
  assert.equal(p256.length, 65);
  const hello = buildClientHello(firefox153.tls, {
    servername: "localhost",
    random: ref.random,
    sessionId: ref.sessionId,
    keyShares: [
      { group: 0x0017, key: p256 },
      { group: 0x001d, key: x25519 },
      { group: 0x11ec, key: mlkem },
    ],
    state: { ech: ref.extensions.find((e) => e.type === 0xfe0d)!.data },
  });
  assert.equal(clientHelloRecord(firefox153.tls, hello).toString("hex"), hex);
});

test("firefox153: the documented JA4, constant JA3 and order, NSS-style ECH GREASE", () => {
  const hex = readFileSync(`${REF_DIR}/firefox-esr-153-wss-clienthello.hex`, "utf8").trim();
  const ref = parseClientHello(hex);
  const aeads = new Set<number>();
  for (let i = 0; i < 16; i++) {
    const rng = (n: number): Buffer => Buffer.alloc(n, i * 17 + n);
    const h = parseClientHello(
      buildClientHello(firefox153.tls, {
        servername: "localhost",
        random: Buffer.alloc(32, i),
        sessionId: Buffer.alloc(32, 1),
        keyShares: [
          { group: 0x11ec, key: Buffer.alloc(1216) },
          { group: 0x001d, key: Buffer.alloc(32) },
          { group: 0x0017, key: Buffer.alloc(65) },
        ],
        rng: i % 2 ? rng : undefined,
      }),
    );
    assert.equal(ja4(h), "t13d1617h2_86a278354501_3cbfd9057e0d");
    assert.equal(ja4r(h), ja4r(ref));
    assert.equal(ja4o(h), ja4o(ref));
    assert.equal(ja3(h), ja3(ref));
    const ech = h.extensions.find((e) => e.type === 0xfe0d)!.data;
    assert.equal(ech.length, 281);
    aeads.add(ech.readUInt16BE(3));
  }
  assert.ok([...aeads].every((a) => a === 1 || a === 3));
  // A host name longer than NSS's 100-byte name padding grows the payload in 32-byte steps.
  const long = parseClientHello(
    buildClientHello(firefox153.tls, {
      servername: `${"a".repeat(120)}.example`,
      random: Buffer.alloc(32),
      sessionId: Buffer.alloc(32),
      keyShares: [],
    }),
  );
  assert.equal(long.extensions.find((e) => e.type === 0xfe0d)!.data.length, 281 + 32);
});

test("chrome156 template through the protocol's header builder gives the reference request head", async () => {
  const { buildRequestHeaders } = await import("../../src/protocol/handshake.js");
  const block = /```\n([\s\S]*?)```/.exec(doc)![1]!.trim().split("\n");
  const key = "dGhlIHNhbXBsZSBub25jZQ==";
  const headers = buildRequestHeaders({
    host: "localhost:8443",
    key,
    origin: "http://127.0.0.1:8000",
    extensions: "permessage-deflate; client_max_window_bits",
    template: chrome156.headers,
  });
  const expected = block.map((line) => line.trim().replace("<16 random bytes, base64>", key));
  assert.deepEqual(
    headers.map(([n, v]) => `${n}: ${v}`),
    expected,
  );
});
