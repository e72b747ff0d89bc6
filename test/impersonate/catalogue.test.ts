/**
 * Every catalogue target's ClientHello against its reference, without sockets (the builder is
 * pure): JA4 and JA4_r, the extension-order rule over 20 hellos, GREASE positions and the size
 * range. References: curl_cffi 0.16.3's captures (test/fixtures/profiles/curl_cffi.json and
 * <target>-wss.hex) and, for Chromium 156 and Firefox ESR 153, the real browsers' captures.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { getProfile, profileNames, targetNames, type BrowserProfile } from "../../src/impersonate/index.js";
import { buildClientHello } from "../../src/tls/client-hello.js";
import { isGrease } from "../../src/tls/constants.js";
import { serverShareLength } from "../../src/tls/key-exchange.js";
import { ja4, ja4r, parseClientHello, type ParsedClientHello } from "../helpers/ja4.js";

const DIR = fileURLToPath(new URL("../fixtures/profiles", import.meta.url));
interface RefHello {
  ja4: string[];
  ja4_r: string[];
  permuted: boolean;
  grease_positions: number[];
  handshakeLengths: number[];
  ext_order_first: string[];
}
const REF = JSON.parse(readFileSync(`${DIR}/curl_cffi.json`, "utf8")).targets as Record<string, { wss: RefHello; https: RefHello }>;

/** curl_cffi's name for each target it has (canonical masq names use curl_cffi's alias spelling). */
const CURL_NAME: Record<string, string> = {
  safari15_3: "safari153", safari15_5: "safari155", safari17_0: "safari170", safari18_0: "safari180", safari18_4: "safari184",
  safari26_0: "safari260", safari26_0_1: "safari2601", safari17_2_ios: "safari172_ios", safari18_0_ios: "safari180_ios",
  safari18_4_ios: "safari184_ios", safari26_0_ios: "safari260_ios",
};
/** Targets checked against real browser captures instead (below). */
const REAL = new Set(["chrome156", "edge156", "chrome156_android", "firefox153"]);
/** Every curl_cffi BrowserType value (44) resolves. */
const CURL_CFFI_NAMES = [
  "edge99", "edge101", "chrome99", "chrome100", "chrome101", "chrome104", "chrome107", "chrome110", "chrome116", "chrome119",
  "chrome120", "chrome123", "chrome124", "chrome131", "chrome133a", "chrome136", "chrome142", "chrome145", "chrome146",
  "chrome150", "chrome99_android", "chrome131_android", "safari153", "safari155", "safari170", "safari172_ios", "safari180",
  "safari180_ios", "safari184", "safari184_ios", "safari260", "safari260_ios", "safari2601", "firefox133", "firefox135",
  "firefox144", "firefox147", "tor145", "safari15_3", "safari15_5", "safari17_0", "safari17_2_ios", "safari18_0", "safari18_0_ios",
];

/** A hello with stand-in key shares of the right length (the builder does not look inside). */
function hello(p: BrowserProfile, alpn?: string[]): { parsed: ParsedClientHello; length: number } {
  const keyShares = p.tls.keyShareGroups.filter((g) => !isGrease(g)).map((group) => ({ group, key: Buffer.alloc(clientShareLength(group), 7) }));
  const h = buildClientHello(p.tls, {
    servername: "localhost",
    random: Buffer.alloc(32, 1),
    sessionId: Buffer.alloc(32, 2),
    keyShares,
    ...(alpn ? { alpn } : {}),
  });
  return { parsed: parseClientHello(h), length: h.length - 4 };
}

function clientShareLength(group: number): number {
  if (group === 0x11ec || group === 0x6399) return 1216;
  return serverShareLength(group);
}

const order = (h: ParsedClientHello): string[] =>
  h.extensions.map((e) => (isGrease(e.type) ? "G" : e.type.toString(16).padStart(4, "0"))).filter((t) => t !== "0015");
const greasePositions = (o: string[]): number[] => o.flatMap((t, i) => (t === "G" ? [i] : []));

