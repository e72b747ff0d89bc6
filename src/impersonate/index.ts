/**
 * Browser impersonation profiles (data only): the ClientHello shape for masq's TLS engine and
 * the upgrade request's header template, by name.
 */
import { WebSocketError } from "../errors.js";
import { chrome156 } from "./chrome.js";
import type { BrowserProfile } from "./types.js";

export type { BrowserProfile, HeaderTemplate } from "./types.js";
export { chrome156 } from "./chrome.js";
export { masqDefault } from "./masq.js";

/** Profiles by name; aliases (`chrome`) point at the newest version. */
const PROFILES: ReadonlyMap<string, BrowserProfile> = new Map<string, BrowserProfile>([
  ["chrome", chrome156],
  ["chrome156", chrome156],
]);

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
