// The HTTP/2 fingerprint on the wire, recorded frame by frame by python3-h2's server (its own
// frame parser and HPACK decoder), against the real browsers' captures in
// test/fixtures/h2/browser-h2-captures.json (Firefox ESR 153.8, Chromium 156).
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { AsyncSession } from "../../src/session.js";
import { testCerts } from "../helpers/certs.js";
import { pythonH2Available, startPythonH2Server, type PythonH2Server, type RecordedFrame } from "../helpers/h2-python-server.js";
import { startAlpnProxy } from "../helpers/h2-alpn-proxy.js";

interface CapturedFrame {
  type: string;
  stream: number;
  settings?: Array<[number, number]>;
  increment?: number;
  ack?: boolean;
  priority?: { exclusive: number; dependsOn: number; weightByte: number };
  headers?: Array<[string, string]>;
}
const CAPTURES = JSON.parse(readFileSync(new URL("../fixtures/h2/browser-h2-captures.json", import.meta.url), "utf8")) as Record<
  string,
  { akamai: string; frames: CapturedFrame[] }
>;

const skip = pythonH2Available() ? false : "python3-h2 / python3-websockets not installed (apt-get install python3-h2 python3-websockets)";
let srv: PythonH2Server;
const cleanups: Array<() => Promise<void>> = [];
before(async () => {
  if (!skip) srv = await startPythonH2Server({ record: true });
});
after(async () => {
  for (const c of cleanups) await c();
  await srv?.close();
});

/** Values that depend on the URL, the key or the Origin: replaced before comparing. */
const VARIABLE = new Set([":path", ":authority"]);
function normalize(headers: Array<[string, string]>): Array<[string, string]> {
  return headers.map(([n, v]) => [n, VARIABLE.has(n) ? "*" : v]);
}

