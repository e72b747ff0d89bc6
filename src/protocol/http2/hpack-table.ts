/**
 * HPACK's static table (RFC 7541 Appendix A) and dynamic table (§2.3.2, §4): entries are added at
 * the front, evicted from the back, and each costs name + value octets + 32 (§4.1).
 */

/** RFC 7541 Appendix A: index i+1 is STATIC_TABLE[i]. */
export const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [":authority", ""], [":method", "GET"], [":method", "POST"], [":path", "/"], [":path", "/index.html"],
  [":scheme", "http"], [":scheme", "https"], [":status", "200"], [":status", "204"], [":status", "206"],
  [":status", "304"], [":status", "400"], [":status", "404"], [":status", "500"], ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"], ["accept-language", ""], ["accept-ranges", ""], ["accept", ""],
  ["access-control-allow-origin", ""], ["age", ""], ["allow", ""], ["authorization", ""], ["cache-control", ""],
  ["content-disposition", ""], ["content-encoding", ""], ["content-language", ""], ["content-length", ""],
  ["content-location", ""], ["content-range", ""], ["content-type", ""], ["cookie", ""], ["date", ""], ["etag", ""],
  ["expect", ""], ["expires", ""], ["from", ""], ["host", ""], ["if-match", ""], ["if-modified-since", ""],
  ["if-none-match", ""], ["if-range", ""], ["if-unmodified-since", ""], ["last-modified", ""], ["link", ""],
  ["location", ""], ["max-forwards", ""], ["proxy-authenticate", ""], ["proxy-authorization", ""], ["range", ""],
  ["referer", ""], ["refresh", ""], ["retry-after", ""], ["server", ""], ["set-cookie", ""],
  ["strict-transport-security", ""], ["transfer-encoding", ""], ["user-agent", ""], ["vary", ""], ["via", ""],
  ["www-authenticate", ""],
];

/** First static index of each name, and the index of each exact name+value pair. */
export const STATIC_NAME_INDEX: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  STATIC_TABLE.forEach(([n], i) => {
    if (!m.has(n)) m.set(n, i + 1);
  });
  return m;
})();
export const STATIC_PAIR_INDEX: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  STATIC_TABLE.forEach(([n, v], i) => {
    if (v !== "") m.set(n + "\0" + v, i + 1);
  });
  return m;
})();

/** §4.1: an entry's size is its name and value length in octets plus 32. */
export function entrySize(name: Uint8Array | string, value: Uint8Array | string): number {
  const n = typeof name === "string" ? Buffer.byteLength(name, "latin1") : name.length;
  const v = typeof value === "string" ? Buffer.byteLength(value, "latin1") : value.length;
  return n + v + 32;
}

/** The dynamic table (§2.3.2): index 1 is the newest entry (HPACK index 62). */
export class DynamicTable {
  /** Entries oldest first (a ring would save the shift; header blocks are rare in this protocol). */
  #entries: Array<[string, string, number]> = [];
  #size = 0;
  #maxSize: number;

  constructor(maxSize: number) {
    this.#maxSize = maxSize;
  }

  /** Current size in §4.1 octets. */
  get size(): number {
    return this.#size;
  }

  get maxSize(): number {
    return this.#maxSize;
  }

  get length(): number {
    return this.#entries.length;
  }

  /** Entry `i` (1 = newest), or undefined. */
  get(i: number): [string, string] | undefined {
    const e = this.#entries[this.#entries.length - i];
    return e ? [e[0], e[1]] : undefined;
  }

  /** §4.4: adding evicts from the end until it fits; an entry larger than the table empties it. */
  add(name: string, value: string, size: number): void {
    this.#evictTo(this.#maxSize - size);
    if (size <= this.#maxSize) {
      this.#entries.push([name, value, size]);
      this.#size += size;
    }
  }

  /** §4.3: a new maximum size evicts until the table fits. */
  setMaxSize(max: number): void {
    this.#maxSize = max;
    this.#evictTo(max);
  }

  /** 1-based indexes of the newest entry matching name+value and of the newest matching name (0: none). */
  find(name: string, value: string): { pair: number; name: number } {
    let nameAt = 0;
    const len = this.#entries.length;
    for (let i = len - 1; i >= 0; i--) {
      const e = this.#entries[i]!;
      if (e[0] !== name) continue;
      if (e[1] === value) return { pair: len - i, name: nameAt || len - i };
      if (nameAt === 0) nameAt = len - i;
    }
    return { pair: 0, name: nameAt };
  }

  /** Evicts oldest entries until the table holds at most `limit` octets (everything when limit < 0). */
  #evictTo(limit: number): void {
    let drop = 0;
    while (this.#size > limit && drop < this.#entries.length) {
      this.#size -= this.#entries[drop]![2];
      drop++;
    }
    if (drop > 0) this.#entries.splice(0, drop);
  }
}
