import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createStrongbox, gzip, local, silentLogger } from "@strongbox/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { qdrant } from "../src/index.js";
import { nativeClient, readCollection, seedCollections } from "./helpers.js";
import { type StandIn, startStandIn } from "./stand-in/server.js";

const PADDING = 240 * 1024 * 1024;
/**
 * Sampled right after a forced GC, so garbage awaiting collection does not count (without it the
 * RSS peak wandered between +50 and +155 MB with GC timing; with it, +25…+45 MB). The stand-in
 * shares this process, so its memory counts too. Both bounds are far below the snapshot's
 * 252 MB: holding the file anywhere fails them.
 */
const MAX_BUFFERS = 100e6;
const MAX_RSS = 150e6;

/** V8's collector, reachable without --expose-gc through a flag set at run time. */
const gc: (() => void) | undefined = (() => {
  try {
    setFlagsFromString("--expose-gc");
    return runInNewContext("gc") as () => void;
  } catch {
    return undefined;
  }
})();

/** Peak growth of RSS and of Buffer memory over a baseline while `fn` runs, sampled every 25 ms. */
async function peakGrowth<T>(
  fn: () => Promise<T>,
  base = process.memoryUsage(),
): Promise<{ value: T; rss: number; buffers: number }> {
  let rss = base.rss;
  let buffers = base.arrayBuffers;
  const sample = () => {
    // A collection first, so the sample sees what is held, not garbage awaiting the next GC.
    gc?.();
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    buffers = Math.max(buffers, m.arrayBuffers);
  };
  const timer = setInterval(sample, 100);
  try {
    const value = await fn();
    sample();
    return { value, rss: rss - base.rss, buffers: buffers - base.arrayBuffers };
  } finally {
    clearInterval(timer);
  }
}

const mb = (n: number) => `${(n / 1e6).toFixed(0)} MB`;

describe("a ≥ 200 MB snapshot streams both ways with bounded memory", () => {
  let server: StandIn;
  let dir: string;
  beforeAll(async () => {
    server = await startStandIn();
    dir = await mkdtemp(join(tmpdir(), "strongbox-qdrant-large-"));
  });
  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("backs up and restores a 240 MiB snapshot with bounded memory both ways", async () => {
    const client = nativeClient(server.url);
    await seedCollections(client, [{ name: "big", dim: 8, points: 50 }]);
    // The stand-in generates the padding entry as it streams: the server side holds no 210 MiB either.
    server.setPadding("big", PADDING);
    const before = await readCollection(client, "big");
    const box = createStrongbox({
      sources: [qdrant({ url: server.url, collections: ["big"] })],
      storage: local({ directory: dir }),
      transforms: [gzip({ level: 1 })],
      logger: silentLogger,
    });
    try {
      const base = process.memoryUsage();
      const backup = await peakGrowth(() => box.backup(), base);
      const artifact = backup.value.components[0]!.artifacts[0]!;
      expect(artifact.plainSize).toBeGreaterThan(PADDING);
      expect(artifact.meta?.checksum).toBe(artifact.plainSha256);
      expect(backup.buffers, `backup Buffer growth ${mb(backup.buffers)}`).toBeLessThan(MAX_BUFFERS);
      expect(backup.rss, `backup RSS growth ${mb(backup.rss)}`).toBeLessThan(MAX_RSS);

      await client.deleteCollection("big");
      // Measured from the same baseline as the backup: memory the backup left behind cannot hide a leak.
      const restore = await peakGrowth(() => box.restore(backup.value.id), base);
      expect(restore.buffers, `restore Buffer growth ${mb(restore.buffers)}`).toBeLessThan(MAX_BUFFERS);
      expect(restore.rss, `restore RSS growth ${mb(restore.rss)}`).toBeLessThan(MAX_RSS);
      expect(server.collections.get("big")?.padding, "the whole file arrived and was recovered").toBe(PADDING);
      expect(await readCollection(client, "big")).toEqual(before);
      console.info(
        `[source-qdrant] ${(artifact.plainSize / 2 ** 20).toFixed(0)} MiB snapshot: backup +${mb(backup.rss)} RSS / +${mb(backup.buffers)} buffers, restore +${mb(restore.rss)} RSS / +${mb(restore.buffers)} buffers`,
      );
    } finally {
      await box.close();
    }
  }, 120_000);
});
