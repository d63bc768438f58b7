/**
 * Load. 1,000 backups in one local storage — written straight into the storage layout (artifact +
 * manifest with real hashes, ids spread one per hour over ~42 days), because 1,000 manager backups
 * with fsyncs would take most of the time budget; one of them is restored through the manager to
 * show they are real. list, prune (with a GFS policy, checked against an independent computation
 * of restic's rules) and health stay correct and fast (timings printed). Then 20 concurrent
 * manager backups of distinct data: all complete, and each restores exactly its own data.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type BackupManifest,
  createStrongbox,
  encrypt,
  generateIdentity,
  gzip,
  local,
  newBackupId,
  serializeManifest,
  silentLogger,
} from "@strongbox/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memorySource, removeDir, sha256, tempDir } from "./support/helpers.js";

const N = 1000;
const HOUR = 3_600_000;
const START = Date.UTC(2026, 8, 1, 0, 30); // 2026-09-01T00:30Z; the newest is ~2026-10-12

/** ISO week key (YYYY-Www) of a UTC date. */
function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  return `${t.getUTCFullYear()}-W${Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7)}`;
}

/** restic's forget rules for keepDaily/Weekly/Monthly, written independently of core. */
function expectedKeep(
  ids: Array<{ id: string; time: Date }>,
  policy: { daily: number; weekly: number; monthly: number },
) {
  const rules = [
    { left: policy.daily, bucket: (d: Date) => d.toISOString().slice(0, 10), last: "" },
    { left: policy.weekly, bucket: isoWeek, last: "" },
    { left: policy.monthly, bucket: (d: Date) => d.toISOString().slice(0, 7), last: "" },
  ];
  const keep = new Set<string>();
  const newestFirst = [...ids].sort((a, b) => b.time.getTime() - a.time.getTime());
  for (const b of newestFirst) {
    for (const r of rules) {
      const k = r.bucket(b.time);
      if (r.left > 0 && k !== r.last) {
        r.last = k;
        r.left--;
        keep.add(b.id);
      }
    }
  }
  // keepOldestWhenShort: a rule with count left at the oldest backup keeps it too.
  if (rules.some((r) => r.left > 0)) keep.add(newestFirst[newestFirst.length - 1]!.id);
  return keep;
}

