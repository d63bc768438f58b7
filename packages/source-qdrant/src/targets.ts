import { StrongboxError, type TargetOverrides } from "@strongbox/core";
import { ADAPTER } from "./http.js";

/** A backed-up collection (`logical`, the artifact's name) and where it lives on the server. */
export interface CollectionPair {
  logical: string;
  physical: string;
}

/** Suffix of every artifact: one Qdrant snapshot file per collection. */
export const SNAPSHOT_EXT = ".snapshot";

const KNOWN_KEYS = new Set(["collection", "collections", "force"]);

interface ParsedTarget {
  collection?: string;
  subset?: string[];
  renames?: Record<string, string>;
  force: boolean;
}

/** Validates a `QdrantTarget`; unknown keys are refused, so a typo never restores over the original. */
export function parseTarget(target: TargetOverrides | undefined): ParsedTarget {
  const t = target ?? {};
  const unknown = Object.keys(t).filter((k) => !KNOWN_KEYS.has(k));
  if (unknown.length)
    throw new StrongboxError(
      "E_CONFIG",
      `unknown qdrant target option${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${k}"`).join(", ")} (use collection, collections, force)`,
      { adapter: ADAPTER },
    );
  const out: ParsedTarget = { force: t.force === true };
  if (t.collection !== undefined) {
    if (typeof t.collection !== "string" || !t.collection)
      throw new StrongboxError("E_CONFIG", `target "collection" must be a collection name`, { adapter: ADAPTER });
    out.collection = t.collection;
  }
  const c = t.collections;
  if (Array.isArray(c)) {
    if (!c.every((n) => typeof n === "string" && n))
      throw new StrongboxError("E_CONFIG", `target "collections" must list collection names`, { adapter: ADAPTER });
    out.subset = c as string[];
  } else if (c !== undefined) {
    if (typeof c !== "object" || c === null || !Object.values(c).every((n) => typeof n === "string" && n))
      throw new StrongboxError(
        "E_CONFIG",
        `target "collections" must be a list of names or a map { backedUpName: targetName }`,
        { adapter: ADAPTER },
      );
    out.renames = c as Record<string, string>;
  }
  if (out.collection && out.renames)
    throw new StrongboxError("E_CONFIG", `give either target "collection" or a "collections" map, not both`, {
      adapter: ADAPTER,
    });
  return out;
}

/**
 * Maps the collections available (from a manifest, or configured/listed on the server) through a
 * target: a subset, renames, or one collection under a new name.
 */
export function resolvePairs(available: string[], target: ParsedTarget, from: string): CollectionPair[] {
  let names = available;
  const missing = (wanted: string[]) => wanted.filter((n) => !available.includes(n));
  if (target.renames) names = Object.keys(target.renames);
  else if (target.subset) names = target.subset;
  const absent = missing(names);
  if (absent.length)
    throw new StrongboxError(
      "E_NOT_FOUND",
      `collection${absent.length > 1 ? "s" : ""} ${absent.map((n) => `"${n}"`).join(", ")} ${absent.length > 1 ? "are" : "is"} not in ${from} (it has ${available.map((n) => `"${n}"`).join(", ") || "none"})`,
      { adapter: ADAPTER, details: { collections: absent } },
    );
  if (target.collection) {
    if (names.length !== 1)
      throw new StrongboxError(
        "E_CONFIG",
        `target "collection" renames one collection, but ${from} has ${names.length} (${names.join(", ")}); use "collections": { old: "new" } or pick one with "collections": ["name"]`,
        { adapter: ADAPTER },
      );
    return [{ logical: names[0]!, physical: target.collection }];
  }
  const pairs = names.map((n) => ({ logical: n, physical: target.renames?.[n] ?? n }));
  const physical = pairs.map((p) => p.physical);
  const dup = physical.find((p, i) => physical.indexOf(p) !== i);
  if (dup)
    throw new StrongboxError("E_CONFIG", `two collections would be restored into "${dup}"`, { adapter: ADAPTER });
  return pairs;
}

/** Collection names of a backup's component, from its artifact names. */
export function backedUpCollections(artifacts: Array<{ name: string }>): string[] {
  return artifacts.filter((a) => a.name.endsWith(SNAPSHOT_EXT)).map((a) => a.name.slice(0, -SNAPSHOT_EXT.length));
}
