import type { SourceFixture } from "@strongbox/testkit";
import { qdrant } from "../src/index.js";
import { nativeClient, readCollections, type SeedSpec, seedCollections } from "./helpers.js";
import { startStandIn } from "./stand-in/server.js";

export const SPECS: SeedSpec[] = [
  { name: "sb_docs", dim: 8, points: 300 },
  { name: "sb_images", dim: 4, points: 40, named: true, uuids: true },
];
const NAMES = SPECS.map((s) => s.name);
const ALT = { sb_docs: "alt_docs", sb_images: "alt_images" };

/** The sourceSuite fixture: a stand-in server, the adapter, and the official client as the native reader. */
export async function standInFixture(): Promise<SourceFixture> {
  const server = await startStandIn({ version: "1.12.4" });
  const client = nativeClient(server.url);
  return {
    source: qdrant({ url: server.url, collections: NAMES, retryDelayMs: 10 }),
    seed: () => seedCollections(client, SPECS),
    snapshot: () => readCollections(client, NAMES),
    async mutate() {
      await client.upsert("sb_docs", {
        wait: true,
        points: [
          { id: 1, vector: [1, 0, 0, 0, 0, 0, 0, 0], payload: { changed: true } },
          { id: 100_000, vector: [0, 1, 0, 0, 0, 0, 0, 0], payload: { added: true } },
        ],
      });
      await client.delete("sb_images", { wait: true, points: ["00000000-0000-4000-8000-000000000003"] });
    },
    altTarget: {
      target: { collections: ALT },
      async snapshot() {
        const got = await readCollections(client, Object.values(ALT));
        return { sb_docs: got.alt_docs, sb_images: got.alt_images };
      },
      async cleanup() {
        for (const n of Object.values(ALT)) await client.deleteCollection(n).catch(() => undefined);
      },
    },
    cleanup: () => server.close(),
  };
}