describe("1,000 backups in one storage", () => {
  let root: string;
  let store: string;
  const made: Array<{ id: string; time: Date; data: Buffer }> = [];

  beforeAll(async () => {
    root = await tempDir("load");
    store = join(root, "store");
    const t0 = Date.now();
    for (let i = 0; i < N; i++) {
      const time = new Date(START + i * HOUR);
      const id = newBackupId(time);
      const data = Buffer.from(`backup ${i} ${id}\n`);
      const key = `${id}/data/data.bin`;
      const manifest: BackupManifest = {
        format: "strongbox/1",
        id,
        status: "completed",
        startedAt: time.toISOString(),
        completedAt: time.toISOString(),
        durationMs: 1,
        tags: [],
        host: "load-test",
        tool: { name: "strongbox", version: "0.0.0" },
        components: [
          {
            name: "data",
            type: "memory",
            startedAt: time.toISOString(),
            durationMs: 1,
            artifacts: [
              {
                name: "data.bin",
                key,
                size: data.length,
                sha256: sha256(data),
                plainSize: data.length,
                plainSha256: sha256(data),
                transforms: [],
              },
            ],
          },
        ],
      };
      await mkdir(join(store, id, "data"), { recursive: true, mode: 0o700 });
      await writeFile(join(store, key), data, { mode: 0o600 });
      await writeFile(join(store, id, "manifest.json"), serializeManifest(manifest), { mode: 0o600 });
      made.push({ id, time, data });
    }
    console.info(`[load] wrote ${N} backups into the layout in ${Date.now() - t0} ms`);
  });
  afterAll(() => removeDir(root));

  it("list, health, prune and a restore stay correct and fast", async () => {
    const policy = { daily: 7, weekly: 4, monthly: 2 };
    const src = memorySource("data", () => Buffer.alloc(0));
    const box = createStrongbox({
      sources: [src],
      storage: local({ directory: store }),
      retention: { keepDaily: policy.daily, keepWeekly: policy.weekly, keepMonthly: policy.monthly },
      logger: silentLogger,
    });
    const timings: Record<string, number> = {};
    const time = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      const t = Date.now();
      const r = await fn();
      timings[name] = Date.now() - t;
      return r;
    };

    const listed = await time("list", () => box.list());
    expect(listed).toHaveLength(N);
    expect(listed.map((s) => s.id)).toEqual(made.map((m) => m.id).reverse());
    expect(listed.every((s) => s.complete && s.components.join() === "data")).toBe(true);

    const newest = made[N - 1]!;
    const health = await time("health", () =>
      box.health({ maxAge: "2h", minCount: N, maxTotalSize: "10MB", now: new Date(newest.time.getTime() + HOUR) }),
    );
    expect(health.healthy, JSON.stringify(health.checks)).toBe(true);
    const stale = await box.health({ maxAge: "2h", now: new Date(newest.time.getTime() + 3 * HOUR) });
    expect(stale.healthy).toBe(false);

    // A randomly chosen old backup restores through the manager, byte for byte.
    const pick = made[123]!;
    await time("restore one", () => box.restore(pick.id));
    expect(src.restored?.equals(pick.data)).toBe(true);

    const dry = await time("prune dry run", () =>
      box.prune({ dryRun: true, now: new Date(newest.time.getTime() + HOUR) }),
    );
    const want = expectedKeep(made, policy);
    expect(new Set(dry.storages[0]!.plan.keep.map((k) => k.id))).toEqual(want);
    expect(dry.storages[0]!.deleted).toEqual([]);
    expect(await readdir(store)).toHaveLength(N);

    const pruned = await time("prune", () => box.prune({ now: new Date(newest.time.getTime() + HOUR) }));
    expect(pruned.storages[0]!.errors).toEqual([]);
    expect(pruned.storages[0]!.deleted).toHaveLength(N - want.size);
    // Natively: exactly the kept backups' directories remain.
    expect(new Set(await readdir(store))).toEqual(want);
    expect(new Set((await time("list after prune", () => box.list())).map((s) => s.id))).toEqual(want);

    console.info(`[load] ${N} backups, kept ${want.size}: ${JSON.stringify(timings)} (ms)`);
    expect(timings.list!).toBeLessThan(5_000);
    expect(timings.health!).toBeLessThan(5_000);
    expect(timings.prune!).toBeLessThan(15_000);
  });
});

describe("20 concurrent backup runs", () => {
  let root: string;
  beforeAll(async () => {
    root = await tempDir("concurrent");
  });
  afterAll(() => removeDir(root));

  it("all complete without errors, with distinct ids, and each restores exactly its own data", async () => {
    const { identity, recipient } = generateIdentity();
    const store = join(root, "store");
    const runs = Array.from({ length: 20 }, (_, i) => {
      const data = Buffer.concat([Buffer.from(`run ${i}\n`), randomBytes(64 * 1024 + i * 1000)]);
      const source = memorySource("data", () => data);
      const box = createStrongbox({
        sources: [source],
        storage: local({ directory: store }),
        transforms: [gzip(), encrypt({ recipients: [recipient], identities: [identity] })],
        logger: silentLogger,
      });
      return { data, source, box };
    });
    const t0 = Date.now();
    const manifests = await Promise.all(runs.map((r) => r.box.backup()));
    const elapsed = Date.now() - t0;
    expect(new Set(manifests.map((m) => m.id)).size).toBe(20);
    manifests.forEach((m, i) => {
      expect(m.components[0]!.artifacts[0]!.plainSha256).toBe(sha256(runs[i]!.data));
    });
    expect((await runs[0]!.box.list()).map((s) => s.id).sort()).toEqual(manifests.map((m) => m.id).sort());
    await Promise.all(runs.map((r, i) => r.box.restore(manifests[i]!.id)));
    runs.forEach((r) => {
      expect(r.source.restored?.equals(r.data)).toBe(true);
    });
    console.info(`[load] 20 concurrent backups (gzip + age) completed in ${elapsed} ms`);
  });
});
