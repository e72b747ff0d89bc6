/** `ws` 8 with bufferutil (native masking), default options; the baseline every ratio divides by. */
import { createRequire } from "node:module";
import WebSocket from "ws";
import { pkgVersion } from "./common.js";
import type { EventAdapter, EventConn } from "./evented.js";

const require = createRequire(import.meta.url);

/**
 * ws loads bufferutil with a silent try/catch (and bufferutil itself silently falls back to JS),
 * so check the require cache for the native `.node` binary instead of trusting the install.
 */
export function bufferutilNative(): string | null {
  const hit = Object.keys(require.cache).find((k) => k.includes("bufferutil") && k.endsWith(".node"));
  return hit ?? null;
}

function wrap(ws: WebSocket): EventConn {
  let handler: (len: number) => void = () => {};
  ws.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
    handler(Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data instanceof ArrayBuffer ? data.byteLength : data.length);
  });
  ws.on("error", () => {});
  return {
    send: (d) => ws.send(d),
    sendWithCallback: (d, cb) => ws.send(d, cb),
    onMessage: (fn) => (handler = fn),
    close: () => ws.close(),
    closeAndWait: () =>
      new Promise<void>((resolve) => {
        ws.once("close", () => resolve());
        ws.close();
      }),
  };
}

export const adapter: EventAdapter = {
  async connect(url) {
    const ws = new WebSocket(url, { rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    return wrap(ws);
  },
  info() {
    const native = bufferutilNative();
    if (!native || process.env.WS_NO_BUFFER_UTIL) throw new Error("bufferutil native binding is not loaded by ws");
    return { version: pkgVersion("ws"), bufferutil: native.replace(/^.*node_modules\//, "") };
  },
};
