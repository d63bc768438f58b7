/**
 * Wall-clock arithmetic in an IANA time zone, fast enough for 100k backups.
 *
 * Asking Intl costs about a microsecond per call (`timeZoneName: "longOffset"`; `formatToParts`
 * is four times dearer), so calling it per backup would dominate a plan. Instead we ask Intl for
 * the zone's UTC offset only at UTC-day boundaries (cached), and when the offsets at both ends of
 * a day differ we binary-search the transition instant to the second, once. Everything else
 * (civil date, hour, ISO week) is integer math on `instant + offset`. Assumption: a zone changes
 * its offset at most once per UTC day — real zones change a few times a year at most (tested
 * against Intl for zones with 30-minute DST, a skipped day and Ramadan suspensions).
 */

const MS_PER_DAY = 86_400_000;
const MS_PER_HOUR = 3_600_000;

/** Civil date parts in a zone. `month` is 1–12, `hour` 0–23. */
export interface WallParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  /** Milliseconds since local midnight. */
  msOfDay: number;
  /** Days since 1970-01-01 of the local date. */
  dayNumber: number;
}

/** Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's algorithm). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Inverse of {@link daysFromCivil}. */
export function civilFromDays(z: number): { year: number; month: number; day: number } {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp + (mp < 10 ? 3 : -9);
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

export function daysInMonth(year: number, month: number): number {
  return daysFromCivil(month === 12 ? year + 1 : year, month === 12 ? 1 : month + 1, 1) - daysFromCivil(year, month, 1);
}

/** ISO 8601 week-numbering year and week (1–53) of a local day number. */
export function isoWeek(dayNumber: number): { year: number; week: number } {
  // 1970-01-01 was a Thursday; Monday = 0.
  const weekday = (((dayNumber + 3) % 7) + 7) % 7;
  const thursday = dayNumber - weekday + 3;
  const { year } = civilFromDays(thursday);
  return { year, week: Math.floor((thursday - daysFromCivil(year, 1, 1)) / 7) + 1 };
}

interface ZoneFormatters {
  /** `timeZoneName: "longOffset"` ("…, GMT+05:45"): the cheapest way to ask Intl for an offset. */
  offset: Intl.DateTimeFormat;
  /** Full wall-clock parts: fallback should an engine print an offset we cannot parse. */
  parts: Intl.DateTimeFormat;
}

const formatters = new Map<string, ZoneFormatters>();

/** Cached formatters per zone; throws RangeError for an unknown zone. */
function formattersFor(timeZone: string): ZoneFormatters {
  let f = formatters.get(timeZone);
  if (!f) {
    f = {
      offset: new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "longOffset" }),
      parts: new Intl.DateTimeFormat("en-US", {
        timeZone,
        hourCycle: "h23",
        era: "short",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      }),
    };
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when Intl knows the zone name. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formattersFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

const OFFSET_RE = /GMT(?:([+-])(\d{1,2}):(\d{2})(?::(\d{2}))?)?$/;

/** A zone's offset from UTC at an instant, asked of Intl (the slow path, cached by callers). */
function intlOffset(f: ZoneFormatters, ms: number): number {
  const m = OFFSET_RE.exec(f.offset.format(ms));
  if (m) {
    if (m[1] === undefined) return 0;
    const abs = (Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4] ?? 0)) * 1000;
    return m[1] === "-" ? -abs : abs;
  }
  return partsOffset(f.parts, ms);
}

function partsOffset(f: Intl.DateTimeFormat, ms: number): number {
  const seconds = Math.floor(ms / 1000) * 1000;
  let year = 0;
  let month = 1;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let bc = false;
  for (const p of f.formatToParts(seconds)) {
    switch (p.type) {
      case "year":
        year = Number(p.value);
        break;
      case "month":
        month = Number(p.value);
        break;
      case "day":
        day = Number(p.value);
        break;
      case "hour":
        hour = Number(p.value);
        break;
      case "minute":
        minute = Number(p.value);
        break;
      case "second":
        second = Number(p.value);
        break;
      case "era":
        bc = p.value.startsWith("B");
        break;
    }
  }
  if (bc) year = 1 - year;
  const wall = daysFromCivil(year, month, day) * MS_PER_DAY + hour * MS_PER_HOUR + minute * 60_000 + second * 1000;
  return wall - seconds;
}

/** Exposed for tests: the Intl-derived offset without caching, by both methods. */
export function offsetsForTest(timeZone: string, ms: number): { longOffset: number; parts: number } {
  const f = formattersFor(timeZone);
  return { longOffset: intlOffset(f, ms), parts: partsOffset(f.parts, ms) };
}

interface DayOffsets {
  before: number;
  after: number;
  /** First instant with the `after` offset (only meaningful when before !== after). */
  switchAt: number;
}

/** Wall-clock view of one time zone, with its offsets cached per UTC day. */
export class ZoneClock {
  readonly timeZone: string;
  private readonly formatter: ZoneFormatters | undefined;
  private readonly boundaryOffsets = new Map<number, number>();
  private readonly days = new Map<number, DayOffsets>();
  // Backups arrive sorted, so consecutive lookups usually hit the same UTC day.
  private lastDayIndex = Number.NaN;
  private lastDay: DayOffsets | undefined;

