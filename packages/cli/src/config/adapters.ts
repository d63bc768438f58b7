import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { configError } from "../errors.js";

/** Declarative `type` → the package and factory that builds it. Loaded only when a config uses it. */
export const ADAPTER_PACKAGES = {
  files: { pkg: "@strongbox/source-files", factory: "files" },
  postgres: { pkg: "@strongbox/source-postgres", factory: "postgres" },
  redis: { pkg: "@strongbox/source-redis", factory: "redis" },
  qdrant: { pkg: "@strongbox/source-qdrant", factory: "qdrant" },
  s3: { pkg: "@strongbox/storage-s3", factory: "s3" },
  gcs: { pkg: "@strongbox/storage-gcs", factory: "gcs" },
  azure: { pkg: "@strongbox/storage-azure", factory: "azureBlob" },
} as const;

export type AdapterType = keyof typeof ADAPTER_PACKAGES;
type Factory = (options: Record<string, unknown>) => unknown;

const cache = new Map<string, Promise<Record<string, unknown>>>();

/**
 * Imports an adapter package lazily, so the CLI runs with only the adapters a project installed.
 * It is looked up next to the CLI first, then from the config file's folder (a project that
 * installed the adapters but runs a global `strongbox`).
 */
export async function loadFactory(type: AdapterType, configDir: string, field: string): Promise<Factory> {
  const { pkg, factory } = ADAPTER_PACKAGES[type];
  let pending = cache.get(pkg);
  if (!pending) {
    pending = importAdapter(pkg, configDir);
    cache.set(pkg, pending);
  }
  let mod: Record<string, unknown>;
  try {
    mod = await pending;
  } catch (err) {
    throw configError(
      `${field}: type "${type}" needs ${pkg}, which could not be loaded (install it: npm i ${pkg}): ${(err as Error).message}`,
    );
  }
  const fn = mod[factory];
  if (typeof fn !== "function") throw configError(`${field}: ${pkg} does not export ${factory}()`);
  return fn as Factory;
}

async function importAdapter(pkg: string, configDir: string): Promise<Record<string, unknown>> {
  try {
    return (await import(pkg)) as Record<string, unknown>;
  } catch (first) {
    if (!isNotFound(first)) throw first;
    let resolved: string;
    try {
      resolved = createRequire(join(configDir, "strongbox.config.js")).resolve(pkg);
    } catch {
      throw first;
    }
    return (await import(pathToFileURL(resolved).href)) as Record<string, unknown>;
  }
}

function isNotFound(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
}
