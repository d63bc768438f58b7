import { StrongboxError } from "../errors.js";
import { isValidTimeZone } from "./calendar.js";
import {
  describeValue,
  formatRetentionDuration,
  isZeroDuration,
  parseRetentionDuration,
  type RetentionDuration,
} from "./duration.js";

/**
 * Which backups to keep, with restic `forget` semantics. Every field is optional; a policy with
 * no rule at all keeps everything. Count rules walk the backups newest first and keep the newest
 * backup of each calendar period until their count is used up; a backup that matches several
 * rules counts against each; whatever any rule keeps is kept.
 *
 * Durations use restic's syntax, `"1y2m3d4h"` — careful: `m` is MONTHS here (`"90m"` is seven and
 * a half years). They are measured back from the newest backup's time, never from "now", so a
 * schedule that stalled for a month does not erode the history it left behind.
 *
 * @example GFS, as in most runbooks: `{ keepDaily: 7, keepWeekly: 4, keepMonthly: 12, timeZone: "Asia/Seoul" }`
 * @example laravel-backup's "all for 7 days, daily for 16 days, weekly for 8 weeks, monthly for 4
 * months, yearly for 2 years" (windows measured from the newest backup):
 * `{ keepWithin: "7d", keepWithinDaily: "16d", keepWithinWeekly: "56d", keepWithinMonthly: "4m", keepWithinYearly: "2y" }`
 */
export interface RetentionPolicy {
  /** Keep the `n` newest backups. `-1` keeps all. @default 0 (rule off) */
  keepLast?: number;
  /** Keep the newest backup of each of the last `n` hours that have one. `-1`: every hour. @default 0 (rule off) */
  keepHourly?: number;
  /** Keep the newest backup of each of the last `n` days that have one. `-1`: every day. @default 0 (rule off) */
  keepDaily?: number;
  /** Keep the newest backup of each of the last `n` ISO weeks (Monday–Sunday) that have one. `-1`: every week. @default 0 (rule off) */
  keepWeekly?: number;
  /** Keep the newest backup of each of the last `n` months that have one. `-1`: every month. @default 0 (rule off) */
  keepMonthly?: number;
  /** Keep the newest backup of each of the last `n` years that have one. `-1`: every year. @default 0 (rule off) */
  keepYearly?: number;
  /** Keep every backup made within this duration of the newest backup (`"10d"`, `"1y2m"`; m = months). @default undefined (rule off) */
  keepWithin?: string;
  /** Keep the newest backup of each hour within this duration of the newest backup. @default undefined (rule off) */
  keepWithinHourly?: string;
  /** Keep the newest backup of each day within this duration of the newest backup. @default undefined (rule off) */
  keepWithinDaily?: string;
  /** Keep the newest backup of each ISO week within this duration of the newest backup. @default undefined (rule off) */
  keepWithinWeekly?: string;
  /** Keep the newest backup of each month within this duration of the newest backup. @default undefined (rule off) */
  keepWithinMonthly?: string;
  /** Keep the newest backup of each year within this duration of the newest backup. @default undefined (rule off) */
  keepWithinYearly?: string;
  /** Keep every backup carrying at least one of these tags. @default [] */
  keepTags?: string[];
  /**
   * When a count rule still has count left after the walk (fewer periods than asked for), also
   * keep the oldest backup, even if a newer backup of the same period was already kept, so the
   * longest possible history survives — restic ≥ 0.16 and borg ≥ 1.2 do the same. Unlimited
   * (`-1`) rules always have count left, so they keep the oldest too.
   * @default true
   */
  keepOldestWhenShort?: boolean;
  /**
   * IANA time zone whose calendar defines hours, days, ISO weeks, months and years (and in which
   * duration arithmetic happens). A backup at 00:30 in Seoul belongs to that Seoul day.
   * @default "UTC"
   */
  timeZone?: string;
}

