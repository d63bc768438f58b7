import { StrongboxError } from "@strongbox/core";
import { ADAPTER } from "./walk.js";

export function hostile(message: string, name: string): StrongboxError {
  return new StrongboxError(
    "E_INTEGRITY",
    `refusing tar entry ${JSON.stringify(name.slice(0, 300))}: ${message}; nothing was written outside the destination`,
    {
      adapter: ADAPTER,
    },
  );
}

/**
 * Turns a tar entry name into path segments below the destination, refusing everything that could
 * address a file elsewhere: absolute names, drive letters, `..` segments, NUL bytes.
 * `[]` is the root directory itself (`./`).
 */
export function entrySegments(name: string): string[] {
  if (name.includes("\0")) throw hostile("the name holds a NUL byte", name);
  if (name.startsWith("/") || /^[a-zA-Z]:[\\/]/.test(name)) throw hostile("absolute names are not allowed", name);
  const segments = name.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) throw hostile('".." segments would escape the destination', name);
  return segments;
}
