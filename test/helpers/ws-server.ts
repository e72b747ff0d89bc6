/**
 * A real WebSocket peer for black-box tests: the npm `ws` server on 127.0.0.1:0, plain or over
 * TLS, with a behaviour chosen by the request path. Every connection is recorded (request
 * headers, messages, pings, close code) so tests can assert on what the server saw.
 *
 * Paths (query parameters in brackets):
 * - `/echo`                      echo every message with its type (TEXT stays TEXT).
 * - `/slow[?delay=ms]`           echo after `delay` ms (default 100).
 * - `/close[?code=&reason=&delay=]` close with that code and reason (no code: empty close payload).
 * - `/send?count=&size=[&type=text|binary&close=code&reason=]` send `count` messages of `size` bytes
 *   (see {@link patternMessage}), then close when `close` is given.
 * - `/flood[?size=&count=&type=&delay=]` after `delay` ms (default 0), send sequence-numbered
 *   messages (`seqMessage`) as fast as the socket drains, respecting backpressure so the server's
 *   own memory stays bounded.
 * - `/burst?count=&size=`         on the client's first message, write `count` BINARY frames of
 *   `size` (4..125) bytes, each starting with its u32 sequence number, in one socket write.
 * - `/noread`                    stop reading the socket right after the upgrade (socket.pause()).
 * - `/silent`                    accept, then neither read-reply nor send anything.
 * - `/headers`                   first message: JSON `{ method, url, rawHeaders, headers }` of the
 *   upgrade request; then echo.
 * - `/ping[?payload=]`           send a ping once connected, then echo.
 * - `/reject[?status=403]`       refuse the upgrade with that status, header `X-Reject: yes`, body `nope`.
 * - `/hang`                      never answer the upgrade request (connect-timeout tests).
 *
 * The server can also run in a child process ({@link startWsServerProcess}) so that its CPU work
 * does not pause the event loop of the process under test (liveness measurements).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { WebSocketServer, type WebSocket, type RawData } from "ws";
import { testCerts as sharedCerts } from "./certs.js";

/** What the server saw on one connection. */
export interface ConnRecord {
  path: string;
  url: URL;
  rawHeaders: string[];
  headers: IncomingMessage["headers"];
  /** Messages received from the client, in order. */
  messages: Array<{ data: Buffer; isBinary: boolean }>;
  /** Pings received from the client (payloads). */
  pings: Buffer[];
  /** Pongs received from the client (answers to the server's pings). */
  pongs: Buffer[];
  /** Ordered log of events: "msg:<index>", "ping:<payload>", "pong", "close". */
  events: string[];
  /** Resolves when the connection is closed: the client's close code/reason (1005/1006 per `ws`). */
  closed: Promise<{ code: number; reason: string }>;
  /** Number of messages the server sent on /flood or /send. */
  sent: number;
  socket: Socket;
  ws: WebSocket;
}

export interface TestWsServer {
  /** `ws://127.0.0.1:PORT` or `wss://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  port: number;
  connections: ConnRecord[];
  /** Resolves with the next connection (or the `index`-th one, when it already exists). */
  connection(index?: number, timeoutMs?: number): Promise<ConnRecord>;
  close(): Promise<void>;
}

export interface WsServerOptions {
  /** Serve over TLS with the test certificate (see {@link testCerts}). */
  tls?: boolean;
}

/** Bytes of message `i` of `size` for /send: filled with a letter, prefixed by `i:` when it fits. */
export function patternMessage(i: number, size: number): Buffer {
  const b = Buffer.alloc(size, 0x61 + (i % 26));
  const prefix = Buffer.from(`${i}:`);
  if (prefix.length <= size) prefix.copy(b, 0);
  return b;
}

/** Message `i` for /flood: `i:` followed by filler up to `size` bytes (at least the prefix). */
export function seqMessage(i: number, size: number): Buffer {
  const prefix = Buffer.from(`${i}:`);
  if (size <= prefix.length) return prefix;
  const b = Buffer.alloc(size, 0x2e);
  prefix.copy(b, 0);
  return b;
}

/** Sequence number of a /flood or /send message. */
export function seqOf(data: Buffer): number {
  const s = data.toString("latin1", 0, Math.min(data.length, 24));
  const i = s.indexOf(":");
  return Number(s.slice(0, i));
}

function toBuffer(d: RawData): Buffer {
  if (Buffer.isBuffer(d)) return d;
  if (Array.isArray(d)) return Buffer.concat(d);
  return Buffer.from(d);
}

