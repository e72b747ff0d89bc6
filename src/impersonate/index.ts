/**
 * Browser impersonation profiles (data only): the ClientHello shape for masq's TLS engine, the
 * upgrade request's header template and the HTTP/2 fingerprint, by name; custom profiles from
 * JA3 / Akamai strings.
 */
import { getProfile } from "./registry.js";
import type { BrowserProfile } from "./types.js";

export type { BrowserProfile, HeaderTemplate, Http2Fingerprint, ProfileInfo } from "./types.js";
export { aliasesOf, getProfile, profileNames, resolveProfile, targetNames } from "./registry.js";
export { masqDefault } from "./masq.js";
export { akamaiOf, helloFromJa3, http2FromAkamai, profileFromJa3, type Ja3Options } from "./custom.js";
export { applyOriginRules, chromiumBrands, formatSecChUa, siteRelation, type SiteRelation, type UaBrand } from "./headers.js";
export { checkProfile, KNOWN_CIPHER_SUITES } from "./validate.js";

export { chrome156 } from "./chrome.js";
export { firefox153 } from "./firefox.js";
/** The newest Chrome profile (what `impersonate: "chrome"` means). */
export const chrome: BrowserProfile = getProfile("chrome");
/** The newest Firefox profile (what `impersonate: "firefox"` means). */
export const firefox: BrowserProfile = getProfile("firefox");
