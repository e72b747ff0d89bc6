/**
 * permessage-deflate interop against real peers over loopback:
 * - the npm `ws` server with perMessageDeflate in every context-takeover / window-bits mode;
 * - Python's `websockets` (Debian's python3-websockets, compression on) in several modes;
 * - a raw server that sends a decompression bomb.
 * Both directions, TEXT and BINARY, sizes below and above the compression threshold.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { createInterface } from "node:readline";
import zlib from "node:zlib";
import { WebSocketServer, type PerMessageDeflateOptions } from "ws";
import { AsyncSession, WsFlag, WebSocketError } from "../../src/index.js";
import { negotiateDeflate, type DeflateOffer, type DeflateParams } from "../../src/protocol/extensions.js";

const MiB = 1024 * 1024;
const RECV = { timeout: 20_000 }; // a safety net against hangs, not a timed assertion

/** Compressible text of exactly `size` bytes. */
function text(size: number, seed: number): string {
  const unit = `{"seq":${seed},"sym":"BTC-USD","bids":[[64000.5,0.25],[63999.0,1.5]],"asks":[[64001.0,0.75]]}\n`;
  return unit.repeat(Math.ceil(size / unit.length) + 1).slice(0, size);
}

/** Binary of exactly `size` bytes: half random, half repetitive. */
function binary(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size, seed & 0xff);
  randomBytes(Math.floor(size / 2)).copy(b);
  return b;
}

const SIZES = [0, 1, 100, 1023, 1024, 4096, 70_000, 300_000];

async function exchange(url: string, compress: boolean | DeflateOffer, opts: { rounds?: number } = {}) {
  const session = new AsyncSession();
  const ws = await session.wsConnect(url, { compress });
  try {
    for (let round = 0; round < (opts.rounds ?? 2); round++) {
      for (const size of SIZES) {
        const t = text(size, round * 1000 + size);
        await ws.sendStr(t);
        const got = await ws.recv(RECV);
        assert.equal(got.flags & (WsFlag.TEXT | WsFlag.BINARY), WsFlag.TEXT, `text ${size} type`);
        assert.equal(got.data.toString("utf8"), t, `text ${size} round ${round}`);

        const b = binary(size, round + size);
        await ws.sendBytes(b);
        const gotB = await ws.recv(RECV);
        assert.equal(gotB.flags & (WsFlag.TEXT | WsFlag.BINARY), WsFlag.BINARY, `binary ${size} type`);
        assert.ok(gotB.data.equals(b), `binary ${size} round ${round}`);
      }
    }
    return { extensions: ws.extensions };
  } finally {
    await ws.close();
    await session.close();
  }
}

// ------------------------------------------------------------------ npm ws server

interface WsPeer {
  url: string;
  server: WebSocketServer;
  /** Bytes the server read from / wrote to the socket for each message it received (and echoed). */
  wire: Array<{ size: number; readBytes: number; wroteBytes: number }>;
  offers: string[];
  close(): Promise<void>;
}

async function startWs(perMessageDeflate: PerMessageDeflateOptions | false): Promise<WsPeer> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate, maxPayload: 64 * MiB });
  await new Promise<void>((r) => server.once("listening", () => r()));
  const peer: WsPeer = {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    wire: [],
    offers: [],
    close: () =>
      new Promise<void>((r) => {
        for (const c of server.clients) c.terminate();
        server.close(() => r());
      }),
  };
  server.on("connection", (ws, req) => {
    peer.offers.push(String(req.headers["sec-websocket-extensions"] ?? ""));
    const sock = req.socket;
    let lastRead = sock.bytesRead;
    ws.on("message", (data: Buffer, isBinary) => {
      const readBytes = sock.bytesRead - lastRead;
      lastRead = sock.bytesRead;
      const w0 = sock.bytesWritten;
      const rec = { size: data.length, readBytes, wroteBytes: 0 };
      peer.wire.push(rec);
      ws.send(data, { binary: isBinary }, () => {
        rec.wroteBytes = sock.bytesWritten - w0;
      });
    });
  });
  return peer;
}

