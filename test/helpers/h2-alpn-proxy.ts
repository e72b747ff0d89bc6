/**
 * A TCP forwarder on 127.0.0.1:0 that records, for every connection, the ALPN list of the
 * client's ClientHello (RFC 7301 §3.1, parsed here from the first TLS record), then pipes the
 * bytes both ways to the real server unchanged.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export interface AlpnProxy {
  port: number;
  /** ALPN offers, one entry per connection in arrival order (null: no ALPN extension). */
  offers: Array<string[] | null>;
  close(): Promise<void>;
}

/** The ALPN protocols of a ClientHello record, or null when it has none / is not a ClientHello. */
export function alpnOfClientHello(rec: Buffer): string[] | null {
  if (rec.length < 9 || rec[0] !== 22 || rec[5] !== 1) return null;
  let p = 9 + 2 + 32; // record + handshake headers, client_version, random
  p += 1 + rec[p]!; // session id
  p += 2 + rec.readUInt16BE(p); // cipher suites
  p += 1 + rec[p]!; // compression methods
  const end = p + 2 + rec.readUInt16BE(p);
  p += 2;
  while (p + 4 <= end) {
    const type = rec.readUInt16BE(p);
    const len = rec.readUInt16BE(p + 2);
    if (type === 16) {
      const out: string[] = [];
      let q = p + 6;
      while (q < p + 4 + len) {
        const l = rec[q]!;
        out.push(rec.toString("latin1", q + 1, q + 1 + l));
        q += 1 + l;
      }
      return out;
    }
    p += 4 + len;
  }
  return null;
}

export async function startAlpnProxy(targetPort: number): Promise<AlpnProxy> {
  const offers: Array<string[] | null> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    const upstream = connect(targetPort, "127.0.0.1");
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
    let head = Buffer.alloc(0);
    let recorded = false;
    client.on("data", (d: Buffer) => {
      if (!recorded) {
        head = Buffer.concat([head, d]);
        if (head.length >= 5 && head.length >= 5 + head.readUInt16BE(3)) {
          recorded = true;
          offers.push(alpnOfClientHello(head));
        }
      }
      upstream.write(d);
    });
    upstream.on("data", (d: Buffer) => client.write(d));
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as { port: number }).port,
    offers,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
