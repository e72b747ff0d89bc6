// NSS (Firefox) puts one X25519 key in both its X25519MLKEM768 share and its X25519 share;
// BoringSSL (Chrome) draws two. The first ClientHello on the wire must do as the browser does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { AsyncSession } from "../../src/index.js";
import { parseClientHello } from "../helpers/ja4.js";

const REF_DIR = fileURLToPath(new URL("../fixtures/reference", import.meta.url));

/** The X25519 half of the hybrid share and the X25519 share of one ClientHello (record bytes). */
function x25519Keys(hello: Buffer | string): { hybrid: string; plain: string } {
  const ks = parseClientHello(hello).extensions.find((e) => e.type === 0x0033)!.data;
  const found = new Map<number, Buffer>();
  for (let p = 2; p < ks.length; ) {
    const group = ks.readUInt16BE(p);
    const len = ks.readUInt16BE(p + 2);
    found.set(group, ks.subarray(p + 4, p + 4 + len));
    p += 4 + len;
  }
  const hybrid = found.get(0x11ec);
  const plain = found.get(0x001d);
  assert.ok(hybrid && plain, "both an X25519MLKEM768 and an X25519 share");
  assert.equal(hybrid.length, 1184 + 32);
  return { hybrid: hybrid.subarray(1184).toString("hex"), plain: plain.toString("hex") };
}

/** First ClientHellos that masq sends with `impersonate` (a server that reads one record and hangs up). */
async function capture(impersonate: string, count: number): Promise<Buffer[]> {
  const hellos: Buffer[] = [];
  const server = createServer((sock: Socket) => {
    let got = Buffer.alloc(0);
    sock.on("data", (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 5 && got.length >= 5 + got.readUInt16BE(3)) {
        hellos.push(got.subarray(0, 5 + got.readUInt16BE(3)));
        sock.destroy();
      }
    });
    sock.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  const session = new AsyncSession({ impersonate, timeout: 5000, tlsSessionCache: false });
  try {
    for (let i = 0; i < count; i++) {
      await session.wsConnect(`wss://localhost:${port}/`).then(
        () => assert.fail("the server never answers"),
        () => {},
      );
    }
  } finally {
    await session.close();
    await new Promise((r) => server.close(r));
  }
  assert.equal(hellos.length, count);
  return hellos;
}

test("the Firefox ESR 153.8 capture carries one X25519 key in both shares (the fact masq follows)", () => {
  const { hybrid, plain } = x25519Keys(readFileSync(`${REF_DIR}/firefox-esr-153-wss-clienthello.hex`, "utf8"));
  assert.equal(hybrid, plain);
  const chrome = x25519Keys(readFileSync(`${REF_DIR}/chromium-156-wss-clienthello.hex`, "utf8"));
  assert.notEqual(chrome.hybrid, chrome.plain);
});

test("impersonate firefox: the X25519 share equals the hybrid share's X25519 half, fresh per connection", async () => {
  const seen = new Set<string>();
  for (const hello of await capture("firefox", 4)) {
    const { hybrid, plain } = x25519Keys(hello);
    assert.equal(hybrid, plain);
    seen.add(plain);
  }
  assert.equal(seen.size, 4, "a new key every connection");
});

test("impersonate chrome: two different X25519 keys, as BoringSSL draws them", async () => {
  for (const hello of await capture("chrome", 4)) {
    const { hybrid, plain } = x25519Keys(hello);
    assert.notEqual(hybrid, plain);
  }
});
