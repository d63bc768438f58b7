import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  createStrongbox,
  encrypt,
  generateIdentity,
  gzip,
  isStrongboxError,
  local,
  type Strongbox,
  silentLogger,
} from "@strongbox/core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { qdrant, RESTORE_TEST_PREFIX } from "../src/index.js";
import { nativeClient, readCollection, readCollections, type SeedSpec, seedCollections } from "./helpers.js";
import { type StandIn, startStandIn } from "./stand-in/server.js";

const SPECS: SeedSpec[] = [
  { name: "docs", dim: 16, points: 700 },
  { name: "images", dim: 6, points: 120, named: true, uuids: true },
  { name: "empty", dim: 3, points: 0 },
];
const NAMES = SPECS.map((s) => s.name);

const run = promisify(execFile);

function hasTool(name: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("qdrant source through createStrongbox (stand-in server)", () => {
  let server: StandIn;
  let dir: string;
  let box: Strongbox;
  const key = generateIdentity();
  const warnings: string[] = [];

  beforeAll(async () => {
    server = await startStandIn({ version: "1.12.4" });
    dir = await mkdtemp(join(tmpdir(), "strongbox-qdrant-"));
    box = createStrongbox({
      sources: [qdrant({ url: server.url, retryDelayMs: 10 })],
      storage: local({ directory: join(dir, "store") }),
      transforms: [gzip({ level: 1 }), encrypt({ recipients: [key.recipient], identities: [key.identity] })],
      logger: silentLogger,
    });
    box.on("warning", (w) => warnings.push(w.message));
  });
  afterAll(async () => {
    await box?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    warnings.length = 0;
    server.faults.rejectUploads = undefined;
    for (const n of [...server.collections.keys()]) server.collections.delete(n);
    await seedCollections(nativeClient(server.url), SPECS);
    server.log.length = 0;
  });

  it("backs up every collection (gzip + age), records Qdrant's facts, deletes the server snapshots, restores exactly", async () => {
    const client = nativeClient(server.url);
    const before = await readCollections(client, NAMES);
    const manifest = await box.backup();
    const c = manifest.components[0]!;
    expect(c.type).toBe("qdrant");
    expect(c.stats?.version).toBe("1.12.4");
    expect(c.stats?.counts).toEqual({ docs: 700, images: 120, empty: 0 });
    const infos = c.stats?.info?.collections as Record<string, { status: string; vectors: unknown }>;
    expect(infos.docs).toMatchObject({ status: "green", vectors: { size: 16, distance: "Cosine" } });
    expect(Object.keys(infos.images!.vectors as object).sort()).toEqual(["image", "text"]);
    expect(c.artifacts.map((a) => a.name).sort()).toEqual(["docs.snapshot", "empty.snapshot", "images.snapshot"]);
    for (const a of c.artifacts) {
      // Qdrant's checksum is the sha256 of the snapshot file, i.e. of our plaintext.
      expect(a.meta?.checksum).toBe(a.plainSha256);
      expect(a.meta?.size).toBe(a.plainSize);
      expect(a.key.endsWith(".snapshot.gz.age")).toBe(true);
    }
    for (const n of NAMES) expect(await client.listSnapshots(n), "server snapshot deleted").toEqual([]);

    for (const n of NAMES) await client.deleteCollection(n);
    await client.upsert("docs", { wait: true, points: [] }).catch(() => undefined);
    const report = await box.restore(manifest.id);
    expect(await readCollections(client, NAMES)).toEqual(before);
    const r = report.components[0]!;
    expect(r.result?.stats?.counts).toEqual({ docs: 700, images: 120, empty: 0 });
    expect(r.checks?.every((x) => x.ok)).toBe(true);
    expect(r.preview?.exists).toBe(false);
    const uploads = server.log.filter((l) => l.startsWith("POST /collections/docs/snapshots/upload"));
    expect(uploads).toHaveLength(1);
    expect(uploads[0]).toContain("priority=snapshot");
    expect(uploads[0]).toContain(`checksum=${c.artifacts.find((a) => a.name === "docs.snapshot")!.plainSha256}`);
  });

  it.skipIf(!hasTool("age") || !hasTool("curl"))(
    "the standard-tools recipe works: age -d | gunzip, then curl -F snapshot=@file to the upload endpoint",
    async () => {
      const client = nativeClient(server.url);
      const before = await readCollection(client, "docs");
      const manifest = await box.backup();
      const art = manifest.components[0]!.artifacts.find((a) => a.name === "docs.snapshot")!;
      const keyFile = join(dir, "key.txt");
      await writeFile(keyFile, `${key.identity}\n`);
      const out = join(dir, "docs.snapshot");
      await run("sh", ["-c", `age -d -i "${keyFile}" "${join(dir, "store", art.key)}" | gunzip > "${out}"`]);
      expect(
        createHash("sha256")
          .update(await readFile(out))
          .digest("hex"),
      ).toBe(art.meta?.checksum);
      await client.deleteCollection("docs");
      // Async: the stand-in answers from this very process.
      const { stdout: answer } = await run("curl", [
        "-sS",
        "-X",
        "POST",
        `${server.url}/collections/docs/snapshots/upload?priority=snapshot`,
        "-F",
        `snapshot=@${out}`,
      ]);
      expect(JSON.parse(answer)).toMatchObject({ result: true, status: "ok" });
      expect(await readCollection(client, "docs")).toEqual(before);
    },
  );
  if (!hasTool("age") || !hasTool("curl"))
    console.warn(
      "[source-qdrant] standard-tools recipe test skipped: `age` or `curl` is not installed (apt-get install -y age curl)",
    );

  it("restores one collection under another name, leaving the original alone", async () => {
    const client = nativeClient(server.url);
    const docs = await readCollection(client, "docs");
    const manifest = await box.backup();
    await client.upsert("docs", {
      wait: true,
      points: [{ id: 1, vector: Array(16).fill(0.5), payload: { changed: 1 } }],
    });
    const changed = await readCollection(client, "docs");
    await box.restore(manifest.id, { targets: { qdrant: { collections: ["docs"], collection: "docs_copy" } } });
    expect(await readCollection(client, "docs_copy")).toEqual(docs);
    expect(await readCollection(client, "docs")).toEqual(changed);

    await box.restore(manifest.id, { targets: { qdrant: { collections: { images: "images_v2" } } } });
    expect(await readCollection(client, "images_v2")).toEqual(await readCollection(client, "images"));
    expect(await readCollection(client, "docs_v2")).toBeNull();
  });

  it("a safety backup of a renamed target backs up that target, and restoring it brings it back", async () => {
    const client = nativeClient(server.url);
    const manifest = await box.backup();
    const target = { collections: { docs: "docs_live" } };
    await box.restore(manifest.id, { targets: { qdrant: target } });
    await client.delete("docs_live", { wait: true, points: [10, 11, 12] });
    const live = await readCollection(client, "docs_live");
    const report = await box.restore(manifest.id, { targets: { qdrant: target }, safetyBackup: true });
    const safetyId = report.components[0]!.safetyBackupId!;
    expect(safetyId).toBeDefined();
    expect((await readCollection(client, "docs_live")) as { count: number }).toMatchObject({ count: 700 });
    await box.restore(safetyId, { targets: { qdrant: target } });
    expect(await readCollection(client, "docs_live")).toEqual(live);
  });

  it("restores a subset of the collections", async () => {
    const client = nativeClient(server.url);
    const manifest = await box.backup();
    const before = await readCollections(client, NAMES);
    await client.delete("docs", { wait: true, points: [1, 2, 3] });
    await client.delete("images", { wait: true, points: ["00000000-0000-4000-8000-000000000001"] });
    const docsChanged = await readCollection(client, "docs");
    const report = await box.restore(manifest.id, { targets: { qdrant: { collections: ["images"] } } });
    expect(await readCollection(client, "images")).toEqual(before.images);
    expect(await readCollection(client, "docs"), "not in the subset: untouched").toEqual(docsChanged);
    expect(report.components[0]!.result?.stats?.counts).toEqual({ images: 120 });
    expect(server.log.some((l) => l.startsWith("POST /collections/docs/snapshots/upload"))).toBe(false);
  });

  it("refuses a target naming a collection the backup does not hold", async () => {
    const manifest = await box.backup();
    const err = await box.restore(manifest.id, { targets: { qdrant: { collections: ["nope"] } } }).catch((e) => e);
    expect(isStrongboxError(err, "E_NOT_FOUND"), String(err)).toBe(true);
    expect(String(err.message)).toMatch(/"nope" is not in backup/);
    const bad = await box.restore(manifest.id, { targets: { qdrant: { colection: "x" } } }).catch((e) => e);
    expect(isStrongboxError(bad, "E_CONFIG"), String(bad)).toBe(true);
    const two = await box.restore(manifest.id, { targets: { qdrant: { collection: "x" } } }).catch((e) => e);
    expect(isStrongboxError(two, "E_CONFIG"), String(two)).toBe(true);
    expect(String(two.message)).toMatch(/renames one collection/);
  });

  it("a dry run reports what would be replaced, with point counts, and changes nothing", async () => {
    const client = nativeClient(server.url);
    const manifest = await box.backup();
    await client.delete("docs", { wait: true, points: [5, 6] });
    const now = await readCollections(client, NAMES);
    const report = await box.restore(manifest.id, { dryRun: true });
    const p = report.components[0]!.preview!;
    expect(p.exists).toBe(true);
    expect(p.replaces).toEqual(
      expect.arrayContaining([
        { name: "docs", current: 698, incoming: 700, unit: "points" },
        { name: "images", current: 120, incoming: 120, unit: "points" },
      ]),
    );
    expect(p.target).toContain(new URL(server.url).host);
    expect(await readCollections(client, NAMES)).toEqual(now);
    expect(server.log.some((l) => l.includes("/snapshots/upload"))).toBe(false);

    const fresh = await box.restore(manifest.id, {
      dryRun: true,
      targets: { qdrant: { collections: { docs: "nowhere_docs" } } },
    });
    expect(fresh.components[0]!.preview).toMatchObject({
      exists: false,
      replaces: [{ name: "nowhere_docs", incoming: 700, unit: "points" }],
    });
    expect(await readCollection(client, "nowhere_docs")).toBeNull();
  });

  it("verify restore-test recovers into scratch collections, compares counts, and deletes them", async () => {
    const client = nativeClient(server.url);
    const before = await readCollections(client, NAMES);
    const manifest = await box.backup();
    const result = await box.verify(manifest.id, { mode: "restore-test" });
    expect(result.ok, JSON.stringify(result.components)).toBe(true);
    const rt = result.components[0]!.restoreTest!;
    expect(rt.checks.map((c) => [c.name, c.expected, c.actual])).toEqual(
      expect.arrayContaining([
        ["docs", 700, 700],
        ["images", 120, 120],
        ["empty", 0, 0],
      ]),
    );
    expect(server.log.filter((l) => l.includes(`/collections/${RESTORE_TEST_PREFIX}`)).length).toBeGreaterThan(0);
    const names = (await client.getCollections()).collections.map((c) => c.name);
    expect(names.filter((n) => n.startsWith(RESTORE_TEST_PREFIX))).toEqual([]);
    expect(await readCollections(client, NAMES)).toEqual(before);

    server.faults.rejectUploads = "Wrong input: stand-in refuses this snapshot";
    const failed = await box.verify(manifest.id, { mode: "restore-test" });
    expect(failed.ok).toBe(false);
    expect(JSON.stringify(failed.components)).toContain("stand-in refuses this snapshot");
    const after = (await client.getCollections()).collections.map((c) => c.name);
    expect(after.filter((n) => n.startsWith(RESTORE_TEST_PREFIX))).toEqual([]);
  });

  it("waits for a recovered collection to turn green before counting", async () => {
    const client = nativeClient(server.url);
    const manifest = await box.backup();
    await client.deleteCollection("docs");
    server.faults.yellowAfterRecover = 3;
    try {
      const report = await box.restore(manifest.id, { targets: { qdrant: { collections: ["docs"] } } });
      expect(report.components[0]!.result?.stats?.counts).toEqual({ docs: 700 });
    } finally {
      server.faults.yellowAfterRecover = undefined;
    }
    expect((await client.getCollection("docs")).status).toBe("green");
  });
});

describe("version rule: same or previous minor only", () => {
  let older: StandIn;
  let previous: StandIn;
  let current: StandIn;
  let dir: string;
  beforeAll(async () => {
    [older, previous, current] = await Promise.all([
      startStandIn({ version: "1.9.7" }),
      startStandIn({ version: "1.11.3" }),
      startStandIn({ version: "1.12.4" }),
    ]);
    dir = await mkdtemp(join(tmpdir(), "strongbox-qdrant-ver-"));
  });
  afterAll(async () => {
    await Promise.all([older?.close(), previous?.close(), current?.close()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const boxFor = (s: StandIn) =>
    createStrongbox({
      sources: [qdrant({ url: s.url, collections: ["docs"] })],
      storage: local({ directory: dir }),
      logger: silentLogger,
    });

  it("refuses a two-minor gap unless forced, and warns on a one-minor gap", async () => {
    await seedCollections(nativeClient(older.url), [SPECS[0]!]);
    await seedCollections(nativeClient(previous.url), [SPECS[0]!], 5);
    const oldBackup = await boxFor(older).backup();
    const prevBackup = await boxFor(previous).backup();
    const target = boxFor(current);
    const client = nativeClient(current.url);

    const err = await target.restore(oldBackup.id).catch((e) => e);
    expect(isStrongboxError(err, "E_SOURCE"), String(err)).toBe(true);
    expect(err.message).toMatch(/Qdrant 1\.9\.7 cannot be restored on Qdrant 1\.12\.4/);
    expect(err.message).toMatch(/force/);
    expect(current.log.some((l) => l.includes("/snapshots/upload"))).toBe(false);
    expect(await readCollection(client, "docs")).toBeNull();

    const dry = await target.restore(oldBackup.id, { dryRun: true });
    expect(dry.components[0]!.preview?.notes?.join(" ")).toMatch(/would be refused/);

    const forced = await target.restore(oldBackup.id, { force: true });
    expect(forced.components[0]!.result?.warnings?.join(" ")).toMatch(/forced/);
    expect(await readCollection(client, "docs")).toEqual(await readCollection(nativeClient(older.url), "docs"));

    const viaTarget = await target.restore(oldBackup.id, {
      targets: { qdrant: { force: true, collection: "docs_t" } },
    });
    expect(viaTarget.components[0]!.result?.stats?.counts).toEqual({ docs: 700 });

    const near = await target.restore(prevBackup.id);
    expect(near.components[0]!.result?.warnings?.join(" ")).toMatch(/one minor version apart/);
    expect(await readCollection(client, "docs")).toEqual(await readCollection(nativeClient(previous.url), "docs"));

    // A newer backup on an older server is refused too.
    const newer = await target.backup();
    const back = await boxFor(previous)
      .restore(newer.id)
      .catch((e) => e);
    expect(isStrongboxError(back, "E_SOURCE"), String(back)).toBe(true);
  });
});
