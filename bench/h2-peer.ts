/**
 * The h2 bench cases' server: Node's http2 server (TLS, ALPN `h2, http/1.1`, RFC 8441 extended
 * CONNECT allowed) as a terminator in front of the same C peer as every other case. A WebSocket
 * over h2 becomes an HTTP/1.1 upgrade to the C peer, whose bytes are then piped to and from the
 * h2 stream; a WebSocket over HTTP/1.1 is piped as is. Both protocols therefore meet the same
 * terminator and the same peer, so the h2 cases compare the client's h2 path with its HTTP/1.1
 * path on equal terms (the terminator's own cost is in both).
 *
 * Run as a script (`node --import tsx bench/h2-peer.ts PEER_PORT CERT KEY`) it prints
 * `listening PORT`; {@link startH2Terminator} starts it pinned to the peer core.
 */
import http2 from "node:http2";
import net from "node:net";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Duplex } from "node:stream";
import { BIN_DIR, REPO_DIR, launcher, type Server } from "./peers.js";

/** Opens the C peer's HTTP/1.1 upgrade for `path`; resolves with the socket and any bytes after its 101 head. */
function upstream(peerPort: number, path: string): Promise<{ sock: net.Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(peerPort, "127.0.0.1");
    sock.setNoDelay(true);
    let head = Buffer.alloc(0);
    sock.once("error", reject);
    sock.on("connect", () =>
      sock.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    const onData = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      sock.off("data", onData);
      sock.pause();
      if (!head.subarray(0, 12).toString().includes("101")) return reject(new Error("C peer refused the upgrade"));
      resolve({ sock, rest: head.subarray(end + 4) });
    };
    sock.on("data", onData);
  });
}

function pipeBoth(a: Duplex, b: Duplex): void {
  a.pipe(b);
  b.pipe(a);
  const kill = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on("error", kill);
  b.on("error", kill);
  a.on("close", kill);
  b.on("close", kill);
}

function serve(peerPort: number, certPath: string, keyPath: string): void {
  const server = http2.createSecureServer({
    cert: readFileSync(certPath),
    key: readFileSync(keyPath),
    allowHTTP1: true,
    settings: { enableConnectProtocol: true, initialWindowSize: 4 * 1024 * 1024 },
  });
  server.on("session", (s) => {
    s.on("error", () => {});
    // The connection window as large as the streams' (Node starts at 65 535).
    s.setLocalWindowSize(16 * 1024 * 1024);
  });
  server.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    if (headers[":method"] !== "CONNECT" || headers[":protocol"] !== "websocket") {
      stream.respond({ ":status": 400 }, { endStream: true });
      return;
    }
    upstream(peerPort, String(headers[":path"] ?? "/")).then(
      ({ sock, rest }) => {
        stream.respond({ ":status": 200 });
        if (rest.length > 0) stream.write(rest);
        pipeBoth(stream, sock);
        sock.resume();
      },
      () => stream.respond({ ":status": 502 }, { endStream: true }),
    );
  });
  server.on("upgrade", (req, socket: Duplex, head: Buffer) => {
    socket.on("error", () => {});
    const up = net.connect(peerPort, "127.0.0.1");
    up.setNoDelay(true);
    up.on("connect", () => {
      let text = `GET ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) text += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      up.write(text + "\r\n");
      if (head.length > 0) up.write(head);
      pipeBoth(socket, up);
    });
    up.on("error", () => socket.destroy());
  });
  server.listen(0, "127.0.0.1", () => {
    process.stdout.write(`listening ${(server.address() as net.AddressInfo).port}\n`);
  });
}

/** Starts the terminator in its own process on `core`, in front of the C peer at `peerPort`. */
export async function startH2Terminator(peerPort: number, core: number | null): Promise<Server> {
  const dir = join(BIN_DIR, "h2");
  mkdirSync(dir, { recursive: true });
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  const r = spawnSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
      "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  const self = fileURLToPath(import.meta.url);
  const [cmd, ...args] = [...launcher(core), process.execPath, "--import", "tsx", self, String(peerPort), cert, key];
  const proc = spawn(cmd!, args, { cwd: REPO_DIR, stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((ok, fail) => {
    let buf = "";
    const timer = setTimeout(() => fail(new Error("h2 terminator did not start")), 15_000);
    proc.stdout!.on("data", (c: Buffer) => {
      buf += c.toString();
      const m = /listening (\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        ok(Number(m[1]));
      }
    });
    proc.once("exit", (code) => fail(new Error(`h2 terminator exited (${code})`)));
  });
  return {
    port,
    proc,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      await Promise.race([new Promise((res) => proc.once("exit", res)), new Promise((res) => setTimeout(res, 2000))]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [peerPort, cert, key] = process.argv.slice(2);
  serve(Number(peerPort), cert!, key!);
}
