import { Cron } from "croner";
import type { Lock } from "../contracts/lock.js";
import { StrongboxError } from "../errors.js";
import { selectSources } from "../manager/backup.js";
import type { ManagerState } from "../manager/state.js";
import type { VerifyMode } from "../manager/verify.js";
import { parseTimeSpan } from "../util/units.js";
import type { ScheduleOptions } from "./types.js";

/** Validated schedule options with every default applied and spans in milliseconds. */
export interface ResolvedSchedule {
  cron: string;
  timeZone: string | undefined;
  /** Components every scheduled backup covers (explicit, or all sources). */
  components: string[];
  /** Only set when the user gave `components`: a backup of all sources is the default. */
  explicitComponents: string[] | undefined;
  tags: string[];
  description: string | undefined;
  retries: number;
  retryDelayMs: number;
  jitterMs: number;
  prune: boolean;
  verify: false | VerifyMode;
  catchUp: boolean;
  lock: Lock | undefined;
  lockName: string;
  lockTtlMs: number;
  handleSignals: boolean;
  shutdownGraceMs: number;
  signal: AbortSignal | undefined;
}

const config = (message: string) => new StrongboxError("E_CONFIG", message, { adapter: "schedule" });

export function resolveSchedule(state: ManagerState, options: ScheduleOptions): ResolvedSchedule {
  if (!options || typeof options !== "object") throw config('schedule() needs options: { cron: "0 2 * * *" }');
  if (typeof options.cron !== "string" || options.cron.trim() === "")
    throw config('schedule() needs "cron", e.g. "0 2 * * *" (02:00 every day)');
  const retries = options.retries ?? 2;
  if (!Number.isInteger(retries) || retries < 0) throw config('"retries" must be a whole number ≥ 0');
  const verify = options.verify ?? false;
  if (verify !== false && !["checksum", "decode", "restore-test"].includes(verify))
    throw config(`"verify" must be false, "checksum", "decode" or "restore-test" (got ${JSON.stringify(verify)})`);
  const lock = options.lock;
  if (lock !== undefined && (typeof lock !== "object" || typeof lock.acquire !== "function"))
    throw config('"lock" must be a Lock (memoryLock(), postgresLock(), redisLock())');
  const lockTtlMs = parseTimeSpan(options.lockTtl ?? "10m", "lockTtl");
  if (lockTtlMs < 1000) throw config('"lockTtl" must be at least 1s');
  const lockName = options.lockName ?? "strongbox:backup";
  if (typeof lockName !== "string" || lockName === "") throw config('"lockName" must be a non-empty string');
  // Unknown component names fail now, not at 02:00.
  const components = selectSources(state, options.components).map((s) => s.name);
  if (components.length === 0) throw config("nothing to schedule: no sources are configured");
  return {
    cron: options.cron.trim(),
    timeZone: options.timeZone,
    components,
    explicitComponents: options.components?.length ? components : undefined,
    tags: [...new Set(options.tags ?? [])],
    description: options.description,
    retries,
    retryDelayMs: parseTimeSpan(options.retryDelay ?? "30s", "retryDelay"),
    jitterMs: parseTimeSpan(options.jitter ?? 0, "jitter"),
    prune: options.prune ?? false,
    verify,
    catchUp: options.catchUp ?? true,
    lock,
    lockName,
    lockTtlMs,
    handleSignals: options.handleSignals ?? false,
    shutdownGraceMs: parseTimeSpan(options.shutdownGrace ?? "5m", "shutdownGrace"),
    signal: options.signal,
  };
}

/**
 * Parses the expression (and time zone) once, paused, so that a typo is an `E_CONFIG` error at
 * `schedule()` time rather than a crash inside a timer.
 */
export function parseCron(resolved: ResolvedSchedule): Cron {
  try {
    const probe = new Cron(resolved.cron, { paused: true, timezone: resolved.timeZone });
    probe.nextRun();
    probe.stop();
    return probe;
  } catch (err) {
    throw new StrongboxError(
      "E_CONFIG",
      `invalid schedule ${JSON.stringify(resolved.cron)}${resolved.timeZone ? ` in time zone "${resolved.timeZone}"` : ""}: ${(err as Error).message}`,
      { adapter: "schedule", cause: err },
    );
  }
}
