import type { LockLease } from "../contracts/lock.js";
import { isStrongboxError, StrongboxError, wrapError } from "../errors.js";
import type { StrongboxEventName, StrongboxEvents, TypedEmitter } from "../events.js";
import { runBackup } from "../manager/backup.js";
import { runPrune } from "../manager/prune.js";
import type { ManagerState } from "../manager/state.js";
import { runVerify } from "../manager/verify.js";
import type { BackupManifest } from "../manifest/types.js";
import type { NotificationDispatcher } from "../notify/dispatch.js";
import { formatDuration } from "../util/units.js";
import type { ResolvedSchedule } from "./config.js";
import { backedUpSince } from "./freshness.js";
import { randomDelay, sleep } from "./sleep.js";
import type { RunRecord, RunTrigger, SkipReason } from "./types.js";

export interface RunContext {
  state: ManagerState;
  schedule: ResolvedSchedule;
  notifications: NotificationDispatcher;
}

export interface RunRequest {
  run: number;
  trigger: RunTrigger;
  scheduledAt?: Date;
  /** Aborted by `stop({ abort })` or at the end of the grace period: the run ends as failed with `E_ABORTED`, leaving nothing half-written. */
  signal: AbortSignal;
  /** Fires on any `stop()`: a run still in its jitter wait does not start, and no further retry is made. */
  stopping: AbortSignal;
}

