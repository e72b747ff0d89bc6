/**
 * graphql-ws's client with `webSocketImpl: session.WebSocket` against graphql-ws's server on
 * `ws`, over wss with impersonate "chrome" (masq's TLS engine) through an HTTP CONNECT proxy:
 * a query, a subscription streaming 1,000 events to completion, and an error.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:https";
import { WebSocketServer } from "ws";
import { GraphQLInt, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { createClient, type Client } from "graphql-ws";
import { AsyncSession } from "../../src/index.js";
import { testCerts } from "../helpers/certs.js";
import { startHttpProxy, type RunningProxy } from "../helpers/proxies.js";

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: "Query",
    fields: {
      hello: { type: GraphQLString, resolve: () => "world" },
      boom: {
        type: GraphQLString,
        resolve: () => {
          throw new Error("kaboom");
        },
      },
    },
  }),
  subscription: new GraphQLObjectType({
    name: "Subscription",
    fields: {
      count: {
        type: new GraphQLNonNull(GraphQLInt),
        args: { to: { type: new GraphQLNonNull(GraphQLInt) } },
        subscribe: async function* (_root: unknown, args: { to: number }) {
          for (let i = 1; i <= args.to; i++) yield { count: i };
        },
      },
    },
  }),
});

let https: ReturnType<typeof createServer>;
let wss: WebSocketServer;
let url: string;
let proxy: RunningProxy;
let session: AsyncSession;
let client: Client;

before(async () => {
  const certs = testCerts();
  https = createServer({ key: certs.leaf.key, cert: certs.leaf.cert });
  wss = new WebSocketServer({ server: https, path: "/graphql" });
  useServer({ schema }, wss);
  await new Promise<void>((r) => https.listen(0, "127.0.0.1", () => r()));
  url = `wss://127.0.0.1:${(https.address() as { port: number }).port}/graphql`;
  proxy = await startHttpProxy();
  session = new AsyncSession({ impersonate: "chrome", ca: certs.ca.cert, proxy: proxy.url });
  client = createClient({ url, webSocketImpl: session.WebSocket, retryAttempts: 0, lazy: true });
});

after(async () => {
  await client?.dispose();
  await session?.close();
  for (const c of wss?.clients ?? []) c.terminate();
  await new Promise((r) => wss?.close(r));
  await new Promise((r) => https?.close(r));
  await proxy?.stop();
});

test("a query", async () => {
  const results: unknown[] = [];
  for await (const r of client.iterate({ query: "{ hello }" })) results.push(r);
  assert.deepEqual(results, [{ data: { hello: "world" } }]);
});

test("a subscription streaming 1,000 events, in order, to completion", async () => {
  let expected = 1;
  for await (const r of client.iterate<{ count: number }>({ query: "subscription { count(to: 1000) }" })) {
    assert.equal(r.data?.count, expected);
    expected++;
  }
  assert.equal(expected, 1001);
});

test("an error from a resolver, then the connection still serves queries", async () => {
  const results: Array<{ errors?: ReadonlyArray<{ message: string }>; data?: unknown }> = [];
  for await (const r of client.iterate({ query: "{ boom }" })) results.push(r);
  assert.equal(results.length, 1);
  assert.equal(results[0]!.errors?.[0]?.message, "kaboom");
  // A validation error arrives as an error message and ends the operation.
  await assert.rejects(async () => {
    for await (const _ of client.iterate({ query: "{ nope }" })) {
      // nothing
    }
  }, (err: unknown) => Array.isArray(err) && /nope/.test(String((err as Array<{ message: string }>)[0]?.message)));
  const again: unknown[] = [];
  for await (const r of client.iterate({ query: "{ hello }" })) again.push(r);
  assert.deepEqual(again, [{ data: { hello: "world" } }]);
});

test("the server saw Chrome's upgrade request through the proxy", async () => {
  const seen: string[] = [];
  const onConn = (_ws: unknown, req: { headers: Record<string, string | string[] | undefined> }): void => {
    seen.push(String(req.headers["user-agent"]));
  };
  wss.on("connection", onConn);
  try {
    const fresh = createClient({ url, webSocketImpl: session.WebSocket, retryAttempts: 0 });
    for await (const _ of fresh.iterate({ query: "{ hello }" })) {
      // one result
    }
    await fresh.dispose();
  } finally {
    wss.off("connection", onConn);
  }
  assert.equal(seen.length, 1);
  assert.match(seen[0]!, /Chrome\//);
});
