/**
 * Starts test/helpers/py_ws_server.py (Debian's python3-websockets) as a child process for interop
 * tests. It must run under /usr/bin/python3: the pyenv python3 on PATH has no `websockets`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { testCerts } from "./ws-server.js";

/** The interpreter that has python3-websockets (installed by .ci/run through apt). */
export const DEBIAN_PYTHON = "/usr/bin/python3";

export interface PythonWsServer {
  /** `ws://127.0.0.1:PORT` or `wss://127.0.0.1:PORT`. */
  url: string;
  port: number;
  /** The websockets library version the server runs. */
  version: string;
  close(): Promise<void>;
}

export interface PythonServerOptions {
  /** Serve over TLS with the test certificate (see testCerts in ws-server.ts). */
  tls?: boolean;
  /** Enable permessage-deflate on the server. */
  deflate?: boolean;
}

/** True when /usr/bin/python3 exists (tests may skip with a reason otherwise). */
export function pythonAvailable(): boolean {
  return existsSync(DEBIAN_PYTHON);
}

export async function startPythonServer(opts: PythonServerOptions = {}): Promise<PythonWsServer> {
  const script = fileURLToPath(new URL("./py_ws_server.py", import.meta.url));
  const args = [script];
  if (opts.tls) {
    const c = testCerts();
    args.push("--cert", c.certPath, "--key", c.keyPath);
  }
  if (opts.deflate) args.push("--deflate");
  const child: ChildProcess = spawn(DEBIAN_PYTHON, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    if (stderr.length < 8192) stderr += d.toString();
  });
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  process.once("exit", kill);
  let info: { port: number; version: string };
  try {
    info = await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`python server did not start in 15 s: ${stderr}`)), 15_000);
      child.once("error", (e) => reject(e));
      child.once("exit", (code) => reject(new Error(`python server exited (${code}): ${stderr}`)));
      createInterface({ input: child.stdout! }).once("line", (line) => {
        clearTimeout(t);
        resolve(JSON.parse(line) as { port: number; version: string });
      });
    });
  } catch (e) {
    kill();
    process.removeListener("exit", kill);
    throw e;
  }
  return {
    url: `${opts.tls ? "wss" : "ws"}://127.0.0.1:${info.port}`,
    port: info.port,
    version: info.version,
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