  constructor(timeZone: string) {
    this.timeZone = timeZone;
    // UTC needs no Intl at all: the common case stays pure arithmetic.
    this.formatter = timeZone === "UTC" || timeZone === "Etc/UTC" ? undefined : formattersFor(timeZone);
  }

  /** The zone's offset from UTC in ms at `ms` (local = utc + offset). */
  offsetAt(ms: number): number {
    const f = this.formatter;
    if (!f) return 0;
    const dayIndex = Math.floor(ms / MS_PER_DAY);
    if (dayIndex === this.lastDayIndex) {
      const d = this.lastDay as DayOffsets;
      return ms < d.switchAt ? d.before : d.after;
    }
    let info = this.days.get(dayIndex);
    if (!info) {
      // Bound memory in long-lived processes; one entry per distinct UTC day seen.
      if (this.days.size > 500_000) {
        this.days.clear();
        this.boundaryOffsets.clear();
      }
      const start = dayIndex * MS_PER_DAY;
      const before = this.boundary(f, start);
      const after = this.boundary(f, start + MS_PER_DAY);
      let switchAt = start + MS_PER_DAY;
      if (before !== after) {
        // Binary search to the second: transitions happen on whole seconds.
        let lo = start;
        let hi = start + MS_PER_DAY;
        while (hi - lo > 1000) {
          const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
          if (intlOffset(f, mid) === before) lo = mid;
          else hi = mid;
        }
        switchAt = hi;
      }
      info = { before, after, switchAt };
      this.days.set(dayIndex, info);
    }
    this.lastDayIndex = dayIndex;
    this.lastDay = info;
    return ms < info.switchAt ? info.before : info.after;
  }

  private boundary(f: ZoneFormatters, ms: number): number {
    let o = this.boundaryOffsets.get(ms);
    if (o === undefined) {
      o = intlOffset(f, ms);
      this.boundaryOffsets.set(ms, o);
    }
    return o;
  }

  /** Civil parts of an instant in this zone. */
  wall(ms: number): WallParts {
    const local = ms + this.offsetAt(ms);
    const dayNumber = Math.floor(local / MS_PER_DAY);
    const msOfDay = local - dayNumber * MS_PER_DAY;
    const { year, month, day } = civilFromDays(dayNumber);
    return { year, month, day, hour: Math.floor(msOfDay / MS_PER_HOUR), msOfDay, dayNumber };
  }

  /**
   * The instant whose wall-clock reading is `localMs` (ms since 1970-01-01T00:00 local). In a DST
   * overlap the earlier instant wins, and in a gap the instant before the gap: both give the
   * longer retention window, so ambiguity never shortens history.
   */
  instantOf(localMs: number): number {
    const offsets = [this.offsetAt(localMs - MS_PER_DAY), this.offsetAt(localMs + MS_PER_DAY)];
    const candidates = offsets.map((o) => localMs - o);
    const exact = candidates.filter((t) => t + this.offsetAt(t) === localMs);
    return Math.min(...(exact.length > 0 ? exact : candidates));
  }
}

/**
 * Walks instants (in any order, fastest when sorted) and exposes their local calendar fields
 * without allocating per instant: the civil date is recomputed only when the local day changes.
 */
export class WallCursor {
  year = 0;
  month = 0;
  day = 0;
  hour = 0;
  dayNumber = Number.NaN;
  private weekKey = Number.NaN;
  private readonly clock: ZoneClock;

  constructor(clock: ZoneClock) {
    this.clock = clock;
  }

  /** Moves the cursor to instant `ms`. */
  at(ms: number): this {
    const local = ms + this.clock.offsetAt(ms);
    const dayNumber = Math.floor(local / MS_PER_DAY);
    if (dayNumber !== this.dayNumber) {
      const c = civilFromDays(dayNumber);
      this.year = c.year;
      this.month = c.month;
      this.day = c.day;
      this.dayNumber = dayNumber;
      this.weekKey = Number.NaN;
    }
    this.hour = Math.floor((local - dayNumber * MS_PER_DAY) / MS_PER_HOUR);
    return this;
  }

  /** ISO week as YYYYWW (computed lazily: only weekly rules need it). */
  isoWeekKey(): number {
    if (Number.isNaN(this.weekKey)) {
      const w = isoWeek(this.dayNumber);
      this.weekKey = w.year * 100 + w.week;
    }
    return this.weekKey;
  }
}

const clocks = new Map<string, ZoneClock>();

/** Cached {@link ZoneClock} for a zone (throws RangeError for an unknown zone). */
export function zoneClock(timeZone: string): ZoneClock {
  let c = clocks.get(timeZone);
  if (!c) {
    c = new ZoneClock(timeZone);
    clocks.set(timeZone, c);
  }
  return c;
}

export const MS = { day: MS_PER_DAY, hour: MS_PER_HOUR } as const;
