/**
 * The `masq` command as a child process: every flag, every exit code, --json parsed line by line,
 * and an interactive session driven through tmux. The command is bundled once with esbuild into
 * .tmp/ (plain `node`, no loader per run: each spawn starts in ~0.1 s instead of ~1 s under tsx).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync, existsSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { WebSocketServer } from "ws";
import { startWsServer, type TestWsServer } from "../helpers/ws-server.js";
import { startRawServer, OP, type RawServer } from "../helpers/raw-server.js";
import { startHttpProxy, hasBinary, type RunningProxy } from "../helpers/proxies.js";
import { testCerts } from "../helpers/certs.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
let outDir: string;
let CLI: string;
let server: TestWsServer;
let tlsServer: TestWsServer;
let raw: RawServer;
let proxy: RunningProxy;
let deflateServer: WebSocketServer;
let deflateUrl: string;

before(async () => {
  mkdirSync(join(ROOT, ".tmp"), { recursive: true });
  outDir = mkdtempSync(join(ROOT, ".tmp", "cli-test-"));
  const { build } = await import("esbuild");
  // The TLS engine is imported at run time as "../tls/index.js" relative to the transport code:
  // keep cli/ and tls/ side by side, with the shared chunks in cli/ (one copy of the error classes).
  await build({
    entryPoints: { "cli/masq": join(ROOT, "src/cli/masq.ts"), "tls/index": join(ROOT, "src/tls/index.ts") },
    outdir: outDir,
    chunkNames: "cli/[name]-[hash]",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    logLevel: "error",
  });
  writeFileSync(join(outDir, "package.json"), '{ "type": "module" }\n');
  CLI = join(outDir, "cli", "masq.js");
  server = await startWsServer();
  tlsServer = await startWsServer({ tls: true });
  proxy = await startHttpProxy();
  raw = await startRawServer(async (conn) => {
    const path = conn.request.target;
    if (path.startsWith("/binary")) {
      await conn.sendFrame(OP.BINARY, Buffer.from([0xff, 0xfe, 0x00, 0x41]));
      await conn.sendFrame(OP.BINARY, Buffer.from("fine"));
      await conn.sendFrame(OP.CLOSE, Buffer.from([0x03, 0xe8]));
    } else if (path.startsWith("/violate")) {
      await conn.sendFrame(0x3, "reserved opcode");
    } else if (path.startsWith("/drop")) {
      conn.socket.destroy();
    }
  });
  deflateServer = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: true });
  deflateServer.on("connection", (ws) => ws.on("message", (d, isBinary) => ws.send(d, { binary: isBinary })));
  await new Promise<void>((r) => deflateServer.once("listening", () => r()));
  deflateUrl = `ws://127.0.0.1:${(deflateServer.address() as { port: number }).port}`;
});

after(async () => {
  await server?.close();
  await tlsServer?.close();
  await raw?.close();
  await proxy?.stop();
  for (const c of deflateServer?.clients ?? []) c.terminate();
  await new Promise((r) => deflateServer?.close(r));
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with stdin from `input` (closed at once when undefined); killed after `timeoutMs`. */
function masq(args: string[], o: { input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["pipe", "pipe", "pipe"], cwd: ROOT });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`masq ${args.join(" ")} did not exit within ${o.timeoutMs ?? 15_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, o.timeoutMs ?? 15_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(o.input ?? "");
  });
}

function jsonLines(out: string): Array<Record<string, unknown>> {
  return out
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test("--help and --list-impersonate print and exit 0", async () => {
  const help = await masq(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: masq \[options\] <url>/);
  for (const flag of ["--execute", "--wait", "--count", "--json", "--header", "--cookie", "--origin", "--subprotocol", "--impersonate", "--proxy", "--compress", "--ca", "--insecure", "--timeout", "--binary", "--verbose", "--list-impersonate", "Exit status"]) {
    assert.ok(help.stdout.includes(flag), flag);
  }
  const list = await masq(["--list-impersonate"]);
  assert.equal(list.code, 0);
  const names = list.stdout.trim().split("\n");
  assert.ok(names.includes("chrome") && names.includes("firefox"), list.stdout);
});

test("usage errors exit 2 with a message", async () => {
  const cases: string[][] = [
    [],
    ["--bogus", server.url],
    [server.url, "extra"],
    ["ftp://127.0.0.1/"],
    ["--count", "0", server.url],
    ["--wait=-1", server.url],
    ["--binary", "octal", server.url],
    ["--timeout", "0", server.url],
    ["--impersonate", "netscape4", server.url],
    ["-H", "no-colon", server.url],
    ["--cookie", "=x", server.url],
    ["--ca", join(ROOT, ".tmp", "no-such-file.pem"), server.url],
  ];
  const runs = await Promise.all(cases.map((c) => masq(c)));
  runs.forEach((r, i) => {
    assert.equal(r.code, 2, `${cases[i]!.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^masq: .+\nTry "masq --help"/, cases[i]!.join(" "));
  });
});

