import {
  describeRetentionPolicy,
  planRetention,
  type RetentionCandidate,
  type RetentionPlan,
  type RetentionPolicy,
  StrongboxError,
  validateRetentionPolicy,
} from "@strongbox/core";
import { describe, expect, it } from "vitest";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A candidate whose id looks like a real backup id (UTC basic ISO + suffix). */
function b(time: string | number, extra: Partial<RetentionCandidate> = {}): RetentionCandidate {
  const d = new Date(time);
  const id = `${d.toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "")}-${extra.id ?? "aaaaaa"}`;
  return { ...extra, id, time: d };
}

/** Backups every `stepMs` from `from` to `to` inclusive. */
function series(from: string, to: string, stepMs: number): RetentionCandidate[] {
  const out: RetentionCandidate[] = [];
  for (let t = Date.parse(from); t <= Date.parse(to); t += stepMs) out.push(b(t));
  return out;
}

const iso = (d: Date) => d.toISOString().replace(".000Z", "Z");
const keptTimes = (plan: RetentionPlan) => plan.keep.map((k) => iso(k.time));
const reasonsOf = (plan: RetentionPlan) => Object.fromEntries(plan.keep.map((k) => [iso(k.time), k.reasons]));

/** Local calendar date of an instant in a zone, "YYYY-MM-DD". */
function localDate(d: Date, timeZone: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(d);
}

function expectConsistent(plan: RetentionPlan, input: RetentionCandidate[]): void {
  const complete = input.filter((c) => c.complete !== false);
  expect(plan.keep.length + plan.remove.length).toBe(complete.length);
  const ids = new Set([...plan.keep, ...plan.remove].map((d) => d.id));
  expect(ids.size).toBe(complete.length);
  for (const list of [plan.keep, plan.remove]) {
    for (let i = 1; i < list.length; i++)
      expect(list[i - 1]!.time.getTime()).toBeGreaterThanOrEqual(list[i]!.time.getTime());
  }
  for (const k of plan.keep) expect(k.reasons.length).toBeGreaterThan(0);
  for (const r of plan.remove) expect(r.reasons).toEqual(["matched no rule"]);
}

describe("planRetention: GFS from the seed runbook (daily 7, weekly 4, monthly 12, Asia/Seoul)", () => {
  // One backup a night at 02:00 Seoul time (17:00 UTC the day before) for 400 nights.
  const backups = series("2025-10-16T17:00:00Z", "2026-11-20T17:00:00Z", DAY);
  const policy: RetentionPolicy = { keepDaily: 7, keepWeekly: 4, keepMonthly: 12, timeZone: "Asia/Seoul" };
  const plan = planRetention(backups, policy);

  it("keeps exactly the GFS set, in Seoul calendar days", () => {
    expectConsistent(plan, backups);
    expect(plan.keep.map((k) => localDate(k.time, "Asia/Seoul"))).toEqual([
      // 7 daily
      "2026-11-21",
      "2026-11-20",
      "2026-11-19",
      "2026-11-18",
      "2026-11-17",
      "2026-11-16",
      "2026-11-15",
      // weekly adds the Sundays closing ISO weeks 45 and 44 (W47 and W46 are already daily)
      "2026-11-08",
      "2026-11-01",
      // monthly adds month ends back to December 2025 (12 months including November 2026)
      "2026-10-31",
      "2026-09-30",
      "2026-08-31",
      "2026-07-31",
      "2026-06-30",
      "2026-05-31",
      "2026-04-30",
      "2026-03-31",
      "2026-02-28",
      "2026-01-31",
      "2025-12-31",
    ]);
    expect(plan.remove).toHaveLength(backups.length - 20);
  });

  it("labels buckets in the policy's zone, not in UTC", () => {
    const r = reasonsOf(plan);
    expect(r["2026-11-20T17:00:00Z"]).toEqual(["daily 2026-11-21", "weekly 2026-W47", "monthly 2026-11"]);
    expect(r["2026-11-14T17:00:00Z"]).toEqual(["daily 2026-11-15", "weekly 2026-W46"]);
    expect(r["2026-10-31T17:00:00Z"]).toEqual(["weekly 2026-W44"]);
    expect(r["2025-12-30T17:00:00Z"]).toEqual(["monthly 2025-12"]);
    // The same data bucketed in UTC sees the 17:00Z backups on the previous calendar day.
    const utc = planRetention(backups, { ...policy, timeZone: "UTC" });
    expect(reasonsOf(utc)["2026-11-20T17:00:00Z"]).toEqual(["daily 2026-11-20", "weekly 2026-W47", "monthly 2026-11"]);
  });

  it("describes itself in one line", () => {
    expect(describeRetentionPolicy(policy)).toBe("keep 7 daily, 4 weekly, 12 monthly (Asia/Seoul)");
  });
});

