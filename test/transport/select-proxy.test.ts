// selectProxy / matchesNoProxy / parseProxyUrl / redactUrl: pure functions.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { matchesNoProxy, parseProxyUrl, redactUrl, selectProxy } from "../../src/transport/index.js";
import { WebSocketError } from "../../src/errors.js";

const WS = new URL("ws://example.com/chat");
const WSS = new URL("wss://example.com/chat");

describe("selectProxy", () => {
  test("no options: direct", () => {
    assert.equal(selectProxy(WS, {}), undefined);
    assert.equal(selectProxy(WSS, {}), undefined);
  });

  test("explicit proxy wins over proxies and environment", () => {
    const o = {
      proxy: "socks5h://p:1",
      proxies: { ws: "http://ws:1", wss: "http://wss:1", all: "http://all:1" },
      trustEnv: true,
      env: { HTTPS_PROXY: "http://env:1", HTTP_PROXY: "http://env:1", NO_PROXY: "*" },
    };
    assert.equal(selectProxy(WS, o), "socks5h://p:1");
    assert.equal(selectProxy(WSS, o), "socks5h://p:1");
  });

  test("proxies map: wss -> wss ?? https ?? all", () => {
    assert.equal(selectProxy(WSS, { proxies: { wss: "a", https: "b", all: "c", ws: "x", http: "y" } }), "a");
    assert.equal(selectProxy(WSS, { proxies: { https: "b", all: "c", ws: "x", http: "y" } }), "b");
    assert.equal(selectProxy(WSS, { proxies: { all: "c", ws: "x", http: "y" } }), "c");
    assert.equal(selectProxy(WSS, { proxies: { ws: "x", http: "y" } }), undefined);
  });

  test("proxies map: ws -> ws ?? http ?? all", () => {
    assert.equal(selectProxy(WS, { proxies: { ws: "a", http: "b", all: "c", wss: "x", https: "y" } }), "a");
    assert.equal(selectProxy(WS, { proxies: { http: "b", all: "c", wss: "x", https: "y" } }), "b");
    assert.equal(selectProxy(WS, { proxies: { all: "c", wss: "x", https: "y" } }), "c");
    assert.equal(selectProxy(WS, { proxies: { wss: "x", https: "y" } }), undefined);
  });

  test("http:/https: targets behave like ws:/wss:", () => {
    const proxies = { ws: "a", wss: "b" };
    assert.equal(selectProxy(new URL("http://h/"), { proxies }), "a");
    assert.equal(selectProxy(new URL("https://h/"), { proxies }), "b");
  });

  test("empty strings count as not set", () => {
    assert.equal(selectProxy(WSS, { proxy: "", proxies: { wss: "", https: " ", all: "c" } }), "c");
  });

  test("environment ignored unless trustEnv", () => {
    const env = { HTTPS_PROXY: "http://e:1", HTTP_PROXY: "http://e:2", ALL_PROXY: "http://e:3" };
    assert.equal(selectProxy(WSS, { env }), undefined);
    assert.equal(selectProxy(WS, { env, trustEnv: false }), undefined);
  });

  test("environment by scheme with ALL_PROXY fallback; lower case first", () => {
    const env = { HTTPS_PROXY: "http://S:1", HTTP_PROXY: "http://H:1", ALL_PROXY: "socks5://A:1" };
    assert.equal(selectProxy(WSS, { trustEnv: true, env }), "http://S:1");
    assert.equal(selectProxy(WS, { trustEnv: true, env }), "http://H:1");
    assert.equal(selectProxy(WSS, { trustEnv: true, env: { ALL_PROXY: "socks5://A:1" } }), "socks5://A:1");
    assert.equal(selectProxy(WS, { trustEnv: true, env: { all_proxy: "socks5://a:1" } }), "socks5://a:1");
    assert.equal(selectProxy(WSS, { trustEnv: true, env: { https_proxy: "http://low:1", HTTPS_PROXY: "http://UP:1" } }), "http://low:1");
    assert.equal(selectProxy(WS, { trustEnv: true, env: { http_proxy: "http://low:1", HTTP_PROXY: "http://UP:1" } }), "http://low:1");
    // wss does not use HTTP_PROXY, ws does not use HTTPS_PROXY
    assert.equal(selectProxy(WSS, { trustEnv: true, env: { HTTP_PROXY: "http://H:1" } }), undefined);
    assert.equal(selectProxy(WS, { trustEnv: true, env: { HTTPS_PROXY: "http://S:1" } }), undefined);
  });

  test("proxies map beats the environment; environment fills in what the map lacks", () => {
    const env = { HTTPS_PROXY: "http://env-s:1", HTTP_PROXY: "http://env-h:1" };
    assert.equal(selectProxy(WSS, { trustEnv: true, env, proxies: { wss: "http://map:1" } }), "http://map:1");
    assert.equal(selectProxy(WS, { trustEnv: true, env, proxies: { wss: "http://map:1" } }), "http://env-h:1");
  });

  test("a value without scheme means http://", () => {
    assert.equal(selectProxy(WSS, { trustEnv: true, env: { HTTPS_PROXY: "proxy.local:3128" } }), "http://proxy.local:3128");
  });

  test("HTTP_PROXY (upper case) ignored under CGI (REQUEST_METHOD set)", () => {
    assert.equal(selectProxy(WS, { trustEnv: true, env: { HTTP_PROXY: "http://evil:1", REQUEST_METHOD: "GET" } }), undefined);
    assert.equal(selectProxy(WS, { trustEnv: true, env: { http_proxy: "http://ok:1", REQUEST_METHOD: "GET" } }), "http://ok:1");
  });

  test("NO_PROXY bypasses the environment's proxies (only)", () => {
    const env = { HTTPS_PROXY: "http://S:1", NO_PROXY: "example.com" };
    assert.equal(selectProxy(WSS, { trustEnv: true, env }), undefined);
    assert.equal(selectProxy(new URL("wss://other.org"), { trustEnv: true, env }), "http://S:1");
    assert.equal(selectProxy(WSS, { trustEnv: true, env: { ...env, no_proxy: "nothing.test" } }), "http://S:1"); // lower case wins
    // an explicit proxies map is not subject to NO_PROXY
    assert.equal(selectProxy(WSS, { trustEnv: true, env, proxies: { wss: "http://map:1" } }), "http://map:1");
  });

  test("defaults to process.env only when trustEnv", () => {
    const saved = process.env.HTTPS_PROXY;
    process.env.HTTPS_PROXY = "http://from-process:1";
    try {
      assert.equal(selectProxy(new URL("wss://not-in-no-proxy.test"), { trustEnv: true }), "http://from-process:1");
      assert.equal(selectProxy(new URL("wss://not-in-no-proxy.test"), {}), undefined);
    } finally {
      if (saved === undefined) delete process.env.HTTPS_PROXY;
      else process.env.HTTPS_PROXY = saved;
    }
  });
});

