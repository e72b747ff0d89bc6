/**
 * A small SOCKS server for tests (RFC 1928/1929, SOCKS4 and the 4a extension), used where Debian's
 * dante cannot serve: SOCKS4a (dante rejects it) and scripted refusals. Listens on 127.0.0.1 only.
 * Connects only to loopback destinations (names are resolved with the OS resolver; anything that
 * does not resolve to loopback is refused with "not allowed"), so tests can never reach out.
 */
import dns from "node:dns";
import net from "node:net";

export interface SocksServerOptions {
  /** Require SOCKS5 username/password (method 2) with these credentials; SOCKS4 requests must then carry `username` as user id. */
  auth?: { username: string; password: string };
  /** Answer every CONNECT with this failure instead of connecting (SOCKS5 reply code, e.g. 2 "not allowed"; SOCKS4 always gets 91). */
  refuseWith?: number;
}

export interface SocksServer {
  host: string;
  port: number;
  /** Destinations requested so far, as the client sent them (`name:port` for 4a/5h names). */
  requests: string[];
  close(): Promise<void>;
}

function isLoopback(addr: string): boolean {
  return addr.startsWith("127.") || addr === "::1" || addr === "::ffff:127.0.0.1";
}

async function resolveLoopback(host: string): Promise<string | null> {
  if (net.isIP(host)) return isLoopback(host) ? host : null;
  try {
    const all = await dns.promises.lookup(host, { all: true });
    return all.find((a) => isLoopback(a.address))?.address ?? null;
  } catch {
    return null;
  }
}

/** Reads exactly n bytes from a paused socket (bounded by the socket closing). */
class Reader {
  #buf = Buffer.alloc(0);
  #waiters: Array<() => void> = [];
  #ended = false;
  constructor(readonly socket: net.Socket) {
    socket.on("data", (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#wake();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("error", () => {});
  }
  #wake() {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
  async read(n: number): Promise<Buffer> {
    while (this.#buf.length < n) {
      if (this.#ended) throw new Error("closed");
      await new Promise<void>((r) => this.#waiters.push(r));
    }
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }
  async readUntilZero(max = 512): Promise<Buffer> {
    for (;;) {
      const i = this.#buf.indexOf(0);
      if (i !== -1) {
        const out = this.#buf.subarray(0, i);
        this.#buf = this.#buf.subarray(i + 1);
        return out;
      }
      if (this.#buf.length > max || this.#ended) throw new Error("bad string");
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }
  /** Hands the remaining bytes and the socket over to a pipe. */
  detach(): Buffer {
    this.socket.removeAllListeners("data");
    const rest = this.#buf;
    this.#buf = Buffer.alloc(0);
    return rest;
  }
}

function connectOut(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    s.once("connect", () => {
      s.removeListener("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

function splice(client: net.Socket, reader: Reader, upstream: net.Socket): void {
  const rest = reader.detach();
  if (rest.length > 0) upstream.write(rest);
  client.pipe(upstream);
  upstream.pipe(client);
  upstream.on("error", () => client.destroy());
  client.on("error", () => upstream.destroy());
  client.on("close", () => upstream.destroy());
  upstream.on("close", () => client.destroy());
}

async function handle(client: net.Socket, o: SocksServerOptions, requests: string[]): Promise<void> {
  const r = new Reader(client);
  const [version] = await r.read(1);
  if (version === 4) {
    const head = await r.read(7); // cmd, port(2), ip(4)
    const port = head.readUInt16BE(1);
    const ip = `${head[3]}.${head[4]}.${head[5]}.${head[6]}`;
    const userId = (await r.readUntilZero()).toString("utf8");
    let host = ip;
    if (head[3] === 0 && head[4] === 0 && head[5] === 0 && head[6] !== 0) {
      host = (await r.readUntilZero()).toString("utf8"); // SOCKS4a: name follows the user id
    }
    requests.push(`${host}:${port}`);
    const reply = (code: number) => client.write(Buffer.from([0, code, 0, 0, 0, 0, 0, 0]));
    if (head[0] !== 1 || o.refuseWith !== undefined || (o.auth && userId !== o.auth.username)) {
      reply(o.auth && userId !== o.auth.username ? 93 : 91);
      client.end();
      return;
    }
    const addr = await resolveLoopback(host);
    if (!addr) {
      reply(91);
      client.end();
      return;
    }
    let up: net.Socket;
    try {
      up = await connectOut(addr, port);
    } catch {
      reply(91);
      client.end();
      return;
    }
    reply(90);
    splice(client, r, up);
    return;
  }
  if (version !== 5) {
    client.destroy();
    return;
  }
  const [nMethods] = await r.read(1);
  const methods = [...(await r.read(nMethods!))];
  const wanted = o.auth ? 2 : 0;
  if (!methods.includes(wanted)) {
    client.end(Buffer.from([5, 0xff]));
    return;
  }
  client.write(Buffer.from([5, wanted]));
  if (o.auth) {
    const [ver, ulen] = await r.read(2);
    const user = (await r.read(ulen!)).toString("utf8");
    const [plen] = await r.read(1);
    const pass = (await r.read(plen!)).toString("utf8");
    const ok = ver === 1 && user === o.auth.username && pass === o.auth.password;
    client.write(Buffer.from([1, ok ? 0 : 1]));
    if (!ok) {
      client.end();
      return;
    }
  }
  const [, cmd, , atyp] = await r.read(4);
  let host: string;
  if (atyp === 1) host = [...(await r.read(4))].join(".");
  else if (atyp === 3) host = (await r.read((await r.read(1))[0]!)).toString("utf8");
  else if (atyp === 4) {
    const b = await r.read(16);
    const parts: string[] = [];
    for (let i = 0; i < 16; i += 2) parts.push(b.readUInt16BE(i).toString(16));
    host = new URL(`http://[${parts.join(":")}]`).hostname.slice(1, -1); // canonical form, e.g. ::1
  } else {
    client.end(Buffer.from([5, 8, 0, 1, 0, 0, 0, 0, 0, 0]));
    return;
  }
  const port = (await r.read(2)).readUInt16BE(0);
  requests.push(`${atyp === 4 ? `[${host}]` : host}:${port}`);
  const reply = (code: number) => client.write(Buffer.from([5, code, 0, 1, 127, 0, 0, 1, 0, 0]));
  if (cmd !== 1) {
    reply(7);
    client.end();
    return;
  }
  if (o.refuseWith !== undefined) {
    reply(o.refuseWith);
    client.end();
    return;
  }
  const addr = await resolveLoopback(host);
  if (!addr) {
    reply(2);
    client.end();
    return;
  }
  let up: net.Socket;
  try {
    up = await connectOut(addr, port);
  } catch {
    reply(5);
    client.end();
    return;
  }
  reply(0);
  splice(client, r, up);
}

/** Starts the server on a random loopback port. */
export async function startSocksServer(o: SocksServerOptions = {}): Promise<SocksServer> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    handle(client, o, requests).catch(() => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    host: "127.0.0.1",
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
