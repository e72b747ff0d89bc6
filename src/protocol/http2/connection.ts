/**
 * A sans-I/O HTTP/2 client connection (RFC 9113) for extended CONNECT streams (RFC 8441): the
 * I/O layer feeds it received bytes and gets events back; it asks it to open streams, send data
 * or reset, and writes whatever {@link Http2ClientConnection.takeOutput} returns. No sockets, no
 * timers: timeouts (e.g. for the server's SETTINGS) belong to the caller.
 */
import { H2ConnectionError, FrameReader, FrameType, Flag, Setting, ErrorCode, PREFACE, MAX_WINDOW, DEFAULT_MAX_FRAME_SIZE,
  encodePriority, encodeSettings, encodeWindowUpdate, encodePing, encodeRstStream, encodeGoaway, encodeHeaders,
  encodeFrame, frameHeader, type Frame, type PriorityFields } from "./frames.js";
import { HpackDecoder, HpackEncoder, type HeaderField } from "./hpack.js";
import { HeaderBlockAssembler } from "./header-block.js";
import type { Http2ClientOptions, Http2Event } from "./events.js";

export type { Http2ClientOptions, Http2Event } from "./events.js";
import { parseSettings } from "./settings.js";

interface StreamState {
  sendWindow: number;
  recvWindow: number;
  /** Received octets consumed but not yet given back by WINDOW_UPDATE. */
  recvUnacked: number;
  localEnded: boolean;
  remoteEnded: boolean;
  responded: boolean;
}

/** RFC 9113 §6.9.2: every window starts at 65 535 until SETTINGS say otherwise. */
const DEFAULT_WINDOW = 65535;

/** The client side of one HTTP/2 connection. */
export class Http2ClientConnection {
  readonly #opts: Http2ClientOptions;
  readonly #reader: FrameReader;
  readonly #encoder = new HpackEncoder();
  readonly #decoder: HpackDecoder;
  readonly #streams = new Map<number, StreamState>();
  #out: Buffer[] = [];
  #nextStreamId: number;
  /** Our SETTINGS_INITIAL_WINDOW_SIZE: each stream's starting receive window. */
  readonly #localInitialWindow: number;
  /** What a stream's receive window is kept at (initial + stream WINDOW_UPDATE). */
  readonly #streamTarget: number;
  #connRecvWindow: number;
  #connRecvUnacked = 0;
  readonly #connTarget: number;
  #connSendWindow = DEFAULT_WINDOW;
  #peerInitialWindow = DEFAULT_WINDOW;
  #peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  #peerMaxConcurrent = Infinity;
  #peerSettings = 0;
  #extendedConnect = false;
  #goaway: { lastStreamId: number; code: number } | null = null;
  #sentGoaway = false;
  /** Header block being assembled from HEADERS + CONTINUATION. */
  readonly #block: HeaderBlockAssembler;
  #highestPeerSeen = 0;
  #replies = 0;

