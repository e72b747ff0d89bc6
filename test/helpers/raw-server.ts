/**
 * A WebSocket "server" scripted byte by byte over node:net, for adversarial and wire-level tests.
 *
 * It reads the client's HTTP upgrade request, then (by default) answers with a correct 101
 * (RFC 6455 §4.2.2: Sec-WebSocket-Accept = base64(SHA-1(key + GUID))) and hands the connection to
 * the test's handler, which writes whatever bytes it likes. Everything the client sends after its
 * request head is parsed as client frames (which must be masked, §5.3) and unmasked, so tests can
 * assert on frame boundaries, opcodes and the close code the client sent.
 */
import { createHash } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** RFC 6455 §4.2.2 step 5.4. */
export function acceptKey(key: string): string {
  return createHash("sha1").update(key + GUID).digest("base64");
}

export const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 } as const;

/** A frame the client sent, unmasked. */
export interface ClientFrame {
  fin: boolean;
  /** RSV1..3 as a 3-bit number (RSV1 = 4). */
  rsv: number;
  opcode: number;
  masked: boolean;
  length: number;
  /** The 4-byte masking key the client used. */
  maskKey: Buffer;
  payload: Buffer;
}

/**
 * Reads one client frame from the start of `bytes` (RFC 6455 §5.2) and unmasks its payload:
 * the frame and its size on the wire, null when more bytes are needed, or why the bytes are not
 * a client frame (unmasked, absurd length).
 */
export function readClientFrame(bytes: Buffer): { frame: ClientFrame; size: number } | { error: string } | null {
  const h = clientFrameHeader(bytes);
  if (h === null || "error" in h) return h;
  const size = h.off + 4 + h.len;
  if (bytes.length < size) return null;
  const b0 = bytes[0]!;
  const key = bytes.subarray(h.off, h.off + 4);
  const payload = Buffer.from(bytes.subarray(h.off + 4, size));
  for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
  return { frame: { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked: true, length: h.len, maskKey: Buffer.from(key), payload }, size };
}

/** The header fields of a client frame at the start of `bytes` (at most 14 bytes are read). */
function clientFrameHeader(bytes: Buffer): { off: number; len: number } | { error: string } | null {
  if (bytes.length < 2) return null;
  const b1 = bytes[1]!;
  let len = b1 & 0x7f;
  let off = 2;
  if (len === 126) {
    if (bytes.length < 4) return null;
    len = bytes.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (bytes.length < 10) return null;
    const big = bytes.readBigUInt64BE(2);
    if (big > BigInt(1) << BigInt(40)) return { error: `frame length ${big} is absurd` };
    len = Number(big);
    off = 10;
  }
  if ((b1 & 0x80) === 0) return { error: "client frame is not masked (RFC 6455 §5.3)" };
  return { off, len };
}

export interface RequestHead {
  method: string;
  target: string;
  httpVersion: string;
  /** Header lines in order, original case. */
  rawHeaders: Array<[string, string]>;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
}

export interface ServerFrameOptions {
  fin?: boolean;
  /** RSV bits as a 3-bit number (RSV1 = 4, RSV2 = 2, RSV3 = 1). */
  rsv?: number;
  /** A 4-byte key: produces a masked frame (which a server must never send, §5.1). */
  mask?: Buffer;
  /** Announce this payload length in the header instead of the real one. */
  declaredLength?: number;
}

/** Encodes a frame as a server would (unmasked unless `mask` is given). */
export function serverFrame(opcode: number, payload: Buffer | string = Buffer.alloc(0), o: ServerFrameOptions = {}): Buffer {
  const data = typeof payload === "string" ? Buffer.from(payload) : payload;
  const len = o.declaredLength ?? data.length;
  const fin = o.fin ?? true;
  let header: Buffer;
  if (len < 126) {
    header = Buffer.alloc(2);
    header[1] = len;
  } else if (len < 65536) {
    header = Buffer.alloc(4);
    header[1] = 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  header[0] = (fin ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | (opcode & 0x0f);
  if (o.mask) {
    header[1] |= 0x80;
    const masked = Buffer.from(data);
    for (let i = 0; i < masked.length; i++) masked[i]! ^= o.mask[i & 3]!;
    return Buffer.concat([header, o.mask, masked]);
  }
  return Buffer.concat([header, data]);
}

/** A close frame's payload: 2-byte code + reason (either may be omitted). */
export function closePayload(code?: number, reason: string | Buffer = ""): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const r = typeof reason === "string" ? Buffer.from(reason) : reason;
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}

/** Decodes a close payload the client sent (no validation: tests assert on it). */
export function decodeClose(payload: Buffer): { code: number | null; reason: string } {
  if (payload.length < 2) return { code: null, reason: "" };
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString("utf8") };
}

