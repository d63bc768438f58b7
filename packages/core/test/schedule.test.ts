import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  createStrongbox,
  isStrongboxError,
  local,
  type Schedule,
  type Source,
  type Strongbox,
  StrongboxError,
  type StrongboxEventName,
  type StrongboxEvents,
  type StrongboxOptions,
  silentLogger,
} from "../src/index.js";
import { MemoryStore, memorySource } from "./fixtures/memory-source.js";

let dirs: string[] = [];
let schedules: Schedule[] = [];
afterEach(async () => {
  await Promise.all(schedules.map((s) => s.stop({ abort: true })));
  schedules = [];
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  dirs = [];
  vi.restoreAllMocks();
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "strongbox-schedule-"));
  dirs.push(d);
  return d;
}

function seededStore(): MemoryStore {
  const store = new MemoryStore();
  store.get().set("alpha", randomBytes(50_000));
  store.get().set("beta", Buffer.from("beta ".repeat(1000)));
  return store;
}

/** Backup folders on disk: complete ones have a manifest.json. */
async function backupsOnDisk(dir: string): Promise<{ complete: string[]; incomplete: string[] }> {
  const complete: string[] = [];
  const incomplete: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (!e.isDirectory() || !/^\d{8}T\d{6}Z-/.test(e.name)) continue;
    const files = await readdir(join(dir, e.name));
    (files.includes("manifest.json") ? complete : incomplete).push(e.name);
  }
  return { complete: complete.sort(), incomplete };
}

const abortable = (p: Promise<void>, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(new StrongboxError("E_ABORTED", "aborted"));
    signal.addEventListener("abort", () => reject(new StrongboxError("E_ABORTED", "aborted")), { once: true });
    p.then(resolve, reject);
  });

/**
 * The memory source with knobs: `failNext` makes the next N preflight checks fail, `gate` holds
 * every backup in its preflight until opened, `pauseBetweenMs` pauses after each artifact (so an
 * abort lands in the middle of a backup, with artifacts already written).
 */
function controlled(store: MemoryStore) {
  const knobs = {
    failNext: 0,
    gate: undefined as Promise<void> | undefined,
    pauseBetweenMs: 0,
    checks: [] as number[],
  };
  const inner = memorySource(store);
  const source: Source = {
    ...inner,
    async check(ctx) {
      knobs.checks.push(Date.now());
      if (knobs.failNext > 0) {
        knobs.failNext--;
        throw new StrongboxError("E_SOURCE", "memory store is unreachable (test)", { adapter: "memory" });
      }
      if (knobs.gate) await abortable(knobs.gate, ctx.signal);
    },
    async *backup(ctx) {
      for await (const artifact of inner.backup(ctx)) {
        yield artifact;
        if (knobs.pauseBetweenMs) await abortable(new Promise((r) => setTimeout(r, knobs.pauseBetweenMs)), ctx.signal);
      }
    },
  };
  return { source, knobs };
}

function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => {
    open = r;
  });
  return { promise, open };
}

function record<E extends StrongboxEventName>(box: Strongbox, event: E): Array<StrongboxEvents[E] & { at: number }> {
  const out: Array<StrongboxEvents[E] & { at: number }> = [];
  box.on(event, (p) => out.push({ ...p, at: Date.now() }));
  return out;
}

function waitFor<E extends StrongboxEventName>(box: Strongbox, event: E): Promise<StrongboxEvents[E]> {
  return new Promise((resolve) => box.once(event, resolve));
}

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function makeBox(overrides: Partial<StrongboxOptions> = {}) {
  const dir = await tempDir();
  const store = seededStore();
  const { source, knobs } = controlled(store);
  const box = createStrongbox({
    sources: [source],
    storage: local({ directory: dir }),
    logger: silentLogger,
    ...overrides,
  });
  const schedule = (o: Parameters<typeof box.schedule>[0]) => {
    const s = box.schedule(o);
    schedules.push(s);
    return s;
  };
  return { box, dir, store, knobs, schedule };
}

