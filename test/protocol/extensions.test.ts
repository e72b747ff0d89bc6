import { test } from "node:test";
import assert from "node:assert/strict";
import {
  formatDeflateOffer,
  negotiateDeflate,
  parseExtensions,
  type DeflateOffer,
  type DeflateParams,
} from "../../src/protocol/extensions.js";
import { HandshakeError, WebSocketError } from "../../src/errors.js";

const isHandshakeError = (re?: RegExp) => (e: unknown) =>
  e instanceof HandshakeError && (re === undefined || re.test(e.message));

const plain = (els: ReturnType<typeof parseExtensions>) => els.map((e) => ({ name: e.name, params: { ...e.params } }));

// ------------------------------------------------------------------ parseExtensions

test("parseExtensions: single extension without params", () => {
  assert.deepEqual(plain(parseExtensions("permessage-deflate")), [{ name: "permessage-deflate", params: {} }]);
});

test("parseExtensions: params with and without values, token and quoted-string", () => {
  assert.deepEqual(
    plain(parseExtensions('permessage-deflate; client_max_window_bits=10; server_no_context_takeover; server_max_window_bits="12"')),
    [
      {
        name: "permessage-deflate",
        params: { client_max_window_bits: "10", server_no_context_takeover: true, server_max_window_bits: "12" },
      },
    ],
  );
});

test("parseExtensions: multiple extensions and whitespace around every separator", () => {
  const h = " \tfoo ; a = 1 ;b\t,  bar;c=\"x\\yz\" , baz ";
  assert.deepEqual(plain(parseExtensions(h)), [
    { name: "foo", params: { a: "1", b: true } },
    { name: "bar", params: { c: "xyz" } },
    { name: "baz", params: {} },
  ]);
});

test("parseExtensions: the same extension twice is two elements, in order", () => {
  assert.deepEqual(plain(parseExtensions("permessage-deflate; a, permessage-deflate")), [
    { name: "permessage-deflate", params: { a: true } },
    { name: "permessage-deflate", params: {} },
  ]);
});

test("parseExtensions: empty list elements are ignored; empty header is an empty list", () => {
  assert.deepEqual(plain(parseExtensions("")), []);
  assert.deepEqual(plain(parseExtensions("  ")), []);
  assert.deepEqual(plain(parseExtensions(", ,")), []);
  assert.deepEqual(plain(parseExtensions("a, , b,")), [
    { name: "a", params: {} },
    { name: "b", params: {} },
  ]);
});

test("parseExtensions: quoted-pair escapes are unescaped", () => {
  assert.deepEqual(plain(parseExtensions('x; p="\\a\\b"')), [{ name: "x", params: { p: "ab" } }]);
});

test("parseExtensions: malformed headers throw HandshakeError", () => {
  const bad = [
    ";a", // no extension name
    "foo;", // missing param name
    "foo; ;a", // missing param name
    "foo bar", // junk after name
    "foo; a b", // junk after param
    "foo; a=", // missing value
    "foo; a= ;b", // missing value
    'foo; a="unterminated', // unterminated quoted-string
    'foo; a="x\\', // unterminated quoted-pair
    'foo; a="two words"', // quoted value must be a token
    'foo; a=""', // empty quoted value is not a token
    'foo; a="x,y"', // ditto
    "foo; a=1=2",
    "foo; a=1; a=2", // duplicate param
    "foo; a; a",
    "fo@o",
    "foo; p@=1",
    "foo=1",
    "foo, ;",
    'foo; a="\u0001"',
    "foo\u00e9",
  ];
  for (const h of bad) assert.throws(() => parseExtensions(h), isHandshakeError(), JSON.stringify(h));
});

test("parseExtensions: error messages name the problem and quote the header", () => {
  assert.throws(() => parseExtensions("foo; a=1; a=2"), isHandshakeError(/duplicate parameter a in foo/));
  assert.throws(() => parseExtensions("foo bar"), isHandshakeError(/"foo bar".*unexpected character "b" after extension foo/));
});

// ------------------------------------------------------------------ formatDeflateOffer

test("formatDeflateOffer: default offer", () => {
  assert.equal(formatDeflateOffer(), "permessage-deflate; client_max_window_bits");
  assert.equal(formatDeflateOffer({}), "permessage-deflate; client_max_window_bits");
});

test("formatDeflateOffer: every parameter", () => {
  assert.equal(
    formatDeflateOffer({ clientNoContextTakeover: true, serverNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12 }),
    "permessage-deflate; client_no_context_takeover; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
  );
  assert.equal(formatDeflateOffer({ clientMaxWindowBits: false }), "permessage-deflate");
  assert.equal(formatDeflateOffer({ clientMaxWindowBits: true, serverMaxWindowBits: 8 }), "permessage-deflate; server_max_window_bits=8; client_max_window_bits");
});

test("formatDeflateOffer: output parses back with our own parser", () => {
  const s = formatDeflateOffer({ clientNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 15 });
  assert.deepEqual(plain(parseExtensions(s)), [
    {
      name: "permessage-deflate",
      params: { client_no_context_takeover: true, server_max_window_bits: "9", client_max_window_bits: "15" },
    },
  ]);
});

