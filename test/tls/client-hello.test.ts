import { fileURLToPath } from "node:url";
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { PassThrough } from "node:stream";
import { calculateJa3, calculateJa4, readTlsClientHello } from "read-tls-client-hello";
import {
  buildClientHello,
  clientHelloRecord,
  drawGrease,
  masqDefaultHello,
  type ClientHelloParams,
  type ClientHelloProfile,
  type ClientHelloState,
} from "../../src/tls/client-hello.js";
import {
  helloGroups,
  helloKeyShares,
  helloServerName,
  helloSignatureAlgorithms,
  helloVersions,
  ja3,
  ja4,
  ja4r,
  parseClientHello,
  type ParsedClientHello,
} from "../helpers/ja4.js";
import { chrome156 } from "../../src/impersonate/chrome.js";
import { ExtensionType as EXT, GREASE_PLACEHOLDER, isGrease } from "../../src/tls/constants.js";

// Copies of the browser captures (test/fixtures/reference/README.md says where they come from).
const REF_DIR = fileURLToPath(new URL("../fixtures/reference", import.meta.url));
const chromeHex = readFileSync(`${REF_DIR}/chromium-156-wss-clienthello.hex`, "utf8").trim();
const chromeRef = parseClientHello(chromeHex);
const CHROME_JA4 = "t13d1516h1_8daaf6152771_5b37b36a67c0";
const CHROME_JA4_R =
  "t13d1516h1_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,ca34,fe0d,ff01_0904,0905,0906,0403,0804,0401,0503,0805,0501,0806,0601";

/** Deterministic byte stream: SHA-256 of seed and a counter. */
function seededRng(seed: string): (n: number) => Buffer {
  let counter = 0;
  let pool = Buffer.alloc(0);
  return (n) => {
    while (pool.length < n) {
      pool = Buffer.concat([pool, createHash("sha256").update(`${seed}/${counter++}`).digest()]);
    }
    const out = Buffer.from(pool.subarray(0, n));
    pool = pool.subarray(n);
    return out;
  };
}

/** Key shares with the sizes Chrome sends (contents are irrelevant to the builder). */
function chromeShares(rng: (n: number) => Buffer): ClientHelloParams["keyShares"] {
  return [
    { group: 0x001d, key: rng(32) },
    { group: 0x11ec, key: rng(1216) },
  ];
}

function chromeHello(seed: string, extra: Partial<ClientHelloParams> = {}): Buffer {
  const rng = seededRng(seed);
  const hello = buildClientHello(chrome156.tls, {
    servername: "localhost",
    random: rng(32),
    sessionId: rng(32),
    keyShares: chromeShares(rng),
    rng,
    ...extra,
  });
  return clientHelloRecord(chrome156.tls, hello);
}

/** read-tls-client-hello's view of a record, through a stream as the package expects. */
async function packageFingerprints(record: Buffer): Promise<{ ja3: string; ja4: string }> {
  const stream = new PassThrough();
  stream.write(record);
  const hello = await readTlsClientHello(stream);
  stream.destroy();
  return { ja3: calculateJa3(hello), ja4: calculateJa4(hello) };
}

const ext = (h: ParsedClientHello, type: number): Buffer | undefined => h.extensions.find((e) => e.type === type)?.data;
const degreased = (l: number[]): number[] => l.map((v) => (isGrease(v) ? GREASE_PLACEHOLDER : v));

test("the reference Chromium hello has the documented JA4 (our parser and read-tls-client-hello agree)", async () => {
  assert.equal(ja4(chromeRef), CHROME_JA4);
  assert.equal(ja4r(chromeRef), CHROME_JA4_R);
  const pkg = await packageFingerprints(Buffer.from(chromeHex, "hex"));
  assert.equal(pkg.ja4, CHROME_JA4);
  assert.equal(pkg.ja3, ja3(chromeRef));
});

