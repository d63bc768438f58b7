import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lockSuite } from "@strongbox/testkit";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  createStrongbox,
  type Lock,
  local,
  memoryLock,
  type Schedule,
  type Source,
  StrongboxError,
  type StrongboxEvents,
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
  const d = await mkdtemp(join(tmpdir(), "strongbox-lock-"));
  dirs.push(d);
  return d;
}

function store(): MemoryStore {
  const s = new MemoryStore();
  s.get().set("alpha", randomBytes(40_000));
  return s;
}

async function completeBackups(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir)) {
    if (/^\d{8}T\d{6}Z-/.test(e) && (await readdir(join(dir, e))).includes("manifest.json")) out.push(e);
  }
  return out.sort();
}

/** One "replica": its own manager over the SAME storage directory, scheduling with `lock`. */
function replica(dir: string, source: Source, lock: Lock, extra: Record<string, unknown> = {}) {
  const box = createStrongbox({ sources: [source], storage: local({ directory: dir }), logger: silentLogger });
  const completed: Array<StrongboxEvents["schedule:run-completed"]> = [];
  const skipped: Array<StrongboxEvents["schedule:skipped"]> = [];
  const failed: Array<StrongboxEvents["schedule:run-failed"]> = [];
  box.on("schedule:run-completed", (e) => completed.push(e));
  box.on("schedule:skipped", (e) => skipped.push(e));
  box.on("schedule:run-failed", (e) => failed.push(e));
  const schedule = box.schedule({ cron: "* * * * * *", catchUp: false, lock, lockTtl: "5s", ...extra });
  schedules.push(schedule);
  return { box, schedule, completed, skipped, failed };
}

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sharedMemoryLock = memoryLock();
// One process: both "replicas" share the same in-memory lock.
lockSuite("memoryLock", () => ({ lock: sharedMemoryLock, other: sharedMemoryLock, expires: true }));

describe("schedules with a lock", () => {
  it("a replica that gets the lock after the other finished the tick skips it as already done", async () => {
    const dir = await tempDir();
    const s = store();
    const lock = memoryLock();
    vi.spyOn(Math, "random").mockReturnValue(0.999);
    const fast = replica(dir, memorySource(s), lock);
    // Jitter makes this one arrive ~600 ms late, when the lock is free again.
    const late = replica(dir, memorySource(s), lock, { jitter: "600ms" });
    await until(() => late.skipped.length >= 1 && fast.completed.length >= 1);
    await Promise.all([fast.schedule.stop({ abort: true }), late.schedule.stop({ abort: true })]);
    expect(late.skipped[0]!.reason).toBe("already-done");
    expect(late.skipped[0]!.message).toContain(fast.completed[0]!.backupId);
    expect(late.completed).toEqual([]);
  });

  it("skips with E_LOCKED (not a failure) while another process holds the lock", async () => {
    const dir = await tempDir();
    const lock = memoryLock();
    const held = await lock.acquire("strongbox:backup", { ttlMs: 60_000 });
    const r = replica(dir, memorySource(store()), lock, { cron: "0 0 1 1 *" });
    const rec = await r.schedule.runNow();
    expect(rec.status).toBe("skipped");
    expect(rec.skip?.reason).toBe("locked");
    expect(r.skipped[0]).toMatchObject({ reason: "locked", code: "E_LOCKED", trigger: "manual" });
    expect(r.failed).toEqual([]);
    const health = await r.box.health();
    expect(health.checks.find((c) => c.name === "lastRun")?.ok).toBe(true);
    expect(await completeBackups(dir)).toEqual([]);
    await held!.release();
    expect((await r.schedule.runNow()).status).toBe("completed");
    // The run released the lock afterwards.
    expect(await lock.acquire("strongbox:backup", { ttlMs: 1000 })).toBeDefined();
  });

  it("renews the lease while a run is in flight and releases it after", async () => {
    const dir = await tempDir();
    const inner = memoryLock();
    const calls = { renew: 0, release: 0 };
    const spy: Lock = {
      type: "spy",
      async acquire(name, o) {
        const lease = await inner.acquire(name, o);
        if (!lease) return lease;
        return {
          token: lease.token,
          renew: () => {
            calls.renew++;
            return lease.renew();
          },
          release: () => {
            calls.release++;
            return lease.release();
          },
        };
      },
    };
    const source: Source = {
      ...memorySource(store()),
      async check() {
        await new Promise((r) => setTimeout(r, 1200));
      },
    };
    // ttl 1.2 s → renewed every 500 ms (the floor); a 1.2 s run sees two renewals, and no expiry.
    const r = replica(dir, source, spy, { cron: "0 0 1 1 *", lockTtl: "1200ms" });
    const rec = await r.schedule.runNow();
    expect(rec.status).toBe("completed");
    expect(calls.renew).toBeGreaterThanOrEqual(2);
    expect(calls.release).toBe(1);
    const renewsAtEnd = calls.renew;
    await new Promise((r) => setTimeout(r, 600));
    expect(calls.renew).toBe(renewsAtEnd);
  });

  it("fails the run (never runs unprotected) when the lock backend is down", async () => {
    const dir = await tempDir();
    const broken: Lock = {
      type: "broken",
      async acquire() {
        throw new StrongboxError("E_SOURCE", "lock server unreachable", { adapter: "broken" });
      },
    };
    const r = replica(dir, memorySource(store()), broken, { cron: "0 0 1 1 *" });
    const rec = await r.schedule.runNow();
    expect(rec.status).toBe("failed");
    expect(rec.error?.message).toContain("lock server unreachable");
    expect(rec.attempts).toBe(0);
    expect(await completeBackups(dir)).toEqual([]);
  });
});
