/**
 * The browser catalogue: every target masq impersonates, with curl_cffi's spellings as aliases.
 * Each entry joins a ClientHello shape (chrome-hellos.ts, safari-hellos.ts, firefox-hellos.ts,
 * or the real captures in chrome.ts / firefox.ts) with its version's upgrade headers, User-Agent
 * and HTTP/2 fingerprint. Data only: the tables below are the whole catalogue.
 */
import { chrome156, chrome156Hello } from "./chrome.js";
import { chromeT1, chromeT2, chromeT3, chromeT4, chromeT5, chromeT5b, chromeT6 } from "./chrome-hellos.js";
import { firefox153 } from "./firefox.js";
import { firefoxT13, firefoxT14, torT15 } from "./firefox-hellos.js";
import {
  androidUa, chromeUa, chromiumProfile, FF_MAC, geckoProfile, geckoUa, MAC, safariProfile, WIN,
  type ChromiumTarget, type GeckoTarget, type SafariTarget,
} from "./families.js";
import { safariT10, safariT11, safariT12, safariT7, safariT8, safariT9 } from "./safari-hellos.js";
import type { BrowserProfile } from "./types.js";

/** Chromium-family targets; a string names a profile defined beside its real capture. */
const CHROMIUM: Array<ChromiumTarget | "chrome156"> = [
  { name: "chrome99", family: "chrome", major: 99, tls: chromeT1, userAgent: chromeUa(WIN, "99.0.4844.51"), platform: "Windows" },
  { name: "chrome100", family: "chrome", major: 100, tls: chromeT1, userAgent: chromeUa(WIN, "100.0.4896.75"), platform: "Windows" },
  { name: "chrome101", family: "chrome", major: 101, tls: chromeT1, userAgent: chromeUa(WIN, "101.0.4951.67"), platform: "Windows" },
  { name: "chrome104", family: "chrome", major: 104, tls: chromeT1, userAgent: chromeUa(WIN, "104.0.0.0"), platform: "Windows" },
  { name: "chrome107", family: "chrome", major: 107, tls: chromeT1, userAgent: chromeUa(WIN, "107.0.0.0"), platform: "Windows" },
  { name: "chrome110", family: "chrome", major: 110, tls: chromeT2, userAgent: chromeUa(WIN, "110.0.0.0"), platform: "Windows" },
  { name: "chrome116", family: "chrome", major: 116, tls: chromeT2, userAgent: chromeUa(WIN, "116.0.0.0"), platform: "Windows" },
  { name: "chrome119", family: "chrome", major: 119, tls: chromeT3, userAgent: chromeUa(MAC, "119.0.0.0"), platform: "macOS" },
  { name: "chrome120", family: "chrome", major: 120, tls: chromeT3, userAgent: chromeUa(MAC, "120.0.0.0"), platform: "macOS" },
  { name: "chrome123", family: "chrome", major: 123, tls: chromeT3, userAgent: chromeUa(MAC, "123.0.0.0"), platform: "macOS" },
  { name: "chrome124", family: "chrome", major: 124, tls: chromeT4, userAgent: chromeUa(MAC, "124.0.0.0"), platform: "macOS" },
  { name: "chrome131", family: "chrome", major: 131, tls: chromeT5, userAgent: chromeUa(MAC, "131.0.0.0"), platform: "macOS" },
  { name: "chrome133a", aliases: ["chrome133"], family: "chrome", major: 133, tls: chromeT5b, userAgent: chromeUa(MAC, "133.0.0.0"), platform: "macOS" },
  { name: "chrome136", family: "chrome", major: 136, tls: chromeT5b, userAgent: chromeUa(MAC, "136.0.0.0"), platform: "macOS" },
  { name: "chrome142", family: "chrome", major: 142, tls: chromeT5b, userAgent: chromeUa(MAC, "142.0.0.0"), platform: "macOS" },
  { name: "chrome145", family: "chrome", major: 145, tls: chromeT5b, userAgent: chromeUa(MAC, "145.0.0.0"), platform: "macOS" },
  { name: "chrome146", family: "chrome", major: 146, tls: chromeT5b, userAgent: chromeUa(MAC, "146.0.0.0"), platform: "macOS" },
  { name: "chrome150", family: "chrome", major: 150, tls: chromeT6, userAgent: chromeUa(MAC, "150.0.0.0"), platform: "macOS" },
  "chrome156",

  { name: "edge99", family: "edge", major: 99, tls: chromeT1, userAgent: chromeUa(WIN, "99.0.4844.51", " Edg/99.0.1150.30"), platform: "Windows" },
  { name: "edge101", family: "edge", major: 101, tls: chromeT1, userAgent: chromeUa(WIN, "101.0.4951.64", " Edg/101.0.1210.47"), platform: "Windows" },
  {
    name: "edge156",
    aliases: ["edge"],
    family: "edge",
    major: 156,
    tls: chrome156Hello,
    userAgent: chromeUa(WIN, "156.0.0.0", " Edg/156.0.0.0"),
    platform: "Windows",
    checkedAgainst: "real Chromium 156 capture (Edge shares Chromium's network stack; not captured)",
  },
  {
    name: "chrome99_android",
    aliases: ["chrome_android99"],
    family: "chrome_android",
    major: 99,
    tls: chromeT1,
    userAgent: androidUa("Android 12; Pixel 6", "99.0.4844.58"),
    platform: "Android",
  },
  {
    name: "chrome131_android",
    aliases: ["chrome_android131"],
    family: "chrome_android",
    major: 131,
    tls: chromeT3,
    userAgent: androidUa("Android 10; K", "131.0.0.0"),
    platform: "Android",
  },
  {
    name: "chrome156_android",
    aliases: ["chrome_android", "chrome_android156"],
    family: "chrome_android",
    major: 156,
    tls: chrome156Hello,
    userAgent: androidUa("Android 10; K", "156.0.0.0"),
    platform: "Android",
    checkedAgainst: "real Chromium 156 capture (desktop hello; Android not captured)",
  },
];

