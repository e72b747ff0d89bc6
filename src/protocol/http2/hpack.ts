/**
 * HPACK header compression for HTTP/2 (RFC 7541): an encoder and a decoder, each with its own
 * dynamic table. Names and values are handled as octet strings: the encoder takes JS strings and
 * sends their UTF-8 bytes (as the HTTP/1.1 request serializer does); the decoder returns latin1
 * strings, one character per octet, so nothing a server sends is lost or reinterpreted.
 */
import { ProtocolError } from "../../errors.js";
import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from "./huffman.js";
import { DynamicTable, STATIC_NAME_INDEX, STATIC_PAIR_INDEX, STATIC_TABLE } from "./hpack-table.js";

/** A header field: `[name, value]`. */
export type HeaderField = [name: string, value: string];

/** Appends the §5.1 integer `value` with an N-bit prefix; `first` holds the pattern bits above the prefix. */
export function encodeInteger(out: number[], value: number, prefixBits: number, first: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(first | value);
    return;
  }
  out.push(first | max);
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

/** Encoder options. */
export interface HpackEncoderOptions {
  /** Huffman-code string literals: "auto" when shorter (default), "always", or "never". */
  huffman?: "auto" | "always" | "never";
  /** Names sent as never-indexed literals (§6.2.3) so no intermediary caches them. Default: authorization, proxy-authorization. */
  sensitive?: ReadonlySet<string>;
}

const DEFAULT_SENSITIVE: ReadonlySet<string> = new Set(["authorization", "proxy-authorization"]);

/**
 * Encodes header lists. Every field that is not already in a table is sent as a literal with
 * incremental indexing (§6.2.1), as browsers do, except sensitive names (never indexed, §6.2.3).
 */
export class HpackEncoder {
  readonly #table = new DynamicTable(4096);
  readonly #huffman: "auto" | "always" | "never";
  readonly #sensitive: ReadonlySet<string>;
  /** Smallest and final maximum size set since the last block: signalled at the next block's start (§4.2). */
  #pendingMin = -1;
  #pendingFinal = -1;

