// WebSockets over HTTP/2 (RFC 8441) against Node's http2 server + the ws library.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { AsyncSession } from "../../src/session.js";
import { WebSocketError } from "../../src/errors.js";
import { testCerts } from "../helpers/certs.js";
import { startNodeH2Server, type NodeH2Server } from "../helpers/h2-node-server.js";

const servers: NodeH2Server[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

test("http2: true: a WebSocket as an extended CONNECT stream, echo both ways", async () => {
  const srv = await startNodeH2Server();
  servers.push(srv);
  await using session = new AsyncSession({ ca: testCerts().ca.cert, http2: true, timeout: 10_000 });
  const ws = await session.wsConnect(`${srv.url}/echo`);
  assert.equal(ws.response.status, 200);
  assert.equal(srv.requests[0]?.proto, "h2");
  await ws.sendStr("hello");
  assert.equal(await ws.recvStr({ timeout: 5000 }), "hello");
  await ws.close();
});
