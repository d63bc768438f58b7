import { StrongboxError } from "../errors.js";
import { daysFromCivil, daysInMonth, MS, type ZoneClock } from "./calendar.js";

/**
 * A restic-style calendar duration: whole years, months, days and hours. Not a fixed number of
 * milliseconds: "1m" back from 31 March and from 30 April are different lengths.
 */
export interface RetentionDuration {
  years: number;
  months: number;
  days: number;
  hours: number;
}

const UNIT_FIELD = { y: "years", m: "months", d: "days", h: "hours" } as const;

/**
 * Parses a restic duration such as `"1y2m3d4h"`, `"16d"` or `"2y"`: whole numbers each followed by
 * `y` (years), `m` (MONTHS, not minutes), `d` (days) or `h` (hours), in any order, each unit at
 * most once. Zero parts are allowed (`"0d"` is the empty duration, which disables a rule).
 * Unlike restic, negative parts are refused: a negative window has no useful meaning.
 *
 * @throws StrongboxError `E_CONFIG` for anything else (`"2w"`, `"5"`, `"1.5d"`, `""`).
 */
export function parseRetentionDuration(input: string, field = "duration"): RetentionDuration {
  if (typeof input !== "string") {
    throw configError(
      `${field} must be a duration string like "1y2m3d4h" (m = months), got ${describeValue(input)}`,
      field,
    );
  }
  const text = input.trim();
  const out: RetentionDuration = { years: 0, months: 0, days: 0, hours: 0 };
  if (text === "") throw configError(`${field} is an empty duration; use e.g. "7d", "4m" or "1y2m3d4h"`, field);
  const seen = new Set<string>();
  const re = /(\d+)([a-zA-Z]?)/y;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) {
      throw configError(
        `${field}: invalid duration "${input}" (expected whole numbers with y, m, d or h, e.g. "1y2m3d4h")`,
        field,
      );
    }
    const unit = m[2] as string;
    if (unit === "")
      throw configError(`${field}: no unit after ${m[1]} in "${input}" (use y, m = months, d or h)`, field);
    if (!(unit in UNIT_FIELD)) {
      const hint =
        unit === "w"
          ? ' (weeks are not a unit: write "14d" for 2w)'
          : unit === "M"
            ? ' (months are lower-case "m")'
            : "";
      throw configError(`${field}: invalid unit "${unit}" in "${input}"${hint}; units are y, m (months), d, h`, field);
    }
    if (seen.has(unit)) throw configError(`${field}: unit "${unit}" appears twice in "${input}"`, field);
    seen.add(unit);
    const value = Number(m[1]);
    if (!Number.isSafeInteger(value)) throw configError(`${field}: number too large in "${input}"`, field);
    out[UNIT_FIELD[unit as keyof typeof UNIT_FIELD]] = value;
    pos = re.lastIndex;
  }
  return out;
}

/** Canonical text of a duration, in restic's order: `1y2m3d4h`, zero parts left out. */
export function formatRetentionDuration(d: RetentionDuration): string {
  const s = `${d.years ? `${d.years}y` : ""}${d.months ? `${d.months}m` : ""}${d.days ? `${d.days}d` : ""}${d.hours ? `${d.hours}h` : ""}`;
  return s === "" ? "0h" : s;
}

export function isZeroDuration(d: RetentionDuration): boolean {
  return d.years === 0 && d.months === 0 && d.days === 0 && d.hours === 0;
}

/**
 * The instant `d` before `ms`, in the zone's calendar: years, months and days move the wall-clock
 * date (so "1d" across a DST change is 23 or 25 hours), hours are absolute, as restic does.
 * One difference from restic (Go's `AddDate`): a day that does not exist in the target month is
 * clamped (31 March − 1m = 28/29 February), where Go would normalise to 2/3 March. Clamping gives
 * the longer window, so it can only keep more.
 */
export function subtractDuration(clock: ZoneClock, ms: number, d: RetentionDuration): number {
  const w = clock.wall(ms);
  let year = w.year - d.years;
  let month = w.month - d.months;
  year += Math.floor((month - 1) / 12);
  month = ((((month - 1) % 12) + 12) % 12) + 1;
  const day = Math.min(w.day, daysInMonth(year, month));
  const localDay = daysFromCivil(year, month, day) - d.days;
  const instant = clock.instantOf(localDay * MS.day + w.msOfDay);
  return instant - d.hours * MS.hour;
}

function configError(message: string, field: string): StrongboxError {
  return new StrongboxError("E_CONFIG", message, { adapter: "retention", details: { field } });
}

export function describeValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
}
