import { hostname } from "node:os";
import type { Logger, ProgressUpdate } from "../contracts/common.js";
import type { Source } from "../contracts/source.js";
import type { Storage } from "../contracts/storage.js";
import type { Transform, TransformRecord } from "../contracts/transform.js";
import { StrongboxError } from "../errors.js";
import type { TypedEmitter } from "../events.js";
import { assertComponentName } from "../manifest/layout.js";
import { validateNotifiers } from "../notify/dispatch.js";
import type { Notifier } from "../notify/types.js";
import { type RetentionPolicy, validateRetentionPolicy } from "../retention/index.js";
import { gzip } from "../transforms/gzip.js";
import { consoleLogger, redactingLogger } from "../util/logger.js";
import { parseTimeSpan } from "../util/units.js";
import type { StrongboxOptions } from "./options.js";

/** Everything the operations share: the validated options plus the emitter. */
export interface ManagerState {
  sources: Map<string, Source>;
  storages: Storage[];
  transforms: Transform[];
  retention: RetentionPolicy | undefined;
  concurrency: number;
  allowPartialStorage: boolean;
  incompleteGraceMs: number;
  preflight: boolean;
  logger: Logger;
  emitter: TypedEmitter;
  host: string;
  notifiers: Notifier[];
}

export function createState(options: StrongboxOptions, emitter: TypedEmitter): ManagerState {
  if (!options || typeof options !== "object")
    throw new StrongboxError("E_CONFIG", "createStrongbox() needs an options object");
  const storages = Array.isArray(options.storage) ? options.storage : options.storage ? [options.storage] : [];
  if (storages.length === 0)
    throw new StrongboxError("E_CONFIG", 'createStrongbox() needs "storage" (e.g. local({ directory: "./backups" }))');
  if (!Array.isArray(options.sources))
    throw new StrongboxError("E_CONFIG", 'createStrongbox() needs "sources" (an array, may be empty)');
  const sources = new Map<string, Source>();
  for (const s of options.sources) {
    assertComponentName(s.name);
    if (sources.has(s.name))
      throw new StrongboxError("E_CONFIG", `two sources are named "${s.name}"; give one a different "name" option`);
    sources.set(s.name, s);
  }
  const transforms = options.transforms ?? [];
  const ids = new Set<string>();
  for (const t of transforms) {
    if (ids.has(t.id)) throw new StrongboxError("E_CONFIG", `transform "${t.id}" is listed twice`);
    ids.add(t.id);
  }
  if (options.retention) validateRetentionPolicy(options.retention);
  const concurrency = options.concurrency ?? 2;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new StrongboxError("E_CONFIG", '"concurrency" must be a positive integer');
  return {
    sources,
    storages,
    transforms,
    retention: options.retention,
    concurrency,
    allowPartialStorage: options.allowPartialStorage ?? false,
    incompleteGraceMs: parseTimeSpan(options.incompleteGracePeriod ?? "24h", "incompleteGracePeriod"),
    preflight: options.preflight ?? true,
    logger: redactingLogger(options.logger ?? consoleLogger("warn")),
    emitter,
    host: hostname(),
    notifiers: validateNotifiers(options.notifiers),
  };
}

/**
 * Finds the transforms that undo a recorded chain. Configured transforms win (they carry keys);
 * gzip can be rebuilt from its record alone, so a restore host needs no gzip() in its config.
 */
export function resolveDecoders(state: ManagerState, records: TransformRecord[]): Transform[] {
  return records.map((record) => {
    const configured = state.transforms.find((t) => t.id === record.id);
    if (configured) return configured;
    if (record.id === "gzip") return gzip();
    if (record.id === "age") {
      throw new StrongboxError(
        "E_DECRYPT",
        "this backup is encrypted (age): add encrypt({ identities: [...] }) or encrypt({ passphrase }) to transforms to read it",
      );
    }
    throw new StrongboxError(
      "E_FORMAT",
      `this backup uses transform "${record.id}", which is not configured; add it to "transforms" to read the backup`,
    );
  });
}

/** Progress reporting throttled to a few updates a second per artifact, plus the final count. */
export function progressReporter(
  state: ManagerState,
  base: Omit<ProgressUpdate, "bytes">,
): { onBytes(bytes: number): void; finish(bytes: number): void } {
  let last = 0;
  return {
    onBytes(bytes) {
      const now = Date.now();
      if (now - last < 250) return;
      last = now;
      state.emitter.emit("progress", { ...base, bytes });
    },
    finish(bytes) {
      state.emitter.emit("progress", { ...base, bytes });
    },
  };
}

/** An AbortSignal that fires when any of the given ones does. */
export function linkSignals(...signals: Array<AbortSignal | undefined>): AbortController {
  const controller = new AbortController();
  for (const s of signals) {
    if (!s) continue;
    if (s.aborted) controller.abort(s.reason);
    else s.addEventListener("abort", () => controller.abort(s.reason), { once: true });
  }
  return controller;
}
