import type { Duplex } from "node:stream";
import { WebSocketError } from "../errors.js";
import type { CaOption } from "./native-tls.js";

/** The shape of src/tls/index.js that transport uses (kept local so this module compiles without it). */
export interface MasqTlsModule {
  masqTlsConnect(
    socket: Duplex,
    opts: {
      host: string;
      servername?: string | false;
      alpn?: string[];
      rejectUnauthorized: boolean;
      ca?: CaOption;
      profile?: unknown;
      signal?: AbortSignal;
    },
  ): Promise<Duplex & { feedTransient?: (view: Buffer) => void }>;
}

/** Where the engine is imported from (relative to this file). Tests may point it elsewhere. */
export const masqTlsLoader = { specifier: "../tls/index.js" };

let cache: { specifier: string; module: Promise<MasqTlsModule> } | undefined;

/** Imports the masq TLS engine lazily; a missing or broken module becomes a clear WebSocketError. */
export async function loadMasqTls(): Promise<MasqTlsModule> {
  const specifier = masqTlsLoader.specifier;
  if (cache?.specifier !== specifier) {
    // A variable specifier keeps TypeScript from requiring the module at compile time.
    cache = { specifier, module: import(specifier) as Promise<MasqTlsModule> };
  }
  try {
    const mod = await cache.module;
    if (typeof mod.masqTlsConnect !== "function") throw new Error("masqTlsConnect is not exported");
    return mod;
  } catch (err) {
    cache = undefined;
    throw new WebSocketError(`The masq TLS engine is not available (tlsEngine: "masq"): ${(err as Error).message}`, 1006, {
      cause: err,
    });
  }
}
