/**
 * Profiles by name: every catalogue target under its canonical name and its aliases (curl_cffi's
 * spellings, family names for the newest version), frozen so that no caller can change another
 * connection's profile.
 */
import { WebSocketError } from "../errors.js";
import { CATALOGUE } from "./catalogue.js";
import { masqDefault } from "./masq.js";
import type { BrowserProfile } from "./types.js";
import { checkProfile } from "./validate.js";

/** Profiles are shared by every connection: freeze them so no caller can change another's. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const PROFILES = new Map<string, BrowserProfile>();
for (const entry of CATALOGUE) {
  for (const name of [entry.name, ...entry.aliases]) {
    if (PROFILES.has(name)) throw new Error(`impersonate catalogue: duplicate name ${name}`);
    PROFILES.set(name, entry.profile);
  }
}
for (const p of [...PROFILES.values(), masqDefault]) deepFreeze(p);
const CATALOGUE_PROFILES: ReadonlySet<BrowserProfile> = new Set([...PROFILES.values(), masqDefault]);
const CATALOGUE_HELLOS: ReadonlySet<unknown> = new Set([...CATALOGUE_PROFILES].map((p) => p.tls));

/** Every name `getProfile` accepts (canonical names and aliases), in catalogue order. */
export function profileNames(): string[] {
  return [...PROFILES.keys()];
}

/** The canonical target names (one per profile), in catalogue order. */
export function targetNames(): string[] {
  return CATALOGUE.map((e) => e.name);
}

/** Aliases of a canonical target name. */
export function aliasesOf(name: string): string[] {
  return CATALOGUE.find((e) => e.name === name)?.aliases ?? [];
}

/**
 * The profile called `name` (case-insensitive).
 * @throws WebSocketError (code 0) naming the known profiles for an unknown name.
 */
export function getProfile(name: string): BrowserProfile {
  const profile = PROFILES.get(String(name).toLowerCase());
  if (!profile) {
    throw new WebSocketError(`unknown impersonate profile ${JSON.stringify(name)}; known: ${profileNames().join(", ")}`, 0);
  }
  return profile;
}

/**
 * What `impersonate` names: a catalogue name, or a profile object (checked: a profile that
 * offers a cipher, group or extension masq cannot complete is refused here, before connecting).
 * @throws WebSocketError (code 0).
 */
export function resolveProfile(impersonate: string | BrowserProfile): BrowserProfile {
  if (typeof impersonate === "string") return getProfile(impersonate);
  // The catalogue's own (frozen) profiles reproduce their browsers as shipped.
  if (CATALOGUE_PROFILES.has(impersonate)) return impersonate;
  // A built-in profile with other headers (`{ ...getProfile("chrome"), headers }`) keeps its
  // browser's hello as shipped; only what the caller supplied is checked.
  checkProfile(impersonate, CATALOGUE_HELLOS.has(impersonate?.tls));
  return impersonate;
}