function num(url: URL, name: string, dflt: number): number {
  const v = url.searchParams.get(name);
  return v === null || v === "" ? dflt : Number(v);
}

/** Starts the server in this process. Always call `close()` (use try/finally or `t.after`). */
export async function startWsServer(opts: WsServerOptions = {}): Promise<TestWsServer> {
  let http: Server;
  if (opts.tls) {
    const c = testCerts();
    http = createHttpsServer({ key: c.key, cert: c.cert });
  } else {
    http = createHttpServer();
  }
  http.on("request", (_req, res) => {
    res.writeHead(426, { "content-type": "text/plain" }).end("upgrade required");
  });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 256 * 1024 * 1024,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.size > 0 ? [...protocols][0]! : false),
  });
  const connections: ConnRecord[] = [];
  const waiters: Array<() => void> = [];
  const sockets = new Set<Socket>();
  http.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  http.on("secureConnection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  http.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on("error", () => {});
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname === "/hang") return;
    if (url.pathname === "/reject") {
      const status = num(url, "status", 403);
      socket.end(
        `HTTP/1.1 ${status} Refused\r\nX-Reject: yes\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const rec = record(ws, req, socket, url);
      connections.push(rec);
      for (const w of waiters.splice(0)) w();
      behave(rec, url);
    });
  });

  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (http.address() as { port: number }).port;

  return {
    url: `${opts.tls ? "wss" : "ws"}://127.0.0.1:${port}`,
    port,
    connections,
    async connection(index = connections.length, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (connections.length <= index) {
        if (Date.now() > deadline) throw new Error(`ws-server: no connection #${index} within ${timeoutMs} ms`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, 50);
          waiters.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
      return connections[index]!;
    },
    async close() {
      for (const c of wss.clients) c.terminate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}

function record(ws: WebSocket, req: IncomingMessage, socket: Socket, url: URL): ConnRecord {
  let onClosed!: (v: { code: number; reason: string }) => void;
  const rec: ConnRecord = {
    path: url.pathname,
    url,
    rawHeaders: req.rawHeaders,
    headers: req.headers,
    messages: [],
    pings: [],
    pongs: [],
    events: [],
    closed: new Promise((r) => (onClosed = r)),
    sent: 0,
    socket,
    ws,
  };
  ws.on("error", () => {});
  ws.on("message", (data, isBinary) => {
    rec.messages.push({ data: toBuffer(data), isBinary });
    rec.events.push(`msg:${rec.messages.length - 1}`);
  });
  ws.on("ping", (d) => {
    rec.pings.push(d);
    rec.events.push(`ping:${d.toString("latin1")}`);
  });
  ws.on("pong", (d) => {
    rec.pongs.push(d);
    rec.events.push("pong");
  });
  ws.on("close", (code, reason) => {
    rec.events.push("close");
    onClosed({ code, reason: reason.toString("utf8") });
  });
  return rec;
}

function behave(rec: ConnRecord, url: URL): void {
  const ws = rec.ws;
  switch (url.pathname) {
    case "/echo":
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }, () => {}));
      break;
    case "/slow": {
      const delay = num(url, "delay", 100);
      ws.on("message", (data, isBinary) => {
        setTimeout(() => ws.send(data, { binary: isBinary }, () => {}), delay);
      });
      break;
    }
    case "/close": {
      const code = url.searchParams.get("code");
      const reason = url.searchParams.get("reason") ?? "";
      setTimeout(() => {
        if (code === null) ws.close();
        else ws.close(Number(code), reason);
      }, num(url, "delay", 0));
      break;
    }
    case "/send": {
      const count = num(url, "count", 1);
      const size = num(url, "size", 16);
      const binary = url.searchParams.get("type") === "binary";
      for (let i = 0; i < count; i++) {
        ws.send(patternMessage(i, size), { binary }, () => {});
        rec.sent++;
      }
      const close = url.searchParams.get("close");
      if (close !== null) ws.close(Number(close), url.searchParams.get("reason") ?? "");
      break;
    }
    case "/flood": {
      const size = num(url, "size", 64);
      const count = num(url, "count", 10_000_000);
      const binary = url.searchParams.get("type") === "binary";
      let stopped = false;
      ws.on("close", () => (stopped = true));
      const pump = (): void => {
        while (!stopped && rec.sent < count) {
          ws.send(seqMessage(rec.sent, size), { binary }, () => {});
          rec.sent++;
          // Respect backpressure: wait until the kernel took what is buffered.
          if (ws.bufferedAmount > 1 << 20 || rec.socket.writableNeedDrain) {
            rec.socket.once("drain", pump);
            return;
          }
          if (rec.sent % 1000 === 0) {
            setImmediate(pump);
            return;
          }
        }
      };
      setTimeout(pump, num(url, "delay", 0));
      break;
    }
    case "/burst": {
      // Prebuilt unmasked BINARY frames written straight to the socket in one write, so the
      // client gets a large backlog of tiny messages at once (ws's sender is bypassed).
      const count = num(url, "count", 1000);
      const size = Math.max(4, Math.min(125, num(url, "size", 6)));
      ws.once("message", () => {
        const frame = 2 + size;
        const burst = Buffer.alloc(count * frame);
        for (let i = 0; i < count; i++) {
          const o = i * frame;
          burst[o] = 0x82;
          burst[o + 1] = size;
          burst.writeUInt32BE(i, o + 2);
        }
        rec.sent = count;
        rec.socket.write(burst);
      });
      break;
    }
    case "/noread":
      rec.socket.pause();
      break;
    case "/silent":
      break;
    case "/headers":
      ws.send(
        JSON.stringify({
          method: "GET",
          url: rec.url.pathname + rec.url.search,
          rawHeaders: rec.rawHeaders,
          headers: rec.headers,
        }),
      );
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }, () => {}));
      break;
    case "/ping":
      ws.ping(Buffer.from(url.searchParams.get("payload") ?? "srv-ping"));
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }, () => {}));
      break;
    default:
      ws.close(4404, "unknown path");
  }
}