/** A validated policy with durations parsed and defaults applied. */
export interface NormalizedPolicy {
  counts: Record<CountRule, number>;
  within: RetentionDuration | undefined;
  withinBuckets: Record<PeriodRule, RetentionDuration | undefined>;
  keepTags: string[];
  keepOldestWhenShort: boolean;
  timeZone: string;
  empty: boolean;
}

export const PERIOD_RULES = ["hourly", "daily", "weekly", "monthly", "yearly"] as const;
export type PeriodRule = (typeof PERIOD_RULES)[number];
export const COUNT_RULES = ["last", ...PERIOD_RULES] as const;
export type CountRule = (typeof COUNT_RULES)[number];

const COUNT_KEYS: Record<CountRule, keyof RetentionPolicy> = {
  last: "keepLast",
  hourly: "keepHourly",
  daily: "keepDaily",
  weekly: "keepWeekly",
  monthly: "keepMonthly",
  yearly: "keepYearly",
};
const WITHIN_KEYS: Record<PeriodRule, keyof RetentionPolicy> = {
  hourly: "keepWithinHourly",
  daily: "keepWithinDaily",
  weekly: "keepWithinWeekly",
  monthly: "keepWithinMonthly",
  yearly: "keepWithinYearly",
};
const KNOWN_KEYS: ReadonlySet<string> = new Set([
  ...Object.values(COUNT_KEYS),
  "keepWithin",
  ...Object.values(WITHIN_KEYS),
  "keepTags",
  "keepOldestWhenShort",
  "timeZone",
]);

function fail(field: string, message: string): never {
  throw new StrongboxError("E_CONFIG", `retention policy: ${field} ${message}`, {
    adapter: "retention",
    details: { field },
  });
}

/** Suggests the known key a typo most likely meant ("keep_daily", "keepdays" → "keepDaily"). */
function suggest(key: string): string | undefined {
  const squash = (s: string) => s.toLowerCase().replace(/[^a-z]/g, "");
  const k = squash(key);
  for (const known of KNOWN_KEYS) if (squash(known) === k) return known;
  const stems: Array<[string, string]> = [
    ["hour", "keepHourly"],
    ["day", "keepDaily"],
    ["week", "keepWeekly"],
    ["month", "keepMonthly"],
    ["year", "keepYearly"],
    ["tag", "keepTags"],
    ["zone", "timeZone"],
  ];
  if (k.includes("within")) return "keepWithin";
  for (const [stem, known] of stems) if (k.includes(stem)) return known;
  return undefined;
}

/**
 * Checks a policy and returns it normalised. Throws `E_CONFIG` naming the field for: unknown keys,
 * counts that are not whole numbers ≥ 0 or exactly -1, bad durations, tags that are not non-empty
 * strings, a non-boolean `keepOldestWhenShort`, and time zones Intl does not know.
 */