/** The client's frames on the newest recorded connection, up to its first stream's WINDOW_UPDATE or DATA. */
async function framesOfLastConnection(conn: number): Promise<RecordedFrame[]> {
  for (let i = 0; i < 100; i++) {
    const f = srv.lines.filter((l) => l.conn === conn && l.type !== undefined);
    if (f.some((x) => x.type === "HEADERS")) {
      await new Promise((r) => setTimeout(r, 100)); // the stream WINDOW_UPDATE follows HEADERS
      return srv.lines.filter((l) => l.conn === conn && l.type !== undefined && l.type !== "DATA");
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("no HEADERS recorded");
}

function lastConn(): number {
  return Math.max(...srv.lines.filter((l) => l.alpn !== undefined).map((l) => l.conn));
}

test("impersonate firefox: SETTINGS, WINDOW_UPDATEs, stream id, priority and header list equal Firefox ESR 153's capture", { skip }, async () => {
  const ref = CAPTURES["firefox-fresh"]!.frames;
  await using s = new AsyncSession({ ca: testCerts().ca.cert, impersonate: "firefox", timeout: 10_000 });
  // The capture's page was http://127.0.0.1:8000 (cross-site to the wss target).
  const ws = await s.wsConnect(`${srv.url}/echo?x=1`, { origin: "http://127.0.0.1:8000" });
  const got = await framesOfLastConnection(lastConn());
  assert.equal(srv.lines.find((l) => l.conn === lastConn() && l.alpn !== undefined)?.alpn, "h2");
  const summary = (f: { type?: string; stream?: number; settings?: Array<[number, number]>; increment?: number }): string =>
    `${f.type}@${f.stream}${f.settings?.length ? JSON.stringify(f.settings) : ""}${f.increment !== undefined ? "+" + f.increment : ""}`;
  assert.deepEqual(got.map(summary), ref.map((f) => summary({ ...f, type: f.type })));
  const h = got.find((f) => f.type === "HEADERS")!;
  const rh = ref.find((f) => f.type === "HEADERS")!;
  assert.equal(h.stream, 3);
  assert.deepEqual(h.priority, { exclusive: Boolean(rh.priority!.exclusive), dependsOn: rh.priority!.dependsOn, weightByte: rh.priority!.weightByte });
  assert.deepEqual(normalize(h.headers!), normalize(rh.headers!));
  await ws.sendStr("x");
  assert.equal(await ws.recvStr({ timeout: 5000 }), "x");
  await ws.close();
});

test("impersonate firefox, same-origin: Sec-Fetch-Site same-origin and no storage-access header, as captured", { skip }, async () => {
  const rh = CAPTURES["firefox-after-page"]!.frames.find((f) => f.type === "HEADERS" && f.headers?.some(([n, v]) => n === ":protocol" && v === "websocket"))!;
  await using s = new AsyncSession({ ca: testCerts().ca.cert, impersonate: "firefox", timeout: 10_000 });
  const ws = await s.wsConnect(`${srv.url}/echo?x=1`);
  const h = (await framesOfLastConnection(lastConn())).find((f) => f.type === "HEADERS")!;
  const origin = `https://127.0.0.1:${srv.port}`;
  assert.deepEqual(h.headers!.find(([n]) => n === "origin"), ["origin", origin]);
  const dropOrigin = (l: Array<[string, string]>): Array<[string, string]> => normalize(l).filter(([n]) => n !== "origin");
  assert.deepEqual(dropOrigin(h.headers!), dropOrigin(rh.headers!));
  await ws.close();
});

test("impersonate chrome + http2: Chromium 156's SETTINGS, WINDOW_UPDATE, priority and CONNECT header list", { skip }, async () => {
  const ref = CAPTURES["chromium-after-page"]!.frames;
  await using s = new AsyncSession({ ca: testCerts().ca.cert, impersonate: "chrome", http2: true, timeout: 10_000 });
  const ws = await s.wsConnect(`${srv.url}/echo?x=1`, { origin: `https://127.0.0.1:${srv.port}` });
  const got = await framesOfLastConnection(lastConn());
  assert.deepEqual(got[0]!.settings, ref[0]!.settings);
  assert.equal(got[1]!.type, "WINDOW_UPDATE");
  assert.equal(got[1]!.increment, ref[1]!.increment);
  const h = got.find((f) => f.type === "HEADERS")!;
  const rh = ref.find((f) => f.type === "HEADERS" && f.headers?.some(([n, v]) => n === ":protocol" && v === "websocket"))!;
  // Chromium's capture is stream 3 because its page used stream 1; a fresh connection starts at 1.
  assert.equal(h.stream, 1);
  assert.deepEqual(h.priority, { exclusive: true, dependsOn: 0, weightByte: rh.priority!.weightByte });
  // The capture is headless Chromium; the profile says `Chrome/` as a normal build does (chrome.ts).
  const dropOrigin = (l: Array<[string, string]>): Array<[string, string]> =>
    normalize(l).filter(([n]) => n !== "origin").map(([n, v]) => [n, n === "user-agent" ? v.replace("HeadlessChrome/", "Chrome/") : v]);
  assert.deepEqual(dropOrigin(h.headers!), dropOrigin(rh.headers!));
  assert.ok(!got.some((f) => f.type === "WINDOW_UPDATE" && f.stream === 1), "Chromium sends no stream WINDOW_UPDATE");
  await ws.close();
});

test("impersonate chrome without http2: a fresh wss offers http/1.1 alone", { skip }, async () => {
  const proxy = await startAlpnProxy(srv.port);
  cleanups.push(() => proxy.close());
  await using s = new AsyncSession({ ca: testCerts().ca.cert, impersonate: "chrome", timeout: 10_000 });
  const ws = await s.wsConnect(`wss://127.0.0.1:${proxy.port}/echo`);
  assert.deepEqual(proxy.offers, [["http/1.1"]]);
  assert.equal(ws.response.status, 101);
  await ws.close();
});

test("impersonate firefox against h2 without ENABLE_CONNECT_PROTOCOL: the second hello is http/1.1-only and the upgrade succeeds", { skip }, async () => {
  const plain = await startPythonH2Server({ extendedConnect: false });
  cleanups.push(() => plain.close());
  const proxy = await startAlpnProxy(plain.port);
  cleanups.push(() => proxy.close());
  await using s = new AsyncSession({ ca: testCerts().ca.cert, impersonate: "firefox", timeout: 10_000 });
  const ws = await s.wsConnect(`wss://127.0.0.1:${proxy.port}/echo`);
  assert.deepEqual(proxy.offers, [["h2", "http/1.1"], ["http/1.1"]]);
  assert.equal(ws.response.status, 101);
  await ws.sendStr("fallback");
  assert.equal(await ws.recvStr({ timeout: 5000 }), "fallback");
  await ws.close();
});

for (const c of [
  { name: "http2: true (Node's TLS)", opts: { http2: true }, todo: undefined },
  { name: "impersonate firefox (masq's TLS)", opts: { impersonate: "firefox" }, todo: undefined },
]) {
  test(`${c.name} against h2 without ENABLE_CONNECT_PROTOCOL: the http/1.1-only reconnect resumes the TLS session`, { skip, todo: c.todo }, async () => {
    const plain = await startPythonH2Server({ extendedConnect: false, record: true });
    cleanups.push(() => plain.close());
    await using s = new AsyncSession({ ca: testCerts().ca.cert, timeout: 10_000, ...c.opts });
    const ws = await s.wsConnect(`${plain.url}/echo`);
    await ws.close();
    const conns = plain.lines.filter((l) => l.alpn !== undefined);
    assert.deepEqual(conns.map((l) => [l.alpn, l.resumed]), [["h2", false], ["http/1.1", true]]);
  });
}
