/**
 * Starts test/helpers/h2_ws_server.py (Debian's python3-h2 + python3-websockets): an RFC 8441
 * server neither masq nor Node wrote. With `record`, every frame the client sends is reported.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { testCerts } from "./certs.js";
import { DEBIAN_PYTHON } from "./python-server.js";

/** One line the server reports: a frame the client sent, or a connection's ALPN. */
export type RecordedFrame = {
  conn: number;
  type?: string;
  flags?: string[];
  stream?: number;
  len?: number;
  settings?: Array<[number, number]>;
  increment?: number;
  priority?: { exclusive: boolean; dependsOn: number; weightByte: number };
  headers?: Array<[string, string]>;
  alpn?: string | null;
  /** The TLS session was resumed (connection lines). */
  resumed?: boolean;
};

export interface PythonH2Server {
  url: string;
  port: number;
  h2Version: string;
  /** Recorded lines (with `record`). */
  lines: RecordedFrame[];
  close(): Promise<void>;
}

/** True when python3-h2 and python3-websockets are installed for /usr/bin/python3. */
export function pythonH2Available(): boolean {
  return existsSync(DEBIAN_PYTHON) && existsSync("/usr/lib/python3/dist-packages/h2") && existsSync("/usr/lib/python3/dist-packages/websockets");
}

export async function startPythonH2Server(opts: { extendedConnect?: boolean; deflate?: boolean; record?: boolean } = {}): Promise<PythonH2Server> {
  const c = testCerts();
  const args = [fileURLToPath(new URL("./h2_ws_server.py", import.meta.url)), "--cert", c.leaf.certPath, "--key", c.leaf.keyPath];
  if (opts.extendedConnect === false) args.push("--no-ecp");
  if (opts.deflate === false) args.push("--no-deflate");
  if (opts.record) args.push("--record");
  const child: ChildProcess = spawn(DEBIAN_PYTHON, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    if (stderr.length < 8192) stderr += d.toString();
  });
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  process.once("exit", kill);
  const lines: RecordedFrame[] = [];
  const rl = createInterface({ input: child.stdout! });
  let info: { port: number; h2: string };
  try {
    info = await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`python h2 server did not start in 15 s: ${stderr}`)), 15_000);
      child.once("error", reject);
      child.once("exit", (code) => reject(new Error(`python h2 server exited (${code}): ${stderr}`)));
      rl.once("line", (line) => {
        clearTimeout(t);
        resolve(JSON.parse(line) as { port: number; h2: string });
        rl.on("line", (l) => lines.push(JSON.parse(l) as RecordedFrame));
      });
    });
  } catch (e) {
    kill();
    process.removeListener("exit", kill);
    throw e;
  }
  return {
    url: `wss://127.0.0.1:${info.port}`,
    port: info.port,
    h2Version: info.h2,
    lines,
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
