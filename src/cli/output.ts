/**
 * What the `masq` command prints: human lines (interactive or piped) or one JSON object per event.
 */
import { isUtf8 } from "node:buffer";
import { clearLine, cursorTo, type Interface } from "node:readline";
import { HandshakeError, ProtocolError, ProxyError, TlsError, WebSocketError, WebSocketTimeout } from "../errors.js";
import type { HandshakeResponse } from "../websocket/connection.js";
import { ExitCode } from "./args.js";

/** One printed event (the `--json` line has these fields and `time`). */
export interface CliEvent {
  direction: "in" | "out" | "local";
  type: string;
  data?: string;
  [key: string]: unknown;
}

/** The exit status for an error (see {@link ExitCode}). */
export function exitCodeFor(err: unknown): number {
  if (err instanceof TlsError) return ExitCode.TLS;
  if (err instanceof ProxyError) return ExitCode.PROXY;
  if (err instanceof WebSocketTimeout) return ExitCode.TIMEOUT;
  if (err instanceof HandshakeError) return ExitCode.HANDSHAKE;
  if (err instanceof ProtocolError) return ExitCode.PROTOCOL;
  if (err instanceof WebSocketError) {
    if (err.code === 1002 || err.code === 1007 || err.code === 1009) return ExitCode.PROTOCOL;
    if (err.code === 1006) return ExitCode.CONNECTION;
  }
  return ExitCode.ERROR;
}

/** Prints events; keeps an interactive prompt intact around incoming lines. */
export class Output {
  readonly #json: boolean;
  readonly #binary: "hex" | "base64";
  #rl: Interface | undefined;

  constructor(json: boolean, binary: "hex" | "base64") {
    this.#json = json;
    this.#binary = binary;
  }

  /** Interactive mode: incoming lines are printed above the prompt. */
  attach(rl: Interface | undefined): void {
    this.#rl = rl;
  }

  /** A message's printable form: its text when valid UTF-8, else hex or base64. */
  encode(data: Buffer): { data: string; encoding: "utf8" | "hex" | "base64" } {
    if (isUtf8(data)) return { data: data.toString("utf8"), encoding: "utf8" };
    return { data: data.toString(this.#binary), encoding: this.#binary };
  }

  opened(url: string, protocol: string, extensions: string, response: HandshakeResponse, verbose: boolean): void {
    if (this.#json) {
      const ev: CliEvent = { direction: "local", type: "open", data: url, protocol, extensions };
      if (verbose) ev["response"] = { status: response.status, statusText: response.statusText, rawHeaders: response.rawHeaders };
      this.#emit(ev);
      return;
    }
    if (verbose) {
      const lines = [`HTTP/1.1 ${response.status} ${response.statusText}`];
      const raw = response.rawHeaders;
      for (let i = 0; i + 1 < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
      process.stderr.write(lines.join("\n") + "\n\n");
    }
    this.status(`Connected to ${url}${protocol ? ` (subprotocol ${protocol})` : ""}${this.#rl ? " — /ping, /close [code] [reason], /quit" : ""}`);
  }

  received(data: Buffer, text: boolean): void {
    const enc = text ? { data: data.toString("utf8"), encoding: "utf8" as const } : this.encode(data);
    if (this.#json) {
      const ev: CliEvent = { direction: "in", type: text ? "text" : "binary", data: enc.data };
      if (!text) ev["encoding"] = enc.encoding;
      this.#emit(ev);
      return;
    }
    const shown = enc.encoding === "utf8" ? enc.data : `(binary ${data.length} bytes, ${enc.encoding}) ${enc.data}`;
    if (this.#rl) this.#abovePrompt(`< ${shown}`);
    else process.stdout.write(shown + "\n");
  }

  sent(type: "text" | "ping", data: string): void {
    if (this.#json) this.#emit({ direction: "out", type, data });
    else if (this.#rl && type === "ping") this.#abovePrompt(`ping sent${data ? ` (${data})` : ""}`);
  }

  closed(code: number, reason: string, clean: boolean): void {
    if (this.#json) this.#emit({ direction: "in", type: "close", code, reason, clean });
    else this.status(`Disconnected (code: ${code}, reason: ${JSON.stringify(reason)}${clean ? "" : ", not clean"})`);
  }

  closing(code: number, reason: string): void {
    if (this.#json) this.#emit({ direction: "out", type: "close", code, reason });
  }

  error(err: unknown, exit: number): void {
    const message = err instanceof Error ? err.message : String(err);
    const name = err instanceof Error ? err.name : "Error";
    if (this.#json) {
      const ev: CliEvent = { direction: "local", type: "error", data: message, name, exit };
      // The stable failure reason some masq errors carry (HandshakeError, TlsError, ProtocolError).
      const reason = (err as { reason?: unknown } | null)?.reason;
      if (typeof reason === "string") ev["reason"] = reason;
      this.#emit(ev);
    }
    else this.status(`error: ${message}`, true);
  }

  /** A status line: stderr, or above the prompt in interactive mode. */
  status(line: string, isError = false): void {
    if (this.#rl) this.#abovePrompt(line);
    else if (!this.#json || isError) process.stderr.write(line + "\n");
  }

  #emit(ev: CliEvent): void {
    const line = JSON.stringify({ time: new Date().toISOString(), ...ev });
    if (this.#rl) this.#abovePrompt(line);
    else process.stdout.write(line + "\n");
  }

  #abovePrompt(line: string): void {
    const out = process.stdout;
    clearLine(out, 0);
    cursorTo(out, 0);
    out.write(line + "\n");
    this.#rl?.prompt(true);
  }
}
