// HPACK (RFC 7541) against the RFC's Appendix C examples, byte for byte, plus the decoder's bounds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { HpackDecoder, HpackEncoder, encodeInteger, huffmanDecode, huffmanEncode, type HeaderField } from "../../../src/protocol/http2/index.js";
import { ProtocolError } from "../../../src/errors.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

test("C.1 integer representation", () => {
  const a: number[] = [];
  encodeInteger(a, 10, 5, 0);
  assert.deepEqual(a, [0x0a]);
  const b: number[] = [];
  encodeInteger(b, 1337, 5, 0);
  assert.deepEqual(b, [0x1f, 0x9a, 0x0a]);
  const c: number[] = [];
  encodeInteger(c, 42, 8, 0);
  assert.deepEqual(c, [0x2a]);
});

test("C.2 header field representations decode", () => {
  assert.deepEqual(new HpackDecoder().decode(hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572")), [
    ["custom-key", "custom-header"],
  ]);
  const d = new HpackDecoder();
  assert.deepEqual(d.decode(hex("040c 2f73 616d 706c 652f 7061 7468")), [[":path", "/sample/path"]]);
  assert.equal(d.tableSize, 0, "literal without indexing leaves the table alone");
  assert.deepEqual(d.decode(hex("1008 7061 7373 776f 7264 0673 6563 7265 74")), [["password", "secret"]]);
  assert.deepEqual(d.decode(hex("82")), [[":method", "GET"]]);
});

/** RFC 7541 C.3–C.6: header lists, their encodings, the table size after each. */
const REQ: HeaderField[][] = [
  [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"]],
  [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"], ["cache-control", "no-cache"]],
  [[":method", "GET"], [":scheme", "https"], [":path", "/index.html"], [":authority", "www.example.com"], ["custom-key", "custom-value"]],
];
const RES: HeaderField[][] = [
  [[":status", "302"], ["cache-control", "private"], ["date", "Mon, 21 Oct 2013 20:13:21 GMT"], ["location", "https://www.example.com"]],
  [[":status", "307"], ["cache-control", "private"], ["date", "Mon, 21 Oct 2013 20:13:21 GMT"], ["location", "https://www.example.com"]],
  [
    [":status", "200"], ["cache-control", "private"], ["date", "Mon, 21 Oct 2013 20:13:22 GMT"], ["location", "https://www.example.com"],
    ["content-encoding", "gzip"], ["set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"],
  ],
];
const CASES: Array<{ name: string; lists: HeaderField[][]; wire: string[]; sizes: number[]; table: number; huffman: "always" | "never" }> = [
  {
    name: "C.3 requests without Huffman",
    lists: REQ,
    table: 4096,
    huffman: "never",
    sizes: [57, 110, 164],
    wire: ["8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", "8286 84be 5808 6e6f 2d63 6163 6865",
      "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"],
  },
  {
    name: "C.4 requests with Huffman",
    lists: REQ,
    table: 4096,
    huffman: "always",
    sizes: [57, 110, 164],
    wire: ["8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", "8286 84be 5886 a8eb 1064 9cbf",
      "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"],
  },
  {
    name: "C.5 responses without Huffman (table 256, evictions)",
    lists: RES,
    table: 256,
    huffman: "never",
    sizes: [222, 222, 215],
    wire: [
      "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      "4803 3330 37c1 c0bf",
      "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
    ],
  },
  {
    name: "C.6 responses with Huffman (table 256, evictions)",
    lists: RES,
    table: 256,
    huffman: "always",
    sizes: [222, 222, 215],
    wire: [
      "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
      "4883 640e ffc1 c0bf",
      "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    ],
  },
];

for (const c of CASES) {
  test(`${c.name}: encoder output byte for byte, decoder lists and table sizes`, () => {
    const enc = new HpackEncoder({ huffman: c.huffman });
    if (c.table !== 4096) {
      enc.setMaxTableSize(c.table);
      // The size update the RFC's examples assume was already signalled: drop it from the first block.
      const first = Buffer.from(enc.encode([]));
      assert.deepEqual(first, hex("3fe1 01"));
    }
    const dec = new HpackDecoder({ maxTableSize: c.table });
    c.lists.forEach((list, i) => {
      assert.deepEqual(Buffer.from(enc.encode(list)).toString("hex"), hex(c.wire[i]!).toString("hex"), `block ${i + 1}`);
      assert.deepEqual(dec.decode(hex(c.wire[i]!)), list, `block ${i + 1} decoded`);
      assert.equal(dec.tableSize, c.sizes[i], `table size after block ${i + 1}`);
    });
  });
}

test("Huffman: RFC strings round-trip, every byte value round-trips, bad padding and EOS are errors", () => {
  assert.equal(Buffer.from(huffmanEncode(Buffer.from("www.example.com"))).toString("hex"), "f1e3c2e5f23a6ba0ab90f4ff");
  assert.equal(Buffer.from(huffmanDecode(hex("9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"))).toString(), "https://www.example.com");
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  assert.deepEqual(Buffer.from(huffmanDecode(huffmanEncode(all))), all);
  assert.throws(() => huffmanDecode(Buffer.from("00\x91\xff\xff\xff\xff\xc8", "latin1")), ProtocolError);
  // 'a' (00011) padded with zeros instead of ones.
  assert.throws(() => huffmanDecode(Buffer.from([0x18])), ProtocolError);
  // A full octet of padding (more than 7 bits) after a symbol.
  assert.throws(() => huffmanDecode(Buffer.from([0x1f, 0xff])), ProtocolError);
});

test("decoder bounds: header list size, table size updates, bad indexes", () => {
  const big = new HpackEncoder({ huffman: "never" }).encode([["x-big", "a".repeat(5000)]]);
  assert.throws(() => new HpackDecoder({ maxHeaderListSize: 4096 }).decode(big), /exceeds|too large/);
  // A size update above our setting.
  assert.throws(() => new HpackDecoder({ maxTableSize: 100 }).decode(hex("3fe1 01")), ProtocolError);
  // A size update after a field.
  assert.throws(() => new HpackDecoder().decode(hex("82 20")), ProtocolError);
  assert.throws(() => new HpackDecoder().decode(hex("80")), ProtocolError);
  assert.throws(() => new HpackDecoder().decode(hex("be")), ProtocolError);
  assert.throws(() => new HpackDecoder().decode(hex("400a 6375")), ProtocolError);
});

test("encoder: repeated fields become indexed; sensitive ones are never indexed; a smaller table is signalled", () => {
  const enc = new HpackEncoder();
  const dec = new HpackDecoder();
  const list: HeaderField[] = [[":method", "CONNECT"], [":protocol", "websocket"], ["authorization", "Basic eA=="], ["cookie", "a=b"]];
  const a = enc.encode(list);
  const b = enc.encode(list);
  assert.ok(b.length < a.length);
  assert.deepEqual(dec.decode(a), list);
  assert.deepEqual(dec.decode(b), list);
  assert.equal(b[2]! & 0xf0, 0x10, "authorization as never-indexed literal");
  enc.setMaxTableSize(0);
  const c = enc.encode(list);
  assert.equal(c[0], 0x20, "size update to 0 first");
  assert.deepEqual(dec.decode(c), list);
  assert.equal(dec.tableSize, 0);
});
