import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStrongbox, gzip, isStrongboxError, local, type Strongbox, silentLogger } from "@strongbox/core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type QdrantOptions, qdrant } from "../src/index.js";
import { nativeClient, opContext, readCollections, type SeedSpec, seedCollections } from "./helpers.js";
import { type StandIn, startStandIn } from "./stand-in/server.js";

const SPECS: SeedSpec[] = [
  { name: "docs", dim: 8, points: 400 },
  { name: "notes", dim: 4, points: 50 },
];
const NAMES = SPECS.map((s) => s.name);

describe("qdrant source failures (stand-in server)", () => {
  let server: StandIn;
  let dir: string;
  const boxes: Strongbox[] = [];

  const boxWith = (extra: Partial<QdrantOptions> = {}) => {
    const box = createStrongbox({
      sources: [qdrant({ url: server.url, retryDelayMs: 5, ...extra })],
      storage: local({ directory: dir }),
      transforms: [gzip({ level: 1 })],
      logger: silentLogger,
    });
    boxes.push(box);
    return box;
  };

  beforeAll(async () => {
    server = await startStandIn();
    dir = await mkdtemp(join(tmpdir(), "strongbox-qdrant-fail-"));
  });
  afterAll(async () => {
    await Promise.all(boxes.map((b) => b.close()));
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    for (const k of Object.keys(server.faults)) delete server.faults[k as keyof typeof server.faults];
    await seedCollections(nativeClient(server.url), SPECS);
    server.log.length = 0;
  });

  async function completeIds(box: Strongbox): Promise<string[]> {
    return (await box.list()).map((b) => b.id);
  }

  it("server gone mid-download: E_SOURCE, no complete backup, server snapshot still cleaned up", async () => {
    const box = boxWith();
    const before = await completeIds(box);
    server.faults.dropDownloadAfter = 3_000;
    const err = await box.backup().catch((e) => e);
    expect(isStrongboxError(err, "E_SOURCE"), String(err)).toBe(true);
    expect(err.message).toMatch(
      /\[qdrant\] the download of snapshot docs-\S+ of collection "docs" .* broke off after \d+ of \d+ bytes/,
    );
    expect(await completeIds(box)).toEqual(before);
    delete server.faults.dropDownloadAfter;
    for (const n of NAMES) expect(server.snapshots.get(n)?.size ?? 0, `snapshots of ${n} left on the server`).toBe(0);
  });

  it("checksum mismatch between Qdrant's description and the bytes: E_INTEGRITY, no complete backup", async () => {
    const box = boxWith();
    const before = await completeIds(box);
    server.faults.lieChecksum = true;
    const err = await box.backup().catch((e) => e);
    expect(isStrongboxError(err, "E_INTEGRITY"), String(err)).toBe(true);
    expect(err.message).toMatch(/differs from Qdrant's checksum/);
    expect(await completeIds(box)).toEqual(before);
  });

  it("upload rejected by the server: E_SOURCE with Qdrant's text, the target left as it was", async () => {
    const box = boxWith();
    const client = nativeClient(server.url);
    const manifest = await box.backup();
    await client.delete("docs", { wait: true, points: [1, 2] });
    const changed = await readCollections(client, NAMES);
    server.faults.rejectUploads = "Wrong input: Snapshot is not compatible with this node (api-key=abc123 leaked)";
    const err = await box.restore(manifest.id, { targets: { qdrant: { collections: ["docs"] } } }).catch((e) => e);
    expect(isStrongboxError(err, "E_SOURCE"), String(err)).toBe(true);
    expect(err.message).toMatch(/rejected the snapshot docs\.snapshot/);
    expect(err.message).toMatch(/Snapshot is not compatible/);
    expect(err.message, "server text is redacted").not.toContain("abc123");
    expect(err.message).toMatch(/left as it was/);
    expect(await readCollections(client, NAMES)).toEqual(changed);
  });

  it("a corrupt artifact fails the streamed upload midway and Qdrant keeps the collection as it was", async () => {
    server.setPadding("docs", 4 << 20);
    try {
      const box = boxWith({ collections: ["docs"] });
      const client = nativeClient(server.url);
      const manifest = await box.backup();
      const art = manifest.components[0]!.artifacts[0]!;
      const fh = await open(join(dir, art.key), "r+");
      try {
        const at = Math.floor(art.size / 2);
        const b = Buffer.alloc(1);
        await fh.read(b, 0, 1, at);
        b[0] = b[0]! ^ 0x10;
        await fh.write(b, 0, 1, at);
      } finally {
        await fh.close();
      }
      await client.delete("docs", { wait: true, points: [7] });
      const changed = await readCollections(client, NAMES);
      server.log.length = 0;
      const err = await box.restore(manifest.id).catch((e) => e);
      expect(["E_INTEGRITY", "E_TRUNCATED", "E_FORMAT"]).toContain(err?.code);
      // No pre-read for one collection: the upload itself was under way and was cut off.
      expect(server.log.some((l) => l.startsWith("POST /collections/docs/snapshots/upload"))).toBe(true);
      expect(await readCollections(client, NAMES)).toEqual(changed);
      expect(server.collections.get("docs")?.padding).toBe(4 << 20);
    } finally {
      server.setPadding("docs", 0);
    }
  });

  it("a bad apiKey fails fast with E_SOURCE 'check apiKey', no retries, the key nowhere in the message", async () => {
    const locked = await startStandIn({ apiKey: "right-key-0123456789" });
    try {
      const badKey = "wrong-key-9876543210";
      const source = qdrant({ url: locked.url, apiKey: badKey, retryDelayMs: 200 });
      const t0 = Date.now();
      const err = await source.check!(opContext()).catch((e) => e);
      expect(Date.now() - t0).toBeLessThan(1_000);
      expect(isStrongboxError(err, "E_SOURCE"), String(err)).toBe(true);
      expect(err.message).toMatch(/HTTP 401.*check apiKey/);
      expect(err.message).not.toContain(badKey);
      expect(JSON.stringify(err.details ?? {})).not.toContain(badKey);
      // `GET /` needs no key on Qdrant; `GET /collections` is where a bad key shows. No retry after it.
      expect(locked.log).toEqual(["GET /", "GET /collections"]);
      const box = createStrongbox({
        sources: [source],
        storage: local({ directory: join(dir, "locked") }),
        logger: silentLogger,
      });
      const e2 = await box.backup().catch((e) => e);
      expect(e2.code).toBe("E_SOURCE");
      expect(e2.message).not.toContain(badKey);
      await box.close();
      // The right key works, sent as the api-key header.
      const good = qdrant({ url: locked.url, apiKey: "right-key-0123456789" });
      await expect(good.check!(opContext())).resolves.toBeUndefined();
      await good.close?.();
    } finally {
      await locked.close();
    }
  });

  it("transient 503s are retried with backoff; a persistent one fails after the retries", async () => {
    const box = boxWith({ retries: 3 });
    server.faults.fail = { method: "POST", path: /\/snapshots$/, status: 503, times: 2 };
    const manifest = await box.backup();
    expect(manifest.components[0]!.artifacts).toHaveLength(2);
    expect(server.log.filter((l) => l.startsWith("POST /collections/docs/snapshots?")).length).toBe(3);

    server.log.length = 0;
    server.faults.fail = { method: "GET", path: /^\/collections$/, status: 503, times: 100 };
    const err = await boxWith({ retries: 2 })
      .backup()
      .catch((e) => e);
    expect(isStrongboxError(err, "E_SOURCE"), String(err)).toBe(true);
    expect(err.message).toMatch(/HTTP 503/);
    expect(server.log.filter((l) => l === "GET /collections").length).toBe(3);
  });

  it("an unreachable server is E_SOURCE with a hint", async () => {
    const source = qdrant({ url: "http://127.0.0.1:9", retries: 1, retryDelayMs: 5 });
    const err = await source.check!(opContext()).catch((e) => e);
    expect(isStrongboxError(err, "E_SOURCE"), String(err)).toBe(true);
    expect(err.message).toMatch(/ECONNREFUSED.*reachable/);
  });

  it("an unknown configured collection is E_NOT_FOUND, before anything is stored", async () => {
    const box = boxWith({ collections: ["docs", "ghost"] });
    const err = await box.backup().catch((e) => e);
    expect(isStrongboxError(err, "E_NOT_FOUND"), String(err)).toBe(true);
    expect(err.message).toMatch(/collection "ghost" does not exist/);
    expect(server.log.some((l) => l.includes("/snapshots"))).toBe(false);
  });

  it("bad options are E_CONFIG naming the option", () => {
    expect(() => qdrant({} as QdrantOptions)).toThrow(/missing required option "url"/);
    expect(() => qdrant({ url: "ftp://x" })).toThrow(/http:\/\/ or https:\/\//);
    expect(() => qdrant({ url: "http://x", collections: [] })).toThrow(/"collections" is empty/);
    expect(() => qdrant({ url: "http://x", retries: -1 })).toThrow(/"retries"/);
  });

  it("aborting mid-download stops the backup with E_ABORTED and frees the server snapshot", async () => {
    server.setPadding("docs", 64 << 20);
    try {
      const box = boxWith({ collections: ["docs"] });
      const controller = new AbortController();
      box.on("progress", (p) => {
        if (p.bytes > 1 << 20) controller.abort(new Error("stop"));
      });
      const err = await box.backup({ signal: controller.signal }).catch((e) => e);
      expect(isStrongboxError(err, "E_ABORTED"), String(err)).toBe(true);
      expect(server.snapshots.get("docs")?.size ?? 0).toBe(0);
    } finally {
      server.setPadding("docs", 0);
    }
  });

  it("keepSnapshots leaves the server snapshot; a ready QdrantClient serves the JSON calls", async () => {
    const client = nativeClient(server.url);
    const before = await readCollections(client, NAMES);
    const box = boxWith({ keepSnapshots: true, client });
    const manifest = await box.backup();
    const kept = await client.listSnapshots("docs");
    expect(kept.map((d) => d.name)).toContain(manifest.components[0]!.artifacts[0]!.meta?.snapshot);
    for (const n of NAMES) await client.deleteCollection(n);
    await box.restore(manifest.id);
    expect(await readCollections(client, NAMES)).toEqual(before);
  });
});
