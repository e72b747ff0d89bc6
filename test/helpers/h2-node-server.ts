/**
 * A real RFC 8441 peer for tests: Node's http2 server with `enableConnectProtocol`, handing each
 * extended CONNECT stream to the npm `ws` library (`new WebSocket(null)` + `setSocket(stream)`,
 * permessage-deflate negotiated with ws's own extension code). Node's and ws's code, not masq's.
 *
 * Paths: `/echo` echoes every message; `/close?code=` closes at once with that code; `/stall`
 * accepts and never reads (with `initialWindowSize: 0` the client's windows stay closed);
 * `/rst-mid` and `/goaway-mid` write the first 64 KiB of a 1 MiB BINARY frame, then reset the
 * stream (CANCEL) or send GOAWAY (INTERNAL_ERROR) and close; `/reject` answers 403; `/redirect`
 * answers 307 to `/echo?redirected=1`; `/cookie` sets a cookie on its 200.
 * With `http1: true` the server also takes HTTP/1.1 (ALPN `h2, http/1.1`) and upgrades there.
 */
import http2 from "node:http2";
import type { TLSSocket } from "node:tls";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer } from "ws";
import { testCerts } from "./certs.js";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

// ws's extension helpers (not in its package exports, so loaded by path): the same negotiation
// its WebSocketServer does for HTTP/1.1.
const require = createRequire(import.meta.url);
const wsDir = dirname(require.resolve("ws"));
interface Pmd {
  params: object;
  accept(offers: object[]): object;
}
const PerMessageDeflate = require(join(wsDir, "lib/permessage-deflate.js")) as {
  new (o: { isServer: boolean; maxPayload: number }): Pmd;
  extensionName: string;
};
const extension = require(join(wsDir, "lib/extension.js")) as {
  parse(h: string): Record<string, object[] | undefined>;
  format(e: Record<string, object[]>): string;
};

export interface NodeH2ServerOptions {
  /** Advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (default true). */
  extendedConnect?: boolean;
  /** Accept permessage-deflate offers (default true). */
  deflate?: boolean;
  /** Node http2 server settings merged over the defaults. */
  settings?: http2.Settings;
  /** Also serve HTTP/1.1 (ALPN h2, http/1.1) with WebSocket upgrades. */
  http1?: boolean;
}

export interface NodeH2Server {
  url: string;
  port: number;
  /** Requests seen, in order: protocol (h2 or http/1.1), path, headers. */
  requests: Array<{ proto: string; path: string; headers: Record<string, string | string[] | undefined> }>;
  /** Server-side WebSockets (to check what arrived). */
  sockets: WebSocket[];
  /** Every extended CONNECT stream, in order, with how it ended (rstCode 0: END_STREAM both ways). */
  streams: Array<{ path: string; ended: Promise<{ rstCode: number }> }>;
  /** Number of TLS connections and their negotiated ALPN. */
  connections: string[];
  /** h2 sessions currently open. */
  openSessions(): number;
  close(): Promise<void>;
}

const MIB = 1024 * 1024;

