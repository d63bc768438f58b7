import { StrongboxError } from "../errors.js";

/**
 * Storage keys are `/`-separated relative paths. Rejecting anything that could be read as a path
 * outside the storage root (`..`, absolute paths, backslashes, NUL) keeps a hostile manifest or a
 * careless caller from reaching files it should not.
 */
export function assertValidKey(key: string, adapter = "core"): string {
  const bad =
    typeof key !== "string" ||
    key.length === 0 ||
    key.length > 1024 ||
    key.startsWith("/") ||
    key.includes("\\") ||
    key.includes("\0") ||
    /^[a-zA-Z]:/.test(key) ||
    key.split("/").some((seg) => seg === "" || seg === "." || seg === "..");
  if (bad) {
    throw new StrongboxError(
      "E_CONFIG",
      `invalid storage key ${JSON.stringify(String(key).slice(0, 200))}: keys are relative, "/"-separated, without "..", "." or empty segments, backslashes or a leading "/"`,
      { adapter },
    );
  }
  return key;
}

/** Same rules for a listing prefix, except that "" (everything) and a trailing "/" are allowed. */
export function assertValidPrefix(prefix: string, adapter = "core"): string {
  if (prefix === "") return prefix;
  assertValidKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix, adapter);
  return prefix;
}

/** Joins a storage's own prefix ("prod/app") and a key, without doubling or losing slashes. */
export function joinPrefix(prefix: string | undefined, key: string): string {
  const p = (prefix ?? "").replace(/^\/+|\/+$/g, "");
  return p ? `${p}/${key}` : key;
}
