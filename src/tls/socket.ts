import { Duplex } from "node:stream";
import type net from "node:net";
import { Socket as NetSocket } from "node:net";
import type { PeerCertificate } from "node:tls";
import type { X509Certificate } from "node:crypto";
import { TlsError } from "../errors.js";
import { TlsClientEngine, type EngineOptions, type HelloBuilder } from "./engine.js";
import { validateChainCached } from "./chain-cache.js";

/** Output buffers up to this size stay with the socket even when it goes idle. */
const SCRATCH_KEEP = 64 * 1024;
/** A larger one is given back after the socket had nothing to write for this long. */
const SCRATCH_IDLE_MS = 250;

function releaseScratch(socket: MasqTlsSocket): void {
  socket.releaseScratch();
}

/** Smallest output that makes the socket keep a reusable output buffer. */
const SCRATCH_MIN = 16 * 1024;

/** Largest output buffer kept for reuse. */
const SCRATCH_MAX = 5 * 1024 * 1024;

/** Options of {@link connectEngine}: hello builder plus the validation policy. */
export interface EngineConnectOptions {
  hello: HelloBuilder;
  /** Name checked against the certificate; undefined skips the check. */
  verifyHost: string | undefined;
  rejectUnauthorized: boolean;
  ca?: string | Buffer | Array<string | Buffer>;
  signal?: AbortSignal;
  /** Test hooks (fixed randomness, key shares), the TLS 1.2 ticket callback and the session to resume. */
  engine?: Partial<Pick<EngineOptions, "random" | "sessionId" | "keyShare" | "onSessionTicket" | "resume12" | "clientCredentials" | "resume13" | "onTicket13">>;
}

/**
 * A TLS 1.3 or 1.2 connection over any Duplex, run by masq's own engine. Writes are batched into as few
 * records and socket writes as possible; every `data` chunk is a fresh Buffer.
 */
export class MasqTlsSocket extends Duplex {
  readonly encrypted = true;
  /** Negotiated ALPN protocol, or false. */
  alpnProtocol: string | false = false;
  #authorized = false;
  #authorizationError: TlsError | undefined;
  /** With rejectUnauthorized: false, the chain validation deferred until someone asks (see {@link deferAuthorization}). */
  #authorizationCheck: (() => void) | undefined;
  /** True when the server chain verified (false only with rejectUnauthorized: false). */
  get authorized(): boolean {
    this.#runAuthorizationCheck();
    return this.#authorized;
  }
  set authorized(v: boolean) {
    this.#authorizationCheck = undefined;
    this.#authorized = v;
  }
  /** Why the chain did not verify, when `authorized` is false. */
  get authorizationError(): TlsError | undefined {
    this.#runAuthorizationCheck();
    return this.#authorizationError;
  }
  set authorizationError(e: TlsError | undefined) {
    this.#authorizationCheck = undefined;
    this.#authorizationError = e;
  }

  /**
   * @internal With rejectUnauthorized: false nothing waits for the validation's result, so it
   * runs when `authorized` or `authorizationError` is first read (often never): `check` sets both.
   */
  deferAuthorization(check: () => void): void {
    this.#authorizationCheck = check;
  }