describe("schedule options", () => {
  it("rejects bad options with E_CONFIG at schedule() time", async () => {
    const { schedule } = await makeBox();
    const bad = [
      { cron: "" },
      { cron: "not a cron" },
      { cron: "0 2 * * *", timeZone: "Mars/Olympus" },
      { cron: "0 2 * * *", retries: -1 },
      { cron: "0 2 * * *", retryDelay: "soon" },
      { cron: "0 2 * * *", components: ["nope"] },
      { cron: "0 2 * * *", verify: "deep" as never },
      { cron: "0 2 * * *", lockTtl: "10M" },
    ];
    for (const o of bad) {
      let err: unknown;
      try {
        schedule(o);
      } catch (e) {
        err = e;
      }
      expect(isStrongboxError(err, "E_CONFIG"), JSON.stringify(o)).toBe(true);
    }
    const empty = createStrongbox({ sources: [], storage: local({ directory: await tempDir() }) });
    expect(() => empty.schedule({ cron: "0 2 * * *" })).toThrow(/no sources/);
  });

  it("reports the next tick in its time zone and nothing once stopped", async () => {
    const { schedule } = await makeBox();
    const s = schedule({ cron: "30 2 * * *", timeZone: "Asia/Seoul", catchUp: false });
    const next = s.nextRun()!;
    // 02:30 in Seoul (UTC+9, no DST) is 17:30 UTC.
    expect(next.getUTCHours()).toBe(17);
    expect(next.getUTCMinutes()).toBe(30);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(86_400_000);
    expect(s.running).toBe(false);
    await s.stop();
    expect(s.nextRun()).toBeUndefined();
    expect(s.stopped).toBe(true);
    await expect(s.runNow()).rejects.toMatchObject({ code: "E_ABORTED" });
  });
});

