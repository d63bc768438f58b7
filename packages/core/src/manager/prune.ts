import { StrongboxError } from "../errors.js";
import type { BackupSummary } from "../manifest/types.js";
import { planRetention, type RetentionPlan } from "../retention/index.js";
import { listStorage, storageIndex } from "./catalog.js";
import { deleteBackupObjects } from "./remove.js";
import type { ManagerState } from "./state.js";

export interface PruneOptions {
  /** Plan and report; delete nothing. @default false */
  dryRun?: boolean;
  /** Only this storage (index). @default every storage, each planned on its own listing */
  storage?: number;
  /** Clock for planning and the grace period (tests). @default new Date() */
  now?: Date;
  signal?: AbortSignal;
}

export interface PruneReport {
  dryRun: boolean;
  storages: Array<{
    storage: string;
    plan: RetentionPlan;
    /** Incomplete backups (no manifest) older than the grace period: removed (or would be). */
    incomplete: Array<{ id: string; time: Date; reason: string }>;
    /** Ids actually deleted (empty on a dry run). */
    deleted: string[];
    /** Leftovers of writes that never finished (temp files, multipart uploads) removed by the storage's `sweep()`. */
    swept: number;
    /** Objects the storage refused to delete on purpose (retention locks), with why. */
    skipped: Array<{ id: string; key: string; reason: string }>;
    errors: Array<{ id: string; message: string }>;
  }>;
}

/**
 * Applies the retention policy to each storage's own listing and garbage-collects incomplete
 * backups past the grace period. Every kept backup carries its reasons; nothing is deleted on a
 * dry run. A storage that refuses a delete (Object Lock) is reported, not fatal.
 */
export async function runPrune(state: ManagerState, options: PruneOptions = {}): Promise<PruneReport> {
  const now = options.now ?? new Date();
  const dryRun = options.dryRun ?? false;
  const indexes =
    options.storage === undefined ? state.storages.map((_, i) => i) : [storageIndex(state, options.storage)];
  const report: PruneReport = { dryRun, storages: [] };
  for (const i of indexes) {
    const storage = state.storages[i]!;
    const all = await listStorage(storage, i, options.signal);
    const complete = all.filter((b) => b.complete);
    const plan = planRetention(
      complete.map((b) => ({ id: b.id, time: b.time, tags: b.tags, pinned: b.pinned, complete: true })),
      state.retention ?? {},
      { now },
    );
    const incomplete = all
      .filter((b: BackupSummary) => !b.complete && now.getTime() - b.time.getTime() > state.incompleteGraceMs)
      .map((b) => ({
        id: b.id,
        time: b.time,
        reason: `incomplete (no manifest) for more than ${Math.round(state.incompleteGraceMs / 3_600_000)}h`,
      }));
    const entry: PruneReport["storages"][number] = {
      storage: storage.location,
      plan,
      incomplete,
      deleted: [],
      swept: 0,
      skipped: [],
      errors: [],
    };
    if (!dryRun) {
      for (const id of [...plan.remove.map((r) => r.id), ...incomplete.map((r) => r.id)]) {
        if (options.signal?.aborted) throw new StrongboxError("E_ABORTED", "prune aborted");
        try {
          const r = await deleteBackupObjects(storage, id, options.signal);
          if (r.skipped?.length) entry.skipped.push(...r.skipped.map((s) => ({ id, ...s })));
          else entry.deleted.push(id);
        } catch (err) {
          entry.errors.push({ id, message: (err as Error).message });
        }
      }
    }
    if (!dryRun && storage.sweep) {
      try {
        entry.swept = (
          await storage.sweep({ olderThan: new Date(now.getTime() - state.incompleteGraceMs), signal: options.signal })
        ).removed;
      } catch (err) {
        entry.errors.push({ id: "(sweep)", message: (err as Error).message });
      }
    }
    report.storages.push(entry);
  }
  const removed = report.storages.flatMap((s) => (dryRun ? s.plan.remove.map((r) => r.id) : s.deleted));
  state.emitter.emit("prune:completed", {
    removed,
    kept: report.storages.reduce((n, s) => n + s.plan.keep.length, 0),
    dryRun,
  });
  return report;
}
