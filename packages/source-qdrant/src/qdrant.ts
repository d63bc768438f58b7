import { registerSecret, requireOptions, type Source, StrongboxError } from "@strongbox/core";
import { clientApi, httpApi } from "./api.js";
import { backup } from "./backup.js";
import type { Deps } from "./context.js";
import { ADAPTER, QdrantHttp } from "./http.js";
import { check, inspect } from "./inspect.js";
import type { QdrantOptions } from "./options.js";
import { preview, restore, restoreTest } from "./restore.js";

/**
 * A Qdrant source: every collection (or the configured ones) as one snapshot file each, made by
 * Qdrant itself and streamed down; restored by streaming the file back up to Qdrant's
 * upload-and-recover endpoint. JSON calls go through `client` when one is given.
 */
export function qdrant(options: QdrantOptions): Source {
  requireOptions(ADAPTER, options, ["url"]);
  registerSecret(options.apiKey);
  if (options.collections !== undefined) {
    if (!Array.isArray(options.collections) || !options.collections.every((c) => typeof c === "string" && c))
      throw new StrongboxError("E_CONFIG", `qdrant() "collections" must be a list of collection names`, {
        adapter: ADAPTER,
      });
    if (options.collections.length === 0)
      throw new StrongboxError("E_CONFIG", `qdrant() "collections" is empty; leave it out to back up all collections`, {
        adapter: ADAPTER,
      });
  }
  for (const key of ["timeoutMs", "snapshotTimeoutMs", "readyTimeoutMs", "retries", "retryDelayMs"] as const) {
    const v = options[key];
    if (v !== undefined && (typeof v !== "number" || !Number.isFinite(v) || v < 0))
      throw new StrongboxError("E_CONFIG", `qdrant() "${key}" must be a non-negative number`, { adapter: ADAPTER });
  }
  const http = new QdrantHttp(options);
  const deps: Deps = {
    options,
    http,
    api: options.client ? clientApi(options.client, http.where) : httpApi(http),
  };
  return {
    name: options.name ?? "qdrant",
    type: "qdrant",
    capabilities: { pointInTime: true, atomicRestore: true, safetyBackup: true },
    check: (ctx) => check(deps, ctx),
    inspect: (ctx) => inspect(deps, ctx),
    backup: (ctx) => backup(deps, ctx),
    restore: (ctx) => restore(deps, ctx),
    preview: (ctx) => preview(deps, ctx),
    restoreTest: (ctx) => restoreTest(deps, ctx),
    close: () => http.close(),
  };
}
