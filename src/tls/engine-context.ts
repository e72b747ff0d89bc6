/**
 * The handshake context masq's TLS engine hands its handshake states (handshake.ts'
 * HandshakeContext): one small object per connection whose accessors reach the engine's private
 * state through functions the engine binds once (engine.ts, static block).
 */
import type { EngineOptions, EngineSink, HandshakeContext, Negotiated } from "./handshake.js";
import type { Transcript } from "./key-schedule.js";
import { ContentType, MAX_PLAINTEXT } from "./constants.js";
import { plaintextRecord, type RecordOpener, type RecordSealer } from "./record.js";
import type { TlsClientEngine } from "./engine.js";

/** The engine's private state that {@link EngineContext} reads and writes (bound in TlsClientEngine's static block). */
export interface EngineAccess {
  opts(e: TlsClientEngine): EngineOptions;
  transcript(e: TlsClientEngine): Transcript;
  enc(e: TlsClientEngine): RecordSealer | undefined;
  setEnc(e: TlsClientEngine, v: RecordSealer | undefined): void;
  dec(e: TlsClientEngine): RecordOpener | undefined;
  setDec(e: TlsClientEngine, v: RecordOpener | undefined): void;
  pendingHandshakeBytes(e: TlsClientEngine): number;
  sink(e: TlsClientEngine): EngineSink;
  /** The handshake completed. */
  open(e: TlsClientEngine): void;
}
let ACCESS: EngineAccess | undefined;

/** @internal Called once, from TlsClientEngine's static block (the only code that sees its private fields). */
export function bindEngineAccess(access: EngineAccess): void {
  ACCESS = access;
}

function access(): EngineAccess {
  if (ACCESS === undefined) throw new Error("TlsClientEngine has not bound its state access");
  return ACCESS;
}

/**
 * What the handshake states see of their engine. A class, so that its accessors live once on the
 * prototype: the object literal it replaces carried twelve closures and, for its getters and
 * setters, a dictionary-mode property store, about 1.7 KiB per connection for as long as the
 * connection lives (issue 11: idle memory per connection).
 */
export class EngineContext implements HandshakeContext {
  readonly #engine: TlsClientEngine;
  readonly info: Negotiated;

  constructor(engine: TlsClientEngine, info: Negotiated) {
    this.#engine = engine;
    this.info = info;
  }
  get opts(): EngineOptions {
    return access().opts(this.#engine);
  }
  get transcript(): Transcript {
    return access().transcript(this.#engine);
  }
  get enc(): RecordSealer | undefined {
    return access().enc(this.#engine);
  }
  set enc(v: RecordSealer | undefined) {
    access().setEnc(this.#engine, v);
  }
  get dec(): RecordOpener | undefined {
    return access().dec(this.#engine);
  }
  set dec(v: RecordOpener | undefined) {
    access().setDec(this.#engine, v);
  }
  get pendingHandshakeBytes(): number {
    return access().pendingHandshakeBytes(this.#engine);
  }
  send(bytes: Buffer): void {
    access().sink(this.#engine).send(bytes);
  }
  sendHandshake(messages: Buffer, recordVersion?: number): void {
    const sink = access().sink(this.#engine);
    const enc = access().enc(this.#engine);
    for (let o = 0; o < messages.length; o += MAX_PLAINTEXT) {
      const part = messages.subarray(o, Math.min(messages.length, o + MAX_PLAINTEXT));
      sink.send(enc ? enc.seal(ContentType.HANDSHAKE, part) : plaintextRecord(ContentType.HANDSHAKE, part, recordVersion));
    }
  }
  connected(): void {
    access().open(this.#engine);
  }
  keyUpdate(requestPeer: boolean): Buffer {
    return this.#engine.keyUpdate(requestPeer);
  }
}