export async function startNodeH2Server(opts: NodeH2ServerOptions = {}): Promise<NodeH2Server> {
  const c = testCerts();
  const server = http2.createSecureServer({
    cert: c.leaf.cert,
    key: c.leaf.key,
    allowHTTP1: opts.http1 ?? false,
    settings: { enableConnectProtocol: opts.extendedConnect ?? true, ...opts.settings },
  });
  const requests: NodeH2Server["requests"] = [];
  const sockets: WebSocket[] = [];
  const streams: NodeH2Server["streams"] = [];
  const connections: string[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("secureConnection", (s: TLSSocket) => connections.push(String(s.alpnProtocol)));
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
    s.on("error", () => {});
  });
  const wss1 = new WebSocketServer({ noServer: true, perMessageDeflate: opts.deflate ?? true, maxPayload: 64 * MIB });
  server.on("upgrade", (req, socket: Duplex, head: Buffer) => {
    requests.push({ proto: "http/1.1", path: req.url ?? "", headers: req.headers });
    wss1.handleUpgrade(req, socket, head, (ws) => serve(ws, new URL(req.url ?? "/", "https://x")));
  });
  server.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    const path = String(headers[":path"] ?? "/");
    requests.push({ proto: "h2", path, headers });
    if (headers[":method"] !== "CONNECT" || headers[":protocol"] !== "websocket") {
      stream.respond({ ":status": 400 }, { endStream: true });
      return;
    }
    const url = new URL(path, "https://x");
    streams.push({ path, ended: new Promise((r) => stream.once("close", () => r({ rstCode: stream.rstCode ?? 0 }))) });
    if (url.pathname === "/redirect") {
      stream.respond({ ":status": 307, location: "/echo?redirected=1" }, { endStream: true });
      return;
    }
    if (url.pathname === "/reject") {
      stream.respond({ ":status": 403, "x-reject": "yes" }, { endStream: true });
      return;
    }
    const response: http2.OutgoingHttpHeaders = { ":status": 200 };
    if (url.pathname === "/cookie") response["set-cookie"] = ["h2c=yes; Path=/"];
    const offered = String(headers["sec-websocket-protocol"] ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    if (offered.length > 0) response["sec-websocket-protocol"] = offered[0];
    let pmd: unknown;
    const extHeader = headers["sec-websocket-extensions"];
    if ((opts.deflate ?? true) && typeof extHeader === "string") {
      const p = new PerMessageDeflate({ isServer: true, maxPayload: 64 * MIB });
      const offers = extension.parse(extHeader)[PerMessageDeflate.extensionName];
      if (offers) {
        p.accept(offers);
        response["sec-websocket-extensions"] = extension.format({ [PerMessageDeflate.extensionName]: [p.params] });
        pmd = p;
      }
    }
    stream.respond(response);
    if (url.pathname === "/stall") return; // never read: the client's windows stay as the SETTINGS left them
    if (url.pathname === "/rst-mid" || url.pathname === "/goaway-mid") {
      const head = Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 0x10, 0, 0]); // BINARY, 1 MiB, unmasked
      stream.write(Buffer.concat([head, Buffer.alloc(64 * 1024, 7)]), () => {
        // destroy() resets at once (close() would first end the stream with an empty DATA frame).
        // (after a pause, so the DATA already written reaches the client first).
        if (url.pathname === "/rst-mid") setTimeout(() => stream.destroy(), 100);
        else {
          stream.session?.goaway(http2.constants.NGHTTP2_INTERNAL_ERROR, 0, Buffer.from("test goaway"));
          setTimeout(() => stream.session?.destroy(), 50);
        }
      });
      return;
    }
    // ws makes a server-side socket when constructed with a null address (what its server does).
    const ws = new (WebSocket as unknown as new (a: null, p: undefined, o: object) => WebSocket)(null, undefined, {});
    if (pmd) (ws as unknown as { _extensions: Record<string, unknown> })._extensions = { [PerMessageDeflate.extensionName]: pmd };
    (ws as unknown as { setSocket(s: Duplex, head: Buffer, o: object): void }).setSocket(stream, Buffer.alloc(0), {
      maxPayload: 64 * MIB,
      allowSynchronousEvents: true,
    });
    serve(ws, url);
  });
  function serve(ws: WebSocket, url: URL): void {
    sockets.push(ws);
    ws.on("error", () => {});
    if (url.pathname === "/close") {
      ws.close(Number(url.searchParams.get("code") ?? 1000), "bye");
      return;
    }
    ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
  }
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `wss://127.0.0.1:${port}`,
    port,
    requests,
    sockets,
    streams,
    connections,
    openSessions: () => sessions.size,
    close: async () => {
      for (const s of sessions) s.destroy();
      wss1.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
