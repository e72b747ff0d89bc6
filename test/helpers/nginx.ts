/**
 * Debian's nginx as a WebSocket reverse proxy for tests: a generated config in a temporary
 * directory, one worker, listening on a random 127.0.0.1 port, plain or TLS-terminating with the
 * test certificates (test/helpers/certs.ts), in front of one or more upstreams.
 *
 * ```ts
 * import { nginxBinary, startNginx } from "../helpers/nginx.js";
 * if (!nginxBinary()) t.skip("nginx is not installed");
 * const ng = await startNginx({ upstreams: { "/": `http://127.0.0.1:${wsServer.port}` }, tls: true });
 * await session.wsConnect(`${ng.url}/echo`, { ca: testCerts().ca.cert });   // wss://127.0.0.1:PORT/echo
 * await ng.stop();
 * ```
 *
 * The proxying follows nginx's WebSocket guide: `proxy_http_version 1.1` and the hop-by-hop
 * `Upgrade` / `Connection` headers passed on explicitly (RFC 7230 §6.1 makes them hop-by-hop, so
 * nginx would drop them otherwise). Everything nginx writes (pid, logs, temp files) stays in the
 * temporary directory, which `stop()` removes; an exit hook kills a leftover nginx.
 *
 * Debian package: nginx (installed by .ci/run). Runs as the current user; as root the workers run
 * as root too (`user root;`), so they can read the temporary directory.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testCerts } from "./certs.js";
import { canConnect, freePort } from "./ports.js";

export interface NginxOptions {
  /** Path prefix → upstream base URL (`http://127.0.0.1:PORT`). Must contain "/". */
  upstreams: Record<string, string>;
  /** Terminate TLS with testCerts().leaf (trust it with `ca: testCerts().ca.cert`). */
  tls?: boolean;
  /** `ssl_protocols` value (default "TLSv1.2 TLSv1.3"). */
  tlsProtocols?: string;
  /** Extra directives inside the `server { }` block (e.g. `location = /moved { return 301 /echo; }`). */
  serverExtra?: string[];
}

export interface RunningNginx {
  /** `ws://127.0.0.1:PORT` or `wss://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  port: number;
  /** The temporary directory (config, logs, pid). */
  dir: string;
  /** nginx's error log so far (for assertion messages). */
  errorLog(): string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of running) c.kill("SIGKILL");
});

/**
 * The nginx binary (/usr/sbin/nginx or on PATH), or undefined when nginx is not installed.
 * `MASQ_NGINX=/path/to/nginx` picks another binary (a path that does not exist counts as missing).
 */
export function nginxBinary(): string | undefined {
  const override = process.env.MASQ_NGINX;
  if (override !== undefined && override !== "") return existsSync(override) ? override : undefined;
  if (existsSync("/usr/sbin/nginx")) return "/usr/sbin/nginx";
  const r = spawnSync("sh", ["-c", "command -v nginx"], { encoding: "utf8" });
  const p = r.stdout?.trim();
  return r.status === 0 && p ? p : undefined;
}


function config(dir: string, port: number, o: NginxOptions): string {
  if (!("/" in o.upstreams)) throw new Error('startNginx: upstreams must contain "/"');
  const c = o.tls ? testCerts() : undefined;
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const locations = Object.entries(o.upstreams).map(([prefix, upstream]) =>
    [
      `    location ${prefix} {`,
      `      proxy_pass ${upstream};`,
      "      proxy_http_version 1.1;",
      "      proxy_set_header Upgrade $http_upgrade;",
      '      proxy_set_header Connection "upgrade";',
      "      proxy_set_header Host $http_host;",
      "      proxy_buffering off;",
      "      proxy_read_timeout 60s;",
      "      proxy_connect_timeout 5s;",
      "    }",
    ].join("\n"),
  );
  return [
    ...(isRoot ? ["user root;"] : []),
    "worker_processes 1;",
    `error_log ${join(dir, "error.log")} info;`,
    "events { worker_connections 128; }",
    "http {",
    `  access_log ${join(dir, "access.log")};`,
    `  client_body_temp_path ${join(dir, "client_body")};`,
    `  proxy_temp_path ${join(dir, "proxy")};`,
    `  fastcgi_temp_path ${join(dir, "fastcgi")};`,
    `  uwsgi_temp_path ${join(dir, "uwsgi")};`,
    `  scgi_temp_path ${join(dir, "scgi")};`,
    "  server {",
    `    listen 127.0.0.1:${port}${c ? " ssl" : ""};`,
    ...(c
      ? [
          `    ssl_certificate ${c.leaf.certPath};`,
          `    ssl_certificate_key ${c.leaf.keyPath};`,
          // nginx < 1.23.4 (Debian 12 ships 1.22) enables only TLS 1.0-1.2 by default.
          `    ssl_protocols ${o.tlsProtocols ?? "TLSv1.2 TLSv1.3"};`,
        ]
      : []),
    ...locations,
    ...(o.serverExtra ?? []).map((l) => "    " + l),
    "  }",
    "}",
    "",
  ].join("\n");
}

async function startOn(bin: string, dir: string, port: number, o: NginxOptions): Promise<RunningNginx> {
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, config(dir, port, o));
  const errorLog = join(dir, "error.log");
  const child = spawn(
    bin,
    ["-p", dir, "-c", conf, "-e", errorLog, "-g", `daemon off; pid ${join(dir, "nginx.pid")};`],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  running.add(child);
  let output = "";
  const collect = (d: Buffer): void => {
    if (output.length < 20_000) output += d.toString();
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    const done = (): void => {
      exited = true;
      running.delete(child);
      resolve();
    };
    child.once("exit", done);
    child.once("error", (err) => {
      output += String(err);
      done();
    });
  });
  const readLog = (): string => {
    try {
      return readFileSync(errorLog, "utf8");
    } catch {
      return "";
    }
  };
  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill("SIGTERM"); // fast shutdown: open WebSocket tunnels are closed at once
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exit;
      clearTimeout(t);
    }
  };
  const deadline = Date.now() + 10_000;
  for (let i = 0; i < 200 && Date.now() < deadline && !exited; i++) {
    if (await canConnect(port)) {
      return {
        url: `${o.tls ? "wss" : "ws"}://127.0.0.1:${port}`,
        port,
        dir,
        errorLog: readLog,
        stop,
      };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`nginx did not start on 127.0.0.1:${port}:\n${output}\n${readLog().slice(-4000)}`);
}

/**
 * Starts nginx (retrying on another port when the free port was taken meanwhile). Throws when
 * nginx is missing (check {@link nginxBinary} first to skip) or does not start within 10 s.
 */
export async function startNginx(o: NginxOptions): Promise<RunningNginx> {
  const bin = nginxBinary();
  if (!bin) throw new Error("nginx is not installed (Debian package nginx)");
  const dir = mkdtempSync(join(tmpdir(), "masq-nginx-"));
  let last: unknown;
  for (let i = 0; i < 4; i++) {
    try {
      const ng = await startOn(bin, dir, await freePort(), o);
      const stop = ng.stop;
      return {
        ...ng,
        stop: async () => {
          await stop();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      last = err;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw last;
}
