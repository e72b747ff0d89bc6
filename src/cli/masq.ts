#!/usr/bin/env node
/**
 * `masq`: a command-line WebSocket client (in the spirit of wscat) with masq's impersonation,
 * proxies, cookies and TLS options. `masq --help` lists the flags and exit codes.
 */
import { createInterface, type Interface } from "node:readline";
import { WebSocketClosed, WebSocketError } from "../errors.js";
import { isValidWireCloseCode } from "../protocol/close.js";
import { AsyncSession } from "../session.js";
import type { AsyncWebSocket } from "../websocket/connection.js";
import { WsFlag } from "../websocket/flags.js";
import { ExitCode, parseCli, type CliOptions } from "./args.js";
import { exitCodeFor, Output } from "./output.js";

/** How the receive loop ended. */
type Ending = { kind: "closed"; code: number; reason: string } | { kind: "failed"; error: unknown };

/** Runs the command; resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  const parsed = parseCli(argv);
  if (parsed.kind === "print") {
    process.stdout.write(parsed.text);
    return ExitCode.OK;
  }
  if (parsed.kind === "usage") {
    process.stderr.write(`masq: ${parsed.message}\nTry "masq --help".\n`);
    return ExitCode.USAGE;
  }
  return run(parsed.options);
}

async function run(o: CliOptions): Promise<number> {
  const interactive = process.stdin.isTTY === true && o.execute.length === 0;
  const out = new Output(o.json, o.binary);
  const session = new AsyncSession();
  let ws: AsyncWebSocket;
  try {
    ws = await session.wsConnect(o.url, o.connect);
  } catch (err) {
    const code = err instanceof WebSocketError && err.code === 0 && !(err instanceof WebSocketClosed) ? ExitCode.USAGE : exitCodeFor(err);
    out.error(err, code);
    return code;
  }

  let rl: Interface | undefined;
  if (interactive) {
    rl = createInterface({ input: process.stdin, output: process.stdout, prompt: "> " });
    out.attach(rl);
  }
  out.opened(ws.response.url, ws.protocol, ws.extensions, ws.response, o.verbose);

  let closing: Promise<void> | undefined;
  let finished = false;
  const closeWith = (code = 1000, reason = ""): void => {
    if (closing) return;
    out.closing(code, reason);
    closing = ws.close(code, reason).catch((err) => {
      out.error(err, ExitCode.ERROR);
    });
  };

  const received = receive(ws, out, o.count, () => closeWith());
  let waitTimer: NodeJS.Timeout | undefined;
  const startWait = (): void => {
    // After the input is done: wait for replies (default 2 s; unbounded when only --count is given).
    const seconds = o.wait ?? (o.count !== undefined ? Infinity : 2);
    if (seconds === Infinity) return;
    waitTimer = setTimeout(() => closeWith(), seconds * 1000);
  };

  if (rl) {
    rl.on("line", (line) => {
      handleLine(line, ws, out, closeWith);
      if (!closing) rl!.prompt();
    });
    rl.on("SIGINT", () => closeWith());
    rl.on("close", () => {
      if (!finished) closeWith(); // Ctrl-D
    });
    rl.prompt();
  } else if (o.execute.length > 0) {
    void (async () => {
      for (const msg of o.execute) {
        try {
          await ws.sendStr(msg);
          out.sent("text", msg);
        } catch {
          return; // the connection ended; the receive loop reports it
        }
      }
      startWait();
    })();
  } else {
    // Piped stdin: every line is sent (slash commands work too); at its end, wait and close.
    const lines = createInterface({ input: process.stdin, terminal: false });
    lines.on("line", (line) => handleLine(line, ws, out, closeWith));
    lines.on("close", startWait);
  }

  const ending = await received;
  finished = true;
  if (waitTimer) clearTimeout(waitTimer);
  rl?.close();
  out.attach(undefined); // no prompt to redraw any more (Node 24 throws on prompt() after close())
  await closing;
  await ws.ended;
  if (ending.kind === "closed") {
    out.closed(ending.code, ending.reason, true);
    return ExitCode.OK;
  }
  const err = ending.error;
  if (err instanceof WebSocketClosed) {
    out.closed(err.code, err.reason, false);
    return ExitCode.CONNECTION;
  }
  const code = exitCodeFor(err);
  out.error(err, code);
  return code;
}

/** Prints incoming messages until the peer's close frame or an error; closes after `count`. */
async function receive(ws: AsyncWebSocket, out: Output, count: number | undefined, onCount: () => void): Promise<Ending> {
  let n = 0;
  for (;;) {
    let item;
    try {
      item = await ws.recv();
    } catch (error) {
      return { kind: "failed", error };
    }
    if (item.flags & WsFlag.CLOSE) return { kind: "closed", code: ws.closeCode ?? 1005, reason: ws.closeReason };
    // Past --count, messages still arriving before the peer's close frame are not printed.
    if (count !== undefined && n >= count) continue;
    out.received(item.data, (item.flags & WsFlag.TEXT) !== 0);
    if (count !== undefined && ++n === count) onCount();
  }
}

/** One input line: a message, or a slash command. */
function handleLine(line: string, ws: AsyncWebSocket, out: Output, closeWith: (code?: number, reason?: string) => void): void {
  if (line.startsWith("/") && !line.startsWith("//")) {
    const [cmd = "", ...rest] = line.slice(1).split(" ");
    const arg = rest.join(" ");
    if (cmd === "quit") closeWith();
    else if (cmd === "ping") {
      ws.ping(arg).then(
        () => out.sent("ping", arg),
        (err: unknown) => out.status(`ping failed: ${(err as Error).message}`, true),
      );
    } else if (cmd === "close") {
      const code = rest[0] === undefined || rest[0] === "" ? 1000 : Number(rest[0]);
      const reason = rest.slice(1).join(" ");
      if (!isValidWireCloseCode(code)) {
        out.status(`/close: ${rest[0]} is not a close code that may be sent (1000-1003, 1007-1014, 3000-4999)`, true);
        return;
      }
      if (Buffer.byteLength(reason, "utf8") > 123) {
        out.status("/close: the reason is longer than 123 bytes of UTF-8", true);
        return;
      }
      closeWith(code, reason);
    } else out.status(`unknown command /${cmd} (use /ping [data], /close [code] [reason], /quit; "//" sends a leading "/")`, true);
    return;
  }
  const text = line.startsWith("//") ? line.slice(1) : line;
  ws.sendStr(text).then(
    () => out.sent("text", text),
    (err: unknown) => out.status(`send failed: ${(err as Error).message}`, true),
  );
}

main(process.argv.slice(2)).then(
  (code) => {
    // stdin may still hold the event loop (a pipe nobody closes): exit once stdout is flushed.
    process.stdout.write("", () => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`masq: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(ExitCode.ERROR);
  },
);
