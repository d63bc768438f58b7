import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStrongbox, encrypt, generateIdentity, gzip, local } from "@strongbox/core";
import { sourceSuite } from "@strongbox/testkit";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redis } from "../src/index.js";
import { startRedis, type TestServer } from "./helpers/servers.js";

/** Everything in dbs 0 and 1, read natively: key → [type, value, has-ttl]. */
async function snapshotOf(server: TestServer, dbs = [0, 1]): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const db of dbs) {
    const c = server.client(db);
    for (const key of (await c.keys("*")).sort()) {
      const type = await c.type(key);
      const value =
        type === "string"
          ? await c.get(key)
          : type === "hash"
            ? await c.hgetall(key)
            : type === "list"
              ? await c.lrange(key, 0, -1)
              : type === "set"
                ? (await c.smembers(key)).sort()
                : type === "zset"
                  ? await c.call("ZRANGE", key, 0, -1, "WITHSCORES")
                  : await c.xrange(key, "-", "+");
      out[`db${db}/${key}`] = [type, value, (await c.pttl(key)) > 0];
    }
  }
  return out;
}

async function seedInto(c0: Redis, c1: Redis): Promise<void> {
  await c0.flushdb();
  await c1.flushdb();
  await c0.set("greeting", "hello");
  await c0.set("session", "abc", "PX", 3_600_000);
  await c0.hset("user:1", { name: "ada", role: "admin" });
  await c0.rpush("queue", "a", "b", "c");
  await c0.xadd("events", "1-1", "type", "login");
  await c1.sadd("tags", "x", "y");
  await c1.zadd("scores", 1, "a", 2, "b");
}

let main: TestServer;
let alt: TestServer;
const servers = Promise.all([startRedis(), startRedis()]).then(([a, b]) => {
  main = a;
  alt = b;
});

sourceSuite("redis", async () => {
  await servers;
  return {
    source: redis({ url: main.url, databases: [0, 1], flush: "db" }),
    seed: () => seedInto(main.client(0), main.client(1)),
    snapshot: () => snapshotOf(main),
    async mutate() {
      const c = main.client(0);
      await c.set("greeting", "changed");
      await c.del("queue");
      await c.set("added-later", "1");
      await main.client(1).sadd("tags", "z");
    },
    altTarget: { target: { url: alt.url }, snapshot: () => snapshotOf(alt) },
    cleanup: async () => {
      await Promise.all([main?.stop(), alt?.stop()]);
    },
  };
});

describe("redis source through createStrongbox (gzip + age)", () => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    server = await startRedis();
    dir = await mkdtemp(join(tmpdir(), "sb-redis-box-"));
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("backs up, restores into another db with a dry run first, and records counts", async () => {
    const { identity, recipient } = await generateIdentity();
    const c = server.client(0);
    const p = c.pipeline();
    for (let i = 0; i < 20_000; i++) p.set(`k:${i}`, `v${i}`);
    await p.exec();
    const box = createStrongbox({
      sources: [redis({ url: server.url, databases: [0] })],
      storage: local({ directory: dir }),
      transforms: [gzip(), encrypt({ recipients: [recipient], identities: [identity] })],
    });
    try {
      const manifest = await box.backup();
      const component = manifest.components[0]!;
      expect(component.stats?.counts).toEqual({ db0: 20_000 });
      expect(component.artifacts[0]!.key).toMatch(/\/redis\/keys\.sbrd\.gz\.age$/);
      expect(component.artifacts[0]!.meta).toMatchObject({ keys: 20_000, perDb: { db0: 20_000 } });

      await server.client(6).set("k:1", "old");
      const dry = await box.restore(manifest.id, { dryRun: true, targets: { redis: { db: 6 } } });
      expect(dry.components[0]?.preview?.replaces).toEqual([
        { name: "db6", current: 1, incoming: 20_000, unit: "keys" },
      ]);
      expect(await server.client(6).dbsize()).toBe(1);

      await box.restore(manifest.id, { force: true, targets: { redis: { db: 6 } } });
      expect(await server.client(6).dbsize()).toBe(20_000);
      expect(await server.client(6).get("k:1")).toBe("v1");
      const verified = await box.verify(manifest.id, { mode: "restore-test" });
      expect(verified.ok).toBe(true);
    } finally {
      await box.close();
    }
  });
  it("a db in the source URL does not override the restore target's db", async () => {
    const c0 = server.client(0);
    await c0.flushdb();
    await c0.set("live", "original");
    const box = createStrongbox({ sources: [redis({ url: `${server.url}/0` })], storage: local({ directory: dir }) });
    try {
      const manifest = await box.backup();
      await c0.set("live", "changed since");
      await server.client(7).flushdb();
      const report = await box.restore(manifest.id, { force: true, targets: { redis: { db: 7 } } });
      expect(await server.client(7).get("live")).toBe("original");
      expect(await c0.get("live"), "the live db 0 is untouched").toBe("changed since");
      expect(report.components[0]!.checks).toEqual([{ name: "db0", ok: true, expected: 1, actual: 1 }]);
    } finally {
      await box.close();
    }
  });
});
