/**
 * Custom fingerprints: JA3 strings taken from the reference captures build hellos whose JA3 equals
 * them; Akamai strings round-trip; what masq cannot send or complete is a WebSocketError at
 * wsConnect before any connection. Also the catalogue's HTTP/2 fingerprints against the captured
 * prefaces (curl_cffi's page loads; Chromium's and Firefox's real WebSocket CONNECTs).
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { readFileSync, readdirSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { WebSocketServer } from "ws";
import { AsyncSession, WebSocketError, profileFromJa3, http2FromAkamai, akamaiOf, getProfile, type BrowserProfile } from "../../src/index.js";
import { helloFromJa3, KNOWN_CIPHER_SUITES, resolveProfile, targetNames } from "../../src/impersonate/index.js";
import { buildClientHello } from "../../src/tls/client-hello.js";
import { isGrease } from "../../src/tls/constants.js";
import { ja3String, parseClientHello } from "../helpers/ja4.js";
import { testCerts } from "../helpers/certs.js";

const DIR = fileURLToPath(new URL("../fixtures/profiles", import.meta.url));
const REF = JSON.parse(readFileSync(`${DIR}/curl_cffi.json`, "utf8")).targets as Record<string, { h2: { akamai: string } }>;
const md5 = (s: string): string => createHash("md5").update(s).digest("hex");
const isWsError = (re: RegExp) => (e: unknown) => e instanceof WebSocketError && e.code === 0 && re.test(e.message);

function build(p: BrowserProfile["tls"]): ReturnType<typeof parseClientHello> {
  const keyShares = p.keyShareGroups.filter((g) => !isGrease(g)).map((group) => ({ group, key: Buffer.alloc(group === 0x11ec || group === 0x6399 ? 1216 : 65, 4) }));
  return parseClientHello(buildClientHello(p, { servername: "localhost", random: Buffer.alloc(32), sessionId: Buffer.alloc(32), keyShares }));
}

test("JA3 round trip: every captured hello's JA3 string builds a hello with the same JA3", () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith(".hex"));
  assert.ok(files.length >= 40);
  for (const f of files) {
    const ref = parseClientHello(readFileSync(`${DIR}/${f}`, "utf8").trim());
    const ja3 = ja3String(ref);
    const grease = ref.cipherSuites.some(isGrease);
    // Every captured suite is one masq's engine completes (TLS 1.3, and TLS 1.2 incl. Safari's CBC/3DES).
    assert.ok(ref.cipherSuites.every((c) => isGrease(c) || KNOWN_CIPHER_SUITES.has(c)), f);
    const tls = helloFromJa3(ja3, { grease });
    const ours = build(tls);
    assert.equal(ja3String(ours), ja3, f);
    assert.equal(md5(ja3String(ours)), md5(ja3), f);
    assert.equal(ours.cipherSuites.some(isGrease), grease, f);
  }
});

test("profileFromJa3: knobs JA3 cannot express (GREASE, permutation, compression, ECH, UA, headers, akamai)", () => {
  const ja3 = "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,0-23-65281-10-11-35-16-5-13-18-51-45-43-27-65037-17613-21,4588-29-23-24,0";
  const p = profileFromJa3(ja3, {
    grease: true,
    permute: true,
    certCompression: [1, 3],
    echGrease: "nss",
    userAgent: "MyAgent/1.0",
    akamai: "1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p",
  });
  assert.equal(p.headers.find(([n]) => n === "User-Agent")![1], "MyAgent/1.0");
  assert.equal(p.headers[1]![0], "Connection", "headers default to Chrome's template");
  assert.deepEqual(p.tls.keyShareGroups, [0x0a0a, 0x11ec, 0x001d]);
  const orders = new Set<string>();
  for (let i = 0; i < 10; i++) {
    const h = build(p.tls);
    const types = h.extensions.map((e) => e.type);
    assert.ok(isGrease(types[0]!) && isGrease(types.at(-1) === 0x15 ? types.at(-2)! : types.at(-1)!));
    orders.add(types.filter((t) => !isGrease(t)).join(","));
    assert.deepEqual([...h.extensions.find((e) => e.type === 27)!.data], [4, 0, 1, 0, 3]);
    assert.equal(h.extensions.find((e) => e.type === 0xfe0d)!.data.length, 281);
  }
  assert.ok(orders.size > 1);
  assert.equal(akamaiOf(p.http2!), "1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p");
  const ff = profileFromJa3(ja3, { base: "firefox", headers: [["Host", ""], ["X-Custom", "1"]] });
  assert.deepEqual(ff.headers, [["Host", ""], ["X-Custom", "1"]]);
  assert.deepEqual(ff.deflateOffer, { clientMaxWindowBits: false });
});

test("JA3 that masq cannot send or complete: a clear WebSocketError, never a hello that differs", () => {
  const base = "771,4865-4866,0-10-11-13-43-51,29-23,0";
  assert.ok(helloFromJa3(base, {}));
  assert.throws(() => helloFromJa3("771,4865-4,0-10-11-13-43-51,29,0", {}), isWsError(/cipher suite 0x0004/));
  assert.throws(() => helloFromJa3("771,47-53,0-10-11-13-43-51,29,0", {}), isWsError(/no TLS 1.3 cipher suite/));
  assert.throws(() => helloFromJa3("771,4865,0-10-11-13-43-51,29-30,0", {}), isWsError(/group 0x001e .* cannot complete/));
  assert.throws(() => helloFromJa3("771,4865,0-10-11-13-43-51-41,29,0", {}), isWsError(/extension 41/));
  assert.throws(() => helloFromJa3("771,4865,0-10-11-13-43-51-12345,29,0", {}), isWsError(/extension 12345/));
  assert.throws(() => helloFromJa3("771,4865,0-10-11-13-51,29,0", {}), isWsError(/supported_versions/));
  assert.throws(() => helloFromJa3("771,4865,0-10-10-13-43-51,29,0", {}), isWsError(/listed twice/));
  assert.throws(() => helloFromJa3("771,4865,0-10", {}), isWsError(/5 comma-separated fields/));
  assert.throws(() => helloFromJa3("771,4865-x,0,29,0", {}), isWsError(/not a 16-bit/));
  assert.throws(() => helloFromJa3(base, { keyShares: [0x0018] }), isWsError(/does not list/));
  assert.throws(() => helloFromJa3(base, { signatureAlgorithms: [0xfefe] }), isWsError(/signature algorithm 0xfefe/));
  assert.throws(() => helloFromJa3(base, { signatureAlgorithms: [0x0403, 0x0904] }), isWsError(/signature algorithm 0x0904 .* can verify/));
  assert.throws(() => resolveProfile({ ...getProfile("chrome"), tls: { ...getProfile("chrome").tls, groups: [0x0a0a, 0x4242] } }), isWsError(/0x4242/));
  assert.throws(() => resolveProfile({ name: "x" } as unknown as BrowserProfile), isWsError(/needs `tls`/));
});

test("Akamai strings: parse, round trip, refuse malformed ones", () => {
  const strings = new Set(Object.values(REF).map((t) => t.h2.akamai));
  strings.add("1:65536;2:0;4:131072;5:16384|12517377|3:0:0:201,5:0:0:101|m,p,a,s");
  for (const s of strings) assert.equal(akamaiOf(http2FromAkamai(s)), s);
  const fp = http2FromAkamai("1:65536;2:0;4:131072;5:16384|12517377|3:0:0:201,5:0:0:101|m,p,a,s", getProfile("firefox").http2);
  assert.deepEqual(fp.priorityFrames, [
    { streamId: 3, exclusive: false, dependency: 0, weight: 200 },
    { streamId: 5, exclusive: false, dependency: 0, weight: 100 },
  ]);
  assert.deepEqual(fp.pseudoHeaderOrder, [":method", ":path", ":authority", ":scheme", ":protocol"]);
  assert.equal(fp.streamWindowUpdate, 12451840);
  for (const bad of ["1:65536|1|0", "x:1|1|0|m,a,s,p", "1:65536|99999999999|0|m,a,s,p", "1:1|1|0|m,a,s", "1:1|1|0|m,a,s,s", "1:1|1|3:0:0:0|m,a,s,p"]) {
    assert.throws(() => http2FromAkamai(bad), isWsError(/^akamai: /), bad);
  }
});

test("HTTP/2 fingerprints: each profile's Akamai string equals its reference preface", () => {
  const CURL: Record<string, string> = { safari15_3: "safari153", safari15_5: "safari155", safari17_0: "safari170", safari18_0: "safari180", safari18_4: "safari184", safari26_0: "safari260", safari26_0_1: "safari2601", safari17_2_ios: "safari172_ios", safari18_0_ios: "safari180_ios", safari18_4_ios: "safari184_ios", safari26_0_ios: "safari260_ios" };
  const real = JSON.parse(readFileSync(`${DIR}/real-browser-upgrades.json`, "utf8")) as Array<{ kind: string; akamai?: string; frames?: Array<{ type: string; stream: number; increment?: number; priority?: { exclusive: number; dependsOn: number; weightByte: number }; headers?: Array<[string, string]> }> }>;
  const h2 = real.filter((r) => r.kind === "h2");
  const chromeRec = h2.find((r) => r.akamai!.includes("6291456"))!;
  const ffRec = h2.find((r) => r.akamai === "1:65536;2:0;4:131072;5:16384|12517377|0|m,p,a,s,p")!;
  for (const name of targetNames()) {
    const fp = getProfile(name).http2!;
    const ref = REF[CURL[name] ?? name]?.h2.akamai ?? (name === "firefox153" ? "1:65536;2:0;4:131072;5:16384|12517377|0|m,p,a,s" : chromeRec.akamai!);
    assert.equal(akamaiOf(fp), ref, name);
  }
  // Firefox 153's extended CONNECT, frame by frame.
  const ff = getProfile("firefox153").http2!;
  const connect = ffRec.frames!.find((f) => f.type === "HEADERS")!;
  assert.equal(ff.firstStreamId, connect.stream);
  assert.deepEqual(ff.priority, { exclusive: false, dependency: 0, weight: connect.priority!.weightByte });
  assert.equal(ff.streamWindowUpdate, ffRec.frames!.find((f) => f.type === "WINDOW_UPDATE" && f.stream === 3)!.increment);
  assert.deepEqual(ff.pseudoHeaderOrder, connect.headers!.filter(([n]) => n.startsWith(":")).map(([n]) => n));
  assert.deepEqual(ff.headers.map(([n]) => n).filter((n) => n !== "sec-websocket-protocol"), connect.headers!.filter(([n]) => !n.startsWith(":")).map(([n]) => n));
  assert.equal(ff.websocket, "fresh");
  // Chromium 156's CONNECT on its page connection.
  const ch = getProfile("chrome156").http2!;
  const cc = chromeRec.frames!.find((f) => f.type === "HEADERS" && f.headers!.some(([n, v]) => n === ":method" && v === "CONNECT"))!;
  assert.deepEqual(ch.priority, { exclusive: true, dependency: 0, weight: cc.priority!.weightByte });
  assert.deepEqual(ch.pseudoHeaderOrder, cc.headers!.filter(([n]) => n.startsWith(":")).map(([n]) => n));
  const values = Object.fromEntries(cc.headers!);
  for (const [n, v] of ch.headers) if (v !== "" && n !== "user-agent") assert.equal(v, values[n], n);
  assert.deepEqual(ch.headers.map(([n]) => n).filter((n) => n !== "sec-websocket-protocol"), cc.headers!.filter(([n]) => !n.startsWith(":")).map(([n]) => n));
  assert.equal(ch.websocket, "existing");
});

// ---------------------------------------------------------------- through AsyncSession

const certs = testCerts();
const https = createHttpsServer({ cert: certs.leaf.cert, key: certs.leaf.key });
const wss = new WebSocketServer({ server: https });
wss.on("connection", (ws) => ws.on("message", (m, binary) => ws.send(m, { binary })));
let connections = 0;
https.on("connection", () => connections++);
https.listen(0, "127.0.0.1");
after(() => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(); https.close(() => r()); }));

test("wsConnect: a custom profile connects; one masq cannot complete fails before any connection", async () => {
  if (!https.listening) await once(https, "listening");
  const url = `wss://localhost:${(https.address() as net.AddressInfo).port}/`;
  const chromeJa3 = ja3String(parseClientHello(readFileSync(`${DIR}/chrome99-wss.hex`, "utf8").trim()));
  const session = new AsyncSession({ ca: certs.ca.cert, timeout: 10_000 });
  try {
    const ws = await session.wsConnect(url, { impersonate: profileFromJa3(chromeJa3, { grease: true, userAgent: "Custom/1" }) });
    await ws.sendStr("custom");
    assert.equal(await ws.recvStr({ timeout: 10_000 }), "custom");
    await ws.close();
    // A built-in profile with the caller's own headers keeps its hello as shipped (Chrome 156
    // offers ML-DSA, as Chromium does, which a custom hello may not).
    const chrome = getProfile("chrome");
    const own: BrowserProfile = { ...chrome, headers: [...chrome.headers, ["X-Own", "1"]] };
    assert.equal(resolveProfile(own), own);
    const ws2 = await session.wsConnect(url, { impersonate: own });
    await ws2.sendStr("own headers");
    assert.equal(await ws2.recvStr({ timeout: 10_000 }), "own headers");
    await ws2.close();
    // ...but the same hello copied field by field is a custom hello, checked as such.
    assert.throws(() => resolveProfile({ ...chrome, tls: { ...chrome.tls } }), isWsError(/0x0904/));
    const before = connections;
    const bad: BrowserProfile = { ...getProfile("chrome124"), tls: { ...getProfile("chrome124").tls, keyShareGroups: [0x0a0a, 0x0200], groups: [0x0a0a, 0x0200] } };
    await assert.rejects(session.wsConnect(url, { impersonate: bad }), isWsError(/0x0200/));
    await assert.rejects(session.wsConnect(url, { impersonate: "netscape4" }), isWsError(/unknown impersonate profile/));
    assert.equal(connections, before, "no connection was attempted");
  } finally {
    await session.close();
  }
});

test("cipher suites: every catalogue target offers only suites the engine completes; custom profiles likewise", () => {
  for (const name of targetNames()) {
    const p = getProfile(name);
    for (const c of p.tls.cipherSuites) assert.ok(isGrease(c) || KNOWN_CIPHER_SUITES.has(c), `${name}: 0x${c.toString(16)}`);
    assert.equal(resolveProfile(p), p);
  }
  // RC4 (0x0005, 0xc011) and NULL (0x0001) suites: refused rather than offered without an implementation.
  assert.throws(() => helloFromJa3("771,4865-5,0-10-11-13-43-51,29,0", {}), isWsError(/cipher suite 0x0005 .* can complete/));
  assert.throws(() => helloFromJa3("771,4865-49169,0-10-11-13-43-51,29,0", {}), isWsError(/0xc011/));
  assert.throws(() => resolveProfile({ ...getProfile("safari15_3"), tls: { ...getProfile("safari15_3").tls, cipherSuites: [0x1301, 0x0001] } }), isWsError(/0x0001/));
});