function refOf(name: string): { ref: RefHello; kind: "wss" | "https" } {
  const p = getProfile(name);
  const entry = REF[CURL_NAME[name] ?? name]!;
  // Firefox and Tor send their page hello (h2 in ALPN) for a WebSocket too: compare with it.
  const kind = p.tls.alpn.includes("h2") ? "https" : "wss";
  return { ref: entry[kind], kind };
}

test("profileNames(): every target, the family names and all 44 curl_cffi spellings", () => {
  const names = profileNames();
  for (const n of [...targetNames(), ...CURL_CFFI_NAMES, "chrome", "edge", "chrome_android", "safari", "safari_ios", "firefox", "tor"]) {
    assert.ok(names.includes(n), n);
    assert.ok(getProfile(n).tls.name.length > 0);
  }
  assert.equal(getProfile("chrome").name, "chrome156");
  assert.equal(getProfile("edge").name, "edge156");
  assert.equal(getProfile("chrome_android").name, "chrome156_android");
  assert.equal(getProfile("safari").name, "safari26_0_1");
  assert.equal(getProfile("safari_ios").name, "safari26_0_ios");
  assert.equal(getProfile("firefox").name, "firefox153");
  assert.equal(getProfile("tor").name, "tor145");
  assert.equal(getProfile("safari17_2_ios"), getProfile("safari172_ios"));
  assert.equal(new Set(names).size, names.length);
});

test("every curl_cffi target: JA4 and JA4_r within its wire-identical group, 20 hellos each", () => {
  // Targets sharing a shape object share their references (e.g. chrome131_android's captures
  // happened not to hit the padded size that chrome119's did).
  const byShape = new Map<unknown, { ja4: Set<string>; ja4r: Set<string> }>();
  for (const name of targetNames().filter((n) => !REAL.has(n))) {
    const p = getProfile(name);
    const { ref } = refOf(name);
    const g = byShape.get(p.tls) ?? { ja4: new Set<string>(), ja4r: new Set<string>() };
    ref.ja4.forEach((j) => g.ja4.add(j));
    ref.ja4_r.forEach((j) => g.ja4r.add(j));
    byShape.set(p.tls, g);
  }
  for (const name of targetNames().filter((n) => !REAL.has(n))) {
    const p = getProfile(name);
    const expected = byShape.get(p.tls)!;
    for (let i = 0; i < 20; i++) {
      const { parsed } = hello(p);
      assert.ok(expected.ja4.has(ja4(parsed)), `${name}: JA4 ${ja4(parsed)} not in ${[...expected.ja4]}`);
      assert.ok(expected.ja4r.has(ja4r(parsed)), `${name}: JA4_r ${ja4r(parsed)}`);
    }
  }
});

test("every curl_cffi target: extension order fixed or permuted as captured, GREASE positions", () => {
  for (const name of targetNames().filter((n) => !REAL.has(n))) {
    const p = getProfile(name);
    const { ref } = refOf(name);
    const refOrder = ref.ext_order_first.filter((t) => t !== "0015");
    assert.equal(p.tls.permuteExtensions, ref.permuted, `${name}: permutation`);
    const orders = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const o = order(hello(p).parsed);
      orders.add(o.join(","));
      assert.deepEqual(greasePositions(o), greasePositions(refOrder), `${name}: GREASE positions`);
      if (!ref.permuted) assert.deepEqual(o, refOrder, `${name}: fixed order`);
      else assert.deepEqual([...o].sort(), [...refOrder].sort(), `${name}: extension set`);
    }
    if (ref.permuted) assert.ok(orders.size >= 10, `${name}: ${orders.size} distinct orders in 20 hellos`);
    else assert.equal(orders.size, 1);
  }
});

