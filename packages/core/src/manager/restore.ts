import type { TargetOverrides } from "../contracts/common.js";
import type { ComponentRecord, RestorePreview, RestoreResult, Source } from "../contracts/source.js";
import type { Storage } from "../contracts/storage.js";
import { StrongboxError, withContext, wrapError } from "../errors.js";
import type { BackupManifest } from "../manifest/types.js";
import { runBackup } from "./backup.js";
import { findBackup } from "./catalog.js";
import { linkSignals, type ManagerState } from "./state.js";
import { pickComponents, restoreContext, verifyArtifact } from "./verify.js";

export interface RestoreOptions {
  /** Component names to restore. @default every component in the backup */
  components?: string[];
  /** Per-component target overrides: `{ postgres: { database: "copy" }, files: { directory: "/tmp/x" } }`. */
  targets?: Record<string, TargetOverrides>;
  /** Report what would be restored and overwritten; change nothing. @default false */
  dryRun?: boolean;
  /** Passed to sources: overwrite targets they would otherwise refuse (e.g. non-empty). @default false */
  force?: boolean;
  /**
   * Back up what a restore will overwrite first, and roll back to it if the restore fails.
   * `"auto"`: for sources whose restore is not atomic by itself. @default "auto"
   */
  safetyBackup?: boolean | "auto";
  /**
   * Decode-verify every artifact before anything is applied. `"auto"`: for sources whose restore
   * is not atomic (an atomic one rolls back by itself when the stream fails). @default "auto"
   */
  verifyFirst?: boolean | "auto";
  /** Read from this storage (index). @default the first storage holding the backup */
  storage?: number;
  signal?: AbortSignal;
}

export interface ComponentRestoreReport {
  name: string;
  type: string;
  target: TargetOverrides;
  /** What was (dry run: would be) overwritten, from the source's preview. */
  preview?: RestorePreview;
  result?: RestoreResult;
  verifiedFirst: boolean;
  safetyBackupId?: string;
  /** Counts in the restored target compared with the manifest's. */
  checks?: Array<{ name: string; ok: boolean; expected: number; actual: number | undefined }>;
  durationMs: number;
}

export interface RestoreReport {
  id: string;
  dryRun: boolean;
  durationMs: number;
  components: ComponentRestoreReport[];
}

export async function runRestore(
  state: ManagerState,
  idOrLatest: string,
  options: RestoreOptions = {},
): Promise<RestoreReport> {
  const started = Date.now();
  const { manifest, storage, storageIndex } = await findBackup(state, idOrLatest, options);
  const controller = linkSignals(options.signal);
  const components = pickComponents(manifest, options.components);
  for (const name of Object.keys(options.targets ?? {})) {
    if (!components.some((c) => c.name === name))
      throw new StrongboxError(
        "E_CONFIG",
        `"targets" names "${name}", which is not among the components being restored (${components.map((c) => c.name).join(", ")})`,
      );
  }
  const pairs = components.map((c) => ({ component: c, source: sourceFor(state, c) }));
  const dryRun = options.dryRun ?? false;
  state.emitter.emit("restore:started", { id: manifest.id, components: components.map((c) => c.name), dryRun });
  const report: RestoreReport = { id: manifest.id, dryRun, durationMs: 0, components: [] };

  for (const { component, source } of pairs) {
    const target = options.targets?.[component.name] ?? {};
    const ctx = restoreContext(
      state,
      manifest,
      component,
      storage,
      target,
      options.force ?? false,
      controller.signal,
      "restore",
      dryRun,
    );
    const entry: ComponentRestoreReport = {
      name: component.name,
      type: component.type,
      target,
      verifiedFirst: false,
      durationMs: 0,
    };
    const t0 = Date.now();
    const preview = source.preview
      ? await source.preview(ctx).catch((err: unknown) => {
          throw wrapError(err, "E_SOURCE", source.type, `previewing the restore of "${component.name}"`);
        })
      : undefined;
    if (preview) entry.preview = preview;
    if (dryRun) {
      report.components.push({ ...entry, durationMs: Date.now() - t0 });
      continue;
    }
    const atomic = source.capabilities?.atomicRestore === true;
    const verifyFirst =
      options.verifyFirst === undefined || options.verifyFirst === "auto" ? !atomic : options.verifyFirst;
    if (verifyFirst) {
      for (const artifact of component.artifacts) {
        await verifyArtifact(state, storage, component, artifact, "decode", controller.signal).catch((err: unknown) => {
          throw withContext(
            err,
            "E_INTEGRITY",
            "core",
            `backup ${manifest.id} failed verification before the restore, so nothing was restored`,
          );
        });
      }
      entry.verifiedFirst = true;
    }
    const safety = await takeSafetyBackup(
      state,
      options.safetyBackup ?? "auto",
      source,
      component,
      manifest,
      target,
      preview,
      storageIndex,
      controller.signal,
    );
    if (safety) entry.safetyBackupId = safety.id;
    try {
      entry.result = await source.restore(ctx);
    } catch (err) {
      const error = wrapError(err, "E_SOURCE", source.type, `restoring "${component.name}" from ${manifest.id}`);
      let rolledBack = false;
      if (safety) {
        try {
          await rollBack(state, safety, source, storage, target);
          rolledBack = true;
        } catch (rollbackErr) {
          const e = new StrongboxError(
            error.code,
            `${error.message}; rolling back to safety backup ${safety.id} ALSO failed: ${(rollbackErr as Error).message} — restore it by hand with restore("${safety.id}")`,
            { adapter: source.type, cause: err, details: { safetyBackupId: safety.id } },
          );
          state.emitter.emit("restore:failed", { id: manifest.id, error: e, rolledBack: false });
          throw e;
        }
      }
      const final = rolledBack
        ? new StrongboxError(
            error.code,
            `${error.message}; the target was rolled back to safety backup ${safety!.id}`,
            { adapter: source.type, cause: err, details: { safetyBackupId: safety!.id, rolledBack: true } },
          )
        : error;
      state.emitter.emit("restore:failed", { id: manifest.id, error: final, rolledBack });
      throw final;
    }
    const checks = await compareCounts(state, source, component, target, controller.signal);
    if (checks) entry.checks = checks;
    entry.durationMs = Date.now() - t0;
    report.components.push(entry);
  }
  report.durationMs = Date.now() - started;
  state.emitter.emit("restore:completed", {
    id: manifest.id,
    components: components.map((c) => c.name),
    durationMs: report.durationMs,
  });
  return report;
}