describe("runs", () => {
  it("fires on its cron and never overlaps: ticks during a run are skipped with a warning", async () => {
    const { box, dir, knobs, schedule } = await makeBox();
    const g = gate();
    knobs.gate = g.promise;
    const started = record(box, "schedule:run-started");
    const skipped = record(box, "schedule:skipped");
    const warnings = record(box, "warning");
    const s = schedule({ cron: "* * * * * *", catchUp: false });
    await until(() => started.length === 1);
    expect(started[0]!.trigger).toBe("cron");
    expect(started[0]!.scheduledAt!.getMilliseconds()).toBe(0);
    expect(s.running).toBe(true);
    // Two more ticks pass while the first run is held.
    await until(() => skipped.length >= 2, 5000);
    expect(started).toHaveLength(1);
    expect(skipped.every((e) => e.reason === "overlap" && e.trigger === "cron")).toBe(true);
    expect(warnings.some((w) => w.message.includes("still in flight"))).toBe(true);
    // runNow() during the run is an overlap too, not a second backup.
    const now = await s.runNow();
    expect(now.status).toBe("skipped");
    expect(now.skip?.reason).toBe("overlap");
    const done = waitFor(box, "schedule:run-completed");
    g.open();
    const completed = await done;
    await s.stop({ abort: true });
    expect(completed.record.status).toBe("completed");
    expect(s.lastRun()?.backupId).toBe(completed.backupId);
    const disk = await backupsOnDisk(dir);
    expect(disk.incomplete).toEqual([]);
    expect(disk.complete[0]).toBe(completed.backupId);
  });

  it("retries a failed backup with exponential backoff, then succeeds", async () => {
    const { box, dir, knobs, schedule } = await makeBox();
    knobs.failNext = 2;
    const warnings = record(box, "warning");
    const s = schedule({ cron: "0 0 1 1 *", catchUp: false, retries: 3, retryDelay: 150 });
    const r = await s.runNow();
    expect(r.status).toBe("completed");
    expect(r.attempts).toBe(3);
    expect(r.trigger).toBe("manual");
    const [a, b, c] = knobs.checks;
    // 150 ms, then 300 ms (timers may be late on a busy machine, never early).
    expect(b! - a!).toBeGreaterThanOrEqual(145);
    expect(c! - b!).toBeGreaterThanOrEqual(295);
    expect(b! - a!).toBeLessThan(1000);
    expect(c! - b!).toBeLessThan(1500);
    expect(warnings.filter((w) => w.message.includes("retrying in"))).toHaveLength(2);
    const disk = await backupsOnDisk(dir);
    expect(disk.complete).toEqual([r.backupId]);
    expect(disk.incomplete).toEqual([]);
  });

  it("fails the run after its retries, reports it, and box.health() turns unhealthy until a run succeeds", async () => {
    const { box, dir, knobs, schedule } = await makeBox();
    const s = schedule({ cron: "0 0 1 1 *", catchUp: false, retries: 1, retryDelay: 10 });
    expect((await box.health()).checks.find((c) => c.name === "lastRun")).toMatchObject({ ok: true });
    knobs.failNext = 5;
    const failed = waitFor(box, "schedule:run-failed");
    const r = await s.runNow();
    expect(r.status).toBe("failed");
    expect(r.attempts).toBe(2);
    expect(r.error?.code).toBe("E_SOURCE");
    expect((await failed).record).toBe(r);
    expect(await backupsOnDisk(dir)).toEqual({ complete: [], incomplete: [] });
    let health = await box.health();
    expect(health.healthy).toBe(false);
    const check = health.checks.find((c) => c.name === "lastRun")!;
    expect(check.ok).toBe(false);
    expect(check.message).toContain("failed after 2 attempt(s)");
    expect(check.message).toContain("unreachable");

    knobs.failNext = 0;
    expect((await s.runNow()).status).toBe("completed");
    health = await box.health();
    expect(health.healthy).toBe(true);
    expect(health.checks.find((c) => c.name === "lastRun")!.message).toContain("completed");
    await s.stop();
    expect((await box.health()).checks.some((c) => c.name === "lastRun")).toBe(false);
  });

  it("does not retry configuration errors", async () => {
    const dir = await tempDir();
    const source: Source = {
      ...memorySource(seededStore()),
      async check() {
        throw new StrongboxError("E_CONFIG", "bad option (test)");
      },
    };
    const box = createStrongbox({ sources: [source], storage: local({ directory: dir }), logger: silentLogger });
    const s = box.schedule({ cron: "0 0 1 1 *", catchUp: false, retries: 3, retryDelay: 10 });
    schedules.push(s);
    const r = await s.runNow();
    expect(r.status).toBe("failed");
    expect(r.attempts).toBe(1);
    expect(r.error?.code).toBe("E_CONFIG");
  });

  it("delays each timed run by a random jitter within its bound", async () => {
    const { box, schedule } = await makeBox();
    vi.spyOn(Math, "random").mockReturnValue(0.999);
    const started = record(box, "schedule:run-started");
    const backups = record(box, "backup:started");
    const s = schedule({ cron: "* * * * * *", catchUp: false, jitter: "400ms" });
    await until(() => backups.length >= 1, 5000);
    await s.stop({ abort: true });
    const delay = backups[0]!.at - started[0]!.scheduledAt!.getTime();
    // Math.random() = 0.999 → 399 ms; never more than the bound (+ timer lateness).
    expect(delay).toBeGreaterThanOrEqual(395);
    expect(delay).toBeLessThan(400 + 600);
    // runNow() is not jittered.
    const { box: box2, schedule: schedule2 } = await makeBox();
    const s2 = schedule2({ cron: "0 0 1 1 *", catchUp: false, jitter: "10s" });
    const t0 = Date.now();
    expect((await s2.runNow()).status).toBe("completed");
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(box2).toBeDefined();
  });

  it("verifies and then prunes after a successful backup", async () => {
    const { box, dir, schedule } = await makeBox({ retention: { keepLast: 1 } });
    const old1 = await box.backup();
    const old2 = await box.backup();
    const s = schedule({ cron: "0 0 1 1 *", catchUp: false, verify: "checksum", prune: true });
    const r = await s.runNow();
    expect(r.status).toBe("completed");
    expect(r.verify).toMatchObject({ ok: true, mode: "checksum", id: r.backupId });
    const deleted = r.prune!.storages.flatMap((x) => x.deleted).sort();
    expect(deleted).toEqual([old1.id, old2.id].sort());
    expect((await backupsOnDisk(dir)).complete).toEqual([r.backupId]);
  });

  it("fails the run and does not prune when the new backup fails verification", async () => {
    const { box, dir, schedule } = await makeBox({ retention: { keepLast: 1 } });
    const old = await box.backup();
    // Damage the new backup on disk the moment it is complete, before the scheduler verifies it.
    box.on("backup:completed", ({ manifest }) => {
      if (manifest.id === old.id) return;
      const key = manifest.components[0]!.artifacts[0]!.key;
      const path = join(dir, key);
      const bytes = readFileSync(path);
      bytes[10] = (bytes[10] ?? 0) ^ 0xff;
      writeFileSync(path, bytes);
    });
    const s = schedule({ cron: "0 0 1 1 *", catchUp: false, verify: "checksum", prune: true, retries: 0 });
    const r = await s.runNow();
    expect(r.status).toBe("failed");
    expect(r.error?.code).toBe("E_INTEGRITY");
    expect(r.verify?.ok).toBe(false);
    expect(r.prune).toBeUndefined();
    expect((await backupsOnDisk(dir)).complete).toEqual([old.id, r.backupId].sort());
  });
});