const WS_MODES: Array<{ name: string; server: PerMessageDeflateOptions; offer?: DeflateOffer; want: Partial<DeflateParams> }> = [
  { name: "context takeover both ways (defaults)", server: {}, want: {} },
  { name: "server_no_context_takeover", server: { serverNoContextTakeover: true }, want: { serverNoContextTakeover: true } },
  { name: "client_no_context_takeover", server: { clientNoContextTakeover: true }, want: { clientNoContextTakeover: true } },
  {
    name: "no context takeover either way",
    server: { serverNoContextTakeover: true, clientNoContextTakeover: true },
    want: { serverNoContextTakeover: true, clientNoContextTakeover: true },
  },
  { name: "window bits 10/11", server: { serverMaxWindowBits: 10, clientMaxWindowBits: 11 }, want: { serverMaxWindowBits: 10, clientMaxWindowBits: 11 } },
  { name: "window bits 8/8", server: { serverMaxWindowBits: 8, clientMaxWindowBits: 8 }, want: { serverMaxWindowBits: 8, clientMaxWindowBits: 8 } },
  {
    name: "no context takeover and 9-bit windows",
    server: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 9 },
    want: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 9 },
  },
  {
    name: "client offer with every parameter",
    server: {},
    offer: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12 },
    want: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12 },
  },
];

for (const mode of WS_MODES) {
  test(`ws server, ${mode.name}: TEXT and BINARY both ways, below and above the threshold`, async () => {
    const peer = await startWs({ threshold: 0, ...mode.server });
    try {
      const offer = mode.offer ?? {};
      const { extensions } = await exchange(peer.url, mode.offer ?? true);
      const params = negotiateDeflate(extensions, offer);
      assert.deepEqual(params, {
        serverNoContextTakeover: false,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 15,
        clientMaxWindowBits: 15,
        ...mode.want,
      });
      // Our messages of 1024 bytes and more were compressed on the wire; smaller ones were not.
      for (const w of peer.wire) {
        if (w.size < 1024) assert.ok(w.readBytes >= w.size, `${w.size}-byte message sent uncompressed (${w.readBytes} bytes on the wire)`);
      }
      const bigText = peer.wire.filter((w) => w.size === 300_000);
      assert.ok(bigText.some((w) => w.readBytes < 30_000), `300 kB text compressed: ${bigText.map((w) => w.readBytes).join(",")}`);
      // ...and the server compressed what it sent back (we inflated it: the echo matched).
      assert.ok(bigText.some((w) => w.wroteBytes > 0 && w.wroteBytes < 30_000), `server compressed: ${bigText.map((w) => w.wroteBytes).join(",")}`);
    } finally {
      await peer.close();
    }
  });
}

test("ws server without permessage-deflate: compress: true falls back to uncompressed", async () => {
  const peer = await startWs(false);
  try {
    const { extensions } = await exchange(peer.url, true, { rounds: 1 });
    assert.equal(extensions, "");
    assert.match(peer.offers[0]!, /^permessage-deflate; client_max_window_bits$/);
    for (const w of peer.wire) assert.ok(w.readBytes >= w.size);
  } finally {
    await peer.close();
  }
});

test("context takeover on the wire: repeated messages shrink only when takeover is allowed", async () => {
  for (const [clientNoContextTakeover, shrink] of [
    [false, true],
    [true, false],
  ] as const) {
    const peer = await startWs({ threshold: 0, clientNoContextTakeover });
    const session = new AsyncSession();
    const ws = await session.wsConnect(peer.url, { compress: true });
    try {
      const msg = randomBytes(8000).toString("base64"); // compresses a little on its own, a lot as a repeat
      for (let i = 0; i < 3; i++) {
        await ws.sendStr(msg);
        assert.equal(await ws.recvStr(RECV), msg);
      }
      const [first, second, third] = peer.wire.map((w) => w.readBytes);
      if (shrink) assert.ok(second! < first! / 10 && third! < first! / 10, `takeover: ${first}, ${second}, ${third}`);
      else assert.ok(Math.abs(second! - first!) < 16 && Math.abs(third! - first!) < 16, `no takeover: ${first}, ${second}, ${third}`);
    } finally {
      await ws.close();
      await session.close();
      await peer.close();
    }
  }
});

