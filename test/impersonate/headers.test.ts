/**
 * Upgrade requests of the catalogue: header order, case and values per engine against the real
 * captures (Chromium 156, Firefox ESR 153.8: same-origin and cross-site pages) and WebKit's
 * documented order; Sec-Fetch-Site / Sec-Fetch-Storage-Access against the Origin in use, also
 * through AsyncSession on the wire; Chromium's sec-ch-ua brand list.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { WebSocketServer } from "ws";
import { AsyncSession } from "../../src/session.js";
import {
  applyOriginRules, chromiumBrands, formatSecChUa, getProfile, siteRelation, targetNames, type BrowserProfile,
} from "../../src/impersonate/index.js";
import { buildRequestHeaders } from "../../src/protocol/handshake.js";
import { formatDeflateOffer } from "../../src/protocol/extensions.js";

const DIR = fileURLToPath(new URL("../fixtures/profiles", import.meta.url));
interface Rec { kind: string; url?: string; rawHeaders?: string[]; lport?: number }
const RECORDS = (JSON.parse(readFileSync(`${DIR}/real-browser-upgrades.json`, "utf8")) as Rec[]).filter((r) => r.kind === "ws-upgrade");
const pairs = (raw: string[]): Array<[string, string]> => raw.flatMap((v, i) => (i % 2 === 0 ? [[v, raw[i + 1]!] as [string, string]] : []));
const record = (browser: string, k: string): Array<[string, string]> =>
  pairs(RECORDS.find((r) => r.url!.includes(`t=${browser}&k=${k}`))!.rawHeaders!);

/**
 * Safari since 15: CFNetwork's NSURLSession WebSocket request (captured on macOS 11), plus
 * WebKit's own request headers after User-Agent (no Safari capture exists here).
 */
const CFNETWORK = readFileSync(`${DIR}/cfnetwork-websocket-request.txt`, "latin1")
  .split("\r\n")
  .slice(1)
  .filter((l) => l.includes(":"))
  .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()] as [string, string]);
const WEBKIT_OWN = ["Origin", "Sec-WebSocket-Protocol", "Pragma", "Cache-Control"];
const WEBKIT = [...CFNETWORK.slice(0, 2).map(([n]) => n), ...WEBKIT_OWN, ...CFNETWORK.slice(2).map(([n]) => n)];

const names = (p: BrowserProfile): string[] => p.headers.map(([n]) => n);

test("every profile: its engine's documented header order and case, no navigation headers", () => {
  const chromium = record("chromium", "wss-sameorigin-h1").map(([n]) => n);
  const firefox = record("firefox-esr", "wssh1").map(([n]) => n); // cross-site page: with Storage-Access
  for (const name of targetNames()) {
    const p = getProfile(name);
    const family = p.info!.family;
    const got = names(p).filter((n) => n !== "Sec-WebSocket-Protocol");
    if (/^(chrome|edge)/.test(family)) assert.deepEqual(got, chromium, name);
    else if (family === "safari" || family === "safari_ios") {
      assert.deepEqual(names(p), WEBKIT, name);
      // CFNetwork's values (Accept, the bare permessage-deflate offer, Accept-Encoding) as captured.
      for (const n of ["Accept", "Sec-WebSocket-Extensions", "Accept-Encoding", "Upgrade", "Sec-WebSocket-Version"]) {
        assert.equal(p.headers.find(([h]) => h === n)![1], CFNETWORK.find(([h]) => h === n)![1], `${name} ${n}`);
      }
      assert.deepEqual(p.deflateOffer, { clientMaxWindowBits: false });
    }
    else {
      // Sec-Fetch-Storage-Access is only known from Firefox 153; older versions leave it out.
      const expected = name === "firefox153" ? firefox : firefox.filter((n) => n !== "Sec-Fetch-Storage-Access");
      assert.deepEqual(got, expected, name);
    }
    for (const [n, v] of p.headers) {
      assert.ok(!/^(upgrade-insecure-requests|sec-fetch-user|te|priority)$/i.test(n), `${name}: ${n}`);
      if (/^sec-fetch-mode$/i.test(n)) assert.equal(v, "websocket", name);
      if (/^accept$/i.test(n)) assert.doesNotMatch(v, /text\/html/, name);
    }
    const ua = p.headers.find(([n]) => n === "User-Agent")![1];
    const v = p.info!.version;
    if (family === "tor") assert.match(ua, /Firefox\/128\.0$/);
    else if (family === "firefox") assert.match(ua, new RegExp(`rv:${v}\\.0\\) Gecko/20100101 Firefox/${v}\\.0$`), name);
    else if (family.startsWith("safari")) assert.match(ua, new RegExp(`Version/${v.replace(/\./g, "\\.")} `), name);
    else assert.match(ua, new RegExp(` Chrome/${v}\\.0\\.`), name);
    if (p.info!.platform === "Android" || p.info!.platform === "iOS") assert.match(ua, /Mobile/, name);
  }
});