describe("catch-up", () => {
  it("runs at start when the newest backup in storage is older than the previous tick", async () => {
    const { box, dir, schedule } = await makeBox();
    // A complete backup from 2020, as another process left it.
    await mkdir(join(dir, "20200101T000000Z-aaaaaa"), { recursive: true });
    await writeFile(join(dir, "20200101T000000Z-aaaaaa", "manifest.json"), "{}");
    const started = record(box, "schedule:run-started");
    const done = waitFor(box, "schedule:run-completed");
    const s = schedule({ cron: "0 3 * * *", timeZone: "UTC" });
    await s.ready;
    expect(started).toHaveLength(1);
    expect(started[0]!.trigger).toBe("catch-up");
    const tick = started[0]!.scheduledAt!;
    expect(tick.getUTCHours()).toBe(3);
    expect(Date.now() - tick.getTime()).toBeLessThan(86_400_000);
    const { record: r } = await done;
    expect(r.trigger).toBe("catch-up");
    const disk = await backupsOnDisk(dir);
    expect(disk.complete).toEqual(["20200101T000000Z-aaaaaa", r.backupId].sort());
  });

  it("does not run when a backup newer than the previous tick exists, or when catchUp is false", async () => {
    const { box, dir, schedule } = await makeBox();
    await box.backup();
    const started = record(box, "schedule:run-started");
    const s = schedule({ cron: "0 3 * * *", timeZone: "UTC" });
    await s.ready;
    expect(started).toHaveLength(0);
    await s.stop();

    const { box: box2, dir: dir2, schedule: schedule2 } = await makeBox();
    const started2 = record(box2, "schedule:run-started");
    const s2 = schedule2({ cron: "0 3 * * *", catchUp: false });
    await s2.ready;
    expect(started2).toHaveLength(0);
    expect((await backupsOnDisk(dir2)).complete).toEqual([]);
    expect(dir).not.toBe(dir2);
  });

  it("only counts backups carrying the schedule's tags", async () => {
    const { box, schedule } = await makeBox();
    await box.backup({ tags: ["manual"] });
    const started = record(box, "schedule:run-started");
    const done = waitFor(box, "schedule:run-completed");
    const s = schedule({ cron: "0 3 * * *", tags: ["nightly"] });
    await s.ready;
    expect(started.map((e) => e.trigger)).toEqual(["catch-up"]);
    const { record: r } = await done;
    expect((await box.get(r.backupId!)).tags).toEqual(["nightly"]);
  });
});