test("formatDeflateOffer: window bits outside 8..15 throw WebSocketError code 0", () => {
  for (const bits of [7, 16, 0, -1, 9.5, NaN]) {
    assert.throws(() => formatDeflateOffer({ serverMaxWindowBits: bits }), (e: unknown) => e instanceof WebSocketError && e.code === 0);
    assert.throws(() => formatDeflateOffer({ clientMaxWindowBits: bits }), (e: unknown) => e instanceof WebSocketError && e.code === 0);
  }
});

// ------------------------------------------------------------------ negotiateDeflate

const DEFAULTS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

test("negotiateDeflate: no header or an empty one means the extension was declined", () => {
  assert.equal(negotiateDeflate(undefined, {}), null);
  assert.equal(negotiateDeflate("", {}), null);
  assert.equal(negotiateDeflate("  ", {}), null);
});

test("negotiateDeflate: bare acceptance gives the defaults (15 bits, context takeover both ways)", () => {
  assert.deepEqual(negotiateDeflate("permessage-deflate", {}), DEFAULTS);
});

test("negotiateDeflate: every valid answer to the default offer", () => {
  const offer: DeflateOffer = {}; // client_max_window_bits without value
  const cases: Array<[string, Partial<DeflateParams>]> = [
    ["permessage-deflate; server_no_context_takeover", { serverNoContextTakeover: true }],
    ["permessage-deflate; client_no_context_takeover", { clientNoContextTakeover: true }],
    ["permessage-deflate; server_no_context_takeover; client_no_context_takeover", { serverNoContextTakeover: true, clientNoContextTakeover: true }],
    ["permessage-deflate; server_max_window_bits=8", { serverMaxWindowBits: 8 }],
    ["permessage-deflate; server_max_window_bits=12", { serverMaxWindowBits: 12 }],
    ["permessage-deflate; server_max_window_bits=15", { serverMaxWindowBits: 15 }],
    ["permessage-deflate; client_max_window_bits=8", { clientMaxWindowBits: 8 }],
    ["permessage-deflate; client_max_window_bits=10", { clientMaxWindowBits: 10 }],
    ['permessage-deflate; client_max_window_bits="11"', { clientMaxWindowBits: 11 }],
    [
      "permessage-deflate; client_max_window_bits=9; server_max_window_bits=10; client_no_context_takeover; server_no_context_takeover",
      { clientMaxWindowBits: 9, serverMaxWindowBits: 10, clientNoContextTakeover: true, serverNoContextTakeover: true },
    ],
    ["  permessage-deflate ;server_max_window_bits = 9 ", { serverMaxWindowBits: 9 }],
  ];
  for (const [h, want] of cases) assert.deepEqual(negotiateDeflate(h, offer), { ...DEFAULTS, ...want }, h);
});

test("negotiateDeflate: server may send server_max_window_bits and both no_context_takeover params unoffered", () => {
  const offer: DeflateOffer = { clientMaxWindowBits: false };
  assert.deepEqual(
    negotiateDeflate("permessage-deflate; server_max_window_bits=9; server_no_context_takeover; client_no_context_takeover", offer),
    { ...DEFAULTS, serverMaxWindowBits: 9, serverNoContextTakeover: true, clientNoContextTakeover: true },
  );
});

test("negotiateDeflate: client_max_window_bits is refused when we did not offer it", () => {
  assert.throws(
    () => negotiateDeflate("permessage-deflate; client_max_window_bits=10", { clientMaxWindowBits: false }),
    isHandshakeError(/client_max_window_bits, which we did not offer/),
  );
});

test("negotiateDeflate: client_max_window_bits with an offered value", () => {
  const offer: DeflateOffer = { clientMaxWindowBits: 12 };
  // absent from the answer: we keep the window we announced
  assert.deepEqual(negotiateDeflate("permessage-deflate", offer), { ...DEFAULTS, clientMaxWindowBits: 12 });
  assert.deepEqual(negotiateDeflate("permessage-deflate; client_max_window_bits=12", offer), { ...DEFAULTS, clientMaxWindowBits: 12 });
  assert.deepEqual(negotiateDeflate("permessage-deflate; client_max_window_bits=8", offer), { ...DEFAULTS, clientMaxWindowBits: 8 });
  assert.throws(() => negotiateDeflate("permessage-deflate; client_max_window_bits=13", offer), isHandshakeError(/above the 12 we offered/));
});