describe("planRetention: laravel-backup style windows with keepWithin*", () => {
  // "all backups for 7 days, daily for 16 days, weekly for 8 weeks, monthly for 4 months, yearly for 2 years"
  const policy: RetentionPolicy = {
    keepWithin: "7d",
    keepWithinDaily: "16d",
    keepWithinWeekly: "56d",
    keepWithinMonthly: "4m",
    keepWithinYearly: "2y",
  };
  // Every six hours for three years; the newest is Friday 2026-11-20 18:00 UTC.
  const backups = series("2023-11-21T00:00:00Z", "2026-11-20T18:00:00Z", 6 * HOUR);
  const plan = planRetention(backups, policy, { now: new Date("2026-11-21T00:00:00Z") });

  it("keeps every backup of the last 7 days, then one per day, week, month and year", () => {
    expectConsistent(plan, backups);
    const kept = keptTimes(plan);
    const all7 = kept.filter((t) => t > "2026-11-13T18:00:00Z");
    expect(all7).toHaveLength(28); // 7 days × 4; the backup exactly 7 days back is outside, as in restic
    expect(kept.filter((t) => t <= "2026-11-13T18:00:00Z")).toEqual([
      // daily within 16d (Nov 5 … Nov 13; Nov 14+ already kept)
      "2026-11-13T18:00:00Z",
      "2026-11-12T18:00:00Z",
      "2026-11-11T18:00:00Z",
      "2026-11-10T18:00:00Z",
      "2026-11-09T18:00:00Z",
      "2026-11-08T18:00:00Z",
      "2026-11-07T18:00:00Z",
      "2026-11-06T18:00:00Z",
      "2026-11-05T18:00:00Z",
      // weekly within 56d: the Sunday closing each ISO week, back to the week of Sep 21
      "2026-11-01T18:00:00Z",
      "2026-10-31T18:00:00Z",
      "2026-10-25T18:00:00Z",
      "2026-10-18T18:00:00Z",
      "2026-10-11T18:00:00Z",
      "2026-10-04T18:00:00Z",
      "2026-09-30T18:00:00Z",
      "2026-09-27T18:00:00Z",
      // monthly within 4m (cutoff 2026-07-20T18:00Z)
      "2026-08-31T18:00:00Z",
      "2026-07-31T18:00:00Z",
      // yearly within 2y
      "2025-12-31T18:00:00Z",
      "2024-12-31T18:00:00Z",
    ]);
    const r = reasonsOf(plan);
    expect(r["2026-11-20T18:00:00Z"]).toEqual([
      "within 7d",
      "daily within 16d",
      "weekly within 56d",
      "monthly within 4m",
      "yearly within 2y",
    ]);
    expect(r["2026-11-14T00:00:00Z"]).toEqual(["within 7d"]);
    expect(r["2026-11-01T18:00:00Z"]).toEqual(["weekly within 56d"]);
    expect(r["2026-10-31T18:00:00Z"]).toEqual(["monthly within 4m"]);
    expect(r["2024-12-31T18:00:00Z"]).toEqual(["yearly within 2y"]);
  });

  it("measures windows from the newest backup: a stalled schedule keeps its history", () => {
    // Six months later with no new backup, a "from now" policy would remove everything.
    const later = planRetention(backups, policy, { now: new Date("2027-05-21T00:00:00Z") });
    expect(later).toEqual(plan);
    const stalled = series("2026-01-01T00:00:00Z", "2026-01-31T00:00:00Z", DAY);
    const p = planRetention(stalled, { keepWithin: "10d" }, { now: new Date("2026-11-20T00:00:00Z") });
    expect(keptTimes(p)).toHaveLength(10);
    expect(keptTimes(p).at(-1)).toBe("2026-01-22T00:00:00Z");
    expect(p.keep.every((k) => k.reasons.join() === "within 10d")).toBe(true);
  });

  it("ignores backups dated in the future when choosing the newest (a host with a wrong clock)", () => {
    const skewed = [...backups, b("2031-01-01T00:00:00Z", { id: "future" })];
    const p = planRetention(skewed, policy, { now: new Date("2026-11-21T00:00:00Z") });
    expect(p.keep[0]!.time.toISOString()).toBe("2031-01-01T00:00:00.000Z");
    expect(p.keep.slice(1)).toEqual(plan.keep);
  });
});

