/**
 * The standard WebSocket's outgoing side: messages in `send()` order, Blobs read before they go
 * (asynchronously, so everything sent after a Blob waits behind it), and the standard's
 * `bufferedAmount`: bytes of application data accepted by `send()` and not yet handed to the
 * socket (WebSockets standard, "bufferedAmount" getter).
 */
import type { AsyncWebSocket } from "../websocket/connection.js";
import { WsFlag } from "../websocket/flags.js";

/** One message waiting here: a string (TEXT), bytes already copied (BINARY) or a Blob (BINARY). */
interface Outgoing {
  data: string | Uint8Array | Blob;
  size: number;
}

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Feeds an {@link AsyncWebSocket} one message at a time: each `ws.send()` is awaited before the
 * next, so masq's send queue never holds a message this class has not accounted for, and its
 * message count (`sendQueueSize`) tells which of the handed messages are still waiting there.
 */
export class SendQueue {
  readonly #ws: AsyncWebSocket;
  #items: Array<Outgoing | undefined> = [];
  #head = 0;
  /** Bytes of messages still in #items. */
  #waiting = 0;
  /** Bytes of the message `ws.send()` is handling now (queued or waiting for room). */
  #inFlight = 0;
  /** Sizes of messages handed to masq's queue, oldest first; the front ones leave as it drains. */
  #handed: number[] = [];
  #handedHead = 0;
  #handedBytes = 0;
  #pumping = false;
  #stopped = false;
  #idleWaiters: Array<() => void> = [];
  /**
   * A message was accepted in this turn of the event loop: the standard's bufferedAmount counts
   * it until the event loop turns ("as of the last time the event loop reached step 1"), even
   * when masq wrote it to the socket at once.
   */
  #sentThisTurn = false;

  constructor(ws: AsyncWebSocket) {
    this.#ws = ws;
  }

  /** Queues a message of `size` bytes of application data; binary data must be a private copy. */
  push(data: string | Uint8Array | Blob, size: number): void {
    if (this.#stopped) return;
    this.#items.push({ data, size });
    this.#waiting += size;
    if (!this.#sentThisTurn) {
      this.#sentThisTurn = true;
      setImmediate(endTurn, this);
    }
    if (!this.#pumping) void this.#pump();
  }

  /** Bytes accepted and not yet handed to the socket. */
  get bufferedAmount(): number {
    if (!this.#sentThisTurn) this.#trim();
    return this.#waiting + this.#inFlight + this.#handedBytes;
  }

  /** Resolves once every message accepted so far went to masq's queue (or sending stopped). */
  whenIdle(): Promise<void> {
    if (!this.#pumping) return RESOLVED;
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** @internal the turn in which messages were accepted is over. */
  endTurn(): void {
    this.#sentThisTurn = false;
  }

  /** Forgets the handed messages masq has written since (its queue is FIFO). */
  #trim(): void {
    const inMasq = this.#ws.sendQueueSize;
    while (this.#handed.length - this.#handedHead > inMasq) this.#handedBytes -= this.#handed[this.#handedHead++]!;
    if (this.#handedHead > 1024 && this.#handedHead * 2 > this.#handed.length) {
      this.#handed = this.#handed.slice(this.#handedHead);
      this.#handedHead = 0;
    }
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#head < this.#items.length && !this.#stopped) {
        const item = this.#items[this.#head]!;
        let payload = item.data;
        if (typeof payload !== "string" && !(payload instanceof Uint8Array)) {
          // Reading a Blob is asynchronous; whatever was sent after it waits (order is kept).
          try {
            payload = new Uint8Array(await payload.arrayBuffer());
          } catch {
            this.#stopped = true;
            break;
          }
          if (this.#stopped) break;
        }
        this.#items[this.#head++] = undefined;
        this.#waiting -= item.size;
        this.#inFlight = item.size;
        try {
          await this.#ws.send(payload, typeof payload === "string" ? WsFlag.TEXT : WsFlag.BINARY);
        } catch {
          // The connection ended; its close path reports why (error and close events).
          this.#stopped = true;
          break;
        } finally {
          this.#inFlight = 0;
        }
        this.#handed.push(item.size);
        this.#handedBytes += item.size;
      }
    } finally {
      if (this.#head === this.#items.length) {
        this.#items = [];
        this.#head = 0;
      }
      this.#pumping = false;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}

function endTurn(q: SendQueue): void {
  q.endTurn();
}
