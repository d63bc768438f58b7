import type { Lock } from "../contracts/lock.js";
import type { StrongboxError } from "../errors.js";
import type { PruneReport } from "../manager/prune.js";
import type { VerifyMode, VerifyResult } from "../manager/verify.js";

/** Options of `box.schedule()`. Spans are milliseconds or strings such as `"30s"`, `"10m"`, `"1h30m"`. */
export interface ScheduleOptions {
  /**
   * When to back up: a cron expression as croner reads it — 5 fields (`"0 2 * * *"`: 02:00 daily),
   * 6 with seconds first (`"*\/10 * * * * *"`), or a nickname (`"@daily"`).
   */
  cron: string;
  /** IANA time zone the cron expression is read in, e.g. `"Asia/Seoul"`. @default the process's local time zone */
  timeZone?: string;
  /** Components (source names) to back up. @default every source */
  components?: string[];
  /** Tags added to every scheduled backup. @default [] */
  tags?: string[];
  /** Description stored in every scheduled backup's manifest. */
  description?: string;
  /**
   * How many times a failed backup is tried again within one run, waiting `retryDelay`, then twice
   * that, four times that… Configuration errors (`E_CONFIG`) and aborts are not retried.
   * @default 2
   */
  retries?: number;
  /** Wait before the first retry; doubles for each further one. @default "30s" */
  retryDelay?: string | number;
  /**
   * Waits a random time between 0 and this before each scheduled run (not `runNow()`), so many
   * services scheduled at 02:00 do not hit the same database and bucket at the same second.
   * @default 0
   */
  jitter?: string | number;
  /** Runs `prune()` (the manager's retention) after each successful, verified backup. @default false */
  prune?: boolean;
  /**
   * Verifies each new backup with this mode right after it is written; a backup that fails
   * verification fails the run (and is not followed by prune). @default false
   */
  verify?: false | VerifyMode;
  /**
   * On start, when the newest matching backup in storage is older than the previous cron tick (or
   * there is none), runs one backup now: a run missed while the process was down is made up. Decided
   * from the storage listing, so it works across restarts and replicas. @default true
   */
  catchUp?: boolean;
  /**
   * A lock shared by the replicas that run this schedule (`memoryLock()`, `postgresLock()`,
   * `redisLock()`): only the replica that gets it runs; the others report a skip (`E_LOCKED`). With a
   * lock, a run whose tick another replica already backed up is skipped too ("already-done").
   */
  lock?: Lock;
  /** Name of the lock. Schedules with different components should use different names. @default "strongbox:backup" */
  lockName?: string;
  /** Lease of the lock; renewed every third of it while a run is in flight. @default "10m" */
  lockTtl?: string | number;
  /**
   * Handles SIGTERM and SIGINT: stops scheduling, lets the run in flight finish within
   * `shutdownGrace` (then aborts it cleanly: nothing half-written stays visible), and exits the
   * process with code 0 unless other listeners for that signal exist. A second signal aborts at once.
   * @default false
   */
  handleSignals?: boolean;
  /** How long a graceful stop waits for the run in flight before aborting it. @default "5m" */
  shutdownGrace?: string | number;
  /** Aborting it stops the schedule and aborts the run in flight (`stop({ abort: true })`). */
  signal?: AbortSignal;
}

/** What started a run. */
export type RunTrigger = "cron" | "catch-up" | "manual";

/** Why a run did not happen. */
export type SkipReason =
  /** A run of this schedule was already in flight. */
  | "overlap"
  /** Another holder (replica) has the lock (`E_LOCKED`). */
  | "locked"
  /** With a lock: a backup made at or after this tick is already in storage (another replica made it). */
  | "already-done"
  /** The schedule was stopped before the run could start. */
  | "stopped";

/** The outcome of one scheduled (or `runNow()`) run. */
export interface RunRecord {
  /** Sequence number within this schedule, from 1. */
  run: number;
  trigger: RunTrigger;
  /** The cron tick the run is for (for catch-up runs: the tick that was missed). */
  scheduledAt?: Date;
  startedAt: Date;
  finishedAt: Date;
  durationMs: number;
  status: "completed" | "failed" | "skipped";
  /** Backup attempts made (0 when skipped). */
  attempts: number;
  /** Id of the backup written (also set when a later verify or prune failed). */
  backupId?: string;
  verify?: VerifyResult;
  prune?: PruneReport;
  /** Why the run failed; `E_ABORTED` when it was stopped mid-way. */
  error?: StrongboxError;
  skip?: { reason: SkipReason; message: string };
}

/** A running schedule. */
export interface Schedule {
  /** When the next cron tick fires, or `undefined` once stopped (or when the expression has no future run). */
  nextRun(): Date | undefined;
  /** The most recent finished run (overlap skips are not runs), or `undefined` before the first. */
  lastRun(): RunRecord | undefined;
  /**
   * Runs now, outside the cron (no jitter), with the same lock, retries, verify and prune. Resolves
   * to the record (never rejects for a failed run: see `status`); while a run is in flight it
   * resolves at once to a skipped record ("overlap"). Rejects with `E_ABORTED` once stopped.
   */
  runNow(): Promise<RunRecord>;
  /**
   * Stops scheduling. By default waits for the run in flight to finish (at most `shutdownGrace`,
   * then aborts it); `{ abort: true }` aborts it at once. Either way a run still in its jitter wait
   * does not start, and a run waiting to retry ends with its last error instead of trying again. Resolves when the run has settled, its
   * lock is released and pending notifications are delivered (or timed out). Idempotent.
   */
  stop(options?: { abort?: boolean }): Promise<void>;
  /** `true` while a run is in flight (including its jitter wait and retries). */
  readonly running: boolean;
  /** `true` once `stop()` was called (or the signal fired). */
  readonly stopped: boolean;
  /**
   * Settles once start-up is done: the catch-up decision made (and its run started, if any). Rejects
   * never; a storage that cannot be listed at start-up is reported as a `warning` event.
   */
  readonly ready: Promise<void>;
}
