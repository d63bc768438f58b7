import { StrongboxError } from "../errors.js";
import { listStorage } from "../manager/catalog.js";
import type { ManagerState } from "../manager/state.js";
import { formatBytes, formatDuration, parseSize, parseTimeSpan } from "../util/units.js";

export interface HealthOptions {
  /** Newest complete backup must be younger than this ("26h", "2d", or ms). */
  maxAge?: string | number;
  /** Total stored size must stay under this ("50GB", "1.5TiB", or bytes). */
  maxTotalSize?: string | number;
  /** At least this many complete backups. */
  minCount?: number;
  now?: Date;
  signal?: AbortSignal;
}

export interface HealthCheck {
  name: "reachable" | "maxAge" | "maxTotalSize" | "minCount" | "lastRun";
  storage: string;
  ok: boolean;
  message: string;
  value?: number | string;
  limit?: number | string;
}

export interface HealthReport {
  healthy: boolean;
  checkedAt: string;
  checks: HealthCheck[];
}

/** Extra checks the scheduler (or anyone) can plug in, e.g. "last scheduled run failed". */
export type HealthProbe = () => HealthCheck[] | Promise<HealthCheck[]>;

/**
 * laravel-backup's monitor, per storage: reachable, newest backup age, total size, count. A storage
 * that cannot be listed is a failed check, not an exception.
 */
export async function runHealth(
  state: ManagerState,
  options: HealthOptions = {},
  probes: HealthProbe[] = [],
): Promise<HealthReport> {
  const now = options.now ?? new Date();
  const maxAge = options.maxAge === undefined ? undefined : parseTimeSpan(options.maxAge, "maxAge");
  const maxTotal = options.maxTotalSize === undefined ? undefined : parseSize(options.maxTotalSize, "maxTotalSize");
  if (options.minCount !== undefined && (!Number.isInteger(options.minCount) || options.minCount < 0)) {
    throw new StrongboxError("E_CONFIG", '"minCount" must be a non-negative integer');
  }
  const checks: HealthCheck[] = [];
  for (const [i, storage] of state.storages.entries()) {
    const where = storage.location;
    let all: Awaited<ReturnType<typeof listStorage>>;
    try {
      all = await listStorage(storage, i, options.signal);
    } catch (err) {
      checks.push({
        name: "reachable",
        storage: where,
        ok: false,
        message: `cannot list ${where}: ${(err as Error).message}`,
      });
      continue;
    }
    checks.push({ name: "reachable", storage: where, ok: true, message: `${where} is reachable` });
    const complete = all.filter((b) => b.complete);
    if (maxAge !== undefined) {
      const newest = complete[0];
      const age = newest ? now.getTime() - newest.time.getTime() : undefined;
      checks.push({
        name: "maxAge",
        storage: where,
        ok: age !== undefined && age <= maxAge,
        message: newest
          ? `newest backup ${newest.id} is ${formatDuration(age!)} old (limit ${formatDuration(maxAge)})`
          : "no complete backup",
        ...(age !== undefined ? { value: age } : {}),
        limit: maxAge,
      });
    }
    if (maxTotal !== undefined) {
      const total = all.reduce((n, b) => n + b.size, 0);
      checks.push({
        name: "maxTotalSize",
        storage: where,
        ok: total <= maxTotal,
        message: `backups use ${formatBytes(total)} (limit ${formatBytes(maxTotal)})`,
        value: total,
        limit: maxTotal,
      });
    }
    if (options.minCount !== undefined) {
      checks.push({
        name: "minCount",
        storage: where,
        ok: complete.length >= options.minCount,
        message: `${complete.length} complete backup(s) (minimum ${options.minCount})`,
        value: complete.length,
        limit: options.minCount,
      });
    }
  }
  for (const probe of probes) checks.push(...(await probe()));
  return { healthy: checks.every((c) => c.ok), checkedAt: now.toISOString(), checks };
}
