/**
 * How a catalogue entry becomes a profile, per engine: a ClientHello shape joined with the
 * version's User-Agent, upgrade header template, HTTP/2 fingerprint and (Chromium) client hints.
 */
import type { ClientHelloProfile } from "../tls/client-hello.js";
import { chromiumBrands, chromiumUpgradeHeaders, firefoxUpgradeHeaders, formatSecChUa, webkitUpgradeHeaders } from "./headers.js";
import { chromiumHttp2, firefoxHttp2, safariHttp2 } from "./http2.js";
import type { BrowserProfile } from "./types.js";

const CURL_CFFI = "curl_cffi 0.16.3 capture";
const CHROMIUM_HEADERS = "Chromium 156 capture (order), this version's User-Agent";
const FIREFOX_HEADERS = "Firefox ESR 153 capture (order) without Sec-Fetch-Storage-Access (seen from 153 only), this version's User-Agent";
const WEBKIT_HEADERS =
  "CFNetwork NSURLSession WebSocket capture (macOS 11) + WebKit's request headers after User-Agent (placement unverified: no Safari capture)";

/** User-Agent platform token of Chrome on 64-bit Windows. */
export const WIN = "Windows NT 10.0; Win64; x64";
/** User-Agent platform token of Chrome and Safari on macOS (frozen at 10_15_7 since 2020). */
export const MAC = "Macintosh; Intel Mac OS X 10_15_7";

/** A Chromium-family target. */
export interface ChromiumTarget {
  name: string;
  aliases?: string[];
  family: "chrome" | "edge" | "chrome_android";
  major: number;
  tls: ClientHelloProfile;
  userAgent: string;
  platform: "Windows" | "macOS" | "Linux" | "Android";
  checkedAgainst?: string;
}

/** A Chromium-family profile: shape + Chromium 156's upgrade order with this version's values. */
export function chromiumProfile(t: ChromiumTarget): BrowserProfile {
  const acceptEncoding = t.major >= 123 ? "gzip, deflate, br, zstd" : "gzip, deflate, br";
  const browser = t.family === "edge" ? "Microsoft Edge" : "Google Chrome";
  return {
    name: t.name,
    tls: t.tls,
    headers: chromiumUpgradeHeaders(t.userAgent, acceptEncoding),
    compress: true,
    cookieAfter: "Accept-Language",
    http2: chromiumHttp2(t.major, t.userAgent, acceptEncoding),
    clientHints: [
      ["sec-ch-ua", formatSecChUa(chromiumBrands(t.major, browser))],
      ["sec-ch-ua-mobile", t.platform === "Android" ? "?1" : "?0"],
      ["sec-ch-ua-platform", `"${t.platform}"`],
    ],
    info: {
      family: t.family,
      version: String(t.major),
      platform: t.platform,
      checkedAgainst: t.checkedAgainst ?? CURL_CFFI,
      headerSource: t.major === 156 ? "Chromium 156 capture (User-Agent without Headless)" : CHROMIUM_HEADERS,
    },
  };
}

/** Chrome's desktop User-Agent (Edge appends ` Edg/<version>`). */
export const chromeUa = (platform: string, version: string, suffix = ""): string =>
  `Mozilla/5.0 (${platform}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${version} Safari/537.36${suffix}`;
/** Chrome on Android's User-Agent (`device`: `Android 10; K` since the UA reduction). */
export const androidUa = (device: string, version: string): string =>
  `Mozilla/5.0 (Linux; ${device}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${version} Mobile Safari/537.36`;

/** A Safari target. */
export interface SafariTarget {
  name: string;
  aliases: string[];
  family: "safari" | "safari_ios";
  version: string;
  tls: ClientHelloProfile;
  h2era: string;
}

function safariUa(t: SafariTarget): string {
  if (t.family === "safari") return `Mozilla/5.0 (${MAC}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${t.version} Safari/605.1.15`;
  const os = t.version.split(".").slice(0, 2).join("_");
  return `Mozilla/5.0 (iPhone; CPU iPhone OS ${os} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${t.version} Mobile/15E148 Safari/604.1`;
}

/** A Safari profile: shape + CFNetwork's WebSocket request (see `webkitUpgradeHeaders`). */
export function safariProfile(t: SafariTarget): BrowserProfile {
  const ua = safariUa(t);
  return {
    name: t.name,
    tls: t.tls,
    headers: webkitUpgradeHeaders(ua, t.version === "15.3" ? "en-us" : "en-US,en;q=0.9"),
    // NSURLSession's WebSocket task offers a bare permessage-deflate (captured).
    compress: true,
    deflateOffer: { clientMaxWindowBits: false },
    http2: safariHttp2(t.h2era, ua),
    info: {
      family: t.family,
      version: t.version,
      platform: t.family === "safari" ? "macOS" : "iOS",
      checkedAgainst: CURL_CFFI,
      headerSource: WEBKIT_HEADERS,
    },
  };
}

/** A Firefox-family target. */
export interface GeckoTarget {
  name: string;
  aliases?: string[];
  family: "firefox" | "tor";
  version: string;
  tls: ClientHelloProfile;
  userAgent: string;
  platform: string;
  acceptLanguage: string;
  /** Sec-Fetch-Storage-Access: seen in Firefox 153; which version introduced it is not known here. */
  storageAccess: boolean;
  checkedAgainst?: string;
}

/** Firefox's User-Agent (`rv` and the Firefox version agree). */
export const geckoUa = (platform: string, rv: string): string => `Mozilla/5.0 (${platform}; rv:${rv}) Gecko/20100101 Firefox/${rv}`;
/** Firefox's macOS platform token. */
export const FF_MAC = "Macintosh; Intel Mac OS X 10.15";

/** A Firefox-family profile: shape + Firefox ESR 153's upgrade order with this version's values. */
export function geckoProfile(t: GeckoTarget): BrowserProfile {
  return {
    name: t.name,
    tls: t.tls,
    headers: firefoxUpgradeHeaders(t.userAgent, t.acceptLanguage, t.storageAccess),
    compress: true,
    deflateOffer: { clientMaxWindowBits: false },
    // Necko writes cookies right after Connection, before the Sec-Fetch-* group.
    cookieAfter: "Connection",
    http2: firefoxHttp2(t.userAgent, t.acceptLanguage, t.storageAccess),
    info: {
      family: t.family,
      version: t.version,
      platform: t.platform,
      checkedAgainst: t.checkedAgainst ?? `${CURL_CFFI} of its https hello (Firefox sends that hello for wss too)`,
      headerSource: t.storageAccess ? "Firefox ESR 153 capture" : FIREFOX_HEADERS,
    },
  };
}