// ------------------------------------------------------------------ Python websockets

const PYTHON = "/usr/bin/python3";
const pythonOk = spawnSync(PYTHON, ["-c", "import websockets"], { stdio: "ignore" }).status === 0;

const PY_SERVER = String.raw`
import asyncio, json, sys
import websockets
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

cfg = json.loads(sys.argv[1])

async def echo(ws, *args):
    try:
        async for msg in ws:
            await ws.send(msg)
    except websockets.exceptions.ConnectionClosed:
        pass

async def main():
    kwargs = {}
    if cfg is not None:
        kwargs["extensions"] = [ServerPerMessageDeflateFactory(**cfg)]
        kwargs["compression"] = None
    async with websockets.serve(echo, "127.0.0.1", 0, max_size=None, ping_interval=None, **kwargs) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().create_future()

asyncio.run(main())
`;

async function startPython(cfg: Record<string, unknown> | null): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(PYTHON, ["-c", PY_SERVER, JSON.stringify(cfg)], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.once("line", (l) => {
      rl.close();
      resolve(l);
    });
    proc.once("exit", (code) => reject(new Error(`python server exited with ${code}`)));
  });
  return { url: `ws://127.0.0.1:${Number(line)}`, proc };
}

const PY_MODES: Array<{ name: string; cfg: Record<string, unknown> | null; want: Partial<DeflateParams> }> = [
  // websockets' default: 12-bit windows both ways, memLevel 5
  { name: "default compression", cfg: null, want: { serverMaxWindowBits: 12, clientMaxWindowBits: 12 } },
  { name: "full windows, context takeover", cfg: {}, want: {} },
  {
    name: "no context takeover either way, 9-bit windows",
    cfg: { server_no_context_takeover: true, client_no_context_takeover: true, server_max_window_bits: 9, client_max_window_bits: 9 },
    want: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 9 },
  },
  { name: "server_no_context_takeover", cfg: { server_no_context_takeover: true }, want: { serverNoContextTakeover: true } },
  { name: "client_no_context_takeover, 8-bit client window", cfg: { client_no_context_takeover: true, client_max_window_bits: 8 }, want: { clientNoContextTakeover: true, clientMaxWindowBits: 8 } },
];

for (const mode of PY_MODES) {
  test(`python websockets, ${mode.name}: TEXT and BINARY both ways`, { skip: pythonOk ? false : "python3-websockets is not installed" }, async () => {
    const { url, proc } = await startPython(mode.cfg);
    try {
      const { extensions } = await exchange(url, true);
      assert.deepEqual(negotiateDeflate(extensions, {}), {
        serverNoContextTakeover: false,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 15,
        clientMaxWindowBits: 15,
        ...mode.want,
      });
    } finally {
      proc.kill();
    }
  });
}

// ------------------------------------------------------------------ decompression bomb from a raw server

let bombPayload: Buffer;

