// Shared bits for the transport tests: loopback echo servers and small assertions.
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import type { Duplex } from "node:stream";
import { inspect } from "node:util";

export interface EchoServer {
  port: number;
  /** SNI names seen by a TLS server (undefined entry = no SNI). */
  servernames: Array<string | undefined>;
  /** ALPN protocols selected by a TLS server. */
  alpn: Array<string | false>;
  close(): Promise<void>;
}

function track(server: net.Server): Set<net.Socket> {
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  return sockets;
}

async function listen(server: net.Server, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  return (server.address() as net.AddressInfo).port;
}

function closer(server: net.Server, sockets: Set<net.Socket>): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
}

/** Plain TCP echo server on `host` (default 127.0.0.1). */
export async function startEcho(host = "127.0.0.1"): Promise<EchoServer> {
  const server = net.createServer((s) => {
    s.on("error", () => {});
    s.pipe(s);
  });
  const sockets = track(server);
  const port = await listen(server, host);
  return { port, servernames: [], alpn: [], close: closer(server, sockets) };
}

/** TLS echo server with the given cert/key (ALPN: http/1.1). */
export async function startTlsEcho(cert: string, key: string, host = "127.0.0.1"): Promise<EchoServer> {
  const servernames: Array<string | undefined> = [];
  const alpn: Array<string | false> = [];
  const server = tls.createServer({ cert, key, ALPNProtocols: ["http/1.1"] }, (s) => {
    servernames.push((s as tls.TLSSocket & { servername?: string | false }).servername || undefined);
    alpn.push(s.alpnProtocol ?? false);
    s.on("error", () => {});
    s.pipe(s);
  });
  server.on("tlsClientError", () => {});
  const sockets = track(server);
  const port = await listen(server, host);
  return { port, servernames, alpn, close: closer(server, sockets) };
}

/** A TCP server whose connections are handed to `onConn` (for scripted proxies). */
export async function startRaw(onConn: (s: net.Socket) => void): Promise<{ port: number; closed: Promise<void>[]; close(): Promise<void> }> {
  const closed: Promise<void>[] = [];
  const server = net.createServer((s) => {
    s.on("error", () => {});
    closed.push(new Promise<void>((r) => s.once("close", () => r())));
    onConn(s);
    // Read (and drop) whatever the script does not read, so that the peer's FIN is seen.
    if (s.listenerCount("data") === 0 && s.listenerCount("readable") === 0) s.resume();
  });
  const sockets = track(server);
  const port = await listen(server, "127.0.0.1");
  return { port, closed, close: closer(server, sockets) };
}

/** Writes `text` and reads until the same number of bytes came back. */
export async function roundTrip(d: Duplex, text: string): Promise<string> {
  const want = Buffer.byteLength(text);
  const chunks: Buffer[] = [];
  let got = 0;
  const done = new Promise<string>((resolve, reject) => {
    const onData = (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= want) {
        d.removeListener("data", onData);
        d.removeListener("error", reject);
        resolve(Buffer.concat(chunks).toString());
      }
    };
    d.on("data", onData);
    d.once("error", reject);
    d.once("close", () => reject(new Error("closed before echo")));
  });
  d.write(text);
  return done;
}

/** Asserts that `secret` appears nowhere in the error: message, stack, causes, inspect output. */
export function assertNoSecret(err: unknown, secret: string): void {
  let e: unknown = err;
  for (let depth = 0; e && depth < 10; depth++) {
    const x = e as { message?: unknown; stack?: unknown; cause?: unknown };
    assert.ok(!String(x.message ?? "").includes(secret), `secret in message: ${String(x.message)}`);
    assert.ok(!String(x.stack ?? "").includes(secret), "secret in stack");
    e = x.cause;
  }
  assert.ok(!inspect(err, { depth: 10, showHidden: true }).includes(secret), "secret in util.inspect output");
}

/** Resolves with the rejection of `p` (fails when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    const v = await p;
    (v as { destroy?: () => void })?.destroy?.();
  } catch (err) {
    return err;
  }
  assert.fail("expected a rejection");
}

/** True when an IPv6 loopback socket can be opened here. */
export async function hasIpv6Loopback(): Promise<boolean> {
  const s = net.createServer();
  try {
    await listen(s, "::1");
    await new Promise<void>((r) => s.close(() => r()));
    return true;
  } catch {
    return false;
  }
}

/** Polls `cond` every 5 ms, at most 2000 times (10 s); throws if it never holds. */
export async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}