// ---------------------------------------------------------------------------------------------
// Certificates

/** A CA and a leaf for 127.0.0.1 / ::1 / localhost signed by it, as PEM strings and file paths. */
export interface TestCerts {
  ca: string;
  key: string;
  cert: string;
  caPath: string;
  keyPath: string;
  certPath: string;
}

let certs: TestCerts | undefined;

/**
 * The shared test CA and its localhost leaf (test/helpers/certs.ts, made with the openssl CLI),
 * flattened to the three PEMs and paths the peers need.
 */
export function testCerts(): TestCerts {
  if (certs) return certs;
  // A child server process inherits its parent's certificates (see startWsServerProcess).
  const inherited = process.env.MASQ_TEST_CERTS_JSON;
  if (inherited) return (certs = JSON.parse(inherited) as TestCerts);
  const c = sharedCerts();
  certs = {
    ca: c.ca.cert,
    key: c.leaf.key,
    cert: c.leaf.cert,
    caPath: c.ca.certPath,
    keyPath: c.leaf.keyPath,
    certPath: c.leaf.certPath,
  };
  return certs;
}

// ---------------------------------------------------------------------------------------------
// Child-process mode

export interface ChildWsServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Runs {@link startWsServer} in a child Node process (no connection records are available), so
 * the server's work does not show up as event-loop stalls in the process under test.
 */
export async function startWsServerProcess(opts: WsServerOptions = {}): Promise<ChildWsServer> {
  const args = ["--import", "tsx", fileURLToPath(import.meta.url), "--serve"];
  if (opts.tls) args.push("--tls");
  const env = { ...process.env };
  if (opts.tls) env.MASQ_TEST_CERTS_JSON = JSON.stringify(testCerts());
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "inherit"], env });
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  process.once("exit", kill);
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("ws-server child did not start in 20 s")), 20_000);
    child.once("exit", (code) => reject(new Error(`ws-server child exited (${code})`)));
    createInterface({ input: child.stdout! }).once("line", (line) => {
      clearTimeout(t);
      resolve(Number(JSON.parse(line).port));
    });
  }).catch((e) => {
    kill();
    throw e;
  });
  return {
    url: `${opts.tls ? "wss" : "ws"}://127.0.0.1:${port}`,
    port,
    async close() {
      process.removeListener("exit", kill);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const t = setTimeout(kill, 2000);
      await done;
      clearTimeout(t);
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes("--serve")) {
  const server = await startWsServer({ tls: process.argv.includes("--tls") });
  process.stdout.write(JSON.stringify({ port: server.port }) + "\n");
  const stop = (): void => {
    void server.close().finally(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.stdin.on("end", stop);
  process.stdin.resume();
}
