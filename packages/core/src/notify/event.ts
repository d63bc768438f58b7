import { hostname } from "node:os";
import { redactSecrets, type StrongboxError } from "../errors.js";
import type { StrongboxEvents } from "../events.js";
import { formatBytes, formatDuration } from "../util/units.js";
import type { NotificationEvent, NotificationEventType } from "./types.js";

const HOST = hostname();

function errorInfo(error: StrongboxError): { code: string; message: string } {
  // Messages are redacted when the error is built; again here for secrets registered since.
  return { code: error.code, message: redactSecrets(error.message) };
}

/**
 * Builds the notification for a manager event. Only facts already meant for people go in (ids,
 * counts, sizes, redacted messages) — never a manifest's transform params or an option value.
 */
export function toNotification<E extends NotificationEventType>(
  type: E,
  payload: StrongboxEvents[E],
  now = new Date(),
): NotificationEvent {
  const base = { source: "strongbox" as const, type, time: now.toISOString(), host: HOST };
  const p = payload as StrongboxEvents[NotificationEventType];
  switch (type) {
    case "backup:completed": {
      const e = p as StrongboxEvents["backup:completed"];
      const size = e.manifest.components.reduce((n, c) => n + c.artifacts.reduce((m, a) => m + a.size, 0), 0);
      return {
        ...base,
        severity: "info",
        summary: `backup ${e.id} completed in ${formatDuration(e.durationMs)} (${formatBytes(size)})`,
        backupId: e.id,
        components: e.manifest.components.map((c) => c.name),
        durationMs: e.durationMs,
        details: { size, tags: e.manifest.tags },
      };
    }
    case "backup:failed": {
      const e = p as StrongboxEvents["backup:failed"];
      return {
        ...base,
        severity: "error",
        summary: redactSecrets(`backup ${e.id} failed: ${e.error.message}`),
        backupId: e.id,
        durationMs: e.durationMs,
        error: errorInfo(e.error),
      };
    }
    case "restore:completed": {
      const e = p as StrongboxEvents["restore:completed"];
      return {
        ...base,
        severity: "info",
        summary: `restore of ${e.id} completed in ${formatDuration(e.durationMs)} (${e.components.join(", ")})`,
        backupId: e.id,
        components: e.components,
        durationMs: e.durationMs,
      };
    }
    case "restore:failed": {
      const e = p as StrongboxEvents["restore:failed"];
      return {
        ...base,
        severity: "error",
        summary: redactSecrets(`restore of ${e.id} failed${e.rolledBack ? " (rolled back)" : ""}: ${e.error.message}`),
        backupId: e.id,
        error: errorInfo(e.error),
        details: { rolledBack: e.rolledBack },
      };
    }
    case "verify:completed": {
      const e = p as StrongboxEvents["verify:completed"];
      return {
        ...base,
        severity: e.ok ? "info" : "error",
        summary: `verification (${e.mode}) of ${e.id} ${e.ok ? "passed" : "FAILED"}`,
        backupId: e.id,
        details: { ok: e.ok, mode: e.mode },
      };
    }
    case "prune:completed": {
      const e = p as StrongboxEvents["prune:completed"];
      return {
        ...base,
        severity: "info",
        summary: `prune${e.dryRun ? " (dry run)" : ""}: ${e.removed.length} backup(s) removed, ${e.kept} kept`,
        details: { removed: e.removed, kept: e.kept, dryRun: e.dryRun },
      };
    }
    case "schedule:run-completed": {
      const e = p as StrongboxEvents["schedule:run-completed"];
      const r = e.record;
      return {
        ...base,
        severity: "info",
        summary: `scheduled backup ${e.backupId} completed in ${formatDuration(r.durationMs)}${
          r.attempts > 1 ? ` after ${r.attempts} attempts` : ""
        }${r.verify ? `, verified (${r.verify.mode})` : ""}${r.prune ? ", pruned" : ""}`,
        backupId: e.backupId,
        durationMs: r.durationMs,
        details: runDetails(r),
      };
    }
    case "schedule:run-failed": {
      const e = p as StrongboxEvents["schedule:run-failed"];
      const r = e.record;
      return {
        ...base,
        severity: "error",
        summary: redactSecrets(
          `scheduled backup failed${r.attempts > 1 ? ` after ${r.attempts} attempts` : ""}: ${e.error.message}`,
        ),
        ...(r.backupId ? { backupId: r.backupId } : {}),
        durationMs: r.durationMs,
        error: errorInfo(e.error),
        details: runDetails(r),
      };
    }
    case "schedule:skipped": {
      const e = p as StrongboxEvents["schedule:skipped"];
      return {
        ...base,
        severity: "warning",
        summary: redactSecrets(`scheduled backup skipped (${e.reason}): ${e.message}`),
        details: {
          reason: e.reason,
          trigger: e.trigger,
          ...(e.code ? { code: e.code } : {}),
          ...(e.scheduledAt ? { scheduledAt: e.scheduledAt.toISOString() } : {}),
        },
      };
    }
  }
  throw new TypeError(`no notification for event "${type}"`);
}

function runDetails(r: StrongboxEvents["schedule:run-completed"]["record"]): Record<string, unknown> {
  return {
    run: r.run,
    trigger: r.trigger,
    attempts: r.attempts,
    ...(r.scheduledAt ? { scheduledAt: r.scheduledAt.toISOString() } : {}),
    ...(r.verify ? { verified: r.verify.ok, verifyMode: r.verify.mode } : {}),
    ...(r.prune ? { pruned: r.prune.storages.flatMap((s) => s.deleted) } : {}),
  };
}