test("chrome156 reproduces the reference ClientHello byte for byte given the reference's random choices", () => {
  // Map each reference extension to the profile entry that produces it.
  const kindType: Record<string, number> = {
    server_name: EXT.SERVER_NAME, status_request: EXT.STATUS_REQUEST, supported_groups: EXT.SUPPORTED_GROUPS,
    ec_point_formats: EXT.EC_POINT_FORMATS, signature_algorithms: EXT.SIGNATURE_ALGORITHMS, alpn: EXT.ALPN,
    signed_certificate_timestamp: EXT.SCT, extended_master_secret: EXT.EXTENDED_MASTER_SECRET,
    compress_certificate: EXT.COMPRESS_CERTIFICATE, session_ticket: EXT.SESSION_TICKET,
    supported_versions: EXT.SUPPORTED_VERSIONS, psk_key_exchange_modes: EXT.PSK_KEY_EXCHANGE_MODES,
    key_share: EXT.KEY_SHARE, trust_anchors: EXT.TRUST_ANCHORS, ech_grease: EXT.ENCRYPTED_CLIENT_HELLO,
    renegotiation_info: EXT.RENEGOTIATION_INFO,
  };
  const profileExts = chrome156.tls.extensions;
  const indexOfType = (type: number): number => profileExts.findIndex((s) => kindType[s.kind] === type);
  const greaseIdx = profileExts.flatMap((s, i) => (s.kind === "grease" ? [i] : []));
  const middle = chromeRef.extensions.slice(1, -1).map((e) => indexOfType(e.type));
  assert.ok(middle.every((i) => i >= 0), "every reference extension has a profile entry");
  const unsent = profileExts.map((_, i) => i).filter((i) => !middle.includes(i) && !greaseIdx.includes(i) && profileExts[i]!.kind !== "padding");
  const padding = profileExts.findIndex((s) => s.kind === "padding");
  const order = [greaseIdx[0]!, ...middle, ...unsent, greaseIdx[1]!, padding];

  const keyShare = ext(chromeRef, EXT.KEY_SHARE)!;
  // GREASE entry (4+1+1... ) then 11ec (4 + 1216) then 001d (4 + 32).
  const mlkem = keyShare.subarray(2 + 5 + 4, 2 + 5 + 4 + 1216);
  const x25519 = keyShare.subarray(2 + 5 + 4 + 1216 + 4);
  const state: ClientHelloState = {
    grease: {
      cipher: chromeRef.cipherSuites[0]!,
      group: helloGroups(chromeRef)[0]!,
      extension1: chromeRef.extensions[0]!.type,
      extension2: chromeRef.extensions.at(-1)!.type,
      version: helloVersions(chromeRef)[0]!,
      signatureAlgorithm: helloSignatureAlgorithms(chromeRef)[0]!,
      echConfigId: ext(chromeRef, EXT.ENCRYPTED_CLIENT_HELLO)![5]!,
    },
    order,
    ech: ext(chromeRef, EXT.ENCRYPTED_CLIENT_HELLO)!,
  };
  const hello = buildClientHello(chrome156.tls, {
    servername: "localhost",
    random: chromeRef.random,
    sessionId: chromeRef.sessionId,
    keyShares: [
      { group: 0x001d, key: x25519 },
      { group: 0x11ec, key: mlkem },
    ],
    state,
  });
  assert.equal(clientHelloRecord(chrome156.tls, hello).toString("hex"), chromeHex);
});

test("chrome156 hello has the reference structure: ciphers, extension set and contents modulo randomness", () => {
  const h = parseClientHello(chromeHello("structure"));
  assert.equal(h.recordVersion, 0x0301);
  assert.equal(h.legacyVersion, 0x0303);
  assert.equal(h.sessionId.length, 32);
  assert.deepEqual(h.compressionMethods, [0]);
  assert.deepEqual(degreased(h.cipherSuites), degreased(chromeRef.cipherSuites));
  const types = (x: ParsedClientHello): number[] => x.extensions.map((e) => (isGrease(e.type) ? -1 : e.type)).sort((a, b) => a - b);
  assert.deepEqual(types(h), types(chromeRef));
  // Extensions whose contents carry no randomness must be identical.
  for (const type of [0x0000, 0x0005, 0x000b, 0x0010, 0x0012, 0x0017, 0x001b, 0x0023, 0x002d, 0xca34, 0xff01]) {
    assert.deepEqual(ext(h, type), ext(chromeRef, type), `extension ${type.toString(16)}`);
  }
  assert.deepEqual(degreased(helloGroups(h)), degreased(helloGroups(chromeRef)));
  assert.deepEqual(degreased(helloSignatureAlgorithms(h)), degreased(helloSignatureAlgorithms(chromeRef)));
  assert.deepEqual(degreased(helloVersions(h)), degreased(helloVersions(chromeRef)));
  const shares = (x: ParsedClientHello): Array<[number, number]> => helloKeyShares(x).map((s) => [isGrease(s.group) ? -1 : s.group, s.length]);
  assert.deepEqual(shares(h), [[-1, 1], [0x11ec, 1216], [0x001d, 32]]);
  assert.deepEqual(shares(h), shares(chromeRef));
  // The GREASE key share is one zero byte in the group that also leads supported_groups.
  const ks = ext(h, EXT.KEY_SHARE)!;
  assert.equal(ks.readUInt16BE(2), helloGroups(h)[0]);
  assert.equal(ks[6], 0);
  // GREASE extensions: first empty, last one zero byte, distinct values.
  const first = h.extensions[0]!;
  const last = h.extensions.at(-1)!;
  assert.ok(isGrease(first.type) && isGrease(last.type));
  assert.equal(first.data.length, 0);
  assert.deepEqual([...last.data], [0]);
  assert.notEqual(first.type, last.type);
  // ECH GREASE: outer, HKDF-SHA256, AES-128-GCM, 32-byte enc, payload 32·{4..7} + 16.
  const ech = ext(h, EXT.ENCRYPTED_CLIENT_HELLO)!;
  const refEch = ext(chromeRef, EXT.ENCRYPTED_CLIENT_HELLO)!;
  assert.deepEqual(ech.subarray(0, 5), refEch.subarray(0, 5));
  assert.equal(ech.readUInt16BE(6), 32);
  assert.ok([144, 176, 208, 240].includes(ech.readUInt16BE(40)));
  assert.equal(ech.length, 42 + ech.readUInt16BE(40));
});

