/**
 * Real proxies for tests, each on a random 127.0.0.1 port. Every `start*` returns a
 * {@link RunningProxy}; call `stop()` when done (an exit hook also kills leftover child processes).
 *
 * ```ts
 * import { startTinyproxy, startHttpProxy, startDante, startNodeSocks } from "../helpers/proxies.js";
 * const p = await startTinyproxy({ auth: { username: "alice", password: "s3cret" } });
 * await openTransport(target, { proxy: p.url, ... });               // "http://alice:s3cret@127.0.0.1:PORT"
 * p.urlWith({ username: "alice", password: "wrong" });               // same proxy, other credentials
 * await p.stop();
 * ```
 *
 * | function                     | what runs                                               | schemes            |
 * |------------------------------|---------------------------------------------------------|--------------------|
 * | `startTinyproxy({auth?})`    | Debian `tinyproxy` (CONNECT; BasicAuth when `auth`)     | http               |
 * | `startHttpProxy({tls?,auth?})`| npm `proxy` on an http or https server (cert: `testCerts().leaf`, trust with `testCerts().ca.cert`) | http, https |
 * | `startDante({auth?: true})`  | Debian `danted` (SOCKS4 and SOCKS5; username method when `auth`) | socks4, socks5, socks5h |
 * | `startNodeSocks({auth?,refuseWith?})` | test/helpers/socks-server.ts (in process)        | socks4, socks4a, socks5, socks5h |
 *
 * Dante's username method checks the system password database, so `startDante({ auth: true })`
 * creates (once, needs root) the system user `masqsocks` (no home, nologin shell) and sets its
 * password to DANTE_PASSWORD; `p.url` carries both. Dante does not speak SOCKS4a: use
 * `startNodeSocks` for that (it also scripts refusals and records what was requested).
 *
 * Debian packages needed: tinyproxy, dante-server (installed by .ci/run). `hasBinary("tinyproxy")`
 * lets a test skip when one is missing on a developer's machine.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createProxy } from "proxy";
import { testCerts } from "./certs.js";
import { startSocksServer, type SocksServerOptions } from "./socks-server.js";
import { canConnect, freePort } from "./ports.js";

export interface Credentials {
  username: string;
  password: string;
}

export interface RunningProxy {
  /** Which implementation runs. */
  kind: "tinyproxy" | "node-http" | "node-https" | "dante" | "node-socks";
  host: string;
  port: number;
  /** The proxy URL with its configured credentials (if any), e.g. `http://alice:s3cret@127.0.0.1:41234`. */
  url: string;
  /** Credentials the proxy requires, if any. */
  credentials?: Credentials;
  /**
   * The same proxy with other credentials (`null`: none) and/or another scheme (default: the
   * proxy's own, e.g. "socks5h" or "socks4a" for a SOCKS server). Parts are percent-encoded.
   */
  urlWith(credentials: Credentials | null, scheme?: string): string;
  /** Destinations requested (node-socks only). */
  requests?: string[];
  stop(): Promise<void>;
}

/** The system user dante's `auth` mode checks (startDante creates it). */
export const DANTE_USER = "masqsocks";
/** Its password (fixed: every test process sets the same one). */
export const DANTE_PASSWORD = "masq-dante-Pw-4417";

const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