const SAFARI: SafariTarget[] = [
  { name: "safari15_3", aliases: ["safari153"], family: "safari", version: "15.3", tls: safariT7, h2era: "15" },
  { name: "safari15_5", aliases: ["safari155"], family: "safari", version: "15.5", tls: safariT8, h2era: "15" },
  { name: "safari17_0", aliases: ["safari170"], family: "safari", version: "17.0", tls: safariT8, h2era: "17.0" },
  { name: "safari18_0", aliases: ["safari180"], family: "safari", version: "18.0", tls: safariT9, h2era: "18.0" },
  { name: "safari18_4", aliases: ["safari184"], family: "safari", version: "18.4", tls: safariT9, h2era: "18.4" },
  { name: "safari26_0", aliases: ["safari260"], family: "safari", version: "26.0", tls: safariT10, h2era: "26" },
  { name: "safari26_0_1", aliases: ["safari2601", "safari"], family: "safari", version: "26.0.1", tls: safariT12, h2era: "26" },
  { name: "safari17_2_ios", aliases: ["safari172_ios"], family: "safari_ios", version: "17.2", tls: safariT8, h2era: "17.2" },
  { name: "safari18_0_ios", aliases: ["safari180_ios"], family: "safari_ios", version: "18.0", tls: safariT9, h2era: "18.0" },
  { name: "safari18_4_ios", aliases: ["safari184_ios"], family: "safari_ios", version: "18.4", tls: safariT9, h2era: "18.4" },
  { name: "safari26_0_ios", aliases: ["safari260_ios", "safari_ios"], family: "safari_ios", version: "26.0", tls: safariT11, h2era: "26" },
];

/** Firefox-family targets; a string names a profile defined beside its real capture. */
const GECKO: Array<GeckoTarget | "firefox153"> = [
  { name: "firefox133", family: "firefox", version: "133", tls: firefoxT13, userAgent: geckoUa(FF_MAC, "133.0"), platform: "macOS", acceptLanguage: "en-US,en;q=0.5", storageAccess: false },
  { name: "firefox135", family: "firefox", version: "135", tls: firefoxT14, userAgent: geckoUa(FF_MAC, "135.0"), platform: "macOS", acceptLanguage: "en-US,en;q=0.5", storageAccess: false },
  { name: "firefox144", family: "firefox", version: "144", tls: firefoxT14, userAgent: geckoUa(FF_MAC, "144.0"), platform: "macOS", acceptLanguage: "en-US,en;q=0.5", storageAccess: false },
  { name: "firefox147", family: "firefox", version: "147", tls: firefoxT14, userAgent: geckoUa(FF_MAC, "147.0"), platform: "macOS", acceptLanguage: "en-US,en;q=0.9", storageAccess: false },
  "firefox153",

  {
    name: "tor145",
    aliases: ["tor"],
    family: "tor",
    version: "14.5",
    tls: torT15,
    userAgent: geckoUa(FF_MAC, "128.0"),
    platform: "macOS",
    acceptLanguage: "en-US,en;q=0.5",
    storageAccess: false,
  },
];

/** One catalogue entry: its canonical name, aliases and profile. */
export interface CatalogueEntry {
  name: string;
  aliases: string[];
  profile: BrowserProfile;
}

/** Every target, in table order (Chromium family, Safari, Firefox, Tor). */
export const CATALOGUE: readonly CatalogueEntry[] = [
  ...CHROMIUM.map((t) =>
    t === "chrome156" ? { name: t, aliases: ["chrome"], profile: chrome156 } : { name: t.name, aliases: t.aliases ?? [], profile: chromiumProfile(t) },
  ),
  ...SAFARI.map((t) => ({ name: t.name, aliases: t.aliases, profile: safariProfile(t) })),
  ...GECKO.map((t) =>
    t === "firefox153" ? { name: t, aliases: ["firefox"], profile: firefox153 } : { name: t.name, aliases: t.aliases ?? [], profile: geckoProfile(t) },
  ),
];