export function normalizeRetentionPolicy(policy: RetentionPolicy): NormalizedPolicy {
  if (policy === null || typeof policy !== "object" || Array.isArray(policy)) {
    fail("(policy)", `must be an object like { keepDaily: 7 }, got ${describeValue(policy)}`);
  }
  for (const key of Object.keys(policy)) {
    if (!KNOWN_KEYS.has(key)) {
      const hint = suggest(key);
      fail(`"${key}"`, `is not a retention option${hint ? ` (did you mean "${hint}"?)` : ""}`);
    }
  }
  const p = policy as Record<string, unknown>;
  const counts = {} as Record<CountRule, number>;
  for (const rule of COUNT_RULES) {
    const key = COUNT_KEYS[rule];
    const v = p[key];
    if (v === undefined || v === null) {
      counts[rule] = 0;
      continue;
    }
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < -1) {
      fail(key, `must be a whole number ≥ 0, or -1 for unlimited; got ${describeValue(v)}`);
    }
    counts[rule] = v;
  }
  const parseOptional = (key: string): RetentionDuration | undefined => {
    const v = p[key];
    if (v === undefined || v === null) return undefined;
    const d = parseRetentionDuration(v as string, `retention policy: ${key}`);
    return isZeroDuration(d) ? undefined : d;
  };
  const within = parseOptional("keepWithin");
  const withinBuckets = {} as Record<PeriodRule, RetentionDuration | undefined>;
  for (const rule of PERIOD_RULES) withinBuckets[rule] = parseOptional(WITHIN_KEYS[rule]);

  let keepTags: string[] = [];
  if (p.keepTags !== undefined && p.keepTags !== null) {
    if (!Array.isArray(p.keepTags)) fail("keepTags", `must be an array of tag names, got ${describeValue(p.keepTags)}`);
    for (const t of p.keepTags) {
      if (typeof t !== "string" || t === "") fail("keepTags", `must hold non-empty strings, got ${describeValue(t)}`);
    }
    keepTags = [...new Set(p.keepTags as string[])];
  }
  let keepOldestWhenShort = true;
  if (p.keepOldestWhenShort !== undefined && p.keepOldestWhenShort !== null) {
    if (typeof p.keepOldestWhenShort !== "boolean") {
      fail("keepOldestWhenShort", `must be true or false, got ${describeValue(p.keepOldestWhenShort)}`);
    }
    keepOldestWhenShort = p.keepOldestWhenShort;
  }
  let timeZone = "UTC";
  if (p.timeZone !== undefined && p.timeZone !== null) {
    if (typeof p.timeZone !== "string" || !isValidTimeZone(p.timeZone)) {
      fail(
        "timeZone",
        `must be an IANA time zone name like "Europe/Berlin" or "UTC", got ${describeValue(p.timeZone)}`,
      );
    }
    timeZone = p.timeZone;
  }
  const empty =
    COUNT_RULES.every((r) => counts[r] === 0) &&
    within === undefined &&
    PERIOD_RULES.every((r) => withinBuckets[r] === undefined) &&
    keepTags.length === 0;
  return { counts, within, withinBuckets, keepTags, keepOldestWhenShort, timeZone, empty };
}

/**
 * Throws `StrongboxError` `E_CONFIG` naming the offending field when the policy is invalid (see
 * {@link normalizeRetentionPolicy}); returns nothing when it is fine. Call it at configuration time
 * so a typo fails at startup, not at the first prune.
 */
export function validateRetentionPolicy(policy: RetentionPolicy): void {
  normalizeRetentionPolicy(policy);
}

/**
 * One human line for logs, CLIs and dry runs, e.g. `"keep 7 daily, 4 weekly, 12 monthly (Asia/Seoul)"`.
 * Throws like {@link validateRetentionPolicy} on an invalid policy.
 */
export function describeRetentionPolicy(policy: RetentionPolicy): string {
  const n = normalizeRetentionPolicy(policy);
  if (n.empty) return "no retention policy: keep every backup";
  const parts: string[] = [];
  for (const rule of COUNT_RULES) {
    const c = n.counts[rule];
    const name = rule === "last" ? "latest" : rule;
    if (c > 0) parts.push(`${c} ${name}`);
    else if (c === -1) parts.push(`all ${name}`);
  }
  if (n.within) parts.push(`all within ${formatRetentionDuration(n.within)}`);
  for (const rule of PERIOD_RULES) {
    const d = n.withinBuckets[rule];
    if (d) parts.push(`${rule} within ${formatRetentionDuration(d)}`);
  }
  if (n.keepTags.length > 0) parts.push(`tagged ${n.keepTags.join(" or ")}`);
  const hasCounts = COUNT_RULES.some((r) => n.counts[r] !== 0);
  const oldest = hasCounts && !n.keepOldestWhenShort ? ", oldest not kept when short" : "";
  return `keep ${parts.join(", ")} (${n.timeZone})${oldest}`;
}
