/**
 * `npm start`: masq's main job on an embedded default. Starts a local echo server (the npm `ws`
 * server on 127.0.0.1, a random port) and shows a session connecting, sending text, binary and
 * JSON, receiving, pinging, iterating, and closing. No network access is needed.
 */
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { AsyncSession, WsFlag, WebSocketTimeout } from "../src/index.js";

const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
await new Promise<void>((resolve) => server.once("listening", () => resolve()));
const { port } = server.address() as AddressInfo;
server.on("connection", (peer, req) => {
  peer.send(JSON.stringify({ hello: "from the server", cookie: req.headers.cookie ?? null, path: req.url }));
  peer.on("message", (data, isBinary) => {
    if (!isBinary && data.toString() === "bye") peer.close(1000, "see you");
    else peer.send(data, { binary: isBinary });
  });
  peer.on("ping", (d) => console.log(`  server: got a ping (${JSON.stringify(d.toString())})`));
});
const url = `ws://127.0.0.1:${port}/chat`;
console.log(`masq demo: echo server listening at ${url}\n`);

await using session = new AsyncSession({ headers: { "User-Agent": "masq-demo" }, timeout: 5_000 });
session.cookies.set("session_id", "xyz");

await using ws = await session.wsConnect(url, { params: { room: "lobby" } });
console.log(`connected: HTTP ${ws.response.status} from ${ws.response.url}`);
console.log("server greeting:", await ws.recvJson());

await ws.sendStr("Hello, World!");
console.log("text   ->", JSON.stringify(await ws.recvStr()));

await ws.sendBytes(Uint8Array.from([0, 1, 2, 253, 254, 255]));
const { data, flags } = await ws.recv();
console.log("binary ->", data, flags & WsFlag.BINARY ? "(BINARY)" : "(TEXT)");

await ws.sendJson({ action: "subscribe", channel: "btc_usd" });
console.log("json   ->", await ws.recvJson());

await ws.ping("keepalive");
try {
  await ws.recv({ timeout: 200 }); // the PONG is consumed internally: nothing to receive
} catch (err) {
  if (err instanceof WebSocketTimeout) console.log("ping   -> answered; recv timed out as expected (PONGs are never delivered)");
  else throw err;
}

// Concurrent receivers are served first-come-first-served, one message each.
const waiting = [ws.recvStr(), ws.recvStr(), ws.recvStr()];
for (const word of ["one", "two", "three"]) await ws.sendStr(word);
console.log("fifo   ->", await Promise.all(waiting));

// A large message is fragmented into 64 KiB frames on the wire and arrives whole.
await ws.sendBytes(Buffer.alloc(1_000_000, 7));
console.log("1 MB   ->", (await ws.recvBytes()).length, "bytes back");

await ws.sendStr("bye"); // the server closes with 1000 "see you"
for await (const msg of ws) console.log("late message:", msg.toString());
console.log(`closed by the server: code ${ws.closeCode}, reason ${JSON.stringify(ws.closeReason)}`);

server.close();
console.log("\ndone.");
