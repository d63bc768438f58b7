import { describe, expect, it } from "vitest";
import {
  civilFromDays,
  daysFromCivil,
  isoWeek,
  offsetsForTest,
  WallCursor,
  ZoneClock,
} from "../src/retention/calendar.js";

// The retention engine asks Intl for a zone's offset only at UTC-day boundaries and finds
// transitions by binary search; these tests hold that shortcut against Intl itself.

const ZONES = [
  "Europe/Berlin",
  "America/New_York",
  "Asia/Seoul",
  "Australia/Lord_Howe", // 30-minute DST
  "Asia/Kathmandu", // +05:45
  "America/St_Johns", // -03:30 with DST
  "Pacific/Apia", // skipped 30 Dec 2011 entirely
  "Africa/Casablanca", // DST suspended during Ramadan
  "Europe/Dublin", // "negative" DST in tzdata
  "UTC",
];

const testFormatters = new Map<string, Intl.DateTimeFormat>();

function intlWall(timeZone: string, ms: number) {
  let f = testFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
    });
    testFormatters.set(timeZone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(ms).map((p) => [p.type, p.value]));
  return { year: Number(parts.year), month: Number(parts.month), day: Number(parts.day), hour: Number(parts.hour) };
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("ZoneClock / WallCursor agree with Intl", () => {
  it.each(ZONES)("%s at 1500 random instants, 1990–2040, in sorted and random order", (timeZone) => {
    const r = rng(timeZone.length * 7919);
    const from = Date.UTC(1990, 0, 1);
    const to = Date.UTC(2040, 0, 1);
    const instants = Array.from({ length: 1500 }, () => Math.floor(from + r() * (to - from)));
    const want = instants.map((ms) => `${new Date(ms).toISOString()} ${JSON.stringify(intlWall(timeZone, ms))}`);
    for (const order of [instants, [...instants].sort((a, b) => b - a)]) {
      const cursor = new WallCursor(new ZoneClock(timeZone));
      const got = new Map<number, string>();
      for (const ms of order) {
        const c = cursor.at(ms);
        got.set(
          ms,
          `${new Date(ms).toISOString()} ${JSON.stringify({ year: c.year, month: c.month, day: c.day, hour: c.hour })}`,
        );
      }
      expect(instants.map((ms) => got.get(ms))).toEqual(want);
    }
  });

  it.each([
    ["Europe/Berlin", "2026-03-29T01:00:00Z", { before: 1, after: 3 }],
    ["Europe/Berlin", "2026-10-25T01:00:00Z", { before: 2, after: 2 }],
    ["America/New_York", "2026-03-08T07:00:00Z", { before: 1, after: 3 }],
    ["America/New_York", "2026-11-01T06:00:00Z", { before: 1, after: 1 }],
    ["Australia/Lord_Howe", "2026-04-04T15:00:00Z", { before: 1, after: 1 }],
    ["Pacific/Apia", "2011-12-30T10:00:00Z", { before: 23, after: 0 }],
  ])("%s switches exactly at %s", (timeZone, at, hours) => {
    const t = Date.parse(at);
    const clock = new ZoneClock(timeZone);
    const cursor = new WallCursor(clock);
    expect(cursor.at(t - 1).hour).toBe(hours.before);
    expect(cursor.at(t).hour).toBe(hours.after);
    expect(clock.offsetAt(t - 1)).toBe(offsetsForTest(timeZone, t - 1).parts);
    expect(clock.offsetAt(t)).toBe(offsetsForTest(timeZone, t).parts);
    expect(intlWall(timeZone, t - 1).hour).toBe(hours.before);
    expect(intlWall(timeZone, t).hour).toBe(hours.after);
  });

  it("parses Intl's longOffset the same as wall-clock parts, including LMT seconds", () => {
    const r = rng(42);
    for (const timeZone of [...ZONES, "Africa/Monrovia", "Europe/Amsterdam", "Asia/Kolkata"]) {
      const diffs: string[] = [];
      for (let i = 0; i < 200; i++) {
        const ms = Math.floor(Date.UTC(1880, 0, 1) + r() * (Date.UTC(2045, 0, 1) - Date.UTC(1880, 0, 1)));
        const o = offsetsForTest(timeZone, ms);
        if (o.longOffset !== o.parts)
          diffs.push(`${timeZone} ${new Date(ms).toISOString()} ${o.longOffset} ${o.parts}`);
      }
      expect(diffs).toEqual([]);
    }
  });

  it("instantOf picks the earlier instant in an overlap and the pre-gap offset in a gap", () => {
    const berlin = new ZoneClock("Europe/Berlin");
    const local = (s: string) => Date.parse(`${s}Z`);
    // 02:30 on 25 Oct 2026 happens twice (CEST, then CET): the earlier one.
    expect(new Date(berlin.instantOf(local("2026-10-25T02:30:00"))).toISOString()).toBe("2026-10-25T00:30:00.000Z");
    // 02:30 on 29 Mar 2026 never happens: the earlier of both readings, 01:30 CET, before the gap.
    expect(new Date(berlin.instantOf(local("2026-03-29T02:30:00"))).toISOString()).toBe("2026-03-29T00:30:00.000Z");
    expect(new Date(berlin.instantOf(local("2026-07-01T12:00:00"))).toISOString()).toBe("2026-07-01T10:00:00.000Z");
  });
});

describe("civil calendar helpers", () => {
  it("round-trips day numbers over four centuries", () => {
    const bad: number[] = [];
    for (let d = daysFromCivil(1900, 1, 1); d < daysFromCivil(2300, 1, 1); d += 17) {
      const c = civilFromDays(d);
      if (daysFromCivil(c.year, c.month, c.day) !== d) bad.push(d);
      if (
        new Date(d * 86_400_000).toISOString().slice(0, 10) !==
        `${c.year}-${String(c.month).padStart(2, "0")}-${String(c.day).padStart(2, "0")}`
      )
        bad.push(d);
    }
    expect(bad).toEqual([]);
    expect(civilFromDays(0)).toEqual({ year: 1970, month: 1, day: 1 });
    expect(civilFromDays(daysFromCivil(2024, 2, 29))).toEqual({ year: 2024, month: 2, day: 29 });
  });

  it("matches ISO weeks computed the slow way for every day 1999–2031", () => {
    const want: string[] = [];
    const got: string[] = [];
    for (let d = daysFromCivil(1999, 1, 1); d < daysFromCivil(2031, 1, 1); d++) {
      const date = new Date(d * 86_400_000);
      const weekday = (date.getUTCDay() + 6) % 7;
      const thursday = new Date(date.getTime() + (3 - weekday) * 86_400_000);
      const year = thursday.getUTCFullYear();
      const week = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / (7 * 86_400_000)) + 1;
      want.push(`${date.toISOString().slice(0, 10)} ${year}-W${week}`);
      const w = isoWeek(d);
      got.push(`${date.toISOString().slice(0, 10)} ${w.year}-W${w.week}`);
    }
    expect(got).toEqual(want);
  });
});
