import { Cron } from "croner";
import { StrongboxError } from "../errors.js";
import type { HealthProbe } from "../health/health.js";
import type { ManagerState } from "../manager/state.js";
import type { NotificationDispatcher } from "../notify/dispatch.js";
import { parseCron, resolveSchedule } from "./config.js";
import { floorToSecond, newestScheduledBackup } from "./freshness.js";
import { lastRunCheck } from "./health-probe.js";
import { executeRun } from "./run.js";
import { installSignalHandlers } from "./signals.js";
import { sleep } from "./sleep.js";
import type { RunRecord, RunTrigger, Schedule, ScheduleOptions } from "./types.js";

export interface ScheduleDeps {
  addHealthProbe(probe: HealthProbe): void;
  notifications: NotificationDispatcher;
}

/**
 * Creates and starts a schedule. Croner only says WHEN; everything about a run (no overlap, lock,
 * retries, verify, prune) is decided here, so `runNow()` and catch-up runs behave exactly like
 * timed ones.
 */
export function createSchedule(state: ManagerState, options: ScheduleOptions, deps: ScheduleDeps): Schedule {
  const resolved = resolveSchedule(state, options);
  parseCron(resolved);
  const emitter = state.emitter;
  const ctx = { state, schedule: resolved, notifications: deps.notifications };
  // Aborting it aborts whatever run is in flight; each run listens to it.
  const stopController = new AbortController();
  // Aborted by any stop(): runs not yet started (jitter) are dropped, retries are not attempted.
  const stoppingController = new AbortController();
  let runCount = 0;
  let inFlight: Promise<RunRecord> | undefined;
  let last: RunRecord | undefined;
  let lastAttempted: RunRecord | undefined;
  let stopPromise: Promise<void> | undefined;
  let removeSignalHandlers: (() => void) | undefined;

  const overlapRecord = (trigger: RunTrigger, scheduledAt: Date | undefined): RunRecord => {
    const message = `run ${runCount} is still in flight; this ${trigger === "manual" ? "request" : "tick"} is skipped`;
    emitter.emit("warning", { message: `schedule "${resolved.cron}": ${message}` });
    emitter.emit("schedule:skipped", {
      trigger,
      reason: "overlap",
      message,
      ...(scheduledAt ? { scheduledAt } : {}),
    });
    const now = new Date();
    return {
      run: runCount,
      trigger,
      ...(scheduledAt ? { scheduledAt } : {}),
      startedAt: now,
      finishedAt: now,
      durationMs: 0,
      status: "skipped",
      attempts: 0,
      skip: { reason: "overlap", message },
    };
  };

  /** Starts a run unless one is in flight. Never rejects. */
  const start = (trigger: RunTrigger, scheduledAt: Date | undefined): Promise<RunRecord> => {
    if (inFlight) return Promise.resolve(overlapRecord(trigger, scheduledAt));
    const run = ++runCount;
    const current = executeRun(ctx, {
      run,
      trigger,
      scheduledAt,
      signal: stopController.signal,
      stopping: stoppingController.signal,
    })
      .then((record) => {
        last = record;
        if (record.status !== "skipped") lastAttempted = record;
        return record;
      })
      .finally(() => {
        if (inFlight === current) inFlight = undefined;
      });
    inFlight = current;
    return current;
  };

  const cron = new Cron(resolved.cron, { timezone: resolved.timeZone }, () => {
    // The tick this call is for: the latest one not after now (croner never fires early).
    const scheduledAt = cron.previousRuns(1, new Date(Date.now() + 1))[0];
    void start("cron", scheduledAt);
  });

  const stop = (opts: { abort?: boolean } = {}): Promise<void> => {
    if (opts.abort && !stopController.signal.aborted) {
      stopController.abort(new StrongboxError("E_ABORTED", "schedule stopped", { adapter: "schedule" }));
    }
    if (stopPromise) return stopPromise;
    cron.stop();
    stoppingController.abort();
    stopPromise = (async () => {
      const running = inFlight;
      if (running && !stopController.signal.aborted) {
        // Let the run finish within the grace period; then abort it (nothing half-written stays).
        const graceOver = new AbortController();
        await Promise.race([running, sleep(resolved.shutdownGraceMs, graceOver.signal).catch(() => undefined)]);
        graceOver.abort();
        if (inFlight) {
          emitter.emit("warning", {
            message: `schedule "${resolved.cron}": the run in flight did not finish within the grace period; aborting it`,
          });
          stopController.abort(
            new StrongboxError("E_ABORTED", "schedule stopped (grace period over)", { adapter: "schedule" }),
          );
        }
      }
      if (inFlight) await inFlight;
      removeSignalHandlers?.();
      resolved.signal?.removeEventListener("abort", onExternalAbort);
      await deps.notifications.flush();
    })();
    return stopPromise;
  };

  function onExternalAbort(): void {
    void stop({ abort: true });
  }
  if (resolved.signal?.aborted) void stop({ abort: true });
  else resolved.signal?.addEventListener("abort", onExternalAbort, { once: true });
  if (resolved.handleSignals) removeSignalHandlers = installSignalHandlers(stop, resolved.shutdownGraceMs, emitter);

  deps.addHealthProbe(() =>
    stopPromise ? [] : [lastRunCheck(resolved.cron, lastAttempted, cron.nextRun() ?? undefined)],
  );

  const ready = (async () => {
    if (!resolved.catchUp || stopPromise) return;
    const previousTick = cron.previousRuns(1, new Date())[0];
    if (!previousTick) return;
    try {
      const newest = await newestScheduledBackup(state, resolved, stopController.signal);
      if (newest && newest.time.getTime() >= floorToSecond(previousTick)) return;
      if (stopPromise) return;
      state.logger.info(
        `catch-up: ${newest ? `newest backup ${newest.id} is older than` : "no backup in storage for"} the tick of ${previousTick.toISOString()}; running now`,
      );
      void start("catch-up", previousTick);
    } catch (err) {
      emitter.emit("warning", {
        message: `schedule "${resolved.cron}": could not decide on a catch-up run: ${(err as Error).message}`,
      });
    }
  })();

  return {
    nextRun: () => (stopPromise ? undefined : (cron.nextRun() ?? undefined)),
    lastRun: () => last,
    runNow() {
      if (stopPromise)
        return Promise.reject(new StrongboxError("E_ABORTED", "the schedule is stopped", { adapter: "schedule" }));
      return start("manual", undefined);
    },
    stop,
    get running() {
      return inFlight !== undefined;
    },
    get stopped() {
      return stopPromise !== undefined;
    },
    ready,
  };
}
