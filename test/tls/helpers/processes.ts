/** External TLS peers (openssl s_server, gnutls-serv) on a loopback port, killed on cleanup. */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { canConnect, freePort } from "../../helpers/ports.js";

export { freePort };

export function hasBinary(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`]).status === 0;
}

/** Wait until something accepts on 127.0.0.1:port (bounded). */
export async function waitForPort(port: number, child: ChildProcess, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`peer exited early with code ${child.exitCode}`);
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`);
}

export interface Peer {
  port: number;
  child: ChildProcess;
  stdout: Buffer[];
  stderr: Buffer[];
  stdoutBytes(): number;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

/**
 * Start `cmd args` where the literal "{port}" in args is replaced by a free port. The peer must
 * accept once its port is reachable; the probe connection must not count (use no -naccept 1).
 */
export async function startPeer(cmd: string, args: string[], opts: { probe?: boolean } = {}): Promise<Peer> {
  const port = await freePort();
  const child = spawn(cmd, args.map((a) => a.replace("{port}", String(port))), { stdio: ["pipe", "pipe", "pipe"] });
  live.add(child);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let outBytes = 0;
  child.stdout!.on("data", (c: Buffer) => {
    stdout.push(c);
    outBytes += c.length;
  });
  child.stderr!.on("data", (c: Buffer) => stderr.push(c));
  child.stdin!.on("error", () => {});
  const peer: Peer = {
    port,
    child,
    stdout,
    stderr,
    stdoutBytes: () => outBytes,
    stop: () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          live.delete(child);
          return r();
        }
        child.once("exit", () => {
          live.delete(child);
          r();
        });
        child.kill("SIGKILL");
      }),
  };
  if (opts.probe !== false) {
    try {
      await waitForPort(port, child);
    } catch (e) {
      await peer.stop();
      throw new Error(`${cmd} did not start: ${(e as Error).message}\n${Buffer.concat(stderr).toString()}`);
    }
  } else {
    await new Promise((r) => setTimeout(r, 300));
  }
  return peer;
}

/** Resolve when `pred()` holds (polled, bounded). */
export async function until(pred: () => boolean, timeoutMs = 20000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
