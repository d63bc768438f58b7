import { StrongboxError } from "../errors.js";

/**
 * Checks required options at construction time and names every missing one, so a user sees
 * `s3() needs "bucket"` instead of an SDK error three calls later.
 */
export function requireOptions<T extends object>(
  adapter: string,
  options: T | undefined,
  names: Array<keyof T & string>,
): T {
  if (!options || typeof options !== "object") {
    throw new StrongboxError(
      "E_CONFIG",
      `${adapter}() needs an options object with ${names.map((n) => `"${n}"`).join(", ")}`,
      { adapter },
    );
  }
  const missing = names.filter(
    (n) => (options as Record<string, unknown>)[n] === undefined || (options as Record<string, unknown>)[n] === "",
  );
  if (missing.length > 0) {
    throw new StrongboxError(
      "E_CONFIG",
      `${adapter}() is missing required option${missing.length > 1 ? "s" : ""} ${missing.map((n) => `"${n}"`).join(", ")}`,
      {
        adapter,
        details: { missing },
      },
    );
  }
  return options;
}

/** Checks that at least one of the named options is present. */
export function requireOneOf<T extends object>(
  adapter: string,
  options: T | undefined,
  names: Array<keyof T & string>,
): T {
  const present = names.filter((n) => options && (options as Record<string, unknown>)[n] !== undefined);
  if (present.length === 0) {
    throw new StrongboxError("E_CONFIG", `${adapter}() needs one of ${names.map((n) => `"${n}"`).join(", ")}`, {
      adapter,
    });
  }
  return options as T;
}
