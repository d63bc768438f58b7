import type { z } from "zod";
import { configError } from "../errors.js";
import { isPlainObject } from "./env.js";
import { formatPath } from "./path.js";
import { configSchema, notifierSpecs, type ParsedConfig, sourceSpecs, storageSpecs, transformSpecs } from "./schema.js";

type Issue = string;

/**
 * Validates a loaded (and env-expanded) config. Every problem is reported at once, each as
 * `field.path: what is wrong`, in one E_CONFIG error (exit 2).
 */
export function validateConfig(raw: unknown, file: string): ParsedConfig {
  const issues: Issue[] = [];
  if (!isPlainObject(raw)) {
    throw configError(`${file} must export a config object (export default defineConfig({ ... }))`);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) issues.push(...zodIssues(parsed.error, []));
  const config = raw as Record<string, unknown>;

  if (Array.isArray(config.sources)) {
    config.sources.forEach((entry, i) => {
      checkEntry(entry, ["sources", i], "source", ["backup", "restore"], sourceSpecs, issues);
    });
  }
  const storages = Array.isArray(config.storage) ? config.storage : config.storage == null ? [] : [config.storage];
  if (Array.isArray(config.storage) && config.storage.length === 0) issues.push("storage: needs at least one storage");
  storages.forEach((entry, i) => {
    const path = Array.isArray(config.storage) ? ["storage", i] : ["storage"];
    checkEntry(entry, path, "storage", ["put", "get", "list"], storageSpecs, issues);
  });
  if (Array.isArray(config.transforms)) {
    config.transforms.forEach((entry, i) => {
      checkEntry(entry, ["transforms", i], "transform", ["encode", "decode", "describe"], transformSpecs, issues);
    });
  }
  if (Array.isArray(config.notifiers)) {
    config.notifiers.forEach((entry, i) => {
      checkEntry(entry, ["notifiers", i], "notifier", ["notify"], notifierSpecs, issues);
    });
  }
  if (issues.length > 0) throw configError(`invalid config in ${file}:\n  ${issues.join("\n  ")}`);
  return parsed.data!;
}

function checkEntry(
  entry: unknown,
  path: PropertyKey[],
  kind: string,
  methods: string[],
  specs: Record<string, z.ZodType>,
  issues: Issue[],
): void {
  if (typeof entry === "object" && entry !== null && !isPlainObject(entry)) {
    // A ready adapter instance (built in a code config): check it implements the contract.
    const missing = methods.filter((m) => typeof (entry as Record<string, unknown>)[m] !== "function");
    if (missing.length > 0) issues.push(`${formatPath(path)}: not a ${kind} (no ${missing.join(", ")} method)`);
    return;
  }
  if (isPlainObject(entry) && methods.every((m) => typeof entry[m] === "function")) return;
  const types = Object.keys(specs);
  if (!isPlainObject(entry) || typeof entry.type !== "string") {
    issues.push(`${formatPath(path)}: expected a ${kind} object with "type" (one of ${types.join(", ")})`);
    return;
  }
  const specKey =
    kind === "storage" && entry.type === "azureBlob"
      ? "azure"
      : kind === "transform" && entry.type === "encrypt"
        ? "age"
        : entry.type;
  const spec = specs[specKey];
  if (!spec) {
    issues.push(
      `${formatPath([...path, "type"])}: unknown ${kind} type "${entry.type}" (expected ${types.join(", ")})`,
    );
    return;
  }
  const result = spec.safeParse(entry);
  if (!result.success) issues.push(...zodIssues(result.error, path));
}

function zodIssues(error: z.ZodError, base: PropertyKey[]): Issue[] {
  return error.issues.map((issue) => {
    const path = [...base, ...issue.path];
    const keys = "keys" in issue && Array.isArray(issue.keys) ? issue.keys : undefined;
    // Unknown keys: name each one as the field at fault.
    if (keys && keys.length > 0) return keys.map((k) => `${formatPath([...path, k])}: unknown field`).join("\n  ");
    return `${formatPath(path)}: ${issue.message}`;
  });
}
