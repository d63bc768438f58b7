import { StrongboxError } from "../errors.js";
import { WallCursor, zoneClock } from "./calendar.js";
import { formatRetentionDuration, subtractDuration } from "./duration.js";
import {
  COUNT_RULES,
  type CountRule,
  normalizeRetentionPolicy,
  PERIOD_RULES,
  type PeriodRule,
  type RetentionPolicy,
} from "./policy.js";

/** A backup as retention sees it: what a key listing gives, no manifest read needed. */
export interface RetentionCandidate {
  /** Backup id (`20261121T020000Z-k3m9qa`). */
  id: string;
  /** When the backup was taken. */
  time: Date;
  /** Tags, matched against `policy.keepTags`. */
  tags?: string[];
  /** A pinned backup is never removed. */
  pinned?: boolean;
  /**
   * `false` for an incomplete backup (no manifest). Incomplete backups take no part in retention:
   * no rule sees them, and they appear in neither `keep` nor `remove`. Their garbage collection
   * (after a grace period) is the manager's job, not the policy's. @default true
   */
  complete?: boolean;
}

/** One decision of a plan. */
export interface RetentionDecision {
  id: string;
  time: Date;
  /**
   * Why: `"last"`, `"hourly 2026-11-20T14"`, `"daily 2026-11-20"`, `"weekly 2026-W47"`,
   * `"monthly 2026-11"`, `"yearly 2026"`, `"within 10d"`, `"daily within 16d"`,
   * `"tag monthly-archive"`, `"pinned"`, `"oldest monthly"`, `"newest backup"`,
   * `"no retention policy"`; for removals `"matched no rule"`.
   */
  reasons: string[];
}

/** What a policy keeps and removes, each list newest first. */
export interface RetentionPlan {
  keep: RetentionDecision[];
  remove: RetentionDecision[];
}

export interface PlanRetentionOptions {
  /**
   * The current time. Windows are measured from the newest backup, not from now; `now` only
   * serves to ignore backups dated in the future (a host with a wrong clock) when choosing that
   * newest backup, as restic does. @default new Date()
   */
  now?: Date;
}

interface Item {
  c: RetentionCandidate;
  ms: number;
}