test("negotiateDeflate: server_max_window_bits offered must be answered with the same or a smaller value", () => {
  const offer: DeflateOffer = { serverMaxWindowBits: 10 };
  assert.deepEqual(negotiateDeflate("permessage-deflate; server_max_window_bits=10", offer), { ...DEFAULTS, serverMaxWindowBits: 10 });
  assert.deepEqual(negotiateDeflate("permessage-deflate; server_max_window_bits=8", offer), { ...DEFAULTS, serverMaxWindowBits: 8 });
  assert.throws(() => negotiateDeflate("permessage-deflate; server_max_window_bits=11", offer), isHandshakeError(/above the 10 we offered/));
  assert.throws(() => negotiateDeflate("permessage-deflate", offer), isHandshakeError(/offered server_max_window_bits and the server's answer lacks it/));
});

test("negotiateDeflate: server_no_context_takeover offered must be in the answer", () => {
  const offer: DeflateOffer = { serverNoContextTakeover: true };
  assert.deepEqual(negotiateDeflate("permessage-deflate; server_no_context_takeover", offer), { ...DEFAULTS, serverNoContextTakeover: true });
  assert.throws(() => negotiateDeflate("permessage-deflate", offer), isHandshakeError(/offered server_no_context_takeover/));
});

test("negotiateDeflate: client_no_context_takeover offered stays on even if the server does not echo it", () => {
  const offer: DeflateOffer = { clientNoContextTakeover: true };
  assert.deepEqual(negotiateDeflate("permessage-deflate", offer), { ...DEFAULTS, clientNoContextTakeover: true });
  assert.deepEqual(negotiateDeflate("permessage-deflate; client_no_context_takeover", offer), { ...DEFAULTS, clientNoContextTakeover: true });
});

test("negotiateDeflate: every parameter combination of the offer against every valid echo", () => {
  // Exhaustive over the offer's shape; the answer echoes exactly what was offered (always valid).
  let checked = 0;
  for (const cnct of [false, true])
    for (const snct of [false, true])
      for (const sbits of [undefined, 8, 11, 15])
        for (const cbits of [false, true, 8, 13] as const) {
          const offer: DeflateOffer = { clientNoContextTakeover: cnct, serverNoContextTakeover: snct, serverMaxWindowBits: sbits, clientMaxWindowBits: cbits };
          const parts = ["permessage-deflate"];
          if (snct) parts.push("server_no_context_takeover");
          if (sbits !== undefined) parts.push(`server_max_window_bits=${sbits}`);
          if (typeof cbits === "number") parts.push(`client_max_window_bits=${cbits}`);
          const got = negotiateDeflate(parts.join("; "), offer);
          assert.deepEqual(got, {
            serverNoContextTakeover: snct,
            clientNoContextTakeover: cnct,
            serverMaxWindowBits: sbits ?? 15,
            clientMaxWindowBits: typeof cbits === "number" ? cbits : 15,
          });
          checked++;
        }
  assert.equal(checked, 64);
});

test("negotiateDeflate: invalid window-bits values", () => {
  for (const param of ["server_max_window_bits", "client_max_window_bits"]) {
    for (const v of ["7", "16", "0", "08", "010", "-9", "9.0", "abc", "1e1", '"7"', '"08"', " "]) {
      const h = `permessage-deflate; ${param}=${v}`;
      assert.throws(() => negotiateDeflate(h, {}), isHandshakeError(), h);
    }
    // no value at all
    assert.throws(() => negotiateDeflate(`permessage-deflate; ${param}`, {}), isHandshakeError(/without a value/));
  }
});

test("negotiateDeflate: values on no_context_takeover params are refused", () => {
  for (const param of ["server_no_context_takeover", "client_no_context_takeover"]) {
    for (const v of ["1", "true", '"x"']) {
      assert.throws(() => negotiateDeflate(`permessage-deflate; ${param}=${v}`, {}), isHandshakeError(/takes none/));
    }
  }
});

test("negotiateDeflate: duplicate parameters are refused", () => {
  for (const h of [
    "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
    "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
    "permessage-deflate; client_max_window_bits=10; client_max_window_bits=9",
  ]) {
    assert.throws(() => negotiateDeflate(h, {}), isHandshakeError(/duplicate parameter/), h);
  }
});

test("negotiateDeflate: unknown parameters are refused", () => {
  assert.throws(() => negotiateDeflate("permessage-deflate; mux", {}), isHandshakeError(/unknown parameter "mux"/));
  assert.throws(() => negotiateDeflate("permessage-deflate; Server_No_Context_Takeover", {}), isHandshakeError(/unknown parameter/));
});

test("negotiateDeflate: an extension we did not offer is refused", () => {
  assert.throws(() => negotiateDeflate("x-webkit-deflate-frame", {}), isHandshakeError(/"x-webkit-deflate-frame", which we did not offer/));
  assert.throws(() => negotiateDeflate("permessage-deflate, foo", {}), isHandshakeError(/"foo", which we did not offer/));
  assert.throws(() => negotiateDeflate("foo, permessage-deflate", {}), isHandshakeError(/"foo"/));
});

test("negotiateDeflate: two permessage-deflate answers are refused", () => {
  assert.throws(
    () => negotiateDeflate("permessage-deflate, permessage-deflate; server_no_context_takeover", {}),
    isHandshakeError(/more than once/),
  );
});

test("negotiateDeflate: a malformed header is refused", () => {
  assert.throws(() => negotiateDeflate("permessage-deflate;", {}), isHandshakeError());
  assert.throws(() => negotiateDeflate("permessage-deflate; server_max_window_bits=", {}), isHandshakeError());
});