/** Full path of an executable: PATH first, then the sbin/bin folders (PATH may lack /usr/sbin). */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":").filter(Boolean), "/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin"];
  for (const dir of dirs) {
    const full = join(dir, name);
    try {
      accessSync(full, constants.X_OK);
      return full;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** True when the executable exists (see findBinary): lets a test skip on a machine without it. */
export function hasBinary(name: string): boolean {
  return findBinary(name) !== undefined;
}

function binary(name: string): string {
  const full = findBinary(name);
  if (!full) throw new Error(`${name} is not installed (Debian package: see .ci/run)`);
  return full;
}

function makeUrl(scheme: string, host: string, port: number, c: Credentials | null | undefined): string {
  const auth = c ? `${encodeURIComponent(c.username)}:${encodeURIComponent(c.password)}@` : "";
  return `${scheme}://${auth}${host}:${port}`;
}

function proxyRecord(
  kind: RunningProxy["kind"],
  scheme: string,
  port: number,
  credentials: Credentials | undefined,
  stop: () => Promise<void>,
): RunningProxy {
  const host = "127.0.0.1";
  return {
    kind,
    host,
    port,
    url: makeUrl(scheme, host, port, credentials),
    ...(credentials ? { credentials } : {}),
    urlWith: (c, s = scheme) => makeUrl(s, host, port, c),
    stop,
  };
}


/**
 * Spawns a daemon and waits (at most 10 s, polling) until it accepts connections on `port`.
 * Throws with the daemon's output when it exits first.
 */
async function spawnDaemon(cmd: string, args: string[], port: number): Promise<{ child: ChildProcess; stop: () => Promise<void> }> {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let output = "";
  const collect = (d: Buffer) => {
    if (output.length < 20_000) output += d.toString();
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true;
      children.delete(child);
      resolve();
    });
    child.once("error", (err) => {
      output += String(err);
      exited = true;
      children.delete(child);
      resolve();
    });
  });
  const deadline = Date.now() + 10_000;
  for (let i = 0; i < 200 && Date.now() < deadline; i++) {
    if (exited) break;
    if (await canConnect(port)) {
      const stop = async () => {
        if (!exited) {
          child.kill("SIGTERM");
          const t = setTimeout(() => child.kill("SIGKILL"), 3000);
          await exitPromise;
          clearTimeout(t);
        }
      };
      return { child, stop };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  await exitPromise;
  throw new Error(`${cmd} did not start on 127.0.0.1:${port}:\n${output}`);
}

/** Retries a daemon start a few times (another process may take the free port meanwhile). */
async function withPortRetries<T>(start: (port: number) => Promise<T>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < 4; i++) {
    try {
      return await start(await freePort());
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/** Debian tinyproxy, CONNECT to any port allowed, BasicAuth when `auth` is given. */
export async function startTinyproxy(o: { auth?: Credentials } = {}): Promise<RunningProxy> {
  if (o.auth && /[\s"#\\]/.test(o.auth.username + o.auth.password)) {
    // tinyproxy's config grammar takes two plain words: use startHttpProxy for odd characters.
    throw new Error("startTinyproxy: credentials must not contain spaces, quotes, # or backslashes");
  }
  const dir = mkdtempSync(join(tmpdir(), "masq-tinyproxy-"));
  return withPortRetries(async (port) => {
    const conf = join(dir, "tinyproxy.conf");
    const lines = [
      `Port ${port}`,
      "Listen 127.0.0.1",
      "Timeout 60",
      "MaxClients 100",
      "Allow 127.0.0.1",
      "LogLevel Warning",
      "DisableViaHeader Yes",
    ];
    if (o.auth) lines.push(`BasicAuth ${o.auth.username} ${o.auth.password}`);
    writeFileSync(conf, lines.join("\n") + "\n");
    const { stop } = await spawnDaemon(binary("tinyproxy"), ["-d", "-c", conf], port);
    return proxyRecord("tinyproxy", "http", port, o.auth, async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    });
  });
}

/**
 * The npm `proxy` package on an http server, or on an https server (`tls: true`) with
 * testCerts().leaf (valid for 127.0.0.1: trust it with `ca: testCerts().ca.cert`).
 * With `auth`, requests without matching `Proxy-Authorization: Basic` get 407.
 */
export async function startHttpProxy(o: { tls?: boolean; auth?: Credentials } = {}): Promise<RunningProxy> {
  let server: http.Server;
  if (o.tls) {
    const c = testCerts();
    server = https.createServer({ cert: c.leaf.cert, key: c.leaf.key });
  } else {
    server = http.createServer();
  }
  const proxy = createProxy(server);
  if (o.auth) {
    const expected = "Basic " + Buffer.from(`${o.auth.username}:${o.auth.password}`, "utf8").toString("base64");
    proxy.authenticate = (req) => req.headers["proxy-authorization"] === expected;
  }
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("secureConnection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return proxyRecord(o.tls ? "node-https" : "node-http", o.tls ? "https" : "http", port, o.auth, () => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
}

/** Creates the dante system user (once) and sets its password (always DANTE_PASSWORD). Needs root. */
function ensureDanteUser(): void {
  const exists = () => spawnSync(binary("id"), ["-u", DANTE_USER], { stdio: "ignore" }).status === 0;
  if (!exists()) {
    const r = spawnSync(binary("useradd"), ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", DANTE_USER], {
      encoding: "utf8",
    });
    // Another test process may have created it meanwhile.
    if (r.status !== 0 && !exists()) {
      throw new Error(`cannot create system user ${DANTE_USER} (needs root): ${r.stderr ?? r.error}`);
    }
  }
  const r = spawnSync(binary("chpasswd"), [], { input: `${DANTE_USER}:${DANTE_PASSWORD}\n`, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`cannot set the password of ${DANTE_USER} (needs root): ${r.stderr ?? r.error}`);
}

/**
 * Debian's dante-server: SOCKS4 and SOCKS5 (no SOCKS4a), CONNECT to loopback only. With `auth`,
 * SOCKS5 clients must log in as DANTE_USER / DANTE_PASSWORD (a system user created on first use;
 * the password is fixed so that test files running in parallel agree); SOCKS4 is then refused.
 */
export async function startDante(o: { auth?: boolean } = {}): Promise<RunningProxy> {
  const credentials = o.auth ? { username: DANTE_USER, password: DANTE_PASSWORD } : undefined;
  if (credentials) ensureDanteUser();
  const dir = mkdtempSync(join(tmpdir(), "masq-dante-"));
  return withPortRetries(async (port) => {
    const conf = join(dir, "danted.conf");
    writeFileSync(
      conf,
      [
        "logoutput: stderr",
        `internal: 127.0.0.1 port = ${port}`,
        "external: lo",
        "clientmethod: none",
        `socksmethod: ${credentials ? "username" : "none"}`,
        "user.privileged: root",
        "user.unprivileged: nobody",
        "client pass { from: 127.0.0.0/8 to: 0/0 }",
        "socks pass { from: 127.0.0.0/8 to: 127.0.0.0/8 command: connect }",
        "socks pass { from: 127.0.0.0/8 to: ::1/128 command: connect }",
        "socks block { from: 0/0 to: 0/0 }",
        "",
      ].join("\n"),
    );
    const { stop } = await spawnDaemon(binary("danted"), ["-f", conf, "-N", "1"], port);
    return proxyRecord("dante", "socks5", port, credentials, async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    });
  });
}

/** The in-process SOCKS4/4a/5 server of test/helpers/socks-server.ts (url scheme socks5h). */
export async function startNodeSocks(o: SocksServerOptions = {}): Promise<RunningProxy> {
  const s = await startSocksServer(o);
  const rec = proxyRecord("node-socks", "socks5h", s.port, o.auth, () => s.close());
  rec.requests = s.requests;
  return rec;
}
