/**
 * The `masq` command's flags (node:util parseArgs), its help text and its exit codes.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { profileNames } from "../impersonate/index.js";
import type { SessionOptions } from "../session.js";

/** Exit status by failure class (documented in `--help` and the README). */
export const ExitCode = {
  /** The connection closed cleanly (either side), or the work was done and we closed it cleanly. */
  OK: 0,
  /** Anything not classified below. */
  ERROR: 1,
  /** Bad command line. */
  USAGE: 2,
  /** The server refused or botched the upgrade (HTTP status other than 101, bad accept key, ...). */
  HANDSHAKE: 3,
  /** TLS failed (certificate, alert, protocol). */
  TLS: 4,
  /** The proxy failed or refused (CONNECT status, SOCKS reply, proxy unreachable). */
  PROXY: 5,
  /** The connect timeout ran out. */
  TIMEOUT: 6,
  /** The peer broke the WebSocket protocol (close 1002 / 1007 / 1009 sent by masq). */
  PROTOCOL: 7,
  /** The TCP connection could not be made or was lost without a close frame. */
  CONNECTION: 8,
} as const;

/** What the command line asked for. */
export interface CliOptions {
  url: string;
  execute: string[];
  /** Seconds to wait after the input is done (undefined: default rules, see help). */
  wait: number | undefined;
  count: number | undefined;
  json: boolean;
  verbose: boolean;
  binary: "hex" | "base64";
  connect: SessionOptions;
}

/** The result of parsing: run, print something and exit, or a usage error. */
export type Parsed = { kind: "run"; options: CliOptions } | { kind: "print"; text: string } | { kind: "usage"; message: string };

/** Profile names, whether the catalogue exports them as an array or as a function. */
export function impersonateNames(): string[] {
  const names = profileNames as unknown as string[] | (() => string[]);
  return typeof names === "function" ? names() : [...names];
}

export const HELP = `Usage: masq [options] <url>

A WebSocket client: interactive when stdin is a terminal, otherwise it sends each line of
stdin (or each -x message) and prints what arrives.

Messages:
  -x, --execute MSG        send MSG once connected (repeatable, in order), then wait and close
  -w, --wait SECONDS       after the last message sent: wait this long for replies, then close
                           (default 2; with --count and no --wait: no limit)
  -n, --count N            exit after N incoming messages (closing cleanly)
      --json               one JSON object per line per event:
                           {"time","direction":"in|out|local","type","data",...}
      --binary hex|base64  how a message that is not valid UTF-8 is printed (default hex)
  -v, --verbose            print the handshake response (status and headers) to stderr

Connection:
  -H, --header "N: V"      add a request header (repeatable)
      --cookie "a=1; b=2"  send cookies (repeatable)
      --origin URL         Origin header
  -s, --subprotocol P      offer a subprotocol (repeatable)
      --impersonate NAME   a browser's TLS ClientHello and headers (see --list-impersonate)
      --proxy URL          http://, https://, socks4://, socks4a://, socks5://, socks5h:// proxy
      --compress           offer permessage-deflate
      --ca FILE            trust the PEM certificate(s) in FILE (besides the system's roots)
  -k, --insecure           do not verify the server's certificate
      --timeout SECONDS    connect timeout (default 30)

Interactive commands:
  /ping [data]             send a ping
  /close [code] [reason]   close with that code (default 1000) and reason
  /quit                    close (1000) and exit
  (a line starting with "//" sends the text after the first "/")

Other:
      --list-impersonate   print the impersonation profiles and exit
  -h, --help               print this help and exit

Exit status:
  0 clean close   1 other error   2 usage   3 handshake refused   4 TLS   5 proxy
  6 timeout       7 protocol error   8 connection refused or lost (no close frame)
`;

