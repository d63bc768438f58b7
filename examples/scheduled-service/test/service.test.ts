import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const exampleDir = new URL("..", import.meta.url).pathname;
const PG = process.env.STRONGBOX_TEST_PG ?? "postgres://postgres@127.0.0.1:5432";
const LOCK_URL = `${PG}/postgres`;
const REDIS_URL = process.env.STRONGBOX_TEST_REDIS ?? "redis://127.0.0.1:6379";
// A lock name of our own: other test files use the same PostgreSQL at the same time.
const LOCK_NAME = `strongbox:example-scheduled-service:${process.pid}:${randomBytes(4).toString("hex")}`;

let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "strongbox-scheduled-"));
  await mkdir(join(dir, "uploads", "docs"), { recursive: true });
  await writeFile(join(dir, "uploads", "docs", "a.txt"), "nightly data\n".repeat(200));
}, 120_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Service {
  child: ChildProcess;
  url: Promise<string>;
  lines: string[];
  exited: Promise<number | null>;
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
}

/** `node src/service.ts` with the given environment; collects its log lines. */
function startService(env: Record<string, string>): Service {
  const child = spawn(process.execPath, ["src/service.ts"], {
    cwd: exampleDir,
    env: { ...process.env, HOST: "127.0.0.1", PORT: "0", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const lines: string[] = [];
  const waiters: Array<{ re: RegExp; resolve(line: string): void }> = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    lines.push(line);
    for (const w of [...waiters])
      if (w.re.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const waitFor = (re: RegExp, timeoutMs = 15_000) => {
    const seen = lines.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line matching ${re} in:\n${lines.join("\n")}`)), timeoutMs);
      waiters.push({
        re,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      void exited.then((code) => reject(new Error(`service exited (${code}) before ${re}:\n${lines.join("\n")}`)));
    });
  };
  const url = waitFor(/healthz on http:/).then((l) => /healthz on (http:\/\/\S+\/healthz)/.exec(l)![1]!);
  return { child, url, lines, exited, waitFor };
}

// biome-ignore lint/suspicious/noExplicitAny: a JSON answer, checked field by field
async function healthz(service: Service): Promise<{ status: number; body: any }> {
  const res = await fetch(await service.url);
  return { status: res.status, body: await res.json() };
}

/** Backup ids in a local storage directory, split by whether their manifest is there. */
async function backupsIn(directory: string): Promise<{ complete: string[]; incomplete: string[] }> {
  const complete: string[] = [];
  const incomplete: string[] = [];
  for (const id of await readdir(directory).catch(() => [] as string[])) {
    const ok = await stat(join(directory, id, "manifest.json")).then(
      () => true,
      () => false,
    );
    (ok ? complete : incomplete).push(id);
  }
  return { complete: complete.sort(), incomplete };
}

describe("examples/scheduled-service", () => {
  it("two replicas back up on the cron once per tick under a PostgreSQL lock, serve /healthz, and stop cleanly on SIGTERM", async () => {
    const backups = join(dir, "backups");
    const env = {
      UPLOADS_DIR: join(dir, "uploads"),
      BACKUP_DIR: backups,
      LOCK_URL,
      LOCK_NAME,
      BACKUP_CRON: "*/2 * * * * *", // croner's 6-field form: every 2 seconds
      HEALTH_MAX_AGE: "1h",
    };
    const a = startService(env);
    const b = startService(env);
    // The first cron-triggered backup, from whichever replica got the lock.
    await Promise.race([a.waitFor(/\(cron, tick .*completed/), b.waitFor(/\(cron, tick .*completed/)]);
    const { complete } = await backupsIn(backups);
    expect(complete.length).toBeGreaterThanOrEqual(1);

    const health = await healthz(a);
    expect(health.status).toBe(200);
    expect(health.body.healthy).toBe(true);
    const names = health.body.checks.map((c: { name: string }) => c.name);
    expect(names).toEqual(expect.arrayContaining(["reachable", "maxAge"]));
    expect(health.body.schedule.nextRun).toBeTruthy();

    // Let a couple more ticks pass, then stop both.
    await new Promise((r) => setTimeout(r, 4_500));
    a.child.kill("SIGTERM");
    b.child.kill("SIGTERM");
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);

    // Every tick was backed up by exactly one replica; the other one skipped it.
    const runs = [...a.lines, ...b.lines].filter((l) => / completed, backup /.test(l));
    const ticks = runs.map((l) => /tick (\S+)\)/.exec(l)?.[1] ?? `catch-up ${l}`);
    expect(new Set(ticks).size, runs.join("\n")).toBe(ticks.length);
    expect(ticks.filter((t) => !t.startsWith("catch-up")).length).toBeGreaterThanOrEqual(2);
    const skips = [...a.lines, ...b.lines].filter((l) => / skipped \(.*\): (locked|already-done) /.test(l));
    expect(skips.length).toBeGreaterThanOrEqual(1);
    // Natively: nothing left incomplete by the shutdown, and retention (prune after each run) kept
    // the newest backup of the day plus the oldest one (restic's keepOldestWhenShort), removing
    // the ones in between.
    const after = await backupsIn(backups);
    expect(after.incomplete).toEqual([]);
    const made = runs.map((l) => /backup (\S+) in /.exec(l)![1]!).sort();
    expect(made.length).toBeGreaterThanOrEqual(3);
    for (const id of after.complete) expect(made).toContain(id);
    expect(after.complete).toContain(made.at(-1));
    expect(after.complete).toContain(made[0]);
    expect(after.complete.length).toBeLessThan(made.length);

    // The advisory lock was released: we can take it ourselves now.
    const client = new pg.Client({ connectionString: LOCK_URL });
    await client.connect();
    try {
      const got = await client.query("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [LOCK_NAME]);
      expect(got.rows[0].ok).toBe(true);
      await client.query("SELECT pg_advisory_unlock(hashtext($1))", [LOCK_NAME]);
    } finally {
      await client.end();
    }
  }, 30_000);

  it("takes its lock in Redis with a redis:// LOCK_URL: skips while another holder has it, releases it on SIGTERM", async () => {
    const backups = join(dir, "redis-locked-backups");
    const name = `${LOCK_NAME}:redis`;
    const redis = new Redis(REDIS_URL); // the machine's Redis: only this uniquely named key is touched
    try {
      await redis.set(name, "another-replica", "PX", 60_000); // someone else holds the lease
      const svc = startService({
        UPLOADS_DIR: join(dir, "uploads"),
        BACKUP_DIR: backups,
        LOCK_URL: REDIS_URL,
        LOCK_NAME: name,
        BACKUP_CRON: "* * * * * *",
        BACKUP_CATCH_UP: "false",
      });
      await svc.waitFor(/skipped \(cron, tick .*\): locked/);
      expect((await backupsIn(backups)).complete).toEqual([]);
      await redis.del(name); // the other holder is gone
      await svc.waitFor(/\(cron, tick .*completed/);
      svc.child.kill("SIGTERM");
      expect(await svc.exited).toBe(0);
      expect((await backupsIn(backups)).complete.length).toBeGreaterThanOrEqual(1);
      expect(await redis.exists(name)).toBe(0); // released (token-checked DEL), not left to expire
    } finally {
      await redis.del(name);
      redis.disconnect();
    }
  }, 20_000);

  it("on SIGTERM mid-backup, aborts it after SHUTDOWN_GRACE and leaves nothing half-written", async () => {
    const big = join(dir, "big-uploads");
    await mkdir(big, { recursive: true });
    // Incompressible data, so the backup takes a few seconds on this machine.
    for (let i = 0; i < 6; i++) await writeFile(join(big, `blob-${i}.bin`), randomBytes(16 << 20));
    const backups = join(dir, "aborted-backups");
    const svc = startService({
      UPLOADS_DIR: big,
      BACKUP_DIR: backups,
      LOCK_URL,
      LOCK_NAME: `${LOCK_NAME}:abort`,
      SHUTDOWN_GRACE: "200ms",
    });
    await svc.waitFor(/\(catch-up.*\): started/); // nothing in storage yet: a catch-up run starts at once
    // Wait until the backup is really writing (its folder exists), then ask it to stop.
    const deadline = Date.now() + 10_000;
    while ((await backupsIn(backups)).incomplete.length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect((await backupsIn(backups)).incomplete.length).toBe(1);
    svc.child.kill("SIGTERM");
    expect(await svc.exited).toBe(0);
    expect(
      svc.lines.some((l) => /FAILED .*: E_ABORTED /.test(l)),
      svc.lines.join("\n"),
    ).toBe(true);
    // Not one object of the aborted backup is left (local storage may keep the emptied folders).
    const left = (await readdir(backups, { recursive: true, withFileTypes: true })).filter((e) => !e.isDirectory());
    expect(left.map((e) => join(e.parentPath, e.name))).toEqual([]);
    await rm(big, { recursive: true, force: true });
  }, 30_000);

  it("answers 503 on /healthz when the newest backup is older than maxAge", async () => {
    const backups = join(dir, "stale-backups");
    // Only one backup, from January 2025 (listing alone decides its age: the id holds its time).
    const old = "20250101T020000Z-22olda";
    await mkdir(join(backups, old, "uploads"), { recursive: true });
    await writeFile(join(backups, old, "uploads", "uploads.tar.gz"), "old");
    await writeFile(
      join(backups, old, "manifest.json"),
      JSON.stringify({ format: "strongbox/1", id: old, status: "completed", components: [] }),
    );
    const svc = startService({
      UPLOADS_DIR: join(dir, "uploads"),
      BACKUP_DIR: backups,
      LOCK_URL,
      LOCK_NAME: `${LOCK_NAME}:stale`,
      BACKUP_CATCH_UP: "false", // otherwise it would make up the missed night at once and be healthy
      HEALTH_MAX_AGE: "26h",
    });
    const health = await healthz(svc);
    expect(health.status).toBe(503);
    expect(health.body.healthy).toBe(false);
    const maxAge = health.body.checks.find((c: { name: string }) => c.name === "maxAge");
    expect(maxAge).toMatchObject({ ok: false });
    expect(maxAge.message).toContain(old);
    expect(health.body.schedule.lastRun).toBeNull();
    svc.child.kill("SIGTERM");
    expect(await svc.exited).toBe(0);
    expect((await backupsIn(backups)).complete).toEqual([old]); // nothing ran, nothing was pruned
  }, 20_000);
});