  constructor(opts: Http2ClientOptions) {
    this.#opts = opts;
    const local = new Map(opts.settings.map(([k, v]) => [k, v]));
    this.#reader = new FrameReader(local.get(Setting.MAX_FRAME_SIZE) ?? DEFAULT_MAX_FRAME_SIZE);
    this.#decoder = new HpackDecoder({
      maxTableSize: local.get(Setting.HEADER_TABLE_SIZE) ?? 4096,
      maxHeaderListSize: opts.maxHeaderListSize ?? 256 * 1024,
    });
    this.#block = new HeaderBlockAssembler(opts.maxHeaderListSize ?? 256 * 1024);
    this.#localInitialWindow = local.get(Setting.INITIAL_WINDOW_SIZE) ?? DEFAULT_WINDOW;
    this.#streamTarget = Math.min(MAX_WINDOW, this.#localInitialWindow + opts.streamWindowUpdate);
    this.#connRecvWindow = DEFAULT_WINDOW + opts.connectionWindowUpdate;
    this.#connTarget = this.#connRecvWindow;
    this.#nextStreamId = opts.firstStreamId ?? 1;
    // The preface, then SETTINGS, the connection WINDOW_UPDATE and PRIORITY frames, in the browser's order.
    this.#out.push(PREFACE, encodeSettings(opts.settings));
    if (opts.connectionWindowUpdate > 0) this.#out.push(encodeWindowUpdate(0, opts.connectionWindowUpdate));
    for (const p of opts.priorityFrames ?? []) this.#out.push(encodePriority(p.streamId, p));
  }

  /** Bytes to write, in order (the preface first); empties the queue. */
  takeOutput(): Buffer[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  /** Whether bytes are waiting in {@link takeOutput}. */
  /**
   * Frames queued only because the peer asked (PING and SETTINGS acknowledgements), counted since
   * the start: the I/O layer uses it to notice a peer that makes us answer without reading.
   */
  get replies(): number {
    return this.#replies;
  }

  get hasOutput(): boolean {
    return this.#out.length > 0;
  }

  /** The server's first SETTINGS have arrived. */
  get ready(): boolean {
    return this.#peerSettings > 0;
  }

  /** The server sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3). */
  get extendedConnect(): boolean {
    return this.#extendedConnect;
  }

  /** GOAWAY was received or sent: no new streams. */
  get closing(): boolean {
    return this.#goaway !== null || this.#sentGoaway;
  }

  /** Streams not yet closed. */
  get activeStreams(): number {
    return this.#streams.size;
  }

  /** A new stream may be opened now (not closing, under the server's MAX_CONCURRENT_STREAMS, ids left). */
  canOpenStream(): boolean {
    return !this.closing && this.#streams.size < this.#peerMaxConcurrent && this.#nextStreamId <= MAX_WINDOW;
  }

  /**
   * Opens a stream with `headers` (pseudo-headers first, lower-case names, RFC 9113 §8.3) and
   * returns its id. HEADERS carry `priority` when given; the stream WINDOW_UPDATE follows.
   */
  openStream(headers: ReadonlyArray<readonly [string, string]>, priority: PriorityFields | null, endStream = false): number {
    if (!this.canOpenStream()) throw new H2ConnectionError(ErrorCode.REFUSED_STREAM, "no new stream can be opened on this connection");
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    const block = this.#encoder.encode(headers);
    this.#out.push(...encodeHeaders(id, block, { endStream, priority, maxFrameSize: this.#peerMaxFrameSize }));
    this.#streams.set(id, {
      sendWindow: this.#peerInitialWindow,
      recvWindow: this.#streamTarget,
      recvUnacked: 0,
      localEnded: endStream,
      remoteEnded: false,
      responded: false,
    });
    const wu = this.#streamTarget - this.#localInitialWindow;
    if (wu > 0) this.#out.push(encodeWindowUpdate(id, wu));
    return id;
  }

  /** How many DATA octets stream `id` may send now (the smaller of its window and the connection's). */
  sendCapacity(id: number): number {
    const s = this.#streams.get(id);
    if (!s || s.localEnded) return 0;
    return Math.max(0, Math.min(s.sendWindow, this.#connSendWindow));
  }

  /**
   * Queues as much of `data` as the windows allow as DATA frames (the payload is not copied; it
   * must stay unchanged until written) and returns the octets taken. `endStream` is set on the
   * last frame only if all of `data` was taken.
   */
  sendData(id: number, data: Buffer, endStream = false): number {
    const s = this.#streams.get(id);
    if (!s || s.localEnded) return 0;
    const n = Math.min(data.length, Math.max(0, Math.min(s.sendWindow, this.#connSendWindow)));
    let at = 0;
    while (at < n) {
      const len = Math.min(n - at, this.#peerMaxFrameSize);
      const last = at + len === n;
      const end = endStream && last && n === data.length;
      this.#out.push(frameHeader(len, FrameType.DATA, end ? Flag.END_STREAM : 0, id), data.subarray(at, at + len));
      at += len;
    }
    s.sendWindow -= n;
    this.#connSendWindow -= n;
    if (endStream && n === data.length) {
      if (n === 0) this.#out.push(frameHeader(0, FrameType.DATA, Flag.END_STREAM, id));
      s.localEnded = true;
      this.#maybeForget(id, s);
    }
    return n;
  }

  /**
   * The application consumed `n` received octets of stream `id`: give them back to the server as
   * a stream WINDOW_UPDATE once the acknowledgement threshold is reached (or the window is down
   * to the emergency level), so a reading stream never stalls and a stalled reader bounds what is
   * buffered to one window.
   */
  consumed(id: number, n: number): void {
    const s = this.#streams.get(id);
    if (!s || s.remoteEnded) return;
    s.recvUnacked += n;
    if (s.recvUnacked >= this.#ackThreshold(this.#streamTarget) || (s.recvUnacked > 0 && s.recvWindow <= this.#emergency)) {
      this.#out.push(encodeWindowUpdate(id, s.recvUnacked));
      s.recvWindow += s.recvUnacked;
      s.recvUnacked = 0;
    }
  }

  /** Resets stream `id` (RFC 9113 §6.4), e.g. CANCEL for an aborted WebSocket (RFC 8441 §5). */
  resetStream(id: number, code: number = ErrorCode.CANCEL): void {
    if (!this.#streams.delete(id)) return;
    this.#out.push(encodeRstStream(id, code));
  }

  /** Queues GOAWAY (RFC 9113 §6.8); no new streams afterwards. */
  goAway(code: number = ErrorCode.NO_ERROR, debug = ""): void {
    if (this.#sentGoaway) return;
    this.#sentGoaway = true;
    this.#out.push(encodeGoaway(this.#highestPeerSeen, code, Buffer.from(debug, "utf8")));
  }

  /** Queues a PING (8 octets). */
  ping(data: Uint8Array): void {
    this.#out.push(encodePing(data, false));
  }

  /** Feeds received bytes; returns what happened. Throws {@link H2ConnectionError} for a connection error (send GOAWAY, close). */
  receive(chunk: Buffer): Http2Event[] {
    const events: Http2Event[] = [];
    this.#reader.push(chunk, (f) => this.#frame(f, events));
    return events;
  }

  #frame(f: Frame, ev: Http2Event[]): void {
    if (this.#peerSettings === 0 && f.type !== FrameType.SETTINGS) {
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "the server's first frame is not SETTINGS (RFC 9113 §3.4)");
    }
    if (this.#block.pending && f.type !== FrameType.CONTINUATION) {
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "a header block was interrupted (RFC 9113 §6.10)");
    }
    switch (f.type) {
      case FrameType.DATA:
        return this.#data(f, ev);
      case FrameType.HEADERS:
      case FrameType.CONTINUATION:
        return this.#headers(f, ev);
      case FrameType.PRIORITY:
        if (f.payload.length !== 5) this.#streamError(f.streamId, ErrorCode.FRAME_SIZE_ERROR, ev);
        return;
      case FrameType.RST_STREAM: {
        if (f.streamId === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on stream 0");
        if (f.payload.length !== 4) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "RST_STREAM of the wrong size");
        if (this.#streams.delete(f.streamId)) ev.push({ type: "reset", streamId: f.streamId, code: f.payload.readUInt32BE(0), local: false });
        return;
      }
      case FrameType.SETTINGS:
        return this.#settings(f, ev);
      case FrameType.PUSH_PROMISE:
        throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE although push is disabled (RFC 9113 §8.4)");
      case FrameType.PING:
        if (f.streamId !== 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "PING on a stream");
        if (f.payload.length !== 8) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "PING of the wrong size");
        if (f.flags & Flag.ACK) ev.push({ type: "pong", data: Buffer.from(f.payload) });
        else {
          this.#out.push(encodePing(f.payload, true));
          this.#replies++;
        }
        return;
      case FrameType.GOAWAY: {
        if (f.streamId !== 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "GOAWAY on a stream");
        if (f.payload.length < 8) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "GOAWAY too short");
        const lastStreamId = f.payload.readUInt32BE(0) & MAX_WINDOW;
        const code = f.payload.readUInt32BE(4);
        this.#goaway = { lastStreamId, code };
        ev.push({ type: "goaway", lastStreamId, code, debug: f.payload.toString("utf8", 8, Math.min(f.payload.length, 8 + 256)) });
        return;
      }
      case FrameType.WINDOW_UPDATE:
        return this.#windowUpdate(f, ev);
      default:
        return; // §5.5: unknown frame types are ignored
    }
  }

  #data(f: Frame, ev: Http2Event[]): void {
    if (f.streamId === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "DATA on stream 0");
    const len = f.payload.length;
    // Flow control counts the whole payload, padding included (§6.9.1).
    this.#connRecvWindow -= len;
    if (this.#connRecvWindow < 0) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "the server overran the connection window");
    this.#connRecvUnacked += len;
    if (this.#connRecvUnacked > 0 && (this.#connRecvUnacked >= this.#ackThreshold(this.#connTarget) || this.#connRecvWindow <= this.#emergency)) {
      this.#out.push(encodeWindowUpdate(0, this.#connRecvUnacked));
      this.#connRecvWindow += this.#connRecvUnacked;
      this.#connRecvUnacked = 0;
    }
    const s = this.#streams.get(f.streamId);
    if (!s) {
      if (f.streamId >= this.#nextStreamId) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${f.streamId}`);
      return; // a stream we reset or finished: late frames are dropped (§5.1)
    }
    if (s.remoteEnded || !s.responded) return this.#streamError(f.streamId, ErrorCode.STREAM_CLOSED, ev);
    s.recvWindow -= len;
    if (s.recvWindow < 0) return this.#streamError(f.streamId, ErrorCode.FLOW_CONTROL_ERROR, ev);
    const data = this.#unpad(f);
    const end = (f.flags & Flag.END_STREAM) !== 0;
    if (len > data.length) this.consumed(f.streamId, len - data.length); // padding is never delivered
    if (end) {
      s.remoteEnded = true;
      this.#maybeForget(f.streamId, s);
    }
    ev.push({ type: "data", streamId: f.streamId, data, endStream: end });
  }

  #headers(f: Frame, ev: Http2Event[]): void {
    let fragment = f.payload;
    if (f.type === FrameType.HEADERS) {
      if (f.streamId === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "HEADERS on stream 0");
      fragment = this.#unpad(f);
      if (f.flags & Flag.PRIORITY) fragment = fragment.subarray(5);
    }
    const complete = this.#block.push(f, fragment);
    if (!complete) return;
    const { streamId, flags } = complete;
    let headers: HeaderField[];
    try {
      headers = this.#decoder.decode(complete.block);
    } catch (err) {
      // §4.3: a header block that cannot be decoded breaks the shared HPACK state.
      throw new H2ConnectionError(ErrorCode.COMPRESSION_ERROR, err instanceof Error ? err.message : String(err));
    }
    const s = this.#streams.get(streamId);
    if (!s) {
      if (streamId >= this.#nextStreamId || streamId % 2 === 0) {
        throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on stream ${streamId}, which we never opened`);
      }
      return;
    }
    const endStream = (flags & Flag.END_STREAM) !== 0;
    const statusText = headers.find(([n]) => n === ":status")?.[1];
    const status = statusText !== undefined && /^\d{3}$/.test(statusText) ? Number(statusText) : 0;
    if (!s.responded) {
      if (status === 0) return this.#streamError(streamId, ErrorCode.PROTOCOL_ERROR, ev);
      if (status < 200) return; // §8.1: informational responses precede the final one
      s.responded = true;
    } else if (!endStream) {
      return this.#streamError(streamId, ErrorCode.PROTOCOL_ERROR, ev); // trailers must end the stream
    }
    if (endStream) {
      s.remoteEnded = true;
      this.#maybeForget(streamId, s);
    }
    ev.push({ type: "headers", streamId, status, headers, endStream, trailers: status === 0 });
  }

  #settings(f: Frame, ev: Http2Event[]): void {
    if (f.streamId !== 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "SETTINGS on a stream");
    if (f.flags & Flag.ACK) {
      if (f.payload.length !== 0) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload");
      return;
    }
    for (const [id, value] of parseSettings(f.payload)) {
      switch (id) {
        case Setting.HEADER_TABLE_SIZE:
          this.#encoder.setMaxTableSize(Math.min(value, 65536));
          break;
        case Setting.INITIAL_WINDOW_SIZE: {
          // §6.9.2: the change applies to every open stream's window, which may go negative.
          const delta = value - this.#peerInitialWindow;
          this.#peerInitialWindow = value;
          for (const s of this.#streams.values()) s.sendWindow += delta;
          if (delta > 0) for (const sid of this.#streams.keys()) ev.push({ type: "window", streamId: sid });
          break;
        }
        case Setting.MAX_FRAME_SIZE:
          this.#peerMaxFrameSize = value;
          break;
        case Setting.MAX_CONCURRENT_STREAMS:
          this.#peerMaxConcurrent = value;
          break;
        case Setting.ENABLE_CONNECT_PROTOCOL:
          // RFC 8441 §3: never withdrawn once sent.
          if (this.#extendedConnect && value === 0) {
            throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "SETTINGS_ENABLE_CONNECT_PROTOCOL withdrawn");
          }
          this.#extendedConnect = value === 1;
          break;
        default:
          break; // ENABLE_PUSH from a server is meaningless; unknown ids are ignored (§6.5.2)
      }
    }
    this.#peerSettings++;
    this.#out.push(encodeSettings([], true));
    this.#replies++;
    ev.push({ type: "settings", first: this.#peerSettings === 1 });
  }

  #windowUpdate(f: Frame, ev: Http2Event[]): void {
    if (f.payload.length !== 4) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "WINDOW_UPDATE of the wrong size");
    const inc = f.payload.readUInt32BE(0) & MAX_WINDOW;
    if (f.streamId === 0) {
      if (inc === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0 on the connection");
      this.#connSendWindow += inc;
      if (this.#connSendWindow > MAX_WINDOW) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "connection window above 2^31-1");
      ev.push({ type: "window", streamId: 0 });
      return;
    }
    const s = this.#streams.get(f.streamId);
    if (!s) return;
    if (inc === 0) return this.#streamError(f.streamId, ErrorCode.PROTOCOL_ERROR, ev);
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) return this.#streamError(f.streamId, ErrorCode.FLOW_CONTROL_ERROR, ev);
    ev.push({ type: "window", streamId: f.streamId });
  }

  /** §6.1/§6.2: strips padding; a pad length beyond the payload is a connection error. */
  #unpad(f: Frame): Buffer {
    if (!(f.flags & Flag.PADDED)) return f.payload;
    const pad = f.payload[0];
    if (pad === undefined || pad >= f.payload.length) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "bad padding");
    return f.payload.subarray(1, f.payload.length - pad);
  }

  /** Unacknowledged octets that trigger a WINDOW_UPDATE: the profile's step, else half the window. */
  #ackThreshold(target: number): number {
    return Math.min(this.#opts.ackThreshold ?? target / 2, target / 2);
  }

  /** Window level at or below which everything consumed is acknowledged at once. */
  get #emergency(): number {
    return this.#opts.ackEmergencyWindow ?? 0;
  }

  /** §5.4.2: reset the stream and tell the I/O layer. */
  #streamError(id: number, code: number, ev: Http2Event[]): void {
    if (!this.#streams.delete(id)) return;
    this.#out.push(encodeRstStream(id, code));
    ev.push({ type: "reset", streamId: id, code, local: true });
  }

  /** A stream closed in both directions is forgotten (§5.1). */
  #maybeForget(id: number, s: StreamState): void {
    if (s.localEnded && s.remoteEnded) this.#streams.delete(id);
  }
}
