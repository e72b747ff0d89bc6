/**
 * partysocket's ReconnectingWebSocket with masq's class (`WebSocket: session.WebSocket`; wss,
 * impersonate "chrome", an HTTP CONNECT proxy): it reconnects after the server drops the
 * connection, and messages flow again.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:https";
import { WebSocketServer } from "ws";
import ReconnectingWebSocket from "partysocket/ws";
import { AsyncSession } from "../../src/index.js";
import { testCerts } from "../helpers/certs.js";
import { startHttpProxy } from "../helpers/proxies.js";

test("partysocket reconnects after the server drops the connection", async (t) => {
  const certs = testCerts();
  const https = createServer({ key: certs.leaf.key, cert: certs.leaf.cert });
  const wss = new WebSocketServer({ server: https });
  const userAgents: string[] = [];
  let connections = 0;
  wss.on("connection", (ws, req) => {
    connections++;
    userAgents.push(String(req.headers["user-agent"]));
    ws.send(`hello ${connections}`);
    ws.on("message", (d) => {
      if (String(d) === "drop") ws.terminate(); // no close frame: a lost connection
      else ws.send(`echo ${String(d)}`);
    });
  });
  await new Promise<void>((r) => https.listen(0, "127.0.0.1", () => r()));
  const url = `wss://127.0.0.1:${(https.address() as { port: number }).port}/`;
  const proxy = await startHttpProxy();
  const session = new AsyncSession({ impersonate: "chrome", ca: certs.ca.cert, proxy: proxy.url });
  const rws = new ReconnectingWebSocket(url, [], {
    WebSocket: session.WebSocket,
    minReconnectionDelay: 50,
    maxReconnectionDelay: 200,
    connectionTimeout: 5000,
    maxRetries: 20,
  });
  t.after(async () => {
    rws.close();
    await session.close();
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
    await new Promise((r) => https.close(r));
    await proxy.stop();
  });

  const messages: string[] = [];
  const closes: Array<{ code: number; wasClean: boolean }> = [];
  let waiter: { re: RegExp; resolve: () => void } | undefined;
  rws.addEventListener("message", (ev) => {
    messages.push(String(ev.data));
    if (waiter && waiter.re.test(String(ev.data))) waiter.resolve();
  });
  rws.addEventListener("close", (ev) => closes.push({ code: ev.code, wasClean: ev.wasClean }));
  const next = (re: RegExp): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (messages.some((m) => re.test(m))) return resolve();
      const timer = setTimeout(() => reject(new Error(`no message matching ${re} within 15 s; got ${messages.join(", ")}`)), 15_000);
      waiter = {
        re,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
    });

  await next(/^hello 1$/);
  rws.send("one");
  await next(/^echo one$/);
  rws.send("drop");
  await next(/^hello 2$/);
  rws.send("two");
  await next(/^echo two$/);
  assert.equal(connections, 2);
  // partysocket turns our `error` (fired before `close` on a lost connection) into its own close event.
  assert.ok(closes.length >= 1, "partysocket reported the drop");
  assert.ok(userAgents.every((ua) => /Chrome\//.test(ua)), userAgents.join(" | "));
});
