/** The options and events of the sans-I/O HTTP/2 client connection (connection.ts). */
import type { PriorityFields } from "./frames.js";
import type { HeaderField } from "./hpack.js";

/** How the connection presents itself (a browser's HTTP/2 fingerprint, or masq's own). */
export interface Http2ClientOptions {
  /** Our SETTINGS, in wire order. */
  settings: ReadonlyArray<readonly [number, number]>;
  /** Connection WINDOW_UPDATE sent right after SETTINGS (0: none). */
  connectionWindowUpdate: number;
  /** Stream WINDOW_UPDATE sent right after each stream's HEADERS (0: none). */
  streamWindowUpdate: number;
  /** PRIORITY frames sent after the preface's SETTINGS/WINDOW_UPDATE (old Firefox), in order. */
  priorityFrames?: ReadonlyArray<{ streamId: number } & PriorityFields>;
  /** Id of the first stream we open (odd; default 1). */
  firstStreamId?: number;
  /** Largest header list we decode from the server (default 256 KiB; bounds HPACK memory too). */
  maxHeaderListSize?: number;
  /**
   * Received octets given back in one WINDOW_UPDATE at the least (default, and at most: half the
   * window, as Chromium does). Firefox: 4 MiB (`kMinimumToAck` in Http2Session.h).
   */
  ackThreshold?: number;
  /** A window at or below this is replenished at once, whatever was consumed (Firefox: 96 KiB, `kEmergencyWindowThreshold`). */
  ackEmergencyWindow?: number;
}

/** What happened, as a result of received bytes. */
export type Http2Event =
  /** The server's SETTINGS arrived (`first`: its initial SETTINGS, which makes the connection usable). */
  | { type: "settings"; first: boolean }
  /** Response headers (the first HEADERS of a stream; 1xx skipped) or trailers. */
  | { type: "headers"; streamId: number; status: number; headers: HeaderField[]; endStream: boolean; trailers: boolean }
  /** A DATA payload (possibly empty with endStream). Report consumption with `consumed()`. */
  | { type: "data"; streamId: number; data: Buffer; endStream: boolean }
  /** The stream was reset, by the server (`local` false) or by us for a stream error (RST_STREAM queued). */
  | { type: "reset"; streamId: number; code: number; local: boolean }
  /** The server is going away; streams above `lastStreamId` were not processed. */
  | { type: "goaway"; lastStreamId: number; code: number; debug: string }
  /** A send window grew (stream 0: the connection's). */
  | { type: "window"; streamId: number }
  /** The server answered our PING. */
  | { type: "pong"; data: Buffer };

