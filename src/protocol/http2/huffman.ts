/**
 * HPACK Huffman coding (RFC 7541 §5.2, code from Appendix B): encode, decode, and the encoded
 * length (so the encoder can pick the shorter of raw and Huffman, §5.2).
 */
import { ProtocolError } from "../../errors.js";
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from "./huffman-table.js";

/**
 * Decoding tree as flat arrays: node `n` has children `CHILD[2n]` (bit 0) and `CHILD[2n+1]`
 * (bit 1); a child value < 0 is a leaf holding symbol `-value - 1`. Built once from the table.
 */
const CHILD = buildTree();

function buildTree(): Int32Array {
  // 256 leaves + EOS need 256 internal nodes in a full binary tree.
  const child = new Int32Array(2 * 512);
  let nodes = 1;
  for (let sym = 0; sym <= 256; sym++) {
    const code = HUFFMAN_CODES[sym]!;
    const len = HUFFMAN_LENGTHS[sym]!;
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const bit = (code >>> i) & 1;
      const slot = 2 * node + bit;
      if (i === 0) {
        child[slot] = -sym - 1;
      } else {
        if (child[slot] === 0) child[slot] = nodes++;
        node = child[slot]!;
      }
    }
  }
  return child;
}

/** Number of bytes `src` takes Huffman-encoded (RFC 7541 §5.2: padded to a whole octet). */
export function huffmanEncodedLength(src: Uint8Array): number {
  let bits = 0;
  for (let i = 0; i < src.length; i++) bits += HUFFMAN_LENGTHS[src[i]!]!;
  return (bits + 7) >>> 3;
}

/** Huffman-encodes `src`; the last octet is padded with the most significant bits of EOS (all ones). */
export function huffmanEncode(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(huffmanEncodedLength(src));
  let acc = 0; // pending bits, right-aligned; never more than 7 + 30 bits: kept below 2^53 as a number
  let nbits = 0;
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const sym = src[i]!;
    const len = HUFFMAN_LENGTHS[sym]!;
    acc = acc * 2 ** len + HUFFMAN_CODES[sym]!;
    nbits += len;
    while (nbits >= 8) {
      nbits -= 8;
      const byte = Math.floor(acc / 2 ** nbits);
      out[o++] = byte & 0xff;
      acc -= byte * 2 ** nbits;
    }
  }
  if (nbits > 0) out[o++] = ((acc << (8 - nbits)) | (0xff >>> nbits)) & 0xff;
  return out;
}

/**
 * Decodes a Huffman-coded string literal. RFC 7541 §5.2: padding longer than 7 bits, padding
 * that is not a prefix of EOS, and an EOS symbol in the data are decoding errors.
 */
export function huffmanDecode(src: Uint8Array): Uint8Array {
  // Shortest code is 5 bits: at most 8/5 symbols per input octet.
  const out = new Uint8Array(Math.ceil((src.length * 8) / 5));
  let o = 0;
  let node = 0;
  let depth = 0; // bits consumed since the last symbol
  let allOnes = true; // those bits were all ones (a valid EOS prefix so far)
  for (let i = 0; i < src.length; i++) {
    const byte = src[i]!;
    for (let b = 7; b >= 0; b--) {
      const bit = (byte >>> b) & 1;
      const next = CHILD[2 * node + bit]!;
      depth++;
      if (bit === 0) allOnes = false;
      if (next < 0) {
        const sym = -next - 1;
        if (sym === 256) throw new ProtocolError("HPACK: a Huffman string contains the EOS symbol", 1002, { reason: "http2_violation" });
        out[o++] = sym;
        node = 0;
        depth = 0;
        allOnes = true;
      } else {
        node = next;
      }
    }
  }
  if (depth > 7 || !allOnes) throw new ProtocolError("HPACK: invalid Huffman padding", 1002, { reason: "http2_violation" });
  return out.subarray(0, o);
}
