/** Loopback peers for masq TLS engine tests: a node:tls echo server and a raw TCP connector. */
import net from "node:net";
import tls from "node:tls";
import type { Duplex } from "node:stream";

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

/** A node:tls server on 127.0.0.1 that echoes everything (TLS 1.3 only). */
export async function startNodeTlsEcho(options: tls.TlsOptions): Promise<RunningServer & { server: tls.Server }> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ minVersion: "TLSv1.3", ...options }, (s) => {
    s.on("error", () => {});
    s.pipe(s);
  });
  server.on("tlsClientError", () => {});
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A connected TCP socket to 127.0.0.1:port. */
export function tcp(port: number, host = "127.0.0.1"): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, host);
    s.once("connect", () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

/** Write `data`, read back exactly `data.length` bytes (bounded by `timeoutMs`). */
export function roundTrip(s: Duplex, data: Buffer, timeoutMs = 20000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => done(new Error(`echo timed out after ${got} of ${data.length} bytes`)), timeoutMs);
    const onData = (c: Buffer): void => {
      chunks.push(c);
      got += c.length;
      if (got >= data.length) done();
    };
    const onErr = (e: Error): void => done(e);
    function done(e?: Error): void {
      clearTimeout(timer);
      s.off("data", onData);
      s.off("error", onErr);
      if (e) reject(e);
      else resolve(Buffer.concat(chunks));
    }
    s.on("data", onData);
    s.on("error", onErr);
    s.write(data);
  });
}
