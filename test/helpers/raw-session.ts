import { AsyncSession, type SessionOptions } from "../../src/index.js";
import { startRawServer, type RawConn, type RawServer, type RawServerOptions } from "./raw-server.js";

/**
 * Runs `body` with a raw server (`handler` scripts each connection) and a fresh session, then
 * terminates every connection and closes both, whatever `body` did.
 */
export async function withRawSession(
  handler: (c: RawConn) => void | Promise<void>,
  body: (server: RawServer, session: AsyncSession) => Promise<void>,
  opts: { server?: RawServerOptions; session?: SessionOptions } = {},
): Promise<void> {
  const server = await startRawServer(handler, opts.server);
  const session = new AsyncSession({ timeout: 5000, ...opts.session });
  try {
    await body(server, session);
  } finally {
    for (const ws of session.connections) ws.terminate();
    await session.close();
    await server.close();
  }
}
