import { registerSecret } from "@strongbox/core";
import { configError } from "../errors.js";
import { formatPath } from "./path.js";

// ${NAME} or ${NAME:-default}; "$${" escapes a literal "${".
const REFERENCE = /\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

// Values substituted into fields with these names are registered as secrets, so they are masked
// in every later message even when they would not look like one.
const SECRET_FIELD = /password|passphrase|secret|token|apikey|accountkey|sasurl|credential/i;

/** True for `{}` literals and JSON objects: the only objects whose strings are expanded. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Expands `${ENV}` references in every string of plain objects and arrays (adapter instances built
 * in code are left alone). A missing variable fails with the field's path, never a value.
 */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv = process.env): unknown {
  const missing: string[] = [];
  const out = walk(value, [], env, missing);
  if (missing.length > 0) throw configError(`invalid config:\n  ${missing.join("\n  ")}`);
  return out;
}

function walk(value: unknown, path: PropertyKey[], env: NodeJS.ProcessEnv, missing: string[]): unknown {
  if (typeof value === "string") return expandString(value, path, env, missing);
  if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i], env, missing));
  // Objects with methods are adapters built in code (often plain object literals): left as they are.
  if (isPlainObject(value) && !Object.values(value).some((v) => typeof v === "function")) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, [...path, k], env, missing);
    return out;
  }
  return value;
}

function expandString(text: string, path: PropertyKey[], env: NodeJS.ProcessEnv, missing: string[]): string {
  // Notifier URLs and headers are credentials (a Slack webhook URL is its own password).
  const secret = path[0] === "notifiers" || path.some((p) => typeof p === "string" && SECRET_FIELD.test(p));
  return text.replace(REFERENCE, (whole, escaped: string | undefined, name: string, fallback: string | undefined) => {
    if (escaped) return whole.slice(1);
    const value = env[name];
    if (value === undefined || value === "") {
      if (fallback !== undefined) return fallback;
      missing.push(`${formatPath(path)}: environment variable ${name} is not set`);
      return "";
    }
    if (secret) registerSecret(value);
    return value;
  });
}