describe("planRetention: ISO weeks and year boundaries", () => {
  it.each([
    ["2026-11-20T12:00:00Z", "UTC", "weekly 2026-W47", "yearly 2026"],
    ["2026-12-31T12:00:00Z", "UTC", "weekly 2026-W53", "yearly 2026"],
    ["2027-01-03T12:00:00Z", "UTC", "weekly 2026-W53", "yearly 2027"],
    ["2027-01-04T00:00:00Z", "UTC", "weekly 2027-W01", "yearly 2027"],
    ["2024-12-30T12:00:00Z", "UTC", "weekly 2025-W01", "yearly 2024"],
    ["2021-01-01T12:00:00Z", "UTC", "weekly 2020-W53", "yearly 2021"],
    ["2019-12-30T12:00:00Z", "UTC", "weekly 2020-W01", "yearly 2019"],
    ["2010-01-03T12:00:00Z", "UTC", "weekly 2009-W53", "yearly 2010"],
    ["2008-12-29T00:00:00Z", "UTC", "weekly 2009-W01", "yearly 2008"],
    // Sunday 23:30 UTC is already Monday in Seoul: a new ISO week and a new ISO year.
    ["2027-01-03T23:30:00Z", "UTC", "weekly 2026-W53", "yearly 2027"],
    ["2027-01-03T23:30:00Z", "Asia/Seoul", "weekly 2027-W01", "yearly 2027"],
    ["2026-12-31T16:00:00Z", "Asia/Seoul", "weekly 2026-W53", "yearly 2027"],
    ["2027-01-01T03:00:00Z", "America/New_York", "weekly 2026-W53", "yearly 2026"],
  ])("%s in %s is %s / %s", (time, timeZone, week, year) => {
    const plan = planRetention([b(time)], { keepWeekly: 1, keepYearly: 1, timeZone });
    expect(plan.keep[0]!.reasons).toEqual([week, year]);
  });

  it("keeps one backup per ISO week across week 53 and the new year", () => {
    const backups = series("2026-12-14T12:00:00Z", "2027-01-10T12:00:00Z", DAY);
    const plan = planRetention(backups, { keepWeekly: 4 });
    expect(plan.keep.map((k) => k.reasons)).toEqual([
      ["weekly 2027-W01"],
      ["weekly 2026-W53"],
      ["weekly 2026-W52"],
      ["weekly 2026-W51"],
    ]);
    expect(keptTimes(plan)).toEqual([
      "2027-01-10T12:00:00Z",
      "2027-01-03T12:00:00Z",
      "2026-12-27T12:00:00Z",
      "2026-12-20T12:00:00Z",
    ]);
  });

  it("keeps the newest backup of each year, with year labels", () => {
    const backups = series("2022-06-01T00:00:00Z", "2026-11-20T00:00:00Z", 7 * DAY);
    const plan = planRetention(backups, { keepYearly: 3, keepOldestWhenShort: false });
    expect(plan.keep.map((k) => k.reasons[0])).toEqual(["yearly 2026", "yearly 2025", "yearly 2024"]);
    expect(plan.keep.slice(1).every((k) => iso(k.time) >= `${iso(k.time).slice(0, 4)}-12-25`)).toBe(true);
  });
});

