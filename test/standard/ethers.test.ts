/**
 * ethers v6 `WebSocketProvider` over masq's standard WebSocket (wss, impersonate "chrome", an
 * HTTP CONNECT proxy) against a small JSON-RPC server on `ws`: eth_chainId, eth_blockNumber and
 * eth_subscribe("newHeads") streaming 100 notifications.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:https";
import { WebSocketServer, type WebSocket as WsSocket } from "ws";
import { WebSocketProvider } from "ethers";
import { AsyncSession } from "../../src/index.js";
import { testCerts } from "../helpers/certs.js";
import { startHttpProxy, type RunningProxy } from "../helpers/proxies.js";

interface RpcRequest {
  id: number;
  method: string;
  params?: unknown[];
}

let https: ReturnType<typeof createServer>;
let wss: WebSocketServer;
let url: string;
let proxy: RunningProxy;
let session: AsyncSession;
const methods: string[] = [];
const userAgents: string[] = [];

/** Answers the calls ethers makes; a newHeads subscription gets blocks 1..100, then nothing. */
function serve(ws: WsSocket): void {
  let subs = 0;
  ws.on("message", (raw) => {
    const msg = JSON.parse(String(raw)) as RpcRequest | RpcRequest[];
    const answer = (req: RpcRequest): unknown => {
      methods.push(req.method);
      switch (req.method) {
        case "eth_chainId":
          return { jsonrpc: "2.0", id: req.id, result: "0x539" };
        case "net_version":
          return { jsonrpc: "2.0", id: req.id, result: "1337" };
        case "eth_blockNumber":
          return { jsonrpc: "2.0", id: req.id, result: "0x2a" };
        case "eth_subscribe": {
          const id = `0x${(++subs).toString(16).padStart(32, "0")}`;
          setImmediate(() => {
            for (let n = 1; n <= 100; n++) {
              ws.send(JSON.stringify({ jsonrpc: "2.0", method: "eth_subscription", params: { subscription: id, result: { number: `0x${n.toString(16)}` } } }));
            }
          });
          return { jsonrpc: "2.0", id: req.id, result: id };
        }
        case "eth_unsubscribe":
          return { jsonrpc: "2.0", id: req.id, result: true };
        default:
          return { jsonrpc: "2.0", id: req.id, error: { code: -32601, message: `no method ${req.method}` } };
      }
    };
    ws.send(JSON.stringify(Array.isArray(msg) ? msg.map(answer) : answer(msg)));
  });
}

before(async () => {
  const certs = testCerts();
  https = createServer({ key: certs.leaf.key, cert: certs.leaf.cert });
  wss = new WebSocketServer({ server: https });
  wss.on("connection", (ws, req) => {
    userAgents.push(String(req.headers["user-agent"]));
    serve(ws);
  });
  await new Promise<void>((r) => https.listen(0, "127.0.0.1", () => r()));
  url = `wss://127.0.0.1:${(https.address() as { port: number }).port}/rpc`;
  proxy = await startHttpProxy();
  session = new AsyncSession({ impersonate: "chrome", ca: certs.ca.cert, proxy: proxy.url });
});

after(async () => {
  await session?.close();
  for (const c of wss?.clients ?? []) c.terminate();
  await new Promise((r) => wss?.close(r));
  await new Promise((r) => https?.close(r));
  await proxy?.stop();
});

test("eth_chainId, eth_blockNumber and 100 newHeads notifications", async () => {
  const provider = new WebSocketProvider(() => new session.WebSocket(url));
  try {
    const network = await provider.getNetwork();
    assert.equal(network.chainId, 1337n);
    assert.equal(await provider.getBlockNumber(), 42);
    const blocks: number[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${blocks.length} blocks within 20 s`)), 20_000);
      void provider.on("block", (n: number) => {
        blocks.push(n);
        if (blocks.length === 100) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    assert.deepEqual(blocks, Array.from({ length: 100 }, (_, i) => i + 1));
    assert.ok(methods.includes("eth_subscribe"), methods.join(","));
  } finally {
    await provider.destroy();
  }
  assert.match(userAgents[0] ?? "", /Chrome\//);
});
