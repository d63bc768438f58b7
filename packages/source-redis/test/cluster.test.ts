import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redis } from "../src/index.js";
import { backupToFiles, restoreCtx } from "./helpers/context.js";
import { startCluster, startRedis, type TestCluster, type TestServer } from "./helpers/servers.js";

let cluster: TestCluster | undefined;
let second: TestCluster | undefined;
let why = "";
try {
  [cluster, second] = await Promise.all([startCluster(), startCluster()]);
} catch (err) {
  why = `cannot start a 3-master Redis Cluster here: ${(err as Error).message}`;
  console.warn(`[source-redis] cluster tests skipped — ${why}`);
}

const N = 5000;

function clientOf(c: TestCluster): Cluster {
  const client = new Cluster(
    c.nodes.map((n) => ({ host: "127.0.0.1", port: n.port })),
    { redisOptions: { maxRetriesPerRequest: 1 } },
  );
  client.on("error", () => {});
  return client;
}

describe.skipIf(!cluster)("redis source: 3-master cluster", () => {
  let src: Cluster;
  let dst: Cluster;
  let single: TestServer;
  let dir: string;

  beforeAll(async () => {
    src = clientOf(cluster!);
    dst = clientOf(second!);
    single = await startRedis();
    dir = await mkdtemp(join(tmpdir(), "sb-redis-cluster-"));
    // Keys spread over every slot range; {tag} keys share a slot.
    const writes: Array<Promise<unknown>> = [];
    for (let i = 0; i < N; i++)
      writes.push(i % 7 === 0 ? src.set(`k:${i}`, `v${i}`, "PX", 3_600_000 + i) : src.set(`k:${i}`, `v${i}`));
    writes.push(
      src.hset("{user:1}:profile", "name", "ada"),
      src.sadd("{user:1}:roles", "admin", "dev"),
      src.zadd("board", 1, "a", 2, "b"),
    );
    writes.push(src.xadd("events", "*", "type", "login"));
    await Promise.all(writes);
  });

  afterAll(async () => {
    src?.disconnect();
    dst?.disconnect();
    await Promise.all([cluster?.stop(), second?.stop(), single?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("backs up every master and restores into another cluster, routing keys by slot", async () => {
    const masters = src.nodes("master");
    expect(masters).toHaveLength(3);
    const perNode = await Promise.all(masters.map((m) => m.dbsize()));
    expect(perNode.every((n) => n > 0)).toBe(true);

    const source = redis({ client: src });
    const stats = await source.inspect!({ signal: new AbortController().signal, logger: console, progress() {} });
    expect(stats.counts).toEqual({ db0: N + 4 });
    expect(stats.info).toMatchObject({ topology: "cluster", masters: 3 });

    const { component, meta } = await backupToFiles(source, dir);
    expect(meta[0]).toMatchObject({ keys: N + 4, perDb: { db0: N + 4 } });

    const target = redis({ client: dst, flush: "db" });
    const res = await target.restore(restoreCtx(component));
    expect(res.details).toMatchObject({ keysRestored: N + 4 });
    const dstMasters = dst.nodes("master");
    const counts = await Promise.all(dstMasters.map((m) => m.dbsize()));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(N + 4);
    expect(counts.every((n) => n > 0)).toBe(true);
    for (const i of [0, 1, 7, 4999]) {
      expect(await dst.get(`k:${i}`)).toBe(`v${i}`);
      expect(await dst.pexpiretime(`k:${i}`)).toBe(await src.pexpiretime(`k:${i}`));
    }
    expect(await dst.hgetall("{user:1}:profile")).toEqual({ name: "ada" });
    expect((await dst.smembers("{user:1}:roles")).sort()).toEqual(["admin", "dev"]);
    expect(await dst.xlen("events")).toBe(1);

    // A cluster backup also restores into a standalone server's db, and a restore test needs one.
    await target.restore(restoreCtx(component, { url: single.url, db: 3 }));
    expect(await single.client(3).dbsize()).toBe(N + 4);
    await expect(source.restoreTest!(restoreCtx(component))).rejects.toMatchObject({ code: "E_CONFIG" });
    const drill = await source.restoreTest!(restoreCtx(component, { url: single.url }));
    expect(drill.ok).toBe(true);
    await source.close?.();
    await target.close?.();
  });
});
