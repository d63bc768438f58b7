#!/usr/bin/env node
/**
 * Retention benchmark: planRetention() over many backups (target: well under 100 ms for 100k).
 *
 * Backups are one every ~hour (with jitter) going back in time, some tagged, a few pinned, a few
 * incomplete — the shapes prune() hands the planner. Three policies: a typical GFS one, an
 * hourly-heavy one with time zone and keepWithin* rules (the most work per backup), and the same
 * GFS policy on input in random order (the planner must sort).
 *
 * Environment:
 *   BENCH_RETENTION_BACKUPS  number of backups   default 100000
 *   BENCH_RETENTION_REPEAT   timed runs per case default 15 (after 3 warm-up runs)
 */
import { envNumber, loadPackage, printTable, spread, writeResult } from "../lib/common.mjs";

const count = envNumber("BENCH_RETENTION_BACKUPS", 100_000);
const repeat = envNumber("BENCH_RETENTION_REPEAT", 15);
const { planRetention, newBackupId } = await loadPackage("core");

let seed = 7;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const now = Date.UTC(2026, 10, 1, 12);
const backups = [];
for (let i = 0; i < count; i++) {
  const time = new Date(now - i * 3_600_000 - Math.floor(rand() * 600_000));
  backups.push({
    id: newBackupId(time),
    time,
    ...(i % 97 === 0 ? { tags: ["release"] } : {}),
    ...(i % 5000 === 0 ? { pinned: true } : {}),
    ...(i % 1000 === 1 ? { complete: false } : {}),
  });
}
const shuffled = [...backups];
for (let i = shuffled.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
}

const gfs = { keepLast: 7, keepDaily: 14, keepWeekly: 8, keepMonthly: 12, keepYearly: 5, keepTags: ["release"] };
const heavy = {
  keepHourly: 48,
  keepWithinDaily: "90d",
  keepWithinWeekly: "1y",
  keepMonthly: -1,
  keepYearly: -1,
  timeZone: "Europe/Paris",
};
const cases = [
  ["GFS (last 7, 14 d, 8 w, 12 m, 5 y, tags)", backups, gfs],
  ["hourly + keepWithin* + Europe/Paris", backups, heavy],
  ["GFS, input in random order", shuffled, gfs],
];

const rows = [];
const raw = {};
for (const [name, input, policy] of cases) {
  let plan;
  for (let i = 0; i < 3; i++) plan = planRetention(input, policy, { now: new Date(now) });
  const times = [];
  for (let i = 0; i < repeat; i++) {
    const t = performance.now();
    plan = planRetention(input, policy, { now: new Date(now) });
    times.push(performance.now() - t);
  }
  const s = spread(times);
  raw[name] = s;
  rows.push({
    policy: name,
    backups: count,
    "median ms": s.median.toFixed(1),
    "min–max ms": `${s.min.toFixed(1)}–${s.max.toFixed(1)}`,
    kept: plan.keep.length,
    removed: plan.remove.length,
  });
}
printTable(`retention — planRetention over ${count} backups, ${repeat} runs each`, rows);
await writeResult("retention", { count, repeat, rows, raw, target: { medianMs: 100 } });
