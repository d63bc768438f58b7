/**
 * A long-running backup service: backs up every night on a cron schedule, under a lock shared by
 * its replicas (so N replicas back up once), verifies and prunes after each backup, and answers
 * `GET /healthz` from `box.health()` — 200 when healthy, 503 with the failing checks otherwise —
 * for a Kubernetes probe, a load balancer or an uptime monitor. SIGTERM stops it cleanly: the
 * backup in flight gets `SHUTDOWN_GRACE` to finish, or is aborted without leaving anything
 * half-written, and the lock is released.
 *
 * Environment:
 *   BACKUP_DIR        local backup directory (mount a volume, or swap local() for s3())   default ./backups
 *   UPLOADS_DIR       a directory to back up (component "uploads")
 *   DATABASE_URL      a PostgreSQL database to back up (component "postgres")
 *   LOCK_URL          where replicas take the lock: postgres://… (advisory lock) or redis://… (lease key)
 *                     default DATABASE_URL; without either there is no lock (one replica only!)
 *   LOCK_NAME         lock name, distinct per schedule                              default "strongbox:backup"
 *   BACKUP_CRON       cron expression (5 fields, or 6 with seconds first)            default "0 2 * * *"
 *   BACKUP_TIMEZONE   IANA zone the cron is read in                                  default "UTC"
 *   BACKUP_JITTER     random delay before each run, e.g. "5m"                         default "0"
 *   BACKUP_CATCH_UP   "false": do not make up a run missed while the service was down  default true
 *   HEALTH_MAX_AGE    newest backup must be younger than this                         default "26h"
 *   SHUTDOWN_GRACE    how long SIGTERM waits for a backup in flight                   default "5m"
 *   PORT / HOST       where /healthz listens                                          default 8080 / 0.0.0.0
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import type { Lock, Source } from "@strongbox/core";
import { createStrongbox, gzip, isStrongboxError, local, StrongboxError } from "@strongbox/core";
import { files } from "@strongbox/source-files";
import { postgres, postgresLock } from "@strongbox/source-postgres";
import { redisLock } from "@strongbox/source-redis";

const env = process.env;
const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);

const sources: Source[] = [];
if (env.DATABASE_URL) sources.push(postgres({ name: "postgres", connectionString: env.DATABASE_URL }));
if (env.UPLOADS_DIR) sources.push(files({ name: "uploads", paths: [resolve(env.UPLOADS_DIR)] }));
if (sources.length === 0) throw new StrongboxError("E_CONFIG", "set DATABASE_URL and/or UPLOADS_DIR");

/** The replicas' lock, from LOCK_URL's scheme. */
function lockFrom(url: string | undefined): Lock | undefined {
  if (!url) return undefined;
  if (/^postgres(ql)?:/.test(url)) return postgresLock({ connectionString: url });
  if (/^rediss?:/.test(url)) return redisLock({ url });
  throw new StrongboxError("E_CONFIG", "LOCK_URL must be a postgres:// or redis:// URL");
}
const lock = lockFrom(env.LOCK_URL ?? env.DATABASE_URL);
if (!lock)
  log("warning: no LOCK_URL/DATABASE_URL — run ONE replica only, or replicas will back up the same night twice");

const box = createStrongbox({
  sources,
  storage: local({ directory: resolve(env.BACKUP_DIR ?? "backups") }),
  transforms: [gzip()],
  retention: { keepDaily: 7, keepWeekly: 4, keepMonthly: 12, timeZone: env.BACKUP_TIMEZONE ?? "UTC" },
});
box
  .on("schedule:run-started", ({ run, trigger, scheduledAt }) =>
    log(`run ${run} (${trigger}${tick(scheduledAt)}): started`),
  )
  .on("schedule:run-completed", ({ run, trigger, backupId, record }) =>
    log(`run ${run} (${trigger}${tick(record.scheduledAt)}): completed, backup ${backupId} in ${record.durationMs} ms`),
  )
  .on("schedule:run-failed", ({ run, trigger, error, record }) =>
    log(
      `run ${run} (${trigger}${tick(record.scheduledAt)}): FAILED after ${record.attempts} attempt(s): ${error.code} ${error.message}`,
    ),
  )
  .on("schedule:skipped", ({ trigger, reason, scheduledAt, message }) =>
    log(`skipped (${trigger}${tick(scheduledAt)}): ${reason} — ${message}`),
  )
  .on("warning", ({ message }) => log(`warning: ${message}`));

function tick(at: Date | undefined): string {
  return at ? `, tick ${at.toISOString()}` : "";
}

const schedule = box.schedule({
  cron: env.BACKUP_CRON ?? "0 2 * * *",
  timeZone: env.BACKUP_TIMEZONE ?? "UTC",
  jitter: env.BACKUP_JITTER ?? 0,
  catchUp: env.BACKUP_CATCH_UP !== "false",
  retries: 3,
  verify: "checksum", // re-read the new backup; a damaged one fails the run and skips prune
  prune: true,
  ...(lock ? { lock, lockName: env.LOCK_NAME ?? "strongbox:backup" } : {}),
  shutdownGrace: env.SHUTDOWN_GRACE ?? "5m",
  // Signals are handled below, so the HTTP server and the lock are closed too.
  handleSignals: false,
});

const server = createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  if (req.method !== "GET" || path !== "/healthz") {
    res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
    return;
  }
  box
    .health({ maxAge: env.HEALTH_MAX_AGE ?? "26h" })
    .then((report) => {
      const last = schedule.lastRun();
      const body = JSON.stringify({
        ...report,
        schedule: {
          nextRun: schedule.nextRun()?.toISOString() ?? null,
          lastRun: last
            ? { status: last.status, trigger: last.trigger, backupId: last.backupId, finishedAt: last.finishedAt }
            : null,
        },
      });
      res.writeHead(report.healthy ? 200 : 503, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(body);
    })
    .catch((err: unknown) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: isStrongboxError(err) ? err.message : "internal error" }));
    });
});
server.listen(Number(env.PORT ?? 8080), env.HOST ?? "0.0.0.0", () => {
  const { address, port } = server.address() as AddressInfo;
  log(`healthz on http://${address}:${port}/healthz — next backup ${schedule.nextRun()?.toISOString() ?? "never"}`);
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) {
    log(`${signal} again: aborting the backup in flight`);
    await schedule.stop({ abort: true });
    return;
  }
  stopping = true;
  log(`${signal}: stopping (a backup in flight may finish first)`);
  server.close();
  server.closeIdleConnections();
  await schedule.stop(); // waits for the run in flight (≤ SHUTDOWN_GRACE), releases the lock
  await Promise.allSettled([lock?.close?.(), box.close()]);
  log("stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM")).on("SIGINT", () => void shutdown("SIGINT"));