describe("stop", () => {
  it("waits for the run in flight to finish", async () => {
    const { box, dir, knobs, schedule } = await makeBox();
    const g = gate();
    knobs.gate = g.promise;
    const s = schedule({ cron: "0 0 1 1 *", catchUp: false });
    const run = s.runNow();
    await until(() => knobs.checks.length === 1);
    let stopped = false;
    const stopping = s.stop().then(() => {
      stopped = true;
    });
    await new Promise((r) => setTimeout(r, 150));
    expect(stopped).toBe(false);
    expect(s.running).toBe(true);
    g.open();
    await stopping;
    const r = await run;
    expect(r.status).toBe("completed");
    expect((await backupsOnDisk(dir)).complete).toEqual([r.backupId]);
    expect(box).toBeDefined();
  });

  it("aborts the run in flight cleanly: nothing half-written stays", async () => {
    const { box, dir, store, knobs, schedule } = await makeBox();
    for (let i = 0; i < 6; i++) store.get().set(`part${i}`, randomBytes(20_000));
    knobs.pauseBetweenMs = 200;
    const failed = waitFor(box, "schedule:run-failed");
    const s = schedule({ cron: "0 0 1 1 *", catchUp: false });
    const run = s.runNow();
    // Let a few artifacts reach the disk first.
    await until(() => store.get().size > 0 && existsSomeArtifact(dir));
    const t0 = Date.now();
    await s.stop({ abort: true });
    expect(Date.now() - t0).toBeLessThan(2000);
    const r = await run;
    expect(r.status).toBe("failed");
    expect(r.error?.code).toBe("E_ABORTED");
    expect((await failed).error.code).toBe("E_ABORTED");
    expect(await backupsOnDisk(dir)).toEqual({ complete: [], incomplete: [] });
    expect(await box.list({ includeIncomplete: true })).toEqual([]);
  });

  it("aborts after the grace period when the run does not finish in time", async () => {
    const { dir, knobs, schedule } = await makeBox();
    knobs.gate = new Promise(() => {});
    const s = schedule({ cron: "0 0 1 1 *", catchUp: false, shutdownGrace: "300ms" });
    const run = s.runNow();
    await until(() => knobs.checks.length === 1);
    const t0 = Date.now();
    await s.stop();
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(1500);
    expect((await run).error?.code).toBe("E_ABORTED");
    expect(await backupsOnDisk(dir)).toEqual({ complete: [], incomplete: [] });
  });

  it("drops a run still in its jitter wait and makes no further retry once stopping", async () => {
    const { box, dir, knobs, schedule } = await makeBox();
    vi.spyOn(Math, "random").mockReturnValue(0.999);
    const skipped = record(box, "schedule:skipped");
    const s = schedule({ cron: "* * * * * *", catchUp: false, jitter: "30s" });
    await until(() => s.running);
    const t0 = Date.now();
    await s.stop();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(skipped.map((k) => k.reason)).toEqual(["stopped"]);
    expect(s.lastRun()?.status).toBe("skipped");

    knobs.failNext = 1;
    const s2 = schedule({ cron: "0 0 1 1 *", catchUp: false, retries: 3, retryDelay: "1m" });
    const run = s2.runNow();
    await until(() => knobs.checks.length === 1);
    const t1 = Date.now();
    await s2.stop();
    expect(Date.now() - t1).toBeLessThan(1000);
    const r = await run;
    // It ends with the attempt's own error, not an abort, and without a second attempt.
    expect(r).toMatchObject({ status: "failed", attempts: 1 });
    expect(r.error?.code).toBe("E_SOURCE");
    expect(knobs.checks).toHaveLength(1);
    expect(await backupsOnDisk(dir)).toEqual({ complete: [], incomplete: [] });
  });

  it("stops when its signal is aborted", async () => {
    const { knobs, schedule } = await makeBox();
    knobs.gate = new Promise(() => {});
    const controller = new AbortController();
    const s = schedule({ cron: "0 0 1 1 *", catchUp: false, signal: controller.signal });
    const run = s.runNow();
    await until(() => knobs.checks.length === 1);
    controller.abort();
    expect((await run).error?.code).toBe("E_ABORTED");
    expect(s.stopped).toBe(true);
  });
});

function existsSomeArtifact(dir: string): boolean {
  for (const d of readdirSync(dir)) {
    const comp = join(dir, d, "memory");
    if (existsSync(comp) && readdirSync(comp).some((f) => !f.startsWith("."))) return true;
  }
  return false;
}