test("Chromium 156 and Firefox 153: the built request equals the real captures, same-origin and cross-site", () => {
  const cases: Array<[string, string, string, string]> = [
    ["chrome156", "chromium", "wss-sameorigin-h1", "wss://localhost:8444/chat?x=1"],
    ["chrome156", "chromium", "wssh1", "wss://localhost:8444/chat?x=1"],
    ["firefox153", "firefox-esr", "wss-sameorigin-h1", "wss://localhost:8444/chat?x=1"],
    ["firefox153", "firefox-esr", "wssh1", "wss://localhost:8444/chat?x=1"],
  ];
  for (const [name, browser, k, url] of cases) {
    const p = getProfile(name);
    const want = record(browser, k);
    const get = (n: string): string => want.find(([h]) => h === n)![1];
    const origin = get("Origin");
    const built = buildRequestHeaders({
      host: get("Host"),
      key: get("Sec-WebSocket-Key"),
      origin,
      extensions: formatDeflateOffer(p.deflateOffer ?? {}),
      template: applyOriginRules(p.headers, siteRelation(origin, new URL(url))),
    });
    // The capture is headless Chromium: its User-Agent says HeadlessChrome.
    const expected = want.map(([n, v]): [string, string] => [n, n === "User-Agent" ? v.replace("HeadlessChrome/", "Chrome/") : v]);
    assert.deepEqual(built, expected, `${name} ${k}`);
  }
});

test("siteRelation: Fetch's same-origin / same-site / cross-site for a ws(s) URL", () => {
  const u = (s: string): URL => new URL(s);
  assert.equal(siteRelation("https://localhost:8444", u("wss://localhost:8444/chat")), "same-origin");
  assert.equal(siteRelation("https://example.com", u("wss://example.com/")), "same-origin");
  assert.equal(siteRelation("http://example.com:80", u("ws://example.com/")), "same-origin");
  assert.equal(siteRelation("https://www.example.co.uk", u("wss://ws.example.co.uk/")), "same-site");
  assert.equal(siteRelation("http://www.example.com", u("wss://ws.example.com/")), "cross-site"); // schemeful
  assert.equal(siteRelation("https://a.github.io", u("wss://b.github.io/")), "cross-site"); // public suffix
  assert.equal(siteRelation("http://127.0.0.1:8000", u("wss://localhost:8443/")), "cross-site");
  assert.equal(siteRelation("https://localhost:1", u("wss://localhost:2/")), "same-site");
  assert.equal(siteRelation("null", u("wss://localhost/")), "cross-site");
  const ff = getProfile("firefox153").headers;
  const same = applyOriginRules(ff, "same-origin");
  assert.equal(same.find(([n]) => n === "Sec-Fetch-Site")![1], "same-origin");
  assert.ok(!same.some(([n]) => n === "Sec-Fetch-Storage-Access"));
  assert.equal(applyOriginRules(ff, "same-site").find(([n]) => n === "Sec-Fetch-Site")![1], "same-site");
  assert.equal(applyOriginRules(ff, "cross-site").find(([n]) => n === "Sec-Fetch-Storage-Access")![1], "none");
  const chrome = getProfile("chrome156").headers;
  assert.equal(applyOriginRules(chrome, "same-origin"), chrome);
});

test("sec-ch-ua: Chromium's GREASE brand and order per version (as Chrome and Edge send them)", () => {
  // Values Chrome/Edge send on page loads (curl_cffi copied them from the browsers) and Chromium 156's capture.
  const expected: Array<[number, string | undefined, string]> = [
    [99, "Google Chrome", `" Not A;Brand";v="99", "Chromium";v="99", "Google Chrome";v="99"`],
    [101, "Microsoft Edge", `" Not A;Brand";v="99", "Chromium";v="101", "Microsoft Edge";v="101"`],
    [104, "Google Chrome", `"Chromium";v="104", " Not A;Brand";v="99", "Google Chrome";v="104"`],
    [107, "Google Chrome", `"Google Chrome";v="107", "Chromium";v="107", "Not=A?Brand";v="24"`],
    [110, "Google Chrome", `"Chromium";v="110", "Not A(Brand";v="24", "Google Chrome";v="110"`],
    [116, "Google Chrome", `"Chromium";v="116", "Not)A;Brand";v="24", "Google Chrome";v="116"`],
    [119, "Google Chrome", `"Google Chrome";v="119", "Chromium";v="119", "Not?A_Brand";v="24"`],
    [120, "Google Chrome", `"Not_A Brand";v="8", "Chromium";v="120", "Google Chrome";v="120"`],
    [123, "Google Chrome", `"Google Chrome";v="123", "Not:A-Brand";v="8", "Chromium";v="123"`],
    [124, "Google Chrome", `"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"`],
    [131, "Google Chrome", `"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"`],
    [133, "Google Chrome", `"Not(A:Brand";v="99", "Google Chrome";v="133", "Chromium";v="133"`],
    [136, "Google Chrome", `"Chromium";v="136", "Google Chrome";v="136", "Not.A/Brand";v="99"`],
    [142, "Google Chrome", `"Chromium";v="142", "Google Chrome";v="142", "Not_A Brand";v="99"`],
    [145, "Google Chrome", `"Not:A-Brand";v="99", "Google Chrome";v="145", "Chromium";v="145"`],
    [146, "Google Chrome", `"Chromium";v="146", "Not-A.Brand";v="24", "Google Chrome";v="146"`],
    [150, "Google Chrome", `"Not;A=Brand";v="8", "Chromium";v="150", "Google Chrome";v="150"`],
    [156, undefined, `"Not:A-Brand";v="8", "Chromium";v="156"`],
    [156, "Microsoft Edge", `"Not:A-Brand";v="8", "Chromium";v="156", "Microsoft Edge";v="156"`],
  ];
  for (const [major, brand, value] of expected) assert.equal(formatSecChUa(chromiumBrands(major, brand)), value, String(major));
  const hints = getProfile("chrome131_android").clientHints!;
  assert.deepEqual(hints, [
    ["sec-ch-ua", `"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"`],
    ["sec-ch-ua-mobile", "?1"],
    ["sec-ch-ua-platform", '"Android"'],
  ]);
});