function sourceFor(state: ManagerState, component: ComponentRecord): Source {
  const source = state.sources.get(component.name);
  if (!source)
    throw new StrongboxError(
      "E_CONFIG",
      `no source named "${component.name}" is configured, so it cannot be restored; add a ${component.type} source with name "${component.name}"`,
    );
  if (source.type !== component.type)
    throw new StrongboxError(
      "E_CONFIG",
      `component "${component.name}" was backed up by a ${component.type} source but the configured one is ${source.type}`,
    );
  return source;
}

async function takeSafetyBackup(
  state: ManagerState,
  wanted: boolean | "auto",
  source: Source,
  component: ComponentRecord,
  manifest: BackupManifest,
  target: TargetOverrides,
  preview: RestorePreview | undefined,
  storageIndex: number,
  signal: AbortSignal,
): Promise<BackupManifest | undefined> {
  const want = wanted === true || (wanted === "auto" && source.capabilities?.atomicRestore !== true);
  if (!want) return undefined;
  if (!source.capabilities?.safetyBackup) {
    if (wanted === true)
      throw new StrongboxError(
        "E_CONFIG",
        `source "${source.name}" (${source.type}) cannot take a safety backup of its restore target`,
      );
    state.emitter.emit("warning", {
      component: source.name,
      message: `no safety backup: ${source.type} sources cannot back up a restore target`,
    });
    return undefined;
  }
  // Nothing there yet: nothing to protect.
  if (preview && !preview.exists) return undefined;
  try {
    return await runBackup(
      state,
      {
        components: [source.name],
        tags: ["safety"],
        description: `safety backup before restoring ${component.name} from ${manifest.id}`,
        signal,
      },
      {
        targets: { [source.name]: target },
        safetyFor: { backupId: manifest.id, components: [component.name] },
        storages: [storageIndex],
      },
    );
  } catch (err) {
    throw withContext(
      err,
      "E_SOURCE",
      source.type,
      `the safety backup before restoring "${component.name}" failed, so nothing was restored`,
    );
  }
}

async function rollBack(
  state: ManagerState,
  safety: BackupManifest,
  source: Source,
  storage: Storage,
  target: TargetOverrides,
): Promise<void> {
  const component = safety.components[0]!;
  // A fresh signal: even when the user aborted the restore, the target must be put back.
  const ctx = restoreContext(state, safety, component, storage, target, true, new AbortController().signal);
  await source.restore(ctx);
}

async function compareCounts(
  state: ManagerState,
  source: Source,
  component: ComponentRecord,
  target: TargetOverrides,
  signal: AbortSignal,
): Promise<ComponentRestoreReport["checks"]> {
  const expected = component.stats?.counts;
  if (!expected || !source.inspect) return undefined;
  let actual: Record<string, number> | undefined;
  try {
    actual = (await source.inspect({ signal, logger: state.logger, progress() {}, target })).counts;
  } catch (err) {
    state.emitter.emit("warning", {
      component: component.name,
      message: `could not read counts after restore: ${(err as Error).message}`,
    });
    return undefined;
  }
  const estimated = new Set(component.stats?.estimated ?? []);
  const checks = Object.entries(expected)
    .filter(([name]) => !estimated.has(name))
    .map(([name, value]) => ({ name, ok: actual?.[name] === value, expected: value, actual: actual?.[name] }));
  const bad = checks.filter((c) => !c.ok);
  if (bad.length) {
    state.emitter.emit("warning", {
      component: component.name,
      message: `after restore, ${bad.length} count(s) differ from the backup's: ${bad
        .slice(0, 5)
        .map((c) => `${c.name} ${c.actual} ≠ ${c.expected}`)
        .join(", ")}`,
    });
  }
  return checks;
}