  #runAuthorizationCheck(): void {
    const check = this.#authorizationCheck;
    if (check === undefined) return;
    this.#authorizationCheck = undefined;
    check();
  }
  readonly #socket: Duplex;
  readonly #engine: TlsClientEngine;
  #paused = false;
  #readEnded = false;
  /** Output buffer reused across writes (net.Socket only, see #send). */
  #scratch: Buffer | undefined;
  readonly #reuseOutput: boolean;
  #scratchTimer: NodeJS.Timeout | undefined;
  /**
   * @internal Feeds server bytes whose memory is reused after the call (a shared read buffer):
   * the engine decrypts what it can and copies only a trailing partial record. Set by
   * {@link connectEngine}; a transport that reads the raw socket itself calls it once connected.
   */
  feedTransient: (view: Buffer) => void = () => {};

  /** @internal Use {@link masqTlsConnect}. */
  constructor(socket: Duplex, engineFactory: (self: MasqTlsSocket) => TlsClientEngine) {
    super({ allowHalfOpen: false, decodeStrings: true });
    this.#socket = socket;
    // Only a plain TCP socket: any JS Duplex (tunnels, TLS-in-TLS) may keep the buffer after cb.
    this.#reuseOutput = socket instanceof NetSocket && !("encrypted" in socket);
    this.#engine = engineFactory(this);
  }

  /** @internal */
  get engine(): TlsClientEngine {
    return this.#engine;
  }

  /** @internal Bytes of the output buffer kept for reuse (0 when none). */
  get scratchBytes(): number {
    return this.#scratch?.length ?? 0;
  }

  /** @internal */
  get rawSocket(): Duplex {
    return this.#socket;
  }

  /** Like `net.Socket#setNoDelay`, passed to the underlying socket when it has one. */
  setNoDelay(noDelay = true): this {
    (this.#socket as Partial<net.Socket>).setNoDelay?.(noDelay);
    return this;
  }

  /** Like `net.Socket#setKeepAlive`, passed to the underlying socket when it has one. */
  setKeepAlive(enable = false, initialDelay = 0): this {
    (this.#socket as Partial<net.Socket>).setKeepAlive?.(enable, initialDelay);
    return this;
  }

  get remoteAddress(): string | undefined {
    return (this.#socket as Partial<net.Socket>).remoteAddress;
  }

  get remotePort(): number | undefined {
    return (this.#socket as Partial<net.Socket>).remotePort;
  }

  get localAddress(): string | undefined {
    return (this.#socket as Partial<net.Socket>).localAddress;
  }

  get localPort(): number | undefined {
    return (this.#socket as Partial<net.Socket>).localPort;
  }

  /** Negotiated cipher suite (`getCipher()`-like). */
  getCipher(): { name: string; standardName: string; version: string } {
    const n = this.#engine.cipherSuite ?? "";
    return { name: n, standardName: n, version: this.getProtocol() };
  }

  /** True when the handshake resumed a session (like `tls.TLSSocket#isSessionReused`). */
  isSessionReused(): boolean {
    return this.#engine.resumed;
  }

  /** "TLSv1.3" or "TLSv1.2", as the server chose. */
  getProtocol(): string {
    return this.#engine.version === 0x0303 ? "TLSv1.2" : "TLSv1.3";
  }

  /** The server certificate in Node's legacy shape (`{}` before the handshake). */
  getPeerCertificate(detailed = false): PeerCertificate | Record<string, never> {
    const chain = this.#engine.peerCertificates;
    if (chain.length === 0) return {};
    const objs = chain.map((c: X509Certificate) => c.toLegacyObject() as PeerCertificate & { issuerCertificate?: PeerCertificate });
    if (detailed) {
      for (let i = 0; i < objs.length; i++) objs[i]!.issuerCertificate = objs[i + 1] ?? objs[i]!;
    }
    return objs[0]!;
  }

  /** @internal data from the engine */
  deliver(chunk: Buffer): void {
    if (!this.push(chunk) && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  /** @internal end of the server's data */
  deliverEnd(): void {
    if (this.#readEnded) return;
    this.#readEnded = true;
    this.push(null);
  }

  override _read(): void {
    if (this.#paused) {
      this.#paused = false;
      this.#socket.resume();
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#send([chunk], cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    const list = new Array<Buffer>(chunks.length);
    for (let i = 0; i < chunks.length; i++) list[i] = chunks[i]!.chunk;
    this.#send(list, cb);
  }

  #send(list: Buffer[], cb: (err?: Error | null) => void): void {
    let out: Buffer;
    try {
      out = this.#engine.encrypt(list, this.#scratch);
    } catch (e) {
      cb(e as Error);
      return;
    }
    if (out.length === 0) {
      cb();
      return;
    }
    if (this.#socket.destroyed || !this.#socket.writable) {
      cb(new TlsError("TLS socket is closed", { alert: "close_notify", reason: "connection_closed" }));
      return;
    }
    if (this.#reuseOutput) {
      // A net.Socket calls back once libuv handed the bytes to the kernel, and Writable does not
      // call _write again before that: the next batch can reuse this buffer (less GC at 1 MiB).
      // Only an output of SCRATCH_MIN bytes or more earns a reusable buffer: small records come
      // from Node's shared pool, and an idle connection that wrote only small ones (an upgrade
      // request, a few messages) then holds no 64 KiB buffer (issue 11: idle RSS per connection).
      if (out.buffer !== this.#scratch?.buffer && out.length <= SCRATCH_MAX && out.length >= SCRATCH_MIN) this.#scratch = Buffer.allocUnsafeSlow(Math.max(out.length, 64 * 1024));
      else if (out.length > SCRATCH_MAX) this.#scratch = undefined;
      if (this.#scratch !== undefined && this.#scratch.length > SCRATCH_KEEP) {
        // Keep a large scratch while writes follow each other; once the socket has had nothing
        // to write for SCRATCH_IDLE_MS, give it back, so an idle connection holds no megabytes.
        let batch = 0; // plaintext bytes of this write, as counted in writableLength
        for (let i = 0; i < list.length; i++) batch += list[i]!.length;
        this.#socket.write(out, (err?: Error | null) => {
          if (this.writableLength <= batch) this.#armScratchRelease();
          cb(err);
        });
        return;
      }
    }
    this.#socket.write(out, cb);
  }

  #armScratchRelease(): void {
    if (this.#scratchTimer === undefined) {
      this.#scratchTimer = setTimeout(releaseScratch, SCRATCH_IDLE_MS, this);
      this.#scratchTimer.unref?.();
    } else this.#scratchTimer.refresh();
  }

  /** @internal the idle timer's end: drop a large output buffer unless writes are pending. */
  releaseScratch(): void {
    if (this.writableLength === 0 && (this.#scratch?.length ?? 0) > SCRATCH_KEEP) this.#scratch = undefined;
  }

  override _final(cb: (err?: Error | null) => void): void {
    const s = this.#socket;
    if (s.writable && !s.destroyed && this.#engine.connected) {
      try {
        s.write(this.#engine.closeNotify());
      } catch {
        // ignore: we are closing anyway
      }
      s.end();
    } else if (s.writable) {
      s.end();
    }
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.#scratchTimer !== undefined) clearTimeout(this.#scratchTimer);
    this.#scratch = undefined;
    this.#socket.destroy();
    cb(err);
  }
}

function uncork(socket: Duplex): void {
  socket.uncork();
}

/** Write what remains, then close the socket (so that our alert reaches the server). */
function closeAfterFlush(socket: Duplex): void {
  if (socket.destroyed) return;
  const t = setTimeout(() => socket.destroy(), 2000);
  t.unref?.();
  socket.once("finish", () => {
    clearTimeout(t);
    socket.destroy();
  });
  socket.once("close", () => clearTimeout(t));
  socket.once("error", () => {
    clearTimeout(t);
    socket.destroy();
  });
  if (socket.writable) socket.end();
  else socket.destroy();
}

/** Run the handshake over `socket` and resolve with the connected {@link MasqTlsSocket}. */
export function connectEngine(socket: Duplex, o: EngineConnectOptions): Promise<MasqTlsSocket> {
  // The closures below live as long as the connection (socket listeners, verifyChain), and a
  // closure keeps every variable its scope shares: they never read `o`, whose hello builder
  // (GREASE and ECH state) and offered tickets belong to the handshake alone. `handshakeOnly`
  // is let go once the engine holds it (the engine drops it in turn when connected).
  const { signal, verifyHost, rejectUnauthorized, ca } = o;
  let handshakeOnly: Pick<EngineConnectOptions, "hello" | "engine"> | undefined = { hello: o.hello, ...(o.engine ? { engine: o.engine } : {}) };
  return new Promise<MasqTlsSocket>((resolve, reject) => {
    if (signal?.aborted) {
      socket.destroy();
      reject(signal.reason);
      return;
    }
    let settled = false;
    /** True once the caller holds the TlsSocket: only then may it emit errors. */
    let exposed = false;
    let tls!: MasqTlsSocket;
    const fail = (err: unknown): void => {
      if (settled) {
        // A failure in the same read that completed the handshake comes before the caller's
        // `await` resumed and attached its 'error' listener: give it that turn first.
        if (exposed && tls.listenerCount("error") === 0) setImmediate(() => tls.destroy(err as Error));
        else if (exposed) tls.destroy(err as Error);
        return;
      }
      settled = true;
      cleanup();
      reject(err);
    };
    const onAbort = (): void => {
      if (settled) return;
      settled = true;
      cleanup();
      socket.destroy();
      tls?.destroy();
      reject(signal!.reason);
    };
    const cleanup = (): void => signal?.removeEventListener("abort", onAbort);
    signal?.addEventListener("abort", onAbort, { once: true });

    tls = new MasqTlsSocket(socket, (self) => {
      // Locals of this arrow, not of the executor (whose scope the connection's closures share).
      const { hello, engine } = handshakeOnly!;
      handshakeOnly = undefined;
      return new TlsClientEngine(
        {
          hello,
          ...engine,
          verifyChain: (chain) => {
            // Validated at the handshake's time, now or (rejectUnauthorized: false) when asked.
            const opts = { host: verifyHost, now: Date.now(), ...(ca !== undefined ? { ca } : {}) };
            if (!rejectUnauthorized) {
              self.deferAuthorization(() => {
                try {
                  validateChainCached(chain, opts);
                  self.authorized = true;
                } catch (e) {
                  // V8 keeps an error's stack as call-site records (each frame's receiver and
                  // function) until `.stack` is first read: kept for the connection's life, this
                  // error would pin whatever was on the stack. Reading it now leaves only the string.
                  void (e as Error).stack;
                  self.authorizationError = e as TlsError;
                }
              });
              return;
            }
            validateChainCached(chain, opts); // throws: the handshake fails
            self.authorized = true;
          },
        },
        {
          send: (bytes) => {
            if (!socket.destroyed && socket.writable) socket.write(bytes);
          },
          data: (chunk) => self.deliver(chunk),
          connected: () => {
            self.alpnProtocol = self.engine.alpnProtocol;
            if (settled) return;
            settled = true;
            exposed = true;
            cleanup();
            resolve(self);
          },
          closed: () => self.deliverEnd(),
        },
      );
    });

    let broken = false;
    const feed = (chunk: Buffer, transient: boolean): void => {
      if (broken || tls.destroyed) return;
      // During the handshake one read can produce several records (CCS, the client Finished, a
      // Certificate flight): corked, they leave in one write instead of one syscall each.
      const cork = !settled;
      if (cork) socket.cork();
      try {
        tls.engine.receive(chunk, transient);
      } catch (e) {
        broken = true;
        closeAfterFlush(socket);
        fail(e);
      } finally {
        // The read that completed the handshake leaves our Finished corked until the code that
        // the resolved promise resumes has written its first bytes (the HTTP upgrade request):
        // one write for both, as browsers send them, instead of a syscall each.
        if (cork && !broken && tls.engine.connected) setImmediate(uncork, socket);
        else if (cork) socket.uncork();
      }
    };
    tls.feedTransient = (view) => feed(view, true);
    socket.on("data", (chunk: Buffer) => feed(chunk, false));
    socket.on("end", () => {
      if (!settled) {
        fail(new TlsError("the server closed the connection during the TLS handshake", { alert: "ECONNRESET", reason: "connection_closed" }));
        socket.destroy();
        return;
      }
      if (exposed) tls.deliverEnd();
    });
    socket.on("error", (err: Error) => {
      if (!settled) {
        fail(new TlsError(`socket error during the TLS handshake: ${err.message}`, { cause: err, reason: "connection_closed" }));
        socket.destroy();
        return;
      }
      if (exposed) tls.destroy(err);
    });
    socket.on("close", () => {
      if (!settled) {
        fail(new TlsError("the connection closed during the TLS handshake", { alert: "ECONNRESET", reason: "connection_closed" }));
        return;
      }
      if (!exposed) return;
      tls.deliverEnd();
      if (!tls.writableFinished && !tls.destroyed && tls.writableLength > 0) tls.destroy();
    });

    try {
      tls.engine.start();
    } catch (e) {
      closeAfterFlush(socket);
      fail(e);
    }
  });
}
