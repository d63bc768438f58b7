import { QdrantClient } from "@qdrant/js-client-rest";
import type { BackupContext, OperationContext, RestoreContext } from "@strongbox/core";
import { silentLogger } from "@strongbox/core";

/** The official client, pointed at a (stand-in or real) server; it proves the server speaks the real API. */
export function nativeClient(url: string, apiKey?: string): QdrantClient {
  const u = new URL(url);
  // The client warns on an API key over http; tests run on loopback, so silence only that.
  const warn = console.warn;
  if (apiKey && u.protocol === "http:") console.warn = () => {};
  try {
    return new QdrantClient({ url, ...(apiKey ? { apiKey } : {}), checkCompatibility: false });
  } finally {
    console.warn = warn;
  }
}

export interface SeedSpec {
  name: string;
  dim: number;
  points: number;
  /** Named vectors instead of one unnamed vector. */
  named?: boolean;
  /** Point ids as UUIDs instead of integers. */
  uuids?: boolean;
}

function uuidFor(i: number): string {
  const h = i.toString(16).padStart(12, "0");
  return `00000000-0000-4000-8000-${h}`;
}

/** (Re)creates collections through the native client and fills them with deterministic points. */
export async function seedCollections(client: QdrantClient, specs: SeedSpec[], salt = 0): Promise<void> {
  for (const s of specs) {
    if ((await client.collectionExists(s.name)).exists) await client.deleteCollection(s.name);
    await client.createCollection(s.name, {
      vectors: s.named
        ? { text: { size: s.dim, distance: "Cosine" }, image: { size: 2, distance: "Dot" } }
        : { size: s.dim, distance: "Cosine" },
    });
    const points = Array.from({ length: s.points }, (_, i) => {
      const v = Array.from({ length: s.dim }, (_, d) => Number((((i + 1) * (d + 3) + salt) % 97) / 97));
      return {
        id: s.uuids ? uuidFor(i) : i + 1,
        vector: s.named ? { text: v, image: [i % 5, salt % 7] } : v,
        payload: { title: `${s.name} #${i}`, tags: [i % 3, "x"], nested: { n: i * salt } },
      };
    });
    for (let i = 0; i < points.length; i += 256)
      await client.upsert(s.name, { wait: true, points: points.slice(i, i + 256) });
  }
}

/** Everything a collection holds, read with scroll: comparable with toEqual. `null` when missing. */
export async function readCollection(client: QdrantClient, name: string): Promise<unknown> {
  if (!(await client.collectionExists(name)).exists) return null;
  const info = await client.getCollection(name);
  const points: unknown[] = [];
  let offset: string | number | undefined;
  for (;;) {
    const page = await client.scroll(name, {
      limit: 100,
      with_payload: true,
      with_vector: true,
      ...(offset !== undefined ? { offset } : {}),
    });
    points.push(...page.points);
    if (page.next_page_offset === null || page.next_page_offset === undefined) break;
    offset = page.next_page_offset as string | number;
  }
  return { vectors: info.config.params.vectors, count: (await client.count(name, { exact: true })).count, points };
}

export async function readCollections(client: QdrantClient, names: string[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const n of names) out[n] = await readCollection(client, n);
  return out;
}

export function opContext(signal: AbortSignal = new AbortController().signal): OperationContext {
  return { signal, logger: silentLogger, progress() {} };
}

export type { BackupContext, RestoreContext };