describe("matchesNoProxy", () => {
  const m = (url: string, list: string) => matchesNoProxy(new URL(url), list);

  test("* matches everything", () => {
    assert.equal(m("wss://anything.example/", "*"), true);
    assert.equal(m("ws://10.1.2.3/", "foo.com, *"), true);
  });

  test("domain suffix rules", () => {
    for (const entry of ["example.com", ".example.com", "*.example.com", "EXAMPLE.COM", "example.com."]) {
      assert.equal(m("wss://example.com/", entry), true, entry);
      assert.equal(m("wss://a.b.example.com/", entry), true, entry);
      assert.equal(m("wss://badexample.com/", entry), false, entry);
      assert.equal(m("wss://example.com.evil.net/", entry), false, entry);
    }
    assert.equal(m("wss://Example.Com./", "example.com"), true);
  });

  test("lists separated by commas and/or spaces, empty entries ignored", () => {
    assert.equal(m("ws://c.test/", "a.test, b.test ,,c.test"), true);
    assert.equal(m("ws://c.test/", "a.test b.test\tc.test"), true);
    assert.equal(m("ws://d.test/", "a.test, b.test, c.test"), false);
    assert.equal(m("ws://d.test/", " , "), false);
  });

  test("host:port entries match that port only (default ports by scheme)", () => {
    assert.equal(m("ws://h.test:8080/", "h.test:8080"), true);
    assert.equal(m("ws://h.test:8081/", "h.test:8080"), false);
    assert.equal(m("ws://h.test/", "h.test:80"), true);
    assert.equal(m("wss://h.test/", "h.test:80"), false);
    assert.equal(m("wss://h.test/", "h.test:443"), true);
    assert.equal(m("wss://127.0.0.1:9000/", "127.0.0.1:9000"), true);
  });

  test("IP literals, IPv6 with or without brackets, CIDR ranges", () => {
    assert.equal(m("ws://127.0.0.1/", "127.0.0.1"), true);
    assert.equal(m("ws://127.0.0.2/", "127.0.0.1"), false);
    assert.equal(m("ws://[::1]/", "::1"), true);
    assert.equal(m("ws://[::1]/", "[::1]"), true);
    assert.equal(m("ws://[::1]:8080/", "[::1]:8080"), true);
    assert.equal(m("ws://[::1]:8081/", "[::1]:8080"), false);
    assert.equal(m("ws://[0:0:0:0:0:0:0:1]/", "::1"), true);
    assert.equal(m("ws://10.20.30.40/", "10.0.0.0/8"), true);
    assert.equal(m("ws://11.20.30.40/", "10.0.0.0/8"), false);
    assert.equal(m("ws://[fd00::5]/", "fd00::/8"), true);
    assert.equal(m("ws://[fe80::5]/", "fd00::/8"), false);
    assert.equal(m("ws://example.com/", "10.0.0.0/8"), false);
    // an IP entry does not match names, a name entry does not match IPs by suffix
    assert.equal(m("ws://1.127.0.0.1.nip.test/", "127.0.0.1"), false);
    assert.equal(m("ws://10.0.0.1/", "0.0.1"), false);
  });

  test("malformed entries are ignored, not thrown", () => {
    assert.equal(m("ws://10.0.0.1/", "10.0.0.0/99, 1.2.3.4/x, [::1"), false);
  });
});