test("-x (repeatable) with --count and --json: one parsable line per event, exit 0", async () => {
  const r = await masq([server.url + "/echo", "-x", "hello", "-x", "wörld", "--count", "2", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const events = jsonLines(r.stdout);
  for (const e of events) assert.ok(!Number.isNaN(Date.parse(String(e["time"]))), JSON.stringify(e));
  const summary = events.map((e) => `${String(e["direction"])}:${String(e["type"])}:${String(e["data"] ?? e["code"])}`);
  assert.deepEqual(summary, [
    `local:open:${server.url}/echo`,
    "out:text:hello",
    "out:text:wörld",
    "in:text:hello",
    "in:text:wörld",
    "out:close:1000",
    "in:close:1000",
  ]);
  assert.equal(events.at(-1)!["clean"], true);
});

test("--count N stops after N messages; plain output is one line per message", async () => {
  const r = await masq([server.url + "/send?count=5&size=6", "--count", "3"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n"), ["0:aaaa", "1:bbbb", "2:cccc"]);
  assert.match(r.stderr, /Disconnected \(code: 1000/);
});

test("-w: waits that long after the last message, then closes cleanly", async () => {
  const r = await masq([server.url + "/slow?delay=3000", "-x", "late", "-w", "0.3"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, ""); // the echo would come after 3 s
  const r2 = await masq([server.url + "/slow?delay=50", "-x", "soon", "-w", "2"]);
  assert.equal(r2.stdout, "soon\n");
});

test("piped stdin: each line is sent; /ping and /close work; exit 0 after a clean close", async () => {
  const r = await masq([server.url + "/echo", "--json"], { input: "one\n//slash\n/ping pp\n/close 4001 bye bye\n" });
  assert.equal(r.code, 0, r.stderr);
  const events = jsonLines(r.stdout).map((e) => `${String(e["direction"])}:${String(e["type"])}:${String(e["data"] ?? e["code"])}`);
  assert.ok(events.includes("in:text:one"), events.join("\n"));
  assert.ok(events.includes("in:text:/slash"), events.join("\n"));
  assert.ok(events.includes("out:ping:pp"), events.join("\n"));
  assert.equal(events.at(-1), "in:close:4001");
  const conn = server.connections.find((c) => c.messages.some((m) => m.data.toString() === "one"))!;
  assert.deepEqual((await conn.closed), { code: 4001, reason: "bye bye" });
  assert.deepEqual(conn.pings.map((p) => p.toString()), ["pp"]);
});

test("non-UTF-8 binary messages print as hex (default) or base64; UTF-8 ones as text", async () => {
  const hex = await masq([raw.url + "/binary"]);
  assert.equal(hex.code, 0, hex.stderr);
  assert.deepEqual(hex.stdout.trim().split("\n"), ["(binary 4 bytes, hex) fffe0041", "fine"]);
  const b64 = await masq([raw.url + "/binary", "--binary", "base64", "--json"]);
  const msgs = jsonLines(b64.stdout).filter((e) => e["type"] === "binary");
  assert.deepEqual(msgs.map((e) => [e["data"], e["encoding"]]), [["//4AQQ==", "base64"], ["fine", "utf8"]]);
});

test("-H, --cookie, --origin, -s reach the server; -v prints the 101 response", async () => {
  const r = await masq([
    server.url + "/headers",
    "-H", "X-Test: one",
    "--header", "X-Other: two",
    "--cookie", "a=1; b=2",
    "--origin", "https://app.example",
    "-s", "chat",
    "--subprotocol", "v2",
    "--count", "1",
    "--json",
    "-v",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const events = jsonLines(r.stdout);
  const open = events[0]!;
  assert.equal(open["protocol"], "chat");
  assert.equal((open["response"] as { status: number }).status, 101);
  const seen = JSON.parse(String(events.find((e) => e["direction"] === "in")!["data"])) as { headers: Record<string, string> };
  assert.equal(seen.headers["x-test"], "one");
  assert.equal(seen.headers["x-other"], "two");
  assert.equal(seen.headers["cookie"], "a=1; b=2");
  assert.equal(seen.headers["origin"], "https://app.example");
  assert.equal(seen.headers["sec-websocket-protocol"], "chat, v2");
  const human = await masq([server.url + "/echo", "-v", "-x", "x", "--count", "1"]);
  assert.match(human.stderr, /^HTTP\/1\.1 101 Switching Protocols\n/);
  assert.match(human.stderr, /\nSec-WebSocket-Accept: /i);
});

test("--compress negotiates permessage-deflate", async () => {
  const r = await masq([deflateUrl, "--compress", "-x", "z".repeat(5000), "--count", "1", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const events = jsonLines(r.stdout);
  assert.match(String(events[0]!["extensions"]), /permessage-deflate/);
  assert.equal(events.find((e) => e["direction"] === "in")!["data"], "z".repeat(5000));
});

test("wss: --ca trusts the test CA, --insecure skips verification, neither is a TLS failure (exit 4)", async () => {
  const caFile = testCerts().ca.certPath;
  const ok = await masq([tlsServer.url + "/echo", "--ca", caFile, "-x", "t", "--count", "1"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, "t\n");
  const insecure = await masq([tlsServer.url + "/echo", "-k", "-x", "t", "--count", "1"]);
  assert.equal(insecure.code, 0, insecure.stderr);
  const untrusted = await masq([tlsServer.url + "/echo", "-x", "t"]);
  assert.equal(untrusted.code, 4, untrusted.stderr);
});

test("--impersonate chrome through --proxy (HTTP CONNECT) to wss", async () => {
  const r = await masq([tlsServer.url + "/headers", "--impersonate", "chrome", "--proxy", proxy.url, "--ca", testCerts().ca.certPath, "--count", "1"]);
  assert.equal(r.code, 0, r.stderr);
  const seen = JSON.parse(r.stdout) as { headers: Record<string, string> };
  assert.match(seen.headers["user-agent"] ?? "", /Chrome\//);
});

test("exit codes: handshake 3, proxy 5, timeout 6, protocol 7, connection 8", async () => {
  const [handshake, badProxy, timeout, protocol, dropped, refused] = await Promise.all([
    masq([server.url + "/reject?status=403"]),
    masq([server.url + "/echo", "--proxy", "http://127.0.0.1:1"]),
    masq([server.url + "/hang", "--timeout", "0.5"]),
    masq([raw.url + "/violate"]),
    masq([raw.url + "/drop"]),
    masq(["ws://127.0.0.1:1/"]),
  ]);
  assert.equal(handshake.code, 3, handshake.stderr);
  assert.match(handshake.stderr, /HTTP 403/);
  assert.equal(badProxy.code, 5, badProxy.stderr);
  assert.equal(timeout.code, 6, timeout.stderr);
  assert.equal(protocol.code, 7, protocol.stderr);
  assert.equal(dropped.code, 8, dropped.stderr);
  assert.equal(refused.code, 8, refused.stderr);
  const json = await masq(["ws://127.0.0.1:1/", "--json"]);
  const err = jsonLines(json.stdout)[0]!;
  assert.equal(err["type"], "error");
  assert.equal(err["exit"], 8);
});

test("interactive session in tmux: type, see the echo, /close 4000 bye, see the close code", async (t) => {
  if (!hasBinary("tmux")) {
    t.skip("tmux is not installed");
    return;
  }
  const sock = `masq-cli-${process.pid}`;
  const exitFile = join(outDir, "interactive.exit");
  const tmux = (...args: string[]): string => {
    const r = spawnSync("tmux", ["-L", sock, ...args], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`tmux ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  t.after(() => spawnSync("tmux", ["-L", sock, "kill-server"]));
  const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} ${server.url}/echo; echo $? > ${JSON.stringify(exitFile)}; sleep 30`;
  tmux("-f", "/dev/null", "new-session", "-d", "-s", "m", "-x", "160", "-y", "40", cmd);
  const screen = (): string => tmux("capture-pane", "-p", "-t", "m");
  const waitFor = async (re: RegExp, what: string): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!re.test(screen())) {
      if (Date.now() > deadline) throw new Error(`no ${what} on the screen:\n${screen()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await waitFor(/Connected to ws:\/\//, "connect line");
  tmux("send-keys", "-t", "m", "hello tmux", "Enter");
  await waitFor(/< hello tmux/, "echo");
  tmux("send-keys", "-t", "m", "/ping", "Enter");
  await waitFor(/ping sent/, "ping line");
  tmux("send-keys", "-t", "m", "/close 4000 bye", "Enter");
  await waitFor(/Disconnected \(code: 4000, reason: "bye"\)/, "close line");
  const deadline = Date.now() + 10_000;
  while (!existsSync(exitFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(readFileSync(exitFile, "utf8").trim(), "0");
});

test("exit status 1 is for everything not classified (checked in-process: no peer makes masq fail that way)", async () => {
  const { exitCodeFor } = await import("../../src/cli/output.js");
  const errors = await import("../../src/errors.js");
  // Instances without their constructors (whose options are still growing): only the class and code matter.
  const make = (cls: abstract new (...a: never[]) => object, code: number): unknown => Object.assign(Object.create(cls.prototype) as object, { code });
  assert.equal(exitCodeFor(new Error("a bug")), 1);
  assert.equal(exitCodeFor(make(errors.WebSocketError, 1011)), 1);
  assert.equal(exitCodeFor(make(errors.TlsError, 1006)), 4);
  assert.equal(exitCodeFor(make(errors.ProxyError, 1006)), 5);
  assert.equal(exitCodeFor(make(errors.WebSocketTimeout, 1006)), 6);
  assert.equal(exitCodeFor(make(errors.HandshakeError, 1006)), 3);
  assert.equal(exitCodeFor(make(errors.ProtocolError, 1002)), 7);
  assert.equal(exitCodeFor(make(errors.WebSocketError, 1009)), 7);
  assert.equal(exitCodeFor(make(errors.WebSocketError, 1006)), 8);
});

test("package.json bin runs the compiled CLI; after `npm run build`, `npx masq` works", async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin?: Record<string, string> };
  assert.equal(pkg.bin?.["masq"], "dist/cli/masq.js"); // tsconfig.build.json: src/ -> dist/
  assert.equal(readFileSync(join(ROOT, "src/cli/masq.ts"), "utf8").split("\n")[0], "#!/usr/bin/env node");
  const built = join(ROOT, "dist/cli/masq.js");
  const fresh = existsSync(built) && statSync(built).mtimeMs >= statSync(join(ROOT, "src/cli/masq.ts")).mtimeMs;
  if (!fresh) {
    t.skip("dist/cli/masq.js is missing or older than src/cli/masq.ts (run npm run build; CI does)");
    return;
  }
  const r = spawnSync("npx", ["--no-install", "masq", "--list-impersonate"], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.split("\n").includes("chrome"), r.stdout);
});