  constructor(options: HpackEncoderOptions = {}) {
    this.#huffman = options.huffman ?? "auto";
    this.#sensitive = options.sensitive ?? DEFAULT_SENSITIVE;
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE changed: the table shrinks/grows from the next block on (§6.3). */
  setMaxTableSize(size: number): void {
    if (size === this.#table.maxSize && this.#pendingFinal < 0) return;
    this.#pendingMin = this.#pendingMin < 0 ? size : Math.min(this.#pendingMin, size);
    this.#pendingFinal = size;
  }

  /** Encodes one header block (names are sent as given: HTTP/2 wants them lower-case, RFC 9113 §8.2.1). */
  encode(headers: ReadonlyArray<readonly [string, string]>): Uint8Array {
    const out: number[] = [];
    if (this.#pendingFinal >= 0) {
      // §4.2: the smallest size reached first, so that the peer evicts what we evicted, then the final one.
      if (this.#pendingMin < this.#pendingFinal) {
        encodeInteger(out, this.#pendingMin, 5, 0x20);
        this.#table.setMaxSize(this.#pendingMin);
      }
      encodeInteger(out, this.#pendingFinal, 5, 0x20);
      this.#table.setMaxSize(this.#pendingFinal);
      this.#pendingMin = this.#pendingFinal = -1;
    }
    for (const [n, v] of headers) {
      const nameBytes = Buffer.from(n, "utf8");
      const valueBytes = Buffer.from(v, "utf8");
      const name = nameBytes.toString("latin1");
      const value = valueBytes.toString("latin1");
      const sensitive = this.#sensitive.has(name);
      const staticPair = STATIC_PAIR_INDEX.get(name + "\0" + value);
      if (staticPair !== undefined && !sensitive) {
        encodeInteger(out, staticPair, 7, 0x80); // §6.1 indexed
        continue;
      }
      const dyn = this.#table.find(name, value);
      if (dyn.pair > 0 && !sensitive) {
        encodeInteger(out, STATIC_TABLE.length + dyn.pair, 7, 0x80);
        continue;
      }
      const staticName = STATIC_NAME_INDEX.get(name);
      const nameIndex = staticName ?? (dyn.name > 0 ? STATIC_TABLE.length + dyn.name : 0);
      if (sensitive) encodeInteger(out, nameIndex, 4, 0x10); // §6.2.3 never indexed
      else encodeInteger(out, nameIndex, 6, 0x40); // §6.2.1 incremental indexing
      if (nameIndex === 0) this.#string(out, nameBytes);
      this.#string(out, valueBytes);
      if (!sensitive) this.#table.add(name, value, nameBytes.length + valueBytes.length + 32);
    }
    return Uint8Array.from(out);
  }

  /** §5.2 string literal. */
  #string(out: number[], bytes: Uint8Array): void {
    const hlen = this.#huffman === "never" ? Infinity : huffmanEncodedLength(bytes);
    if (this.#huffman === "always" || hlen < bytes.length) {
      const h = huffmanEncode(bytes);
      encodeInteger(out, h.length, 7, 0x80);
      for (let i = 0; i < h.length; i++) out.push(h[i]!);
    } else {
      encodeInteger(out, bytes.length, 7, 0);
      for (let i = 0; i < bytes.length; i++) out.push(bytes[i]!);
    }
  }
}

/** Decoder options. */
export interface HpackDecoderOptions {
  /** Our SETTINGS_HEADER_TABLE_SIZE: the largest table the peer may ask for (default 4096). */
  maxTableSize?: number;
  /** Largest decoded header list (§4.1 sizes summed, as SETTINGS_MAX_HEADER_LIST_SIZE counts; default 256 KiB). */
  maxHeaderListSize?: number;
}

/** Decodes header blocks; any error is a connection error (COMPRESSION_ERROR, RFC 9113 §4.3). */
export class HpackDecoder {
  readonly #table: DynamicTable;
  readonly #limit: number;
  readonly #maxListSize: number;

  constructor(options: HpackDecoderOptions = {}) {
    this.#limit = options.maxTableSize ?? 4096;
    this.#table = new DynamicTable(this.#limit);
    this.#maxListSize = options.maxHeaderListSize ?? 256 * 1024;
  }

  /** Size of the dynamic table now (for tests, §4.1 octets). */
  get tableSize(): number {
    return this.#table.size;
  }

  /** Decodes one complete header block. Throws ProtocolError on malformed input or an oversized list. */
  decode(block: Uint8Array): HeaderField[] {
    const out: HeaderField[] = [];
    let listSize = 0;
    let pos = 0;
    let sawField = false;
    const int = (prefixBits: number): number => {
      const max = (1 << prefixBits) - 1;
      let v = block[pos++]! & max;
      if (v < max) return v;
      let m = 0;
      for (;;) {
        if (pos >= block.length) fail("truncated integer");
        const b = block[pos++]!;
        v += (b & 0x7f) * 2 ** m;
        m += 7;
        if (v > 0xffffffff || m > 35) fail("integer too large");
        if ((b & 0x80) === 0) return v;
      }
    };
    const str = (): string => {
      if (pos >= block.length) fail("truncated string");
      const huff = (block[pos]! & 0x80) !== 0;
      const len = int(7);
      if (pos + len > block.length) fail("truncated string");
      // A string can never be longer than the list bound: refuse before decoding it.
      if (len > this.#maxListSize) fail("header field too large");
      const raw = block.subarray(pos, pos + len);
      pos += len;
      return Buffer.from(huff ? huffmanDecode(raw) : raw).toString("latin1");
    };
    const entry = (i: number): [string, string] => {
      if (i === 0) fail("index 0");
      if (i <= STATIC_TABLE.length) return STATIC_TABLE[i - 1]! as [string, string];
      const e = this.#table.get(i - STATIC_TABLE.length);
      if (!e) fail(`index ${i} is beyond the tables`);
      return e;
    };
    const emit = (name: string, value: string): void => {
      listSize += name.length + value.length + 32;
      if (listSize > this.#maxListSize) {
        throw new ProtocolError(`HTTP/2: the server's header list exceeds ${this.#maxListSize} bytes`, 1009, { reason: "http2_violation" });
      }
      out.push([name, value]);
    };
    while (pos < block.length) {
      const b = block[pos]!;
      if (b & 0x80) {
        const [n, v] = entry(int(7)); // §6.1
        emit(n, v);
        sawField = true;
      } else if (b & 0x40) {
        const idx = int(6); // §6.2.1
        const name = idx === 0 ? str() : entry(idx)[0];
        const value = str();
        this.#table.add(name, value, name.length + value.length + 32);
        emit(name, value);
        sawField = true;
      } else if (b & 0x20) {
        // §6.3: size updates only at the start of a block, never above our setting.
        if (sawField) fail("dynamic table size update after a header field");
        const size = int(5);
        if (size > this.#limit) fail(`dynamic table size ${size} above the allowed ${this.#limit}`);
        this.#table.setMaxSize(size);
      } else {
        const idx = int(4); // §6.2.2 without indexing, §6.2.3 never indexed
        const name = idx === 0 ? str() : entry(idx)[0];
        emit(name, str());
        sawField = true;
      }
    }
    return out;
  }
}

function fail(what: string): never {
  throw new ProtocolError(`HTTP/2: HPACK decoding failed (${what})`, 1002, { reason: "http2_violation" });
}
