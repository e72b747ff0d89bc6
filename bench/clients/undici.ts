/** undici 7's WHATWG `WebSocket` (binaryType "arraybuffer": its default "blob" would add a copy). */
import { Agent, WebSocket } from "undici";
import { pkgVersion } from "./common.js";
import type { EventAdapter } from "./evented.js";

// Only used for wss:// against the self-signed terminator certificate.
const insecure = new Agent({ connect: { rejectUnauthorized: false } });

export const adapter: EventAdapter = {
  async connect(url) {
    const ws = url.startsWith("wss:") ? new WebSocket(url, { dispatcher: insecure }) : new WebSocket(url);
    ws.binaryType = "arraybuffer";
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = (e) => reject(new Error(`undici connect failed: ${String((e as { message?: string }).message ?? e.type)}`));
    });
    ws.onerror = null;
    let handler: (len: number) => void = () => {};
    ws.onmessage = (ev) => {
      const d = ev.data as ArrayBuffer | string;
      handler(typeof d === "string" ? d.length : d.byteLength);
    };
    return {
      send: (d) => ws.send(d),
      onMessage: (fn) => (handler = fn),
      close: () => ws.close(),
      closeAndWait: () =>
        new Promise<void>((resolve) => {
          ws.onclose = () => resolve();
          ws.close();
        }),
    };
  },
  info() {
    return { version: pkgVersion("undici") };
  },
};