test("chrome156 hello: JA4 and JA4_r equal the reference, by ja4.ts and by read-tls-client-hello", async () => {
  for (const seed of ["a", "b", "c"]) {
    const record = chromeHello(seed);
    const h = parseClientHello(record);
    assert.equal(ja4(h), CHROME_JA4);
    assert.equal(ja4r(h), CHROME_JA4_R);
    const pkg = await packageFingerprints(record);
    assert.equal(pkg.ja4, CHROME_JA4);
    assert.equal(pkg.ja3, ja3(h));
  }
});

test("20 chrome156 hellos: fresh extension order, varying GREASE, GREASE first and last, Chrome's size range", () => {
  const orders = new Set<string>();
  const cipherGrease = new Set<number>();
  const extGrease = new Set<number>();
  const echLengths = new Set<number>();
  const ja3s = new Set<string>();
  for (let i = 0; i < 20; i++) {
    // Default rng: crypto.randomBytes, as on a real connection.
    const rng = seededRng(`keys-${i}`);
    const record = clientHelloRecord(
      chrome156.tls,
      buildClientHello(chrome156.tls, { servername: "localhost", random: rng(32), sessionId: rng(32), keyShares: chromeShares(rng) }),
    );
    const h = parseClientHello(record);
    assert.equal(ja4(h), CHROME_JA4);
    assert.ok(isGrease(h.extensions[0]!.type), "GREASE first");
    assert.ok(isGrease(h.extensions.at(-1)!.type), "GREASE last");
    assert.equal(h.extensions.filter((e) => isGrease(e.type)).length, 2);
    assert.ok(record.length >= 1905 && record.length <= 2001, `size ${record.length}`);
    orders.add(h.extensions.map((e) => (isGrease(e.type) ? "g" : e.type)).join(","));
    cipherGrease.add(h.cipherSuites[0]!);
    extGrease.add(h.extensions[0]!.type);
    const ech = ext(h, EXT.ENCRYPTED_CLIENT_HELLO)!;
    echLengths.add(ech.length);
    // enc is a real X25519 public key (little-endian u-coordinate < 2^255), as BoringSSL sends.
    assert.equal(ech[8 + 31]! & 0x80, 0);
    ja3s.add(ja3(h));
  }
  assert.ok(orders.size >= 19, `distinct orders ${orders.size}`);
  assert.ok(ja3s.size >= 19, `distinct JA3 ${ja3s.size}`);
  assert.ok(cipherGrease.size >= 3, `cipher GREASE values ${[...cipherGrease]}`);
  assert.ok(extGrease.size >= 3);
  assert.ok(echLengths.size >= 2);
  for (const l of echLengths) assert.ok([186, 218, 250, 282].includes(l), `ECH extension length ${l}`);
});

test("a fixed rng gives a fixed hello; a different one a different hello", () => {
  assert.deepEqual(chromeHello("same"), chromeHello("same"));
  assert.notDeepEqual(chromeHello("same"), chromeHello("other"));
});

