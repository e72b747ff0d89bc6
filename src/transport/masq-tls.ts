import { WebSocketError } from "../errors.js";
import type { masqTlsConnect } from "../tls/index.js";

/**
 * The part of src/tls/index.js that the transport uses, typed by the module itself. The import
 * above is type-only (erased from the JavaScript), so the engine is still loaded lazily, by
 * {@link loadMasqTls}, only when a connection asks for it.
 */
export interface MasqTlsModule {
  masqTlsConnect: typeof masqTlsConnect;
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