describe("planRetention: DST transitions", () => {
  it("Europe/Berlin spring forward: no 02:00 hour, hours stay distinct", () => {
    const backups = series("2026-03-28T22:00:00Z", "2026-03-29T03:00:00Z", HOUR);
    const plan = planRetention(backups, { keepHourly: -1, timeZone: "Europe/Berlin" });
    expect(plan.keep.map((k) => k.reasons)).toEqual([
      ["hourly 2026-03-29T05"],
      ["hourly 2026-03-29T04"],
      ["hourly 2026-03-29T03"],
      ["hourly 2026-03-29T01"],
      ["hourly 2026-03-29T00"],
      ["hourly 2026-03-28T23"],
    ]);
  });

  it("Europe/Berlin fall back: the repeated 02:00 hour is one bucket", () => {
    // 00:00Z = 02:00 CEST and 01:00Z = 02:00 CET
    const backups = series("2026-10-24T22:00:00Z", "2026-10-25T03:00:00Z", HOUR);
    const plan = planRetention(backups, { keepHourly: 10, timeZone: "Europe/Berlin" });
    expect(plan.keep.map((k) => [iso(k.time), k.reasons[0]])).toEqual([
      ["2026-10-25T03:00:00Z", "hourly 2026-10-25T04"],
      ["2026-10-25T02:00:00Z", "hourly 2026-10-25T03"],
      ["2026-10-25T01:00:00Z", "hourly 2026-10-25T02"],
      ["2026-10-24T23:00:00Z", "hourly 2026-10-25T01"],
      ["2026-10-24T22:00:00Z", "hourly 2026-10-25T00"],
    ]);
    expect(plan.remove.map((r) => iso(r.time))).toEqual(["2026-10-25T00:00:00Z"]);
  });

  it("Europe/Berlin days follow the local calendar through both transitions", () => {
    // Two backups a night, 00:30 and 23:30 local, from 20 March to 5 April and around October's change.
    const hhmm = new Intl.DateTimeFormat("en-GB", {
      timeZone: "Europe/Berlin",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    const backups: RetentionCandidate[] = [];
    for (const [from, to] of [
      ["2026-03-19T23:00:00Z", "2026-04-04T22:00:00Z"], // local midnights, 20 Mar to 5 Apr
      ["2026-10-19T22:00:00Z", "2026-10-29T23:00:00Z"],
    ] as const) {
      for (let t = Date.parse(from); t < Date.parse(to); t += 30 * 60_000) {
        const local = hhmm.format(t);
        if (local === "00:30" || local === "23:30") backups.push(b(t));
      }
    }
    const plan = planRetention(backups, { keepDaily: -1, timeZone: "Europe/Berlin", keepOldestWhenShort: false });
    // The newest of each local day is its 23:30 backup; the label is that local date.
    for (const k of plan.keep) {
      expect(hhmm.format(k.time)).toBe("23:30");
      expect(k.reasons).toEqual([`daily ${localDate(k.time, "Europe/Berlin")}`]);
    }
    expect(plan.keep).toHaveLength(backups.length / 2);
    expect(reasonsOf(plan)["2026-03-29T21:30:00Z"]).toEqual(["daily 2026-03-29"]);
    expect(reasonsOf(plan)["2026-03-28T22:30:00Z"]).toEqual(["daily 2026-03-28"]);
    expect(reasonsOf(plan)["2026-10-25T22:30:00Z"]).toEqual(["daily 2026-10-25"]);
  });

  it("America/New_York: the fall-back day is 25 hours long and still one day", () => {
    const backups = [
      b("2026-11-01T04:30:00Z"), // 00:30 EDT, 1 Nov
      b("2026-11-01T05:30:00Z"), // 01:30 EDT
      b("2026-11-01T06:30:00Z"), // 01:30 EST: same wall hour
      b("2026-11-02T04:30:00Z"), // 23:30 EST, still 1 Nov locally
      b("2026-11-02T05:30:00Z"), // 00:30 EST, 2 Nov
    ];
    const daily = planRetention(backups, { keepDaily: 5, timeZone: "America/New_York", keepOldestWhenShort: false });
    expect(daily.keep.map((k) => [iso(k.time), k.reasons[0]])).toEqual([
      ["2026-11-02T05:30:00Z", "daily 2026-11-02"],
      ["2026-11-02T04:30:00Z", "daily 2026-11-01"],
    ]);
    const utc = planRetention(backups, { keepDaily: 5, keepOldestWhenShort: false });
    expect(utc.keep.map((k) => k.reasons[0])).toEqual(["daily 2026-11-02", "daily 2026-11-01"]);
    expect(iso(utc.keep[1]!.time)).toBe("2026-11-01T06:30:00Z");
    const hourly = planRetention(backups, { keepHourly: 5, timeZone: "America/New_York", keepOldestWhenShort: false });
    expect(hourly.keep.map((k) => k.reasons[0])).toEqual([
      "hourly 2026-11-02T00",
      "hourly 2026-11-01T23",
      "hourly 2026-11-01T01",
      "hourly 2026-11-01T00",
    ]);
    expect(hourly.remove.map((r) => iso(r.time))).toEqual(["2026-11-01T05:30:00Z"]);
  });

  it("America/New_York spring forward: 01:59 EST and 03:00 EDT are one minute apart, different hours", () => {
    const backups = [b("2026-03-08T06:59:00Z"), b("2026-03-08T07:00:00Z"), b("2026-03-08T08:00:00Z")];
    const plan = planRetention(backups, { keepHourly: -1, timeZone: "America/New_York", keepOldestWhenShort: false });
    expect(plan.keep.map((k) => k.reasons[0])).toEqual([
      "hourly 2026-03-08T04",
      "hourly 2026-03-08T03",
      "hourly 2026-03-08T01",
    ]);
  });

  it("keepWithin counts calendar days in the zone: one day back across spring forward is 23 hours", () => {
    // Newest: 29 March 12:00 CEST (10:00Z). One day back = 28 March 12:00 CET = 11:00Z.
    const backups = [b("2026-03-29T10:00:00Z"), b("2026-03-28T11:30:00Z"), b("2026-03-28T10:30:00Z")];
    const berlin = planRetention(backups, { keepWithin: "1d", timeZone: "Europe/Berlin" });
    expect(keptTimes(berlin)).toEqual(["2026-03-29T10:00:00Z", "2026-03-28T11:30:00Z"]);
    const utc = planRetention(backups, { keepWithin: "1d" });
    expect(keptTimes(utc)).toEqual(["2026-03-29T10:00:00Z", "2026-03-28T11:30:00Z", "2026-03-28T10:30:00Z"]);
  });
});

describe("planRetention: rules, tags, pins and safety", () => {
  it("writes every reason in the documented format", () => {
    const plan = planRetention([b("2026-11-20T14:30:00Z", { tags: ["monthly-archive"], pinned: true })], {
      keepLast: 1,
      keepHourly: 1,
      keepDaily: 1,
      keepWeekly: 1,
      keepMonthly: 1,
      keepYearly: 1,
      keepWithin: "10d",
      keepWithinDaily: "16d",
      keepTags: ["monthly-archive"],
    });
    expect(plan.keep[0]!.reasons).toEqual([
      "pinned",
      "tag monthly-archive",
      "within 10d",
      "last",
      "hourly 2026-11-20T14",
      "daily 2026-11-20",
      "weekly 2026-W47",
      "monthly 2026-11",
      "yearly 2026",
      "daily within 16d",
    ]);
  });

  it("an empty policy removes nothing", () => {
    const backups = series("2026-01-01T00:00:00Z", "2026-01-10T00:00:00Z", DAY);
    backups[3]!.pinned = true;
    for (const policy of [
      {},
      { timeZone: "Asia/Seoul", keepOldestWhenShort: false, keepTags: [] },
      { keepDaily: 0, keepWithin: "0d" },
    ]) {
      const plan = planRetention(backups, policy);
      expect(plan.remove).toEqual([]);
      expect(plan.keep).toHaveLength(10);
      expect(plan.keep[0]!.reasons).toEqual(["no retention policy"]);
      expect(plan.keep.find((k) => k.id === backups[3]!.id)!.reasons).toEqual(["no retention policy", "pinned"]);
    }
    expect(describeRetentionPolicy({})).toBe("no retention policy: keep every backup");
  });

  it("always keeps the newest backup, even when no rule matches it", () => {
    const backups = [
      b("2026-11-20T00:00:00Z"),
      b("2026-11-19T00:00:00Z", { tags: ["keep"] }),
      b("2026-11-18T00:00:00Z"),
    ];
    const plan = planRetention(backups, { keepTags: ["keep"] });
    expect(plan.keep.map((k) => k.reasons)).toEqual([["newest backup"], ["tag keep"]]);
    expect(plan.remove.map((r) => iso(r.time))).toEqual(["2026-11-18T00:00:00Z"]);
  });

  it("keeps tagged backups forever and lists each matching tag", () => {
    const backups = series("2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z", DAY).map((c, i) =>
      i % 10 === 0 ? { ...c, tags: ["monthly-archive", "other"] } : i % 7 === 0 ? { ...c, tags: ["release"] } : c,
    );
    const plan = planRetention(backups, { keepLast: 2, keepTags: ["release", "monthly-archive"] });
    expectConsistent(plan, backups);
    const tagged = backups.filter((c) => c.tags?.includes("monthly-archive"));
    expect(tagged).toHaveLength(6);
    for (const t of tagged) expect(plan.keep.find((k) => k.id === t.id)?.reasons).toContain("tag monthly-archive");
    const releases = backups.filter((c) => c.tags?.includes("release"));
    for (const t of releases) expect(plan.keep.find((k) => k.id === t.id)?.reasons).toContain("tag release");
    expect(releases).toHaveLength(8);
    expect(plan.keep).toHaveLength(2 + 6 + 8);
  });

  it("never removes a pinned backup, and pinned ones still count against rules", () => {
    const backups = series("2026-11-01T00:00:00Z", "2026-11-10T00:00:00Z", DAY);
    backups[0]!.pinned = true; // the oldest
    backups[8]!.pinned = true; // 9 Nov, which keepLast 2 also keeps
    const plan = planRetention(backups, { keepLast: 2 });
    expect(plan.keep.map((k) => [iso(k.time), k.reasons])).toEqual([
      ["2026-11-10T00:00:00Z", ["last"]],
      ["2026-11-09T00:00:00Z", ["pinned", "last"]],
      ["2026-11-01T00:00:00Z", ["pinned"]],
    ]);
  });

  it("counts a backup against every rule it matches, and keeps the union", () => {
    const backups = series("2026-10-01T12:00:00Z", "2026-11-20T12:00:00Z", DAY);
    const plan = planRetention(backups, { keepLast: 3, keepDaily: 5, keepWeekly: 2 });
    expect(plan.keep.map((k) => [iso(k.time).slice(0, 10), k.reasons])).toEqual([
      ["2026-11-20", ["last", "daily 2026-11-20", "weekly 2026-W47"]],
      ["2026-11-19", ["last", "daily 2026-11-19"]],
      ["2026-11-18", ["last", "daily 2026-11-18"]],
      ["2026-11-17", ["daily 2026-11-17"]],
      ["2026-11-16", ["daily 2026-11-16"]],
      ["2026-11-15", ["weekly 2026-W46"]],
    ]);
  });

  it("leaves incomplete backups out of both lists", () => {
    const backups = [
      b("2026-11-20T03:00:00Z", { complete: false }),
      b("2026-11-20T02:00:00Z"),
      b("2026-11-19T02:00:00Z", { complete: false, pinned: true }),
      b("2026-11-18T02:00:00Z"),
    ];
    const plan = planRetention(backups, { keepLast: 1 });
    expect(keptTimes(plan)).toEqual(["2026-11-20T02:00:00Z"]);
    expect(plan.keep[0]!.reasons).toEqual(["last"]);
    expect(plan.remove.map((r) => iso(r.time))).toEqual(["2026-11-18T02:00:00Z"]);
    expect(planRetention([backups[0]!], { keepLast: 1 })).toEqual({ keep: [], remove: [] });
    expect(planRetention([], { keepDaily: 7 })).toEqual({ keep: [], remove: [] });
  });

  it("sorts newest first whatever the input order, ties broken by id", () => {
    const backups = series("2026-11-01T00:00:00Z", "2026-11-20T00:00:00Z", 12 * HOUR);
    const twin = b("2026-11-10T00:00:00Z", { id: "zzzzzz" });
    const shuffled = [...backups, twin].reverse().sort((x, y) => (x.id.charCodeAt(17) % 3) - (y.id.charCodeAt(17) % 3));
    const plan = planRetention(shuffled, { keepDaily: 4, keepWeekly: 3 });
    const again = planRetention([...backups, twin], { keepDaily: 4, keepWeekly: 3 });
    expect(plan).toEqual(again);
    expectConsistent(plan, shuffled);
    const ids = [...plan.keep, ...plan.remove].filter((d) => iso(d.time) === "2026-11-10T00:00:00Z").map((d) => d.id);
    expect(ids).toHaveLength(2);
  });

  it("returns the candidates' own ids and Date objects", () => {
    const c = b("2026-11-20T00:00:00Z");
    const plan = planRetention([c], { keepLast: 1 });
    expect(plan.keep[0]!.id).toBe(c.id);
    expect(plan.keep[0]!.time).toBe(c.time);
  });
});

describe("planRetention: keepOldestWhenShort (restic >= 0.16)", () => {
  const sameDay = [b("2026-11-20T18:00:00Z"), b("2026-11-20T12:00:00Z"), b("2026-11-20T06:00:00Z")];

  it("keeps the oldest backup when a rule still has count left, with an 'oldest' reason", () => {
    const plan = planRetention(sameDay, { keepDaily: 7 });
    expect(plan.keep.map((k) => [iso(k.time), k.reasons])).toEqual([
      ["2026-11-20T18:00:00Z", ["daily 2026-11-20"]],
      ["2026-11-20T06:00:00Z", ["oldest daily"]],
    ]);
    expect(plan.remove.map((r) => iso(r.time))).toEqual(["2026-11-20T12:00:00Z"]);
  });

  it("is off with keepOldestWhenShort: false", () => {
    const plan = planRetention(sameDay, { keepDaily: 7, keepOldestWhenShort: false });
    expect(keptTimes(plan)).toEqual(["2026-11-20T18:00:00Z"]);
    expect(describeRetentionPolicy({ keepDaily: 7, keepOldestWhenShort: false })).toBe(
      "keep 7 daily (UTC), oldest not kept when short",
    );
  });

  it("keeps the first yearly backup of a young repository", () => {
    const backups = series("2025-03-15T00:00:00Z", "2026-11-15T00:00:00Z", 30 * DAY);
    const plan = planRetention(backups, { keepYearly: 5 });
    expect(plan.keep.map((k) => [iso(k.time).slice(0, 10), k.reasons])).toEqual([
      ["2026-11-05", ["yearly 2026"]],
      ["2025-12-10", ["yearly 2025"]],
      ["2025-03-15", ["oldest yearly"]],
    ]);
    expect(planRetention(backups, { keepYearly: 5, keepOldestWhenShort: false }).keep).toHaveLength(2);
  });

  it("does nothing once the count is used up", () => {
    const backups = series("2026-06-01T00:00:00Z", "2026-11-20T00:00:00Z", 5 * DAY);
    const plan = planRetention(backups, { keepMonthly: 3 });
    expect(plan.keep.map((k) => k.reasons)).toEqual([["monthly 2026-11"], ["monthly 2026-10"], ["monthly 2026-09"]]);
  });

  it("gives the normal reason when the oldest backup opens a new period", () => {
    const plan = planRetention([b("2026-11-20T00:00:00Z"), b("2026-11-19T00:00:00Z")], { keepDaily: 7 });
    expect(plan.keep.map((k) => k.reasons)).toEqual([["daily 2026-11-20"], ["daily 2026-11-19"]]);
  });

  it("applies per rule: each short rule adds its own 'oldest' reason", () => {
    const backups = series("2026-11-16T00:00:00Z", "2026-11-20T00:00:00Z", 6 * HOUR);
    const plan = planRetention(backups, { keepDaily: 30, keepWeekly: 2, keepHourly: 2 });
    expect(plan.keep.map((k) => [iso(k.time), k.reasons])).toEqual([
      ["2026-11-20T00:00:00Z", ["hourly 2026-11-20T00", "daily 2026-11-20", "weekly 2026-W47"]],
      ["2026-11-19T18:00:00Z", ["hourly 2026-11-19T18", "daily 2026-11-19"]],
      ["2026-11-18T18:00:00Z", ["daily 2026-11-18"]],
      ["2026-11-17T18:00:00Z", ["daily 2026-11-17"]],
      ["2026-11-16T18:00:00Z", ["daily 2026-11-16"]],
      ["2026-11-16T00:00:00Z", ["oldest daily", "oldest weekly"]],
    ]);
  });
});

describe("planRetention: -1 means unlimited", () => {
  const backups = series("2026-10-01T00:00:00Z", "2026-11-20T00:00:00Z", 8 * HOUR);

  it("keepLast: -1 keeps everything", () => {
    const plan = planRetention(backups, { keepLast: -1 });
    expect(plan.remove).toEqual([]);
    expect(plan.keep.every((k) => k.reasons.join() === "last")).toBe(true);
  });

  it("keepDaily: -1 keeps the newest of every day, and the oldest", () => {
    const plan = planRetention(backups, { keepDaily: -1 });
    const days = new Set(backups.map((c) => iso(c.time).slice(0, 10)));
    expect(plan.keep).toHaveLength(days.size + 1);
    expect(plan.keep.at(-1)!.reasons).toEqual(["oldest daily"]);
    expect(plan.keep.slice(0, -1).every((k) => iso(k.time).endsWith("T16:00:00Z") || k === plan.keep[0])).toBe(true);
    expect(describeRetentionPolicy({ keepDaily: -1, keepMonthly: 6 })).toBe("keep all daily, 6 monthly (UTC)");
  });
});

describe("validateRetentionPolicy", () => {
  it.each<[string, unknown, string]>([
    ["negative count", { keepDaily: -2 }, "keepDaily"],
    ["fractional count", { keepWeekly: 1.5 }, "keepWeekly"],
    ["string count", { keepMonthly: "12" }, "keepMonthly"],
    ["NaN count", { keepLast: Number.NaN }, "keepLast"],
    ["weeks in a duration", { keepWithin: "2w" }, "keepWithin"],
    ["upper-case M", { keepWithinMonthly: "6M" }, "keepWithinMonthly"],
    ["negative duration", { keepWithinDaily: "-1d" }, "keepWithinDaily"],
    ["empty duration", { keepWithinHourly: "" }, "keepWithinHourly"],
    ["number as duration", { keepWithin: 5 }, "keepWithin"],
    ["unit missing", { keepWithinYearly: "2" }, "keepWithinYearly"],
    ["repeated unit", { keepWithinWeekly: "1d2d" }, "keepWithinWeekly"],
    ["fractional duration", { keepWithin: "1.5d" }, "keepWithin"],
    ["unknown zone", { keepDaily: 7, timeZone: "Mars/Olympus_Mons" }, "timeZone"],
    ["zone not a string", { timeZone: 9 }, "timeZone"],
    ["tags not an array", { keepTags: "archive" }, "keepTags"],
    ["empty tag", { keepTags: [""] }, "keepTags"],
    ["non-boolean flag", { keepOldestWhenShort: "yes" }, "keepOldestWhenShort"],
    ["snake_case key", { keep_daily: 7 }, '"keep_daily" is not a retention option (did you mean "keepDaily"?)'],
    ["unknown key", { keepDays: 7 }, '"keepDays" is not a retention option (did you mean "keepDaily"?)'],
    ["unknown key without hint", { frobnicate: true }, '"frobnicate" is not a retention option'],
    ["not an object", null, "must be an object"],
    ["array", [], "must be an object"],
  ])("refuses %s", (_name, policy, field) => {
    let err: unknown;
    try {
      validateRetentionPolicy(policy as RetentionPolicy);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StrongboxError);
    expect((err as StrongboxError).code).toBe("E_CONFIG");
    expect((err as StrongboxError).message).toContain(field);
    expect((err as StrongboxError).message).toMatch(/^\[strongbox\] \[retention\] /);
    expect(() => planRetention([b("2026-11-20T00:00:00Z")], policy as RetentionPolicy)).toThrow(StrongboxError);
  });

  it.each<RetentionPolicy>([
    {},
    { keepDaily: 0, keepWeekly: -1 },
    { keepWithin: "1y2m3d4h", keepWithinDaily: " 16d ", timeZone: "Asia/Seoul" },
    { keepTags: ["a", "b"], keepOldestWhenShort: false, timeZone: "Etc/UTC" },
    { keepDaily: undefined, keepWithin: undefined },
  ])("accepts %j", (policy) => {
    expect(() => validateRetentionPolicy(policy)).not.toThrow();
  });

  it("refuses a candidate without a valid time", () => {
    expect(() => planRetention([{ id: "x", time: new Date("nope") }], { keepLast: 1 })).toThrow(
      /"x" has no valid time/,
    );
    expect(() => planRetention([{ id: "y" } as RetentionCandidate], { keepLast: 1 })).toThrow(StrongboxError);
  });
});

describe("describeRetentionPolicy", () => {
  it.each<[RetentionPolicy, string]>([
    [
      { keepDaily: 7, keepWeekly: 4, keepMonthly: 12, timeZone: "Asia/Seoul" },
      "keep 7 daily, 4 weekly, 12 monthly (Asia/Seoul)",
    ],
    [{ keepLast: 3, keepHourly: 24, keepYearly: -1 }, "keep 3 latest, 24 hourly, all yearly (UTC)"],
    [
      {
        keepWithin: "7d",
        keepWithinDaily: "16d",
        keepWithinWeekly: "56d",
        keepWithinMonthly: "4m",
        keepWithinYearly: "2y",
      },
      "keep all within 7d, daily within 16d, weekly within 56d, monthly within 4m, yearly within 2y (UTC)",
    ],
    [
      { keepTags: ["archive", "release"], keepWithin: "14d1m" },
      "keep all within 1m14d, tagged archive or release (UTC)",
    ],
  ])("%j → %s", (policy, text) => {
    expect(describeRetentionPolicy(policy)).toBe(text);
  });
});

describe("planRetention: performance", () => {
  it("plans 100k backups quickly", () => {
    // Hourly backups for ~11.4 years, in a zone with DST, with every kind of rule.
    const start = Date.parse("2015-06-01T00:00:00Z");
    const backups: RetentionCandidate[] = [];
    for (let i = 0; i < 100_000; i++) {
      const t = new Date(start + i * HOUR + (i % 7) * 60_000);
      backups.push({ id: `b${String(i).padStart(6, "0")}`, time: t, tags: i % 5000 === 0 ? ["archive"] : undefined });
    }
    const policy: RetentionPolicy = {
      keepLast: 24,
      keepHourly: 48,
      keepDaily: 30,
      keepWeekly: 12,
      keepMonthly: 24,
      keepYearly: -1,
      keepWithinDaily: "3m",
      keepTags: ["archive"],
      timeZone: "Europe/Berlin",
    };
    // First call: JIT-cold, and the zone's offsets are not cached yet. Then the best of three
    // warm runs; the bound is loose on purpose (this 2-core machine runs other suites in parallel).
    let t0 = performance.now();
    const plan = planRetention(backups, policy);
    const cold = performance.now() - t0;
    const warm: number[] = [];
    for (let r = 0; r < 3; r++) {
      t0 = performance.now();
      planRetention(backups, policy);
      warm.push(performance.now() - t0);
    }
    const best = Math.min(...warm);
    console.log(
      `[retention] planRetention over 100k backups: ${cold.toFixed(1)} ms cold, ${best.toFixed(1)} ms best warm (${warm.map((w) => w.toFixed(1)).join(", ")})`,
    );
    expect(plan.keep.length + plan.remove.length).toBe(100_000);
    expect(plan.keep.length).toBeLessThan(400);
    expect(best).toBeLessThan(1000);
    expect(cold).toBeLessThan(5000);
  });
});