test("GREASE values are of the form 0x?a?a and the two fake extensions never collide", () => {
  for (let b = 0; b < 256; b++) {
    const g = drawGrease(() => Buffer.from([b, b, b, b, b, b, b]));
    for (const v of [g.cipher, g.group, g.extension1, g.extension2, g.version, g.signatureAlgorithm]) assert.ok(isGrease(v));
    assert.notEqual(g.extension1, g.extension2);
  }
});

test("IP literals and a missing servername send no SNI (JA4 t13i1515h1)", () => {
  for (const servername of ["127.0.0.1", "::1", "[::1]", undefined]) {
    const h = parseClientHello(chromeHello("ip", { servername }));
    assert.equal(helloServerName(h), undefined);
    assert.equal(ext(h, EXT.SERVER_NAME), undefined);
    assert.equal(ja4(h).slice(0, 10), "t13i1515h1");
  }
  assert.equal(helloServerName(parseClientHello(chromeHello("dns", { servername: "example.com" }))), "example.com");
});

test("alpn override replaces the profile's list; an empty list drops the extension", () => {
  const h = parseClientHello(chromeHello("alpn", { alpn: ["h2", "http/1.1"] }));
  // With h2 offered, ALPS (0x44cd) joins: Chromium 156's page-load hello over h2, as captured.
  assert.equal(ja4(h), "t13d1517h2_8daaf6152771_cb7bf5808d99");
  assert.deepEqual([...ext(h, 0x44cd)!], [0, 3, 2, 0x68, 0x32]);
  const none = parseClientHello(chromeHello("alpn", { alpn: [] }));
  assert.equal(ext(none, EXT.ALPN), undefined);
  assert.equal(ja4(none).slice(0, 10), "t13d151500");
});

test("a retry hello after HelloRetryRequest repeats GREASE, order and ECH, drops the GREASE share, adds the cookie", () => {
  const rng = seededRng("hrr");
  const random = rng(32);
  const sessionId = rng(32);
  const state: ClientHelloState = {};
  const first = parseClientHello(
    buildClientHello(chrome156.tls, { servername: "example.com", random, sessionId, keyShares: chromeShares(rng), state }),
  );
  const cookie = Buffer.from("cookie-from-server");
  const second = parseClientHello(
    buildClientHello(chrome156.tls, {
      servername: "example.com",
      random,
      sessionId,
      keyShares: [{ group: 0x0017, key: rng(65) }],
      state,
      retry: true,
      cookie,
    }),
  );
  assert.deepEqual(second.cipherSuites, first.cipherSuites);
  assert.deepEqual(helloKeyShares(second), [{ group: 0x0017, length: 65 }]);
  const withoutCookie = second.extensions.filter((e) => e.type !== EXT.COOKIE);
  assert.deepEqual(withoutCookie.map((e) => e.type), first.extensions.map((e) => e.type));
  for (const e of withoutCookie) {
    if (e.type !== EXT.KEY_SHARE) assert.deepEqual(e.data, ext(first, e.type), `extension ${e.type.toString(16)}`);
  }
  const c = ext(second, EXT.COOKIE)!;
  assert.deepEqual(c.subarray(2), cookie);
  assert.equal(c.readUInt16BE(0), cookie.length);
});

test("masqDefault: plain TLS 1.3 offer, no GREASE, fixed order", () => {
  const rng = seededRng("masq");
  const build = (): ParsedClientHello =>
    parseClientHello(
      buildClientHello(masqDefaultHello, {
        servername: "example.com",
        random: rng(32),
        sessionId: rng(32),
        keyShares: [{ group: 0x001d, key: rng(32) }],
      }),
    );
  const a = build();
  const b = build();
  assert.deepEqual(a.extensions.map((e) => e.type), b.extensions.map((e) => e.type));
  assert.ok(!a.cipherSuites.some(isGrease) && !a.extensions.some((e) => isGrease(e.type)));
  assert.deepEqual(helloVersions(a), [0x0304, 0x0303]);
  assert.deepEqual(helloKeyShares(a), [{ group: 0x001d, length: 32 }]);
  assert.equal(helloServerName(a), "example.com");
});