describe("parseProxyUrl / redactUrl", () => {
  test("schemes and default ports", () => {
    assert.deepEqual(
      ["http://h", "https://h", "socks4://h", "socks4a://h", "socks5://h", "socks5h://h", "h:3128"].map((u) => {
        const p = parseProxyUrl(u);
        return `${p.protocol} ${p.host} ${p.port}`;
      }),
      ["http h 80", "https h 443", "socks4 h 1080", "socks4a h 1080", "socks5 h 1080", "socks5h h 1080", "http h 3128"],
    );
  });

  test("credentials percent-decoded; IPv6 unbracketed; display without credentials", () => {
    const p = parseProxyUrl("SOCKS5H://us%20er:p%40ss%3Aw@[::1]:1081");
    assert.equal(p.protocol, "socks5h");
    assert.equal(p.username, "us er");
    assert.equal(p.password, "p@ss:w");
    assert.equal(p.host, "::1");
    assert.equal(p.port, 1081);
    assert.equal(p.display, "[::1]:1081");
  });

  test("bad URLs and schemes -> WebSocketError without the password", () => {
    for (const u of ["ftp://u:Secr3tPw@h:1", "http://u:Secr3tPw@[bad:1", "http://u:Secr3tPw@:1"]) {
      assert.throws(
        () => parseProxyUrl(u),
        (e: unknown) => e instanceof WebSocketError && !e.message.includes("Secr3tPw"),
        u,
      );
    }
  });

  test("redactUrl drops user and password", () => {
    assert.equal(redactUrl("http://user:pass@h:1/"), "http://h:1/");
    assert.equal(redactUrl("socks5h://user:pass@h:1"), "socks5h://h:1");
    assert.equal(redactUrl("http://h:1/"), "http://h:1/");
    assert.equal(redactUrl("wss://u@h/p?q"), "wss://h/p?q");
    assert.ok(!redactUrl("http://u:Secr3tPw@[bad:1").includes("Secr3tPw"));
  });
});
