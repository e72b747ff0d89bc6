/**
 * Loopback throughput of masq's TLS 1.3 engine vs Node's native TLS client: 1 MiB writes both
 * ways, and many 16-byte writes.
 *
 *   npx tsx bench/tls-throughput.ts [--mib 256] [--runs 5] [--suite TLS_AES_128_GCM_SHA256]
 *
 * The server (node:tls) runs in a child process pinned with `taskset -c 1` when available; the
 * client runs here (pin it with `taskset -c 0 npx tsx ...`). Two cases per client: the client
 * sends N MiB (server counts, answers "done"), and the client receives N MiB (server writes after
 * "go"). Reports MB/s medians and masq / native.
 */
import { spawn, spawnSync } from "node:child_process";
import net from "node:net";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import type { Duplex } from "node:stream";
import { masqTlsConnect } from "../src/tls/index.js";
import { Pki } from "../test/tls/helpers/pki.js";

const MIB = 1 << 20;
const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};

async function serverMain(): Promise<void> {
  const [key, cert, suite] = [process.env.KEY!, process.env.CERT!, process.env.SUITE!];
  const chunk = Buffer.alloc(MIB, 7);
  const server = tls.createServer({ key, cert, minVersion: "TLSv1.3", ciphers: suite }, (s) => {
    s.on("error", () => {});
    let mode: "cmd" | "sink" = "cmd";
    let want = 0;
    let got = 0;
    s.on("data", (d: Buffer) => {
      if (mode === "sink") {
        got += d.length;
        if (got >= want) {
          mode = "cmd";
          s.write("done");
        }
        return;
      }
      const text = d.toString("latin1");
      const m = /^(send|recv) (\d+)\n/.exec(text);
      if (!m) return;
      const n = Number(m[2]);
      if (m[1] === "send") {
        // client sends n bytes to us
        mode = "sink";
        want = n;
        got = d.length - m[0].length;
      } else {
        let left = n / MIB;
        const pump = (): void => {
          while (left > 0) {
            left--;
            if (!s.write(chunk)) {
              s.once("drain", pump);
              return;
            }
          }
        };
        pump();
      }
    });
  });
  server.listen(0, "127.0.0.1", () => {
    process.stdout.write(`listening ${(server.address() as net.AddressInfo).port}\n`);
  });
}

function waitFor(s: Duplex, pred: (total: number, last: Buffer) => boolean): Promise<void> {
  return new Promise((resolve) => {
    let total = 0;
    const on = (d: Buffer): void => {
      total += d.length;
      if (pred(total, d)) {
        s.off("data", on);
        resolve();
      }
    };
    s.on("data", on);
  });
}

async function sendCase(s: Duplex, bytes: number): Promise<number> {
  const chunk = Buffer.alloc(MIB, 9);
  const t0 = process.hrtime.bigint();
  const done = waitFor(s, (_t, last) => last.includes("done"));
  s.write(`send ${bytes}\n`);
  for (let i = 0; i < bytes / MIB; i++) {
    if (!s.write(chunk)) await new Promise((r) => s.once("drain", r));
  }
  await done;
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Client sends `count` 16-byte writes; returns messages per second. */
async function smallCase(s: Duplex, count: number): Promise<number> {
  const msg = Buffer.alloc(16, 3);
  const t0 = process.hrtime.bigint();
  const done = waitFor(s, (_t, last) => last.includes("done"));
  s.write(`send ${count * 16}\n`);
  for (let i = 0; i < count; i++) {
    if (!s.write(msg)) await new Promise((r) => s.once("drain", r));
  }
  await done;
  return count / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function recvCase(s: Duplex, bytes: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  const done = waitFor(s, (total) => total >= bytes);
  s.write(`recv ${bytes}\n`);
  await done;
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  if (args.includes("--server")) return serverMain();
  const mib = Number(opt("mib", "256"));
  const runs = Number(opt("runs", "5"));
  const suite = opt("suite", "TLS_AES_128_GCM_SHA256");
  const pki = new Pki();
  const root = pki.issue({ name: "root", ca: true });
  const leaf = pki.issue({ name: "leaf", issuer: root });
  const self = fileURLToPath(import.meta.url);
  const pin = spawnSync("sh", ["-c", "command -v taskset"]).status === 0 ? ["taskset", "-c", "1"] : [];
  const cmd = [...pin, process.execPath, "--import", "tsx", self, "--server"];
  const child = spawn(cmd[0]!, cmd.slice(1), { env: { ...process.env, KEY: leaf.key, CERT: leaf.cert, SUITE: suite }, stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve) => {
    child.stdout!.on("data", (d: Buffer) => {
      const m = /listening (\d+)/.exec(d.toString());
      if (m) resolve(Number(m[1]));
    });
  });
  const bytes = mib * MIB;
  const small = Number(opt("small", "500000"));
  const results: Record<string, { send: number[]; recv: number[]; small: number[] }> = {
    native: { send: [], recv: [], small: [] },
    masq: { send: [], recv: [], small: [] },
  };
  try {
    for (let r = 0; r < runs; r++) {
      for (const kind of ["native", "masq"] as const) {
        const sock = await new Promise<net.Socket>((res) => {
          const s = net.connect(port, "127.0.0.1", () => res(s));
        });
        const t: Duplex =
          kind === "native"
            ? await new Promise<tls.TLSSocket>((res) => {
                const c = tls.connect({ socket: sock, servername: "localhost", ca: root.cert, minVersion: "TLSv1.3" }, () => res(c));
              })
            : await masqTlsConnect(sock, { host: "localhost", rejectUnauthorized: true, ca: root.cert });
        results[kind]!.send.push(bytes / (await sendCase(t, bytes)) / 1e6);
        results[kind]!.recv.push(bytes / (await recvCase(t, bytes)) / 1e6);
        results[kind]!.small.push(await smallCase(t, small));
        t.destroy();
      }
    }
  } finally {
    child.kill();
  }
  const row = (k: string): string => {
    const v = results[k]!;
    return `| ${k} | ${median(v.send).toFixed(0)} | ${median(v.recv).toFixed(0)} | ${(median(v.small) / 1000).toFixed(0)}k |`;
  };
  console.log(`TLS 1.3 ${suite}, ${mib} MiB per case as 1 MiB writes, median of ${runs} \n`);
  console.log(`| client | sends MB/s | receives MB/s | sends ${small} x 16 B, msg/s |\n|---|---|---|---|`);
  console.log(row("native"));
  console.log(row("masq"));
  const ratio = (c: "send" | "recv" | "small"): string => ((median(results.masq![c]) / median(results.native![c])) * 100).toFixed(0);
  console.log(`\nmasq / native: send ${ratio("send")}%, receive ${ratio("recv")}%, 16 B sends ${ratio("small")}%`);
  process.exit(0);
}

void main();
