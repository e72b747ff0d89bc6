import type net from "node:net";
import { bufferView } from "../protocol/buffer-view.js";

/**
 * Reads from a plain TCP socket through Node's `onread` option, so that the bytes of a large
 * message can go from the kernel straight into the buffer that the application receives.
 *
 * Without `onread`, libuv reads into a fresh 64 KiB buffer and the WebSocket parser then copies
 * every byte of a message that spans reads into the message buffer: one extra pass over memory,
 * and most of the gap between a client and a raw socket at 1 MiB messages. With it:
 *
 * - while the consumer (the reader) offers a read target (the unfilled rest of a frame payload,
 *   see FrameParser.directTarget), the next read lands there and is reported with `onDirect`;
 * - otherwise the read lands in one bounce buffer shared by every socket of the process and is
 *   copied out into a slab (many small reads share one 64 KiB slab, so a retained slice pins no
 *   more than a default read buffer would), then emitted as an ordinary 'data' event.
 *
 * Sharing the bounce buffer is safe because Node reads into a socket's buffer and calls its
 * `onread` callback in one go, on the main thread; nothing is kept in it between reads. An idle
 * connection therefore owns no read buffer at all.
 */

/** Receives what a direct-read socket reads once a consumer is attached. */
export interface DirectReadSink {
  /** Memory the next read may fill in place, or undefined for an ordinary chunk. */
  readTarget?(): Uint8Array | undefined;
  /** `n` bytes were read into the start of the last target handed out (required with `readTarget`). */
  onDirect?(n: number): void;
  /**
   * Optional: take ordinary reads as a view of the shared bounce buffer, valid only during the
   * call (no copy, no allocation). A consumer that keeps bytes must copy them (the masq TLS
   * engine keeps at most a partial record).
   */
  onTransient?(view: Buffer): void;
}

const BOUNCE_SIZE = 64 * 1024;
const BOUNCE = Buffer.allocUnsafeSlow(BOUNCE_SIZE);
const SLAB_SIZE = 64 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let slabAb = slab.buffer;
let slabPos = 0;

/** A stable copy of `n` bounce bytes (the bounce buffer is overwritten by the next read). */
function copyOut(n: number): Buffer {
  if (n > SLAB_SIZE - slabPos) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    slabAb = slab.buffer;
    slabPos = 0;
  }
  BOUNCE.copy(slab, slabPos, 0, n);
  const out = bufferView(slabAb, slabPos, n);
  slabPos = (slabPos + n + 7) & ~7; // keep slices 8-byte aligned
  return out;
}

const kPort = Symbol("masq.directRead");
let directBytes = 0;
let transientBytes = 0;

/** Bytes read in place by every direct-read socket of the process so far (tests, diagnostics). */
export function directReadBytes(): number {
  return directBytes;
}

/** Bytes handed to `onTransient` consumers so far (tests, diagnostics). */
export function transientReadBytes(): number {
  return transientBytes;
}

/** The per-socket state: who consumes, and which target the socket currently holds. */
export class DirectReadPort {
  sink: DirectReadSink | undefined = undefined;
  /** The consumer's target handed to the socket for its next read (undefined: the bounce buffer). */
  pending: Uint8Array | undefined = undefined;

  /** Node's buffer generator: called after every read for the memory of the next one. */
  readonly next = (): Uint8Array => {
    const t = this.sink?.readTarget?.();
    this.pending = t;
    return t ?? BOUNCE;
  };
}

type PortSocket = net.Socket & { [kPort]?: DirectReadPort };

/** Node's `onread` callback (`this` is the socket). */
function onRead(this: PortSocket, n: number, buf: Uint8Array): void {
  const port = this[kPort]!;
  if (buf === port.pending) {
    port.pending = undefined;
    directBytes += n;
    port.sink!.onDirect!(n);
    return;
  }
  const sink = port.sink;
  if (sink?.onTransient !== undefined) {
    transientBytes += n;
    sink.onTransient(bufferView(BOUNCE.buffer, BOUNCE.byteOffset, n));
  } else {
    this.emit("data", copyOut(n));
  }
}

/** The `onread` option for `net.connect`, plus the port to attach with {@link attachDirectRead}. */
export function directReadOption(): { port: DirectReadPort; onread: net.OnReadOpts } {
  const port = new DirectReadPort();
  return { port, onread: { buffer: port.next, callback: onRead as unknown as net.OnReadOpts["callback"] } };
}

/** Marks `socket` as created with `port`'s `onread` option. */
export function attachDirectRead(socket: net.Socket, port: DirectReadPort): void {
  (socket as PortSocket)[kPort] = port;
}

/** The direct-read port of a socket created with {@link directReadOption}, if any. */
export function directReadPort(socket: unknown): DirectReadPort | undefined {
  return (socket as PortSocket | null)?.[kPort];
}
