import { randomBytes } from "node:crypto";
import { StrongboxError } from "../errors.js";
import { MANIFEST_FILE } from "./types.js";

/**
 * Storage layout (DESIGN §4):
 *   {id}/{component}/{artifact}{.ext…}   artifacts
 *   {id}/tags/{tag}                      empty marker objects, so listing alone knows the tags
 *   {id}/pinned                          empty marker: never removed by retention
 *   {id}/manifest.json                   written last
 * The storage adds its own prefix in front.
 */
/** The base32 characters (RFC 4648 lowercase) in ASCII order, so encoded numbers sort as text. */
const SORTED_BASE32 = "234567abcdefghijklmnopqrstuvwxyz";
export const ID_PATTERN = /^(\d{8}T\d{6}Z)-([a-z2-7]{6})$/;
export const COMPONENT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * `20261121T020000Z-k3m9qa`: UTC time (ISO basic) + 6 base32 characters. The first two encode the
 * milliseconds in an ASCII-ordered alphabet and the last four are random, so ids of backups
 * started within the same second still sort in start order — retention depends on that order.
 */
export function newBackupId(now: Date = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const ms = now.getUTCMilliseconds();
  let suffix = SORTED_BASE32[ms >> 5]! + SORTED_BASE32[ms & 31]!;
  for (const b of randomBytes(4)) suffix += SORTED_BASE32[b & 31];
  return `${stamp}-${suffix}`;
}

export function isBackupId(id: string): boolean {
  return ID_PATTERN.test(id) && !Number.isNaN(idTime(id).getTime());
}

/** The start time an id encodes, to the millisecond (ids from other generators: to the second). */
export function idTime(id: string): Date {
  const m = ID_PATTERN.exec(id);
  if (!m) return new Date(Number.NaN);
  const s = m[1]!;
  const ms = SORTED_BASE32.indexOf(m[2]![0]!) * 32 + SORTED_BASE32.indexOf(m[2]![1]!);
  return new Date(
    `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}.${String(ms < 1000 ? ms : 0).padStart(3, "0")}Z`,
  );
}

export function assertBackupId(id: string): string {
  if (!isBackupId(id))
    throw new StrongboxError(
      "E_NOT_FOUND",
      `"${String(id).slice(0, 80)}" is not a backup id (expected e.g. 20261121T020000Z-k3m9qa, or "latest")`,
    );
  return id;
}

/** Names used by the layout itself next to component folders. */
const RESERVED_COMPONENT_NAMES = new Set(["tags", "pinned", "manifest.json"]);

export function assertComponentName(name: string, adapter = "core"): string {
  if (!COMPONENT_PATTERN.test(name) || RESERVED_COMPONENT_NAMES.has(name)) {
    throw new StrongboxError(
      "E_CONFIG",
      `component name ${JSON.stringify(name)} must be 1–64 characters of letters, digits, "_", "." or "-", and not "tags" or "pinned"`,
      { adapter },
    );
  }
  return name;
}

/** Artifact names become file names: same rules as component names, a little longer. */
export function assertArtifactName(name: string, adapter = "core"): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.@=+-]{0,199}$/.test(name) || name.includes("..")) {
    throw new StrongboxError("E_CONFIG", `artifact name ${JSON.stringify(name)} is not a safe file name`, { adapter });
  }
  return name;
}

export const manifestKey = (id: string): string => `${id}/${MANIFEST_FILE}`;
export const pinnedKey = (id: string): string => `${id}/pinned`;
export const tagKey = (id: string, tag: string): string => `${id}/tags/${encodeURIComponent(tag)}`;
export const artifactKey = (id: string, component: string, artifact: string, extensions: string): string =>
  `${id}/${component}/${artifact}${extensions}`;

export function assertTag(tag: string): string {
  if (typeof tag !== "string" || tag.length === 0 || tag.length > 100 || /[\s/\\]/.test(tag)) {
    throw new StrongboxError(
      "E_CONFIG",
      `tag ${JSON.stringify(tag)} must be 1–100 characters without spaces or slashes`,
    );
  }
  return tag;
}