test("grease: false drops every placeholder", () => {
  const profile: ClientHelloProfile = { ...chrome156.tls, grease: false };
  const rng = seededRng("nogrease");
  const h = parseClientHello(
    buildClientHello(profile, { servername: "a.example", random: rng(32), sessionId: rng(32), keyShares: chromeShares(rng), rng }),
  );
  assert.ok(!h.cipherSuites.some(isGrease));
  assert.ok(!h.extensions.some((e) => isGrease(e.type)));
  assert.ok(!helloGroups(h).some(isGrease) && !helloSignatureAlgorithms(h).some(isGrease) && !helloVersions(h).some(isGrease));
  assert.ok(!helloKeyShares(h).some((s) => isGrease(s.group)));
  assert.equal(ja4(h), CHROME_JA4);
});

test("padding follows BoringSSL's rule: a 256–511 byte hello is padded to 512 bytes", () => {
  const profile: ClientHelloProfile = {
    ...masqDefaultHello,
    extensions: [...masqDefaultHello.extensions, { kind: "padding" }],
  };
  const rng = seededRng("pad");
  const build = (servername: string, retry = false): Buffer =>
    buildClientHello(profile, { servername, random: rng(32), sessionId: rng(32), keyShares: [{ group: 0x001d, key: rng(32) }], retry });
  // masq's default hello is about 238 bytes with a short name: a 40-byte longer name lands it in the window.
  const name = `${"x".repeat(40)}.example`;
  const keyShares = [{ group: 0x001d, key: rng(32) }];
  const unpadded = buildClientHello(masqDefaultHello, { servername: name, random: rng(32), sessionId: rng(32), keyShares });
  assert.ok(unpadded.length > 0xff && unpadded.length < 0x200, `unpadded ${unpadded.length}`);
  const padded = build(name);
  assert.equal(padded.length, 0x200);
  const pad = ext(parseClientHello(padded), EXT.PADDING)!;
  assert.ok(pad.length >= 1 && pad.every((b) => b === 0));
  assert.equal(build(name, true).length, unpadded.length, "no padding in a retry hello");
  const small = build("a.example");
  assert.ok(small.length < 0x100 && !ext(parseClientHello(small), EXT.PADDING), "below 256 bytes: no padding");
  const long = build(`${"x".repeat(300)}.example`);
  assert.equal(ext(parseClientHello(long), EXT.PADDING), undefined);
});

test("parseClientHello rejects truncated input with TlsError decode_error", () => {
  const record = chromeHello("trunc");
  for (const cut of [3, 10, 50, 200, record.length - 1]) {
    assert.throws(() => parseClientHello(record.subarray(0, cut)), (e: unknown) => (e as { alert?: string }).alert === "decode_error");
  }
});

test("ja4.ts agrees with read-tls-client-hello on other shapes (masqDefault, no ALPN, no SNI)", async () => {
  const rng = seededRng("shapes");
  for (const [profile, params] of [
    [masqDefaultHello, { servername: "example.com" }],
    [masqDefaultHello, { alpn: [] }],
    [chrome156.tls, { alpn: ["h2"] }],
  ] as Array<[ClientHelloProfile, Partial<ClientHelloParams>]>) {
    const record = clientHelloRecord(
      profile,
      buildClientHello(profile, { random: rng(32), sessionId: rng(32), keyShares: chromeShares(rng), rng, ...params }),
    );
    const pkg = await packageFingerprints(record);
    const h = parseClientHello(record);
    assert.equal(ja4(h), pkg.ja4);
    assert.equal(ja3(h), pkg.ja3);
  }
});

test("JA4 ALPN code: non-alphanumeric first or last byte gives hex nibbles (FoxIO rule)", () => {
  const rng = seededRng("alpn-hex");
  const h = parseClientHello(
    buildClientHello(masqDefaultHello, { random: rng(32), sessionId: rng(32), keyShares: [], alpn: ["\x01abc\xff"] }),
  );
  assert.equal(ja4(h).slice(8, 10), "0f");
  const noSig = parseClientHello(
    buildClientHello({ ...masqDefaultHello, extensions: [{ kind: "supported_versions", versions: [0x0304] }] }, {
      random: rng(32),
      sessionId: rng(32),
      keyShares: [],
    }),
  );
  // No signature algorithms: the extension list is hashed without the trailing "_".
  assert.equal(ja4r(noSig), "t13i090100_1301,1302,1303,c02b,c02c,c02f,c030,cca8,cca9_002b");
  assert.equal(ja4(noSig).split("_")[2], createHash("sha256").update("002b").digest("hex").slice(0, 12));
});
