import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { StrongboxError } from "@strongbox/core";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redis } from "../src/index.js";
import { backupCtx, backupToFiles, restoreCtx } from "./helpers/context.js";
import { startRedis, startSentinel, type TestServer } from "./helpers/servers.js";

async function seed(c: Redis, prefix: string, n: number, valueBytes = 16): Promise<void> {
  const v = "v".repeat(valueBytes);
  for (let s = 0; s < n; s += 5000) {
    const p = c.pipeline();
    for (let i = s; i < Math.min(n, s + 5000); i++) p.set(`${prefix}:${i}`, v);
    await p.exec();
  }
}

/** Reads a stream to the end; resolves with bytes, rejects with the stream's error. */
async function drain(stream: Readable, onChunk?: (n: number) => void | Promise<void>): Promise<number> {
  let n = 0;
  for await (const c of stream) {
    n += (c as Buffer).length;
    await onChunk?.(n);
  }
  return n;
}

describe("redis source: failures and edge cases", () => {
  let a: TestServer;
  let b: TestServer;
  let dir: string;

  beforeAll(async () => {
    [a, b] = await Promise.all([startRedis(), startRedis()]);
    dir = await mkdtemp(join(tmpdir(), "sb-redis-fail-"));
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("rejects bad options with E_CONFIG naming them", () => {
    expect(() => redis(undefined as never)).toThrow(StrongboxError);
    expect(() => redis({})).toThrow(/exactly one of "url", "client" or "options"/);
    expect(() => redis({ url: a.url, options: {} })).toThrow(/exactly one/);
    expect(() => redis({ url: "http://x" })).toThrow(/redis:\/\//);
    expect(() => redis({ url: a.url, batchSize: 0 })).toThrow(/batchSize/);
    expect(() => redis({ url: a.url, mode: "x" as never })).toThrow(/mode/);
  });

  it("fails with E_SOURCE when the server goes away mid-backup", async () => {
    const victim = await startRedis();
    try {
      await seed(victim.client(), "k", 30_000, 200);
      const source = redis({ url: victim.url, batchSize: 500 });
      const [artifact] = await collect(source.backup(backupCtx()));
      let killed = false;
      const t0 = Date.now();
      const err = await drain(artifact!.stream, async () => {
        if (!killed) {
          killed = true;
          victim.process.kill("SIGKILL");
          await new Promise((r) => setTimeout(r, 50));
        }
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StrongboxError);
      expect((err as StrongboxError).code).toBe("E_SOURCE");
      expect((err as Error).message).toMatch(/^\[strongbox\] \[redis\] backup of 127\.0\.0\.1:\d+ failed/);
      expect(Date.now() - t0).toBeLessThan(15_000);
      await expect(artifact!.done!()).rejects.toMatchObject({ code: "E_SOURCE" });
      await source.close?.();
    } finally {
      await victim.stop();
    }
  });

  it("fails with E_SOURCE on a wrong ACL password, and never shows it", async () => {
    // No scripting for this user: the batched-script path must fall back to pipelines.
    await a.client().call("ACL", "SETUSER", "backup", "on", ">right-pass-123", "~*", "+@all", "-@scripting");
    await a.client().set("acl:probe", "1");
    const wrong = redis({ url: `redis://backup:wrong-pass-456@127.0.0.1:${a.port}` });
    const err = await collect(wrong.backup(backupCtx())).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_SOURCE" });
    expect((err as Error).message).toMatch(/WRONGPASS|invalid username-password/);
    expect((err as Error).message).not.toContain("wrong-pass-456");
    await expect(wrong.check!(backupCtx())).rejects.toMatchObject({ code: "E_SOURCE" });
    await wrong.close?.();
    // The same user with the right password works.
    const right = redis({
      options: { host: "127.0.0.1", port: a.port, username: "backup", password: "right-pass-123" },
      databases: [0],
    });
    const { meta, component } = await backupToFiles(right, dir);
    expect(meta[0]?.keys).toBeGreaterThanOrEqual(1);
    await right.restore(restoreCtx(component, { db: 15, flush: "db" }));
    expect(await a.client(15).get("acl:probe")).toBe("1");
    expect(await a.client(15).dbsize()).toBe(await a.client(0).dbsize());
    await a.client(15).flushdb();
    await right.close?.();
  });

  it("refuses a target older than the dump's RDB version before writing anything", async () => {
    const c = a.client(4);
    await c.flushdb();
    await c.set("x", "1");
    const source = redis({ url: a.url, databases: [4] });
    const { component } = await backupToFiles(source, dir);
    const file = component.artifacts[0]!.key;
    const bytes = readFileSync(file);
    bytes.writeUInt16BE(99, 10); // header: RDB version of the payloads
    writeFileSync(file, bytes);
    const target = b.client(4);
    await target.set("keep", "me");
    const err = await source.restore(restoreCtx(component, { url: b.url, flush: "db" })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_SOURCE" });
    expect((err as Error).message).toMatch(/older than the backup's RDB version 99.*nothing was written/);
    expect(await target.dbsize()).toBe(1);
    expect(await target.get("keep")).toBe("me");
    await source.close?.();
  });

  it("detects a truncated artifact on restore", async () => {
    const c = a.client(5);
    await c.flushdb();
    await seed(c, "t", 100);
    const source = redis({ url: a.url, databases: [5] });
    const { component } = await backupToFiles(source, dir);
    const file = component.artifacts[0]!.key;
    writeFileSync(file, readFileSync(file).subarray(0, -30));
    await expect(source.restore(restoreCtx(component, { url: b.url }))).rejects.toMatchObject({ code: "E_TRUNCATED" });
    await source.close?.();
  });

  it("stops with E_ABORTED when aborted mid-backup and mid-restore", async () => {
    const c = a.client(6);
    await c.flushdb();
    await seed(c, "ab", 20_000, 100);
    const source = redis({ url: a.url, databases: [6], batchSize: 200 });
    const ac = new AbortController();
    const [artifact] = await collect(source.backup(backupCtx({ signal: ac.signal })));
    const err = await drain(artifact!.stream, () => ac.abort()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_ABORTED" });

    const { component } = await backupToFiles(source, dir);
    const rc = new AbortController();
    const ctx = restoreCtx(
      component,
      { url: b.url, dbMap: { 6: 6 } },
      { signal: rc.signal, progress: () => rc.abort() },
    );
    setTimeout(() => rc.abort(), 5);
    await expect(source.restore(ctx)).rejects.toMatchObject({ code: "E_ABORTED" });
    expect(await b.client(6).dbsize()).toBeLessThan(20_000);
    await source.close?.();
  });

  it("maps databases: one db → target db, several → dbMap; a single db for several is E_CONFIG", async () => {
    await a.client(7).flushdb();
    await a.client(8).flushdb();
    await a.client(7).set("seven", "7");
    await a.client(8).set("eight", "8");
    const one = redis({ url: `${a.url}/7` }); // the url's db is the one backed up
    const single = await backupToFiles(one, dir);
    await one.restore(restoreCtx(single.component, { url: b.url, db: 11 }));
    expect(await b.client(11).get("seven")).toBe("7");

    const two = redis({ url: a.url, databases: [7, 8] });
    const both = await backupToFiles(two, dir);
    await expect(two.restore(restoreCtx(both.component, { url: b.url, db: 3 }))).rejects.toMatchObject({
      code: "E_CONFIG",
      message: expect.stringContaining("dbMap"),
    });
    await two.restore(restoreCtx(both.component, { url: b.url, dbMap: { 7: 12, 8: 13 } }));
    expect(await b.client(12).get("seven")).toBe("7");
    expect(await b.client(13).get("eight")).toBe("8");
    await one.close?.();
    await two.close?.();
  });

  it("skips keys whose expiry passed (absolute), or keeps the time left (relative)", async () => {
    const c = a.client(9);
    await c.flushdb();
    await c.set("short", "1", "PX", 300);
    await c.set("long", "1", "PX", 600_000);
    await c.set("forever", "1");
    const source = redis({ url: a.url, databases: [9] });
    const { component } = await backupToFiles(source, dir);
    await new Promise((r) => setTimeout(r, 400));
    const t = b.client(9);
    const res = await source.restore(restoreCtx(component, { url: b.url, flush: "db" }));
    expect(res.details).toMatchObject({ keysRestored: 2, skippedExpired: 1 });
    expect(await t.exists("short")).toBe(0);
    expect(await t.pexpiretime("long")).toBe(await c.pexpiretime("long"));
    expect(await t.pttl("forever")).toBe(-1);

    const rel = await source.restore(restoreCtx(component, { url: b.url, flush: "db", ttlMode: "relative" }));
    expect(rel.details).toMatchObject({ keysRestored: 3, skippedExpired: 0 });
    const left = await t.pttl("short");
    expect(left).toBeGreaterThan(150);
    expect(left).toBeLessThanOrEqual(300);
    await source.close?.();
  });

  it("counts keys that vanish between SCAN and DUMP, and filters by type", async () => {
    const c = a.client(10);
    await c.flushdb();
    await seed(c, "gone", 3000, 1000);
    await c.hset("h", "a", "1");
    const source = redis({ url: a.url, databases: [10], batchSize: 100, scanCount: 5000 });
    const [artifact] = await collect(source.backup(backupCtx()));
    let deleted = false;
    await drain(artifact!.stream, async () => {
      if (!deleted) {
        deleted = true;
        await c.flushdb();
      }
    });
    const meta = (await artifact!.done!()) as Record<string, number>;
    expect(meta.skippedVanished).toBeGreaterThan(0);
    expect(meta.keys! + meta.skippedVanished!).toBe(3001);
    await source.close?.();

    await seed(c, "s", 10);
    await c.hset("h", "a", "1");
    await c.rpush("l", "x");
    const typed = redis({ url: a.url, databases: [10], types: ["hash", "list"] });
    const { meta: tm } = await backupToFiles(typed, dir);
    expect(tm[0]).toMatchObject({ keys: 2, skippedByType: 10 });
    const one = redis({ url: a.url, databases: [10], types: ["hash"], match: "h*" });
    const { meta: om } = await backupToFiles(one, dir);
    expect(om[0]).toMatchObject({ keys: 1 });
    await typed.close?.();
    await one.close?.();
  });

  it("works through Sentinel (ioredis options)", async () => {
    const sentinel = await startSentinel(a.port);
    try {
      await a.client(12).flushdb();
      await a.client(12).set("via", "sentinel");
      const source = redis({
        options: { sentinels: [{ host: "127.0.0.1", port: sentinel.port }], name: "mymaster" },
        databases: [12],
      });
      expect((await source.inspect!(backupCtx())).counts).toEqual({ db12: 1 });
      const { meta, component } = await backupToFiles(source, dir);
      expect(meta[0]).toMatchObject({ keys: 1 });
      await source.restore(restoreCtx(component, { url: b.url, db: 12 }));
      expect(await b.client(12).get("via")).toBe("sentinel");
      await source.close?.();
    } finally {
      await sentinel.stop();
    }
  });

  it("takes a safety backup of the restore target and rolls back with it exactly", async () => {
    const t = b.client(14);
    await t.flushdb();
    await t.set("before", "1");
    const source = redis({ url: a.url });
    const safety = await backupToFiles(source, dir, backupCtx({ target: { url: b.url, db: 14 } }));
    expect(safety.meta[0]).toMatchObject({ databases: [14], keys: 1 });
    await t.set("written-by-failed-restore", "x");
    await t.set("before", "changed");
    await source.restore(restoreCtx(safety.component, { url: b.url, db: 14 }));
    expect(await t.keys("*")).toEqual(["before"]);
    expect(await t.get("before")).toBe("1");
    await source.close?.();
  });
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
