import type { HealthCheck } from "../health/health.js";
import type { RunRecord } from "./types.js";

/** The `lastRun` health check of one schedule: unhealthy when its last attempted run failed. */
export function lastRunCheck(cron: string, last: RunRecord | undefined, next: Date | undefined): HealthCheck {
  const where = `schedule "${cron}"`;
  if (!last) {
    return {
      name: "lastRun",
      storage: where,
      ok: true,
      message: `no scheduled run yet${next ? `; next at ${next.toISOString()}` : ""}`,
    };
  }
  const when = last.finishedAt.toISOString();
  if (last.status === "failed") {
    return {
      name: "lastRun",
      storage: where,
      ok: false,
      message: `last scheduled run (#${last.run}, ${when}) failed after ${last.attempts} attempt(s): ${
        last.error?.message ?? "unknown error"
      }`,
      value: last.error?.code ?? "failed",
    };
  }
  return {
    name: "lastRun",
    storage: where,
    ok: true,
    message: `last scheduled run (#${last.run}, ${when}) completed${last.backupId ? `: backup ${last.backupId}` : ""}`,
    ...(last.backupId ? { value: last.backupId } : {}),
  };
}