/** Parses argv (without node and the script). */
export function parseCli(argv: string[]): Parsed {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        execute: { type: "string", short: "x", multiple: true },
        wait: { type: "string", short: "w" },
        count: { type: "string", short: "n" },
        json: { type: "boolean" },
        binary: { type: "string" },
        verbose: { type: "boolean", short: "v" },
        header: { type: "string", short: "H", multiple: true },
        cookie: { type: "string", multiple: true },
        origin: { type: "string" },
        subprotocol: { type: "string", short: "s", multiple: true },
        impersonate: { type: "string" },
        proxy: { type: "string" },
        compress: { type: "boolean" },
        ca: { type: "string" },
        insecure: { type: "boolean", short: "k" },
        timeout: { type: "string" },
        "list-impersonate": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    return { kind: "usage", message: (err as Error).message };
  }
  if (values.help) return { kind: "print", text: HELP };
  if (values["list-impersonate"]) return { kind: "print", text: impersonateNames().join("\n") + "\n" };
  if (positionals.length !== 1) {
    return { kind: "usage", message: positionals.length === 0 ? "missing <url>" : `expected one <url>, got ${positionals.length} arguments` };
  }
  const url = positionals[0]!;
  if (!/^(wss?|https?):\/\//i.test(url)) return { kind: "usage", message: `the URL must start with ws://, wss://, http:// or https://: ${url}` };

  const wait = values.wait === undefined ? undefined : Number(values.wait);
  if (wait !== undefined && !(wait >= 0)) return { kind: "usage", message: `--wait takes a number of seconds >= 0, got ${values.wait}` };
  const count = values.count === undefined ? undefined : Number(values.count);
  if (count !== undefined && !(Number.isInteger(count) && count >= 1)) return { kind: "usage", message: `--count takes an integer >= 1, got ${values.count}` };
  const binary = values.binary ?? "hex";
  if (binary !== "hex" && binary !== "base64") return { kind: "usage", message: `--binary takes hex or base64, got ${binary}` };
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeout !== undefined && !(timeout > 0)) return { kind: "usage", message: `--timeout takes a number of seconds > 0, got ${values.timeout}` };

  const headers: Array<[string, string]> = [];
  for (const h of values.header ?? []) {
    const colon = h.indexOf(":");
    if (colon <= 0) return { kind: "usage", message: `--header takes "Name: value", got ${JSON.stringify(h)}` };
    headers.push([h.slice(0, colon).trim(), h.slice(colon + 1).trim()]);
  }
  const cookies: Record<string, string> = {};
  for (const c of values.cookie ?? []) {
    for (const part of c.split(";")) {
      const p = part.trim();
      if (p === "") continue;
      const eq = p.indexOf("=");
      if (eq <= 0) return { kind: "usage", message: `--cookie takes "name=value[; name=value]", got ${JSON.stringify(c)}` };
      cookies[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
    }
  }
  if (values.impersonate !== undefined) {
    const known = impersonateNames();
    if (!known.includes(values.impersonate.toLowerCase())) {
      return { kind: "usage", message: `unknown --impersonate profile ${JSON.stringify(values.impersonate)}; known: ${known.join(", ")}` };
    }
  }
  let ca: string | undefined;
  if (values.ca !== undefined) {
    try {
      ca = readFileSync(values.ca, "utf8");
    } catch (err) {
      return { kind: "usage", message: `--ca: cannot read ${values.ca}: ${(err as Error).message}` };
    }
  }

  const connect: SessionOptions = {};
  if (headers.length > 0) connect.headers = headers;
  if (Object.keys(cookies).length > 0) connect.cookies = cookies;
  if (values.origin !== undefined) connect.origin = values.origin;
  if (values.subprotocol !== undefined) connect.protocols = values.subprotocol;
  if (values.impersonate !== undefined) connect.impersonate = values.impersonate;
  if (values.proxy !== undefined) connect.proxy = values.proxy;
  if (values.compress) connect.compress = true;
  if (ca !== undefined) connect.ca = ca;
  if (values.insecure) connect.verify = false;
  if (timeout !== undefined) connect.timeout = timeout * 1000;

  return {
    kind: "run",
    options: {
      url,
      execute: values.execute ?? [],
      wait,
      count,
      json: values.json ?? false,
      verbose: values.verbose ?? false,
      binary,
      connect,
    },
  };
}
