/**
 * wreq-js 3 (Rust wreq via N-API): `session.websocket()` from a session with `insecure: true`
 * (needed only for the self-signed wss terminator; certificate checks are not part of the cases).
 * Its `send()` is fire-and-forget and chains one native call per message.
 */
import { createSession, type Session } from "wreq-js";
import { pkgVersion } from "./common.js";
import type { EventAdapter } from "./evented.js";

let session: Promise<Session> | undefined;

export const adapter: EventAdapter = {
  async connect(url) {
    session ??= createSession({ insecure: true });
    const ws = await (await session).websocket(url, { binaryType: "nodebuffer" });
    let handler: (len: number) => void = () => {};
    ws.onmessage = (ev) => {
      const d = ev.data as Buffer | string;
      handler(d.length);
    };
    ws.onerror = () => {};
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
    return { version: pkgVersion("wreq-js") };
  },
};
