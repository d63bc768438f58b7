import { listBackups } from "../manager/catalog.js";
import type { ManagerState } from "../manager/state.js";
import type { BackupSummary } from "../manifest/types.js";
import type { ResolvedSchedule } from "./config.js";

/**
 * The newest complete backup that this schedule would have made: it carries every scheduled tag
 * and, when the schedule names `components`, holds each of them. Read from the storage listing (no
 * manifest reads), so replicas and restarted processes all see the same answer. (A schedule of
 * every source does not demand each component folder: a source may legitimately yield no artifact.)
 */
export async function newestScheduledBackup(
  state: ManagerState,
  schedule: ResolvedSchedule,
  signal?: AbortSignal,
): Promise<BackupSummary | undefined> {
  const all = await listBackups(state, { signal });
  return all.find(
    (b) =>
      (schedule.explicitComponents ?? []).every((c) => b.components.includes(c)) &&
      schedule.tags.every((t) => b.tags.includes(t)),
  );
}

/** `true` when such a backup was made at or after `since` (backup ids carry their start time, to the second). */
export async function backedUpSince(
  state: ManagerState,
  schedule: ResolvedSchedule,
  since: Date,
  signal?: AbortSignal,
): Promise<BackupSummary | undefined> {
  const newest = await newestScheduledBackup(state, schedule, signal);
  return newest && newest.time.getTime() >= floorToSecond(since) ? newest : undefined;
}

export function floorToSecond(d: Date): number {
  return Math.floor(d.getTime() / 1000) * 1000;
}