class Skip extends Error {
  constructor(
    readonly reason: SkipReason,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Errors that another attempt cannot fix. */
function retryable(err: unknown): boolean {
  return !isStrongboxError(err, "E_CONFIG") && !isStrongboxError(err, "E_ABORTED");
}

/**
 * One run: jitter, lock (renewed while in flight), the already-done check, the backup with
 * retries, then verify and — only when the new backup verified — prune. Never rejects: the outcome
 * is the record, also announced as `schedule:run-completed` / `run-failed` / `skipped`.
 */
export async function executeRun(ctx: RunContext, req: RunRequest): Promise<RunRecord> {
  const { state, schedule } = ctx;
  const emitter = state.emitter;
  const startedAt = new Date();
  const record: RunRecord = {
    run: req.run,
    trigger: req.trigger,
    ...(req.scheduledAt ? { scheduledAt: req.scheduledAt } : {}),
    startedAt,
    finishedAt: startedAt,
    durationMs: 0,
    status: "completed",
    attempts: 0,
  };
  const finish = (status: RunRecord["status"]) => {
    record.status = status;
    record.finishedAt = new Date();
    record.durationMs = record.finishedAt.getTime() - startedAt.getTime();
    return record;
  };
  emitter.emit("schedule:run-started", {
    run: req.run,
    trigger: req.trigger,
    ...(req.scheduledAt ? { scheduledAt: req.scheduledAt } : {}),
  });

  let lease: LockLease | undefined;
  let renewal: NodeJS.Timeout | undefined;
  try {
    // Jitter only for timed runs: someone who asks for a backup now wants it now.
    if (req.trigger !== "manual" && schedule.jitterMs > 0) {
      await sleep(randomDelay(schedule.jitterMs), req.stopping).catch(() => undefined);
    }
    if (req.stopping.aborted) throw new Skip("stopped", "the schedule was stopped before the run started");

    if (schedule.lock) {
      lease = await acquire(ctx, req.signal);
      if (!lease) {
        throw new Skip(
          "locked",
          `lock "${schedule.lockName}" is held by another process (another replica is running this backup)`,
          "E_LOCKED",
        );
      }
      renewal = startRenewal(ctx, lease);
      // The lock stops two replicas running at the same moment; this stops the later one from
      // repeating a backup the first one already finished for the same tick.
      if (req.scheduledAt && req.trigger !== "manual") {
        const done = await backedUpSince(state, schedule, req.scheduledAt, req.signal);
        if (done)
          throw new Skip("already-done", `backup ${done.id} already covers the tick of ${iso(req.scheduledAt)}`);
      }
    }

    const manifest = await backupWithRetries(ctx, req, record);
    record.backupId = manifest.id;

    if (schedule.verify) {
      record.verify = await runVerify(state, manifest.id, { mode: schedule.verify, signal: req.signal });
      if (!record.verify.ok) {
        // Pruning now could delete the good backups in favour of this damaged one.
        throw new StrongboxError(
          "E_INTEGRITY",
          `backup ${manifest.id} was written but failed verification (${schedule.verify}); prune skipped`,
          { adapter: "schedule" },
        );
      }
    }
    if (schedule.prune) {
      record.prune = await runPrune(state, { signal: req.signal });
      for (const s of record.prune.storages)
        for (const e of s.errors)
          emitter.emit("warning", { message: `prune after run ${req.run} could not delete ${e.id}: ${e.message}` });
    }
    finish("completed");
    emitter.emit("schedule:run-completed", {
      run: req.run,
      trigger: req.trigger,
      backupId: manifest.id,
      record,
    });
    return record;
  } catch (err) {
    if (err instanceof Skip) {
      record.skip = { reason: err.reason, message: err.message };
      finish("skipped");
      emitter.emit("schedule:skipped", {
        trigger: req.trigger,
        reason: err.reason,
        message: err.message,
        ...(req.scheduledAt ? { scheduledAt: req.scheduledAt } : {}),
        ...(err.code ? { code: err.code } : {}),
      });
      return record;
    }
    const error =
      req.signal.aborted && !isStrongboxError(err, "E_ABORTED")
        ? new StrongboxError("E_ABORTED", `scheduled run ${req.run} aborted: ${(err as Error).message}`, {
            adapter: "schedule",
            cause: err,
          })
        : wrapError(err, "E_SOURCE", "schedule", `scheduled run ${req.run}`);
    record.error = error;
    finish("failed");
    state.logger.error(`scheduled run ${req.run} failed: ${error.message}`, { code: error.code });
    emitter.emit("schedule:run-failed", { run: req.run, trigger: req.trigger, error, record });
    return record;
  } finally {
    if (renewal) clearInterval(renewal);
    if (lease) {
      await lease.release().catch((err: unknown) => {
        emitter.emit("warning", {
          message: `could not release lock "${schedule.lockName}": ${(err as Error).message} (it expires by itself)`,
        });
      });
    }
  }
}

async function acquire(ctx: RunContext, signal: AbortSignal): Promise<LockLease | undefined> {
  const { lock, lockName, lockTtlMs } = ctx.schedule;
  try {
    return await lock!.acquire(lockName, { ttlMs: lockTtlMs, signal });
  } catch (err) {
    // Running unprotected could duplicate work on every replica: fail loudly instead.
    throw wrapError(err, "E_SOURCE", lock!.type, `acquiring lock "${lockName}"`);
  }
}

function startRenewal(ctx: RunContext, lease: LockLease): NodeJS.Timeout {
  const { lockName, lockTtlMs } = ctx.schedule;
  const warn = (message: string) => ctx.state.emitter.emit("warning", { message });
  const timer = setInterval(
    () => {
      lease.renew().then(
        (held) => {
          // Backups get distinct ids, so finishing is harmless; another replica may start a second one.
          if (!held) warn(`lost lock "${lockName}" while the run was in flight (lease expired); finishing the run`);
        },
        (err: unknown) => warn(`could not renew lock "${lockName}": ${(err as Error).message}`),
      );
    },
    Math.max(500, Math.floor(lockTtlMs / 3)),
  );
  timer.unref();
  return timer;
}

async function backupWithRetries(ctx: RunContext, req: RunRequest, record: RunRecord): Promise<BackupManifest> {
  const { schedule } = ctx;
  const state = markingState(ctx);
  for (let attempt = 1; ; attempt++) {
    record.attempts = attempt;
    try {
      return await runBackup(state, {
        ...(schedule.explicitComponents ? { components: schedule.explicitComponents } : {}),
        tags: schedule.tags,
        ...(schedule.description ? { description: schedule.description } : {}),
        signal: req.signal,
      });
    } catch (err) {
      if (attempt > schedule.retries || !retryable(err) || req.stopping.aborted) throw err;
      const delay = schedule.retryDelayMs * 2 ** (attempt - 1);
      ctx.state.emitter.emit("warning", {
        message: `scheduled run ${req.run}: attempt ${attempt} of ${schedule.retries + 1} failed (${
          (err as Error).message
        }); retrying in ${formatDuration(delay)}`,
      });
      // A stop during the wait ends the run with this attempt's error: no new attempt while shutting down.
      await sleep(delay, req.stopping).catch(() => {
        throw err;
      });
    }
  }
}

/**
 * The manager state with an emitter that tells the notification dispatcher which backups the
 * scheduler runs (so their per-attempt notifications can give way to the run's own).
 */
function markingState(ctx: RunContext): ManagerState {
  const { state, notifications } = ctx;
  const emitter = {
    emit<E extends StrongboxEventName>(event: E, payload: StrongboxEvents[E]): void {
      if (event === "backup:started") notifications.markScheduled((payload as StrongboxEvents["backup:started"]).id);
      state.emitter.emit(event, payload);
    },
  } as unknown as TypedEmitter;
  return { ...state, emitter };
}

function iso(d: Date): string {
  return d.toISOString();
}