export interface RawConn {
  socket: Socket;
  request: RequestHead;
  /** Frames the client sent so far, in order. */
  frames: ClientFrame[];
  /** Set when the client's bytes could not be parsed as frames (e.g. an unmasked frame). */
  parseError: string | undefined;
  /** Total bytes the client sent after its request head. */
  bytesReceived: number;
  /** Resolves when the TCP connection is closed (either side). */
  closed: Promise<void>;
  /** True once the client ended/closed its side. */
  clientEnded: boolean;
  /** Writes the 101 answer (done automatically unless `upgrade: false`). */
  acceptUpgrade(o?: { accept?: string; extraHeaders?: string[] }): Promise<void>;
  /** Writes raw bytes; resolves when they are handed to the kernel. */
  write(bytes: Buffer | string): Promise<void>;
  /** Writes one frame built by {@link serverFrame}. */
  sendFrame(opcode: number, payload?: Buffer | string, o?: ServerFrameOptions): Promise<void>;
  /** The next frame not yet returned by nextFrame (in order). Rejects on timeout or on close. */
  nextFrame(timeoutMs?: number): Promise<ClientFrame>;
  /**
   * Waits for the client's close frame. Resolves with its decoded payload, or `null` when the
   * connection closed without one. Rejects on timeout.
   */
  closeFrame(timeoutMs?: number): Promise<{ code: number | null; reason: string; payload: Buffer } | null>;
  /** Frames that are data frames (TEXT, BINARY, CONT), in order. */
  dataFrames(): ClientFrame[];
}

export interface RawServer {
  url: string;
  port: number;
  connections: RawConn[];
  /** Resolves with the `index`-th connection (default: the next one). */
  connection(index?: number, timeoutMs?: number): Promise<RawConn>;
  close(): Promise<void>;
}

export interface RawServerOptions {
  /** Answer the upgrade with a correct 101 before calling the handler (default true). */
  upgrade?: boolean;
  /** Extra header lines for the automatic 101 (e.g. "Sec-WebSocket-Protocol: chat"). */
  extraHeaders?: string[];
}

/**
 * Starts a raw server on 127.0.0.1:0. `handler` runs once per connection after the request head
 * arrived (and after the 101 unless `upgrade: false`); its rejections are recorded, not thrown.
 */
export async function startRawServer(
  handler: (conn: RawConn) => void | Promise<void>,
  opts: RawServerOptions = {},
): Promise<RawServer> {
  const connections: RawConn[] = [];
  const sockets = new Set<Socket>();
  const waiters = new Set<() => void>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.setNoDelay(true);
    readHead(socket).then(
      async ({ head, rest }) => {
        const conn = makeConn(socket, head, rest);
        connections.push(conn);
        for (const w of waiters) w();
        if (opts.upgrade !== false) await conn.acceptUpgrade({ extraHeaders: opts.extraHeaders ?? [] });
        await handler(conn);
      },
    ).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    connections,
    async connection(index = connections.length, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (connections.length <= index) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`raw-server: no connection #${index} within ${timeoutMs} ms`);
        await new Promise<void>((r) => {
          const done = (): void => {
            clearTimeout(t);
            waiters.delete(done);
            r();
          };
          const t = setTimeout(done, Math.min(left, 100));
          waiters.add(done);
        });
      }
      return connections[index]!;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function readHead(socket: Socket): Promise<{ head: RequestHead; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) {
        if (buf.length > 65536) fail(new Error("request head too large"));
        return;
      }
      socket.removeListener("data", onData);
      socket.removeListener("close", onClose);
      socket.pause();
      const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
      const [method = "", target = "", httpVersion = ""] = lines[0]!.split(" ");
      const rawHeaders: Array<[string, string]> = [];
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const i = line.indexOf(":");
        const name = line.slice(0, i);
        const value = line.slice(i + 1).trim();
        rawHeaders.push([name, value]);
        const k = name.toLowerCase();
        headers[k] = headers[k] === undefined ? value : `${headers[k]}, ${value}`;
      }
      resolve({ head: { method, target, httpVersion, rawHeaders, headers }, rest: buf.subarray(end + 4) });
    };
    const onClose = (): void => fail(new Error("closed before the request head"));
    const fail = (e: Error): void => {
      socket.removeListener("data", onData);
      reject(e);
    };
    socket.on("data", onData);
    socket.once("close", onClose);
  });
}