// ---------------------------------------------------------------- on the wire (ws://, no TLS needed)

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: true });
const seen: string[][] = [];
wss.on("connection", (ws, req) => {
  seen.push(req.rawHeaders);
  ws.on("message", (m, binary) => ws.send(m, { binary }));
});
after(() => new Promise<void>((r) => wss.close(() => r())));

async function upgradeHeaders(impersonate: string, origin?: string): Promise<Array<[string, string]>> {
  if (wss.address() === null) await once(wss, "listening");
  const port = (wss.address() as AddressInfo).port;
  const session = new AsyncSession();
  try {
    const ws = await session.wsConnect(`ws://127.0.0.1:${port}/chat`, { impersonate, ...(origin ? { origin } : {}), timeout: 10_000 });
    await ws.sendStr("hi");
    assert.equal(await ws.recvStr({ timeout: 10_000 }), "hi");
    await ws.close();
  } finally {
    await session.close();
  }
  return pairs(seen.at(-1)!);
}

test("AsyncSession: Firefox's Sec-Fetch-* follow the Origin; bare permessage-deflate (issue 12 item 6)", async () => {
  const derived = await upgradeHeaders("firefox");
  const get = (h: Array<[string, string]>, n: string): string | undefined => h.find(([k]) => k === n)?.[1];
  assert.match(get(derived, "Origin")!, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(get(derived, "Sec-Fetch-Site"), "same-origin");
  assert.equal(get(derived, "Sec-Fetch-Storage-Access"), undefined);
  assert.equal(get(derived, "Sec-WebSocket-Extensions"), "permessage-deflate");
  const foreign = await upgradeHeaders("firefox153", "http://127.0.0.2:8000");
  assert.equal(get(foreign, "Sec-Fetch-Site"), "cross-site");
  assert.equal(get(foreign, "Sec-Fetch-Storage-Access"), "none");
  // Order unchanged: Storage-Access sits right after the key, as captured.
  const names = foreign.map(([n]) => n);
  assert.equal(names[names.indexOf("Sec-WebSocket-Key") + 1], "Sec-Fetch-Storage-Access");
  const older = await upgradeHeaders("firefox133", "http://127.0.0.2:8000");
  assert.equal(get(older, "Sec-Fetch-Site"), "cross-site");
  assert.equal(get(older, "Accept-Language"), "en-US,en;q=0.5");
});

test("AsyncSession: Chromium and Safari requests carry their profile's headers", async () => {
  const chrome = await upgradeHeaders("chrome124");
  const get = (h: Array<[string, string]>, n: string): string | undefined => h.find(([k]) => k === n)?.[1];
  assert.equal(get(chrome, "Sec-WebSocket-Extensions"), "permessage-deflate; client_max_window_bits");
  assert.equal(get(chrome, "Sec-Fetch-Site"), undefined);
  assert.match(get(chrome, "User-Agent")!, /Chrome\/124\.0\.0\.0/);
  assert.deepEqual(chrome.map(([n]) => n), getProfile("chrome124").headers.map(([n]) => n).filter((n) => n !== "Sec-WebSocket-Protocol"));
  const safari = await upgradeHeaders("safari17_2_ios");
  assert.deepEqual(safari.map(([n]) => n), WEBKIT.filter((n) => n !== "Sec-WebSocket-Protocol"));
  assert.equal(get(safari, "Sec-WebSocket-Extensions"), "permessage-deflate");
  assert.match(get(safari, "User-Agent")!, /iPhone OS 17_2 .* Version\/17\.2 Mobile/);
});
