/**
 * Browser impersonation profiles (data only): the ClientHello shape for masq's TLS engine and
 * the upgrade request's header template, by name.
 */
import { WebSocketError } from "../errors.js";
import { chrome156 } from "./chrome.js";
import { firefox153 } from "./firefox.js";
import { masqDefault } from "./masq.js";
import type { BrowserProfile } from "./types.js";

export type { BrowserProfile, HeaderTemplate } from "./types.js";
export { chrome156 } from "./chrome.js";
export { firefox153 } from "./firefox.js";
export { masqDefault } from "./masq.js";

/** Profiles are shared by every connection: freeze them so no caller can change another's. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Profiles by name; aliases (`chrome`, `firefox`) point at the newest version. */
const PROFILES: ReadonlyMap<string, BrowserProfile> = new Map<string, BrowserProfile>([
  ["chrome", chrome156],
  ["chrome156", chrome156],
  ["firefox", firefox153],
  ["firefox153", firefox153],
]);
for (const p of [...PROFILES.values(), masqDefault]) deepFreeze(p);

/** The newest Chrome profile (what `impersonate: "chrome"` means). */
export const chrome: BrowserProfile = chrome156;
/** The newest Firefox profile. */
export const firefox: BrowserProfile = firefox153;

/** The names `getProfile` accepts. */
export const profileNames: string[] = [...PROFILES.keys()];

/**
 * The profile called `name` (case-insensitive).
 * @throws WebSocketError (code 0) naming the known profiles for an unknown name.
 */
export function getProfile(name: string): BrowserProfile {
  const profile = PROFILES.get(String(name).toLowerCase());
  if (!profile) {
    throw new WebSocketError(`unknown impersonate profile ${JSON.stringify(name)}; known: ${profileNames.join(", ")}`, 0);
  }
  return profile;
}