before(async () => {
  // 100 MiB of zeros as one compressed message (~100 KiB), built without holding 100 MiB.
  const d = zlib.createDeflateRaw({ level: 9 });
  const chunks: Buffer[] = [];
  d.on("data", (c: Buffer) => chunks.push(c));
  const zeros = Buffer.alloc(MiB);
  for (let i = 0; i < 100; i++) if (!d.write(zeros)) await new Promise((r) => d.once("drain", r));
  await new Promise<void>((r) => d.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
  d.close();
  const all = Buffer.concat(chunks);
  bombPayload = all.subarray(0, all.length - 4);
});

function frameHeader(len: number, rsv1: boolean, opcode: number): Buffer {
  const first = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  if (len < 126) return Buffer.from([first, len]);
  if (len < 65536) {
    const h = Buffer.alloc(4);
    h[0] = first;
    h[1] = 126;
    h.writeUInt16BE(len, 2);
    return h;
  }
  const h = Buffer.alloc(10);
  h[0] = first;
  h[1] = 127;
  h.writeBigUInt64BE(BigInt(len), 2);
  return h;
}

/** A raw server: answers the upgrade accepting permessage-deflate, then sends `frames`; records the client's close code. */
async function startRaw(frames: Buffer[]): Promise<{ url: string; server: Server; closeCode: Promise<number> }> {
  let gotClose!: (code: number) => void;
  const closeCode = new Promise<number>((r) => (gotClose = r));
  const server = createServer((sock: Socket) => {
    let buf = Buffer.alloc(0);
    let upgraded = false;
    sock.on("error", () => {});
    sock.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (!upgraded) {
        const end = buf.indexOf("\r\n\r\n");
        if (end === -1) return;
        const head = buf.subarray(0, end).toString("latin1");
        buf = buf.subarray(end + 4);
        upgraded = true;
        const key = /^sec-websocket-key:\s*(.+)$/im.exec(head)![1]!.trim();
        const accept = createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
        sock.write(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n`,
        );
        for (const f of frames) sock.write(f);
      }
      // client frames are masked: parse just enough to find a close frame's code
      while (buf.length >= 2) {
        const opcode = buf[0]! & 0x0f;
        let len = buf[1]! & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + 4 + len) return;
        const mask = buf.subarray(off, off + 4);
        const payload = Buffer.from(buf.subarray(off + 4, off + 4 + len));
        for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
        buf = buf.subarray(off + 4 + len);
        if (opcode === 8) {
          gotClose(payload.length >= 2 ? payload.readUInt16BE(0) : 1005);
          sock.end();
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, server, closeCode };
}

test("decompression bomb from a raw server: fails with 1009, tells the server 1009, memory stays bounded", async () => {
  assert.ok(bombPayload.length < 200 * 1024);
  const raw = await startRaw([Buffer.concat([frameHeader(bombPayload.length, true, 2), bombPayload])]);
  const session = new AsyncSession();
  const m0 = process.memoryUsage();
  let peakAb = m0.arrayBuffers;
  let peakRss = m0.rss;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakAb = Math.max(peakAb, m.arrayBuffers);
    peakRss = Math.max(peakRss, m.rss);
  }, 1);
  try {
    const ws = await session.wsConnect(raw.url, { compress: true, maxMessageSize: 4 * MiB });
    await assert.rejects(ws.recv(RECV), (e: unknown) => e instanceof WebSocketError && e.code === 1009);
    assert.equal(await raw.closeCode, 1009);
    ws.terminate();
  } finally {
    clearInterval(sampler);
    await session.close();
    raw.server.close();
  }
  assert.ok(peakAb - m0.arrayBuffers < 32 * MiB, `arrayBuffers grew by ${((peakAb - m0.arrayBuffers) / MiB).toFixed(1)} MiB`);
  assert.ok(peakRss - m0.rss < 64 * MiB, `rss grew by ${((peakRss - m0.rss) / MiB).toFixed(1)} MiB`);
});

test("raw server: a compressed message within the limit inflates; corrupt compressed data fails with 1007", async () => {
  const good = zlib.deflateRawSync(Buffer.from("hello from a raw server"), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const goodPayload = good.subarray(0, good.length - 4);
  const corrupt = Buffer.from([0xff, 0xff, 0xff, 0xff]);
  const raw = await startRaw([
    Buffer.concat([frameHeader(goodPayload.length, true, 1), goodPayload]),
    Buffer.concat([frameHeader(corrupt.length, true, 2), corrupt]),
  ]);
  const session = new AsyncSession();
  try {
    const ws = await session.wsConnect(raw.url, { compress: true });
    assert.equal(await ws.recvStr(RECV), "hello from a raw server");
    await assert.rejects(ws.recv(RECV), (e: unknown) => e instanceof WebSocketError && e.code === 1007);
    assert.equal(await raw.closeCode, 1007);
    ws.terminate();
  } finally {
    await session.close();
    raw.server.close();
  }
});