/** Bucket key of a period (restic's integers: YYYYMMDDHH, YYYYMMDD, YYYYWW, YYYYMM, YYYY). */
function bucketOf(rule: PeriodRule, w: WallCursor): number {
  switch (rule) {
    case "hourly":
      return w.year * 1_000_000 + w.month * 10_000 + w.day * 100 + w.hour;
    case "daily":
      return w.year * 10_000 + w.month * 100 + w.day;
    case "weekly":
      return w.isoWeekKey();
    case "monthly":
      return w.year * 100 + w.month;
    case "yearly":
      return w.year;
  }
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** Human label of a bucket key, built only for backups that are kept. */
function labelOf(rule: PeriodRule, key: number): string {
  switch (rule) {
    case "hourly":
      return `${pad(Math.floor(key / 1_000_000), 4)}-${pad(Math.floor(key / 10_000) % 100)}-${pad(Math.floor(key / 100) % 100)}T${pad(key % 100)}`;
    case "daily":
      return `${pad(Math.floor(key / 10_000), 4)}-${pad(Math.floor(key / 100) % 100)}-${pad(key % 100)}`;
    case "weekly":
      return `${pad(Math.floor(key / 100), 4)}-W${pad(key % 100)}`;
    case "monthly":
      return `${pad(Math.floor(key / 100), 4)}-${pad(key % 100)}`;
    case "yearly":
      return pad(key, 4);
  }
}

function toItems(backups: RetentionCandidate[]): Item[] {
  if (!Array.isArray(backups)) {
    throw new StrongboxError("E_CONFIG", "planRetention: backups must be an array", { adapter: "retention" });
  }
  const items: Item[] = [];
  for (const c of backups) {
    if (c?.complete === false) continue;
    const ms = c?.time instanceof Date ? c.time.getTime() : Number.NaN;
    if (!Number.isFinite(ms)) {
      throw new StrongboxError("E_CONFIG", `planRetention: backup ${JSON.stringify(c?.id)} has no valid time`, {
        adapter: "retention",
      });
    }
    items.push({ c, ms });
  }
  // Newest first; equal times fall back to the id (ids embed the time, then random characters),
  // so the plan never depends on the order the storage listed keys in. Listings usually come
  // sorted already (ids sort by time), so check that in O(n) before paying for a sort.
  const newerFirst = (a: Item, b: Item) => b.ms - a.ms || (a.c.id < b.c.id ? 1 : a.c.id > b.c.id ? -1 : 0);
  let descending = true;
  let ascending = true;
  for (let i = 1; i < items.length && (descending || ascending); i++) {
    const order = newerFirst(items[i - 1] as Item, items[i] as Item);
    if (order > 0) descending = false;
    else if (order < 0) ascending = false;
  }
  if (descending) return items;
  if (ascending) return items.reverse();
  return items.sort(newerFirst);
}

/** The newest backup not dated in the future; all in the future → the newest one. */
function referenceTime(items: Item[], now: number): number {
  for (const it of items) if (it.ms <= now) return it.ms;
  return (items[0] as Item).ms;
}

/**
 * Decides which backups a policy keeps, with restic `forget` semantics (DESIGN §6). Pure: no
 * I/O, no clock read other than `options.now`.
 *
 * Walking the complete backups newest first, each count rule keeps a backup when its calendar
 * period (in `policy.timeZone`) differs from the last period that rule kept and the rule has
 * count left; a backup matching several rules counts against each. `keepWithin*` windows end at
 * the newest backup. Tagged (`keepTags`) and `pinned` backups are always kept, as is the newest
 * backup. An empty policy keeps everything. Incomplete candidates (`complete: false`) are left
 * out of both lists.
 *
 * @throws StrongboxError `E_CONFIG` for an invalid policy (see `validateRetentionPolicy`) or a
 * candidate without a valid `time`.
 */
export function planRetention(
  backups: RetentionCandidate[],
  policy: RetentionPolicy,
  options: PlanRetentionOptions = {},
): RetentionPlan {
  const p = normalizeRetentionPolicy(policy);
  const items = toItems(backups);
  const keep: RetentionDecision[] = [];
  const remove: RetentionDecision[] = [];
  if (items.length === 0) return { keep, remove };

  if (p.empty) {
    for (const { c } of items) keep.push({ id: c.id, time: c.time, reasons: withPinned(c, ["no retention policy"]) });
    return { keep, remove };
  }

  const clock = zoneClock(p.timeZone);
  const now =
    options.now instanceof Date && Number.isFinite(options.now.getTime()) ? options.now.getTime() : Date.now();
  const reference = referenceTime(items, now);

  // Count rules as parallel arrays: hot loop over 100k backups, no Map lookups.
  const countRules = COUNT_RULES.filter((r) => p.counts[r] !== 0);
  const remaining = countRules.map((r) => p.counts[r]); // -1 = unlimited
  const lastBucket = countRules.map(() => Number.NaN);

  const withinCutoff = p.within ? subtractDuration(clock, reference, p.within) : undefined;
  const withinLabel = p.within ? `within ${formatRetentionDuration(p.within)}` : "";
  const withinRules = PERIOD_RULES.flatMap((rule) => {
    const d = p.withinBuckets[rule];
    if (!d) return [];
    return [
      {
        rule,
        cutoff: subtractDuration(clock, reference, d),
        label: `${rule} within ${formatRetentionDuration(d)}`,
        last: Number.NaN,
      },
    ];
  });
  const tags = p.keepTags;
  const needsWall = countRules.some((r) => r !== "last") || withinRules.length > 0;
  const wall = new WallCursor(clock);
  const lastIndex = items.length - 1;
  // One scratch array reused for every backup: most are removed, so most reasons lists stay empty.
  const scratch: string[] = [];

  for (let i = 0; i < items.length; i++) {
    const { c, ms } = items[i] as Item;
    const reasons = scratch;
    if (reasons.length > 0) reasons.length = 0;
    if (c.pinned === true) reasons.push("pinned");
    if (tags.length > 0 && Array.isArray(c.tags) && c.tags.length > 0) {
      for (const t of tags) if (c.tags.includes(t)) reasons.push(`tag ${t}`);
    }
    // restic compares with "after": a backup exactly at the cutoff is outside the window.
    if (withinCutoff !== undefined && ms > withinCutoff) reasons.push(withinLabel);

    if (needsWall) wall.at(ms);
    for (let r = 0; r < countRules.length; r++) {
      const left = remaining[r] as number;
      if (left === 0) continue;
      const rule = countRules[r] as CountRule;
      const bucket = rule === "last" ? i : bucketOf(rule, wall);
      let reason: string | undefined;
      if (bucket !== lastBucket[r]) reason = rule === "last" ? "last" : `${rule} ${labelOf(rule, bucket)}`;
      // restic >= 0.16: a rule still short of its count keeps the oldest backup too, so the
      // longest history survives while the schedule is young.
      else if (i === lastIndex && p.keepOldestWhenShort) reason = `oldest ${rule}`;
      if (reason === undefined) continue;
      reasons.push(reason);
      lastBucket[r] = bucket;
      if (left > 0) remaining[r] = left - 1;
    }
    for (const w of withinRules) {
      if (ms <= w.cutoff) continue;
      const bucket = bucketOf(w.rule, wall);
      if (bucket === w.last) continue;
      w.last = bucket;
      reasons.push(w.label);
    }
    if (i === 0 && reasons.length === 0) reasons.push("newest backup");

    if (reasons.length > 0) keep.push({ id: c.id, time: c.time, reasons: reasons.slice() });
    else remove.push({ id: c.id, time: c.time, reasons: ["matched no rule"] });
  }
  return { keep, remove };
}

function withPinned(c: RetentionCandidate, reasons: string[]): string[] {
  return c.pinned === true ? [...reasons, "pinned"] : reasons;
}