test("every curl_cffi target: handshake sizes in the captured range", () => {
  for (const name of targetNames().filter((n) => !REAL.has(n))) {
    const p = getProfile(name);
    const { ref } = refOf(name);
    const ours = new Set<number>();
    for (let i = 0; i < 20; i++) ours.add(hello(p).length);
    const hasEch = p.tls.extensions.some((e) => e.kind === "ech_grease");
    if (p.tls.alpn.includes("h2")) {
      // Firefox/Tor: NSS's ECH GREASE as measured on Firefox 153 (one size); curl_cffi's imitation
      // varies its ECH payload like BoringSSL, so only Firefox's own size is checked below.
      assert.equal(ours.size, 1, name);
    } else if (!hasEch) {
      assert.deepEqual([...ours], ref.handshakeLengths, name);
    } else {
      // ECH payload 144/176/208/240: lengths 32 apart, four at most, a superset of the captured ones
      // (below 512 bytes the padding rule lifts the shortest to 508).
      const all = [...new Set([...ours, ...ref.handshakeLengths])].sort((a, b) => a - b);
      assert.ok(all.length <= 4 && all.every((l) => (l - all[0]!) % 32 === 0), `${name}: ${all}`);
    }
  }
});

test("Chromium and Safari targets: the h2 hello (ALPS for Chromium, with its code point) as curl_cffi's https capture", () => {
  const https = JSON.parse(readFileSync(`${DIR}/curl_cffi.json`, "utf8")).targets as Record<string, { https: RefHello }>;
  for (const name of targetNames().filter((n) => /^(chrome|edge|safari)/.test(n) && !REAL.has(n))) {
    const p = getProfile(name);
    const expected = new Set(https[CURL_NAME[name] ?? name]!.https.ja4);
    for (let i = 0; i < 8; i++) {
      const j = ja4(hello(p, ["h2", "http/1.1"]).parsed);
      // chrome119-123: JA4 varies with padding (the captures saw one or both variants).
      assert.ok(expected.has(j) || /^t13d1517h2/.test(j), `${name}: ${j} not in ${[...expected]}`);
    }
  }
});

test("Chromium 156 family and Firefox 153: equal to the real browsers' captures", () => {
  const chromium = parseClientHello(readFileSync(`${DIR}/chromium-156-headless-wss.hex`, "utf8").trim());
  const chromiumH2 = parseClientHello(readFileSync(`${DIR}/chromium-156-headless-https-h2.hex`, "utf8").trim());
  const ff = parseClientHello(readFileSync(`${DIR}/firefox-esr-153.8-wss.hex`, "utf8").trim());
  for (const name of ["chrome156", "edge156", "chrome156_android"]) {
    const p = getProfile(name);
    for (let i = 0; i < 5; i++) {
      assert.equal(ja4r(hello(p).parsed), ja4r(chromium), name);
      assert.equal(ja4(hello(p, ["h2", "http/1.1"]).parsed), ja4(chromiumH2), name);
    }
  }
  const { parsed, length } = hello(getProfile("firefox153"));
  assert.equal(ja4(parsed), ja4(ff));
  assert.equal(ja4r(parsed), ja4r(ff));
  assert.deepEqual(order(parsed), order(ff));
  // Same hello length as Firefox's own for "localhost" (its ECH GREASE is 281 bytes too).
  assert.equal(length, readFileSync(`${DIR}/firefox-esr-153.8-wss.hex`, "utf8").trim().length / 2 - 9);
  // Firefox 133-147 differ from 153 by one cipher (c009) and, for 133, the missing SCT extension.
  assert.equal(hello(getProfile("firefox147")).length, length + 2);
});

test("README: the catalogue table has a row per target with its platform and JA4", () => {
  const readme = readFileSync(fileURLToPath(new URL("../../README.md", import.meta.url)), "utf8");
  for (const name of targetNames()) {
    const row = readme.split("\n").find((l) => l.startsWith(`| \`${name}\` |`));
    assert.ok(row, `README row for ${name}`);
    const p = getProfile(name);
    assert.ok(row.includes(`| ${p.info!.platform} |`), name);
    assert.ok(row.includes(p.info!.headerSource) && row.includes(p.info!.checkedAgainst), name);
    for (let i = 0; i < 5; i++) assert.ok(row.includes(ja4(hello(p).parsed)), `${name}: README JA4`);
  }
});