function makeConn(socket: Socket, request: RequestHead, rest: Buffer): RawConn {
  const chunks: Buffer[] = [];
  let buffered = 0;
  let cursor = 0;
  const wake = new Set<() => void>();
  let onClosed!: () => void;
  const conn: RawConn = {
    socket,
    request,
    frames: [],
    parseError: undefined,
    bytesReceived: 0,
    clientEnded: false,
    closed: new Promise<void>((r) => (onClosed = r)),
    acceptUpgrade(o = {}) {
      const accept = o.accept ?? acceptKey(request.headers["sec-websocket-key"] ?? "");
      const lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Accept: ${accept}`,
        ...(o.extraHeaders ?? []),
      ];
      return conn.write(lines.join("\r\n") + "\r\n\r\n");
    },
    write(bytes) {
      return new Promise<void>((resolve) => {
        if (socket.destroyed || !socket.writable) return resolve();
        socket.write(bytes, () => resolve());
      });
    },
    sendFrame(opcode, payload, o) {
      return conn.write(serverFrame(opcode, payload, o));
    },
    async nextFrame(timeoutMs = 5000) {
      await waitUntil(() => cursor < conn.frames.length, timeoutMs, "the next client frame", true);
      return conn.frames[cursor++]!;
    },
    async closeFrame(timeoutMs = 5000) {
      const find = (): ClientFrame | undefined => conn.frames.find((f) => f.opcode === OP.CLOSE);
      await waitUntil(() => find() !== undefined || socket.destroyed || conn.clientEnded, timeoutMs, "the client's close frame", false);
      const f = find();
      return f ? { ...decodeClose(f.payload), payload: f.payload } : null;
    },
    dataFrames() {
      return conn.frames.filter((f) => f.opcode === OP.TEXT || f.opcode === OP.BINARY || f.opcode === OP.CONT);
    },
  };

  const waitUntil = (cond: () => boolean, timeoutMs: number, what: string, failOnClose: boolean): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const check = (): boolean => {
        if (cond()) {
          done();
          resolve();
          return true;
        }
        if (failOnClose && (socket.destroyed || conn.clientEnded)) {
          done();
          reject(new Error(`raw-server: connection closed while waiting for ${what}`));
          return true;
        }
        return false;
      };
      const t = setTimeout(() => {
        done();
        reject(new Error(`raw-server: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(t);
        wake.delete(check);
      };
      if (!check()) wake.add(check);
    });
  const notify = (): void => {
    for (const w of [...wake]) w();
  };

  const parse = (): void => {
    while (conn.parseError === undefined && buffered >= 2) {
      // Look at the header alone first: a large frame arriving in many chunks is joined once.
      const head = chunks.length === 1 || chunks[0]!.length >= 14 ? chunks[0]! : Buffer.concat(chunks).subarray(0, 14);
      const h = clientFrameHeader(head);
      if (h === null) return;
      if ("error" in h) {
        conn.parseError = h.error;
        return;
      }
      if (buffered < h.off + 4 + h.len) return;
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const r = readClientFrame(all);
      if (r === null || "error" in r) return; // not reached: the header was checked above
      conn.frames.push(r.frame);
      chunks.length = 0;
      buffered = all.length - r.size;
      if (buffered > 0) chunks.push(all.subarray(r.size));
    }
  };
  const onData = (chunk: Buffer): void => {
    conn.bytesReceived += chunk.length;
    chunks.push(chunk);
    buffered += chunk.length;
    parse();
    notify();
  };
  if (rest.length > 0) onData(rest);
  socket.on("data", onData);
  socket.on("end", () => {
    conn.clientEnded = true;
    notify();
  });
  socket.on("close", () => {
    conn.clientEnded = true;
    notify();
    onClosed();
  });
  socket.resume();
  return conn;
}
