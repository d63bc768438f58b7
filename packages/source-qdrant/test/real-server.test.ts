import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStrongbox, gzip, local, silentLogger } from "@strongbox/core";
import { sourceSuite } from "@strongbox/testkit";
import { describe, expect, it } from "vitest";
import { qdrant, RESTORE_TEST_PREFIX } from "../src/index.js";
import { nativeClient, readCollection, readCollections, seedCollections } from "./helpers.js";

// Runs against a real Qdrant when QDRANT_URL is set (e.g. `docker run -p 6333:6333 qdrant/qdrant`),
// with QDRANT_API_KEY when the server wants one. It only touches collections it names itself.
const url = process.env.QDRANT_URL;
const apiKey = process.env.QDRANT_API_KEY;
if (!url)
  console.warn("[source-qdrant] real-server suite skipped: set QDRANT_URL (and QDRANT_API_KEY if needed) to run it");

const tag = randomBytes(4).toString("hex");
const specs = [
  { name: `strongbox_it_docs_${tag}`, dim: 8, points: 300 },
  { name: `strongbox_it_images_${tag}`, dim: 4, points: 40, named: true, uuids: true },
];
const names = specs.map((s) => s.name);

describe.skipIf(!url)("qdrant source against a real server (QDRANT_URL)", () => {
  it("round trip with a rename; restore-test leaves no scratch collection", async () => {
    const client = nativeClient(url!, apiKey);
    const dir = await mkdtemp(join(tmpdir(), "strongbox-qdrant-real-"));
    const box = createStrongbox({
      sources: [qdrant({ url: url!, ...(apiKey ? { apiKey } : {}), collections: names })],
      storage: local({ directory: dir }),
      transforms: [gzip({ level: 1 })],
      logger: silentLogger,
    });
    try {
      await seedCollections(client, specs);
      const before = await readCollections(client, names);
      const manifest = await box.backup();
      const copy = `${names[0]}_copy`;
      await box.restore(manifest.id, { targets: { qdrant: { collections: { [names[0]!]: copy } } } });
      expect(await readCollection(client, copy)).toEqual(before[names[0]!]);
      const verified = await box.verify(manifest.id, { mode: "restore-test" });
      expect(verified.ok, JSON.stringify(verified.components)).toBe(true);
      const left = (await client.getCollections()).collections.map((c) => c.name);
      expect(left.filter((n) => n.startsWith(RESTORE_TEST_PREFIX))).toEqual([]);
      await client.deleteCollection(copy);
    } finally {
      await box.close();
      for (const n of names) await client.deleteCollection(n).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

if (url) {
  sourceSuite(
    "qdrant (real server)",
    async () => {
      const client = nativeClient(url, apiKey);
      const alt = Object.fromEntries(names.map((n) => [n, `${n}_alt`]));
      return {
        source: qdrant({ url, ...(apiKey ? { apiKey } : {}), collections: names }),
        seed: () => seedCollections(client, specs),
        snapshot: () => readCollections(client, names),
        async mutate() {
          await client.upsert(names[0]!, {
            wait: true,
            points: [{ id: 1, vector: [1, 0, 0, 0, 0, 0, 0, 0], payload: { changed: true } }],
          });
          await client.delete(names[1]!, { wait: true, points: ["00000000-0000-4000-8000-000000000003"] });
        },
        altTarget: {
          target: { collections: alt },
          async snapshot() {
            const got = await readCollections(client, Object.values(alt));
            return Object.fromEntries(names.map((n) => [n, got[alt[n]!]]));
          },
          async cleanup() {
            for (const n of Object.values(alt)) await client.deleteCollection(n).catch(() => undefined);
          },
        },
        async cleanup() {
          for (const n of names) await client.deleteCollection(n).catch(() => undefined);
        },
      };
    },
    { timeoutMs: 300_000 },
  );
}
