import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { extract } from "tar-stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createStrongbox,
  gzip,
  isStrongboxError,
  local,
  type Storage,
  type Strongbox,
  type StrongboxOptions,
  silentLogger,
} from "../src/index.js";
import { countingStorage, failingStorage, unreachableStorage } from "./fixtures/faulty-storage.js";
import { MemoryStore, memorySource } from "./fixtures/memory-source.js";

let dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "strongbox-manager-"));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  dirs = [];
});

async function seeded(): Promise<MemoryStore> {
  const store = new MemoryStore();
  store.get().set("alpha", randomBytes(300_000));
  store.get().set("beta", Buffer.from("hello ".repeat(50_000)));
  store.get().set("empty", Buffer.alloc(0));
  return store;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }))
    if (e.isFile()) out.push(join(e.parentPath, e.name).slice(dir.length + 1));
  return out.sort();
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** A manager over the memory source, writing to a local storage in `dir`. */
function memoryBox(store: MemoryStore, dir: string, extra: Partial<StrongboxOptions> = {}): Strongbox {
  return createStrongbox({
    sources: [memorySource(store)],
    storage: local({ directory: dir }),
    logger: silentLogger,
    ...extra,
  });
}

describe("backup", () => {
  let store: MemoryStore;
  let dir: string;
  beforeEach(async () => {
    store = await seeded();
    dir = await tempDir();
  });

  it("writes artifacts and a manifest in the documented layout, with hashes of both plaintext and stored bytes", async () => {
    const box = memoryBox(store, dir, { transforms: [gzip()] });
    const m = await box.backup({ tags: ["nightly"], description: "test" });
    expect(m.id).toMatch(/^\d{8}T\d{6}Z-[a-z2-7]{6}$/);
    expect(m.format).toBe("strongbox/1");
    const files = await filesUnder(dir);
    expect(files).toEqual(
      [
        `${m.id}/manifest.json`,
        `${m.id}/memory/alpha.gz`,
        `${m.id}/memory/beta.gz`,
        `${m.id}/memory/empty.gz`,
        `${m.id}/tags/nightly`,
      ].sort(),
    );
    const alpha = m.components[0]!.artifacts.find((a) => a.name === "alpha")!;
    const stored = await readFile(join(dir, alpha.key));
    expect(alpha.size).toBe(stored.length);
    expect(alpha.sha256).toBe(sha(stored));
    expect(alpha.plainSize).toBe(300_000);
    expect(alpha.plainSha256).toBe(sha(store.get().get("alpha")!));
    expect(alpha.transforms).toEqual([{ id: "gzip", level: 6 }]);
    const onDisk = JSON.parse(await readFile(join(dir, m.id, "manifest.json"), "utf8"));
    expect(onDisk).toEqual(JSON.parse(JSON.stringify(m)));
    expect(m.components[0]!.stats).toEqual({ version: "1", counts: { entries: 3 } });
  });

  it("feeds several storages from ONE read of the source, with identical bytes", async () => {
    const dirB = await tempDir();
    const reads = { count: 0 };
    const box = createStrongbox({
      sources: [memorySource(store, { reads })],
      storage: [local({ directory: dir }), local({ directory: dirB })],
      transforms: [gzip()],
      logger: silentLogger,
    });
    const m = await box.backup();
    expect(reads.count).toBe(3);
    const a = await filesUnder(dir);
    expect(await filesUnder(dirB)).toEqual(a);
    for (const f of a) expect(sha(await readFile(join(dirB, f)))).toBe(sha(await readFile(join(dir, f))));
    const listed = await box.list();
    expect(listed[0]).toMatchObject({ id: m.id, complete: true, storages: [0, 1] });
  });

  it("fails the whole backup when one destination fails, leaving no manifest and no leftovers anywhere", async () => {
    const dirB = await tempDir();
    const failed: string[] = [];
    const box = createStrongbox({
      sources: [memorySource(store)],
      storage: [local({ directory: dir }), failingStorage(local({ directory: dirB }), 100_000)],
      logger: silentLogger,
    });
    box.on("backup:failed", (e) => failed.push(e.error.code));
    const err = await box.backup().catch((e: unknown) => e);
    expect(isStrongboxError(err, "E_STORAGE")).toBe(true);
    expect((err as Error).message).toContain("connection reset");
    expect(failed).toEqual(["E_STORAGE"]);
    expect(await filesUnder(dir)).toEqual([]);
    expect(await filesUnder(dirB)).toEqual([]);
    expect(await box.list({ includeIncomplete: true })).toEqual([]);
  });

  it("with allowPartialStorage, completes on the healthy destination and warns about the other", async () => {
    const dirB = await tempDir();
    const warnings: string[] = [];
    const box = createStrongbox({
      sources: [memorySource(store)],
      storage: [failingStorage(local({ directory: dirB }), 100_000), local({ directory: dir })],
      allowPartialStorage: true,
      logger: silentLogger,
    });
    box.on("warning", (w) => warnings.push(w.message));
    const m = await box.backup();
    expect(warnings.some((w) => w.includes("(faulty)"))).toBe(true);
    expect((await filesUnder(dir)).length).toBe(4);
    expect(await filesUnder(dirB)).toEqual([]);
    expect((await box.list()).map((b) => [b.id, b.storages])).toEqual([[m.id, [1]]]);
  });

  it("a source that dies mid-stream fails the backup with E_SOURCE and leaves nothing", async () => {
    const box = createStrongbox({
      sources: [memorySource(store, { failBackupAfterBytes: 100_000 })],
      storage: local({ directory: dir }),
      logger: silentLogger,
    });
    const err = await box.backup().catch((e: unknown) => e);
    expect(isStrongboxError(err, "E_SOURCE")).toBe(true);
    expect((err as Error).message).toMatch(/^\[strongbox\] \[memory\] .*memory store went away/);
    expect(await filesUnder(dir)).toEqual([]);
  });

  it("a producer failing after its stream ended (done() rejects) fails the backup", async () => {
    const src = memorySource(store);
    const inner = src.backup.bind(src);
    src.backup = async function* (ctx) {
      for await (const a of inner(ctx))
        yield { ...a, done: async () => Promise.reject(new Error("pg_dump exited with code 1")) };
    };
    const box = createStrongbox({ sources: [src], storage: local({ directory: dir }), logger: silentLogger });
    await expect(box.backup()).rejects.toMatchObject({ code: "E_SOURCE" });
    expect(await filesUnder(dir)).toEqual([]);
  });

  it("aborting stops the backup with E_ABORTED and removes what was written", async () => {
    store.get().set("big", randomBytes(20 * 1024 * 1024));
    const box = createStrongbox({
      sources: [memorySource(store, { chunkSize: 16 * 1024 })],
      storage: local({ directory: dir }),
      transforms: [gzip({ level: 9 })],
      logger: silentLogger,
    });
    const controller = new AbortController();
    box.on("progress", (p) => {
      if (p.bytes > 1024 * 1024) controller.abort();
    });
    const err = await box.backup({ signal: controller.signal }).catch((e: unknown) => e);
    expect(isStrongboxError(err, "E_ABORTED"), String(err)).toBe(true);
    expect(await filesUnder(dir)).toEqual([]);
  });

  it("two backups at the same time get distinct ids and both complete", async () => {
    const box = memoryBox(store, dir);
    const [a, b] = await Promise.all([box.backup(), box.backup()]);
    expect(a.id).not.toBe(b.id);
    expect((await box.list()).length).toBe(2);
  });

  it("rejects unknown components, duplicate source names and empty storage with E_CONFIG", async () => {
    expect(() =>
      createStrongbox({ sources: [memorySource(store), memorySource(store)], storage: local({ directory: dir }) }),
    ).toThrow(/two sources are named "memory"/);
    expect(() => createStrongbox({ sources: [], storage: [] })).toThrow(/needs "storage"/);
    const box = memoryBox(store, dir);
    await expect(box.backup({ components: ["nope"] })).rejects.toMatchObject({ code: "E_CONFIG" });
  });
});

describe("list and get", () => {
  it("lists from key listings alone — no object is read — and never shows an incomplete backup as complete", async () => {
    const store = await seeded();
    const dir = await tempDir();
    const counted = countingStorage(local({ directory: dir }));
    const box = createStrongbox({ sources: [memorySource(store)], storage: counted, logger: silentLogger });
    const m1 = await box.backup({ tags: ["keep"] });
    const m2 = await box.backup();
    await rm(join(dir, m2.id, "manifest.json"));
    counted.calls.get = 0;
    counted.calls.list = 0;
    const complete = await box.list();
    expect(counted.calls.get).toBe(0);
    expect(counted.calls.list).toBe(1);
    expect(complete.map((b) => b.id)).toEqual([m1.id]);
    expect(complete[0]).toMatchObject({ tags: ["keep"], components: ["memory"], pinned: false });
    const all = await box.list({ includeIncomplete: true });
    expect(all.map((b) => [b.id, b.complete])).toEqual([
      [m2.id, false],
      [m1.id, true],
    ]);
    expect((await box.get("latest")).id).toBe(m1.id);
    await expect(box.get(m2.id)).rejects.toMatchObject({ code: "E_NOT_FOUND" });
    await expect(box.get("20200101T000000Z-aaaaaa")).rejects.toMatchObject({ code: "E_NOT_FOUND" });
    await expect(box.get("../../etc/passwd")).rejects.toMatchObject({ code: "E_NOT_FOUND" });
  });

  it("refuses hostile manifests: another format version, keys escaping the backup", async () => {
    const store = await seeded();
    const dir = await tempDir();
    const box = memoryBox(store, dir);
    const m = await box.backup();
    const path = join(dir, m.id, "manifest.json");
    const good = JSON.parse(await readFile(path, "utf8"));
    await writeFile(path, JSON.stringify({ ...good, format: "strongbox/9" }));
    await expect(box.get(m.id)).rejects.toMatchObject({ code: "E_FORMAT" });
    good.components[0].artifacts[0].key = `${m.id}/memory/../../../etc/passwd`;
    await writeFile(path, JSON.stringify(good));
    await expect(box.get(m.id)).rejects.toMatchObject({ code: "E_INTEGRITY" });
    good.components[0].artifacts[0].key = "20200101T000000Z-aaaaaa/memory/alpha";
    await writeFile(path, JSON.stringify(good));
    await expect(box.get(m.id)).rejects.toMatchObject({ code: "E_INTEGRITY" });
  });
});

describe("verify", () => {
  it("checksum and decode pass on a good backup and name the artifact on a flipped bit or truncation", async () => {
    const store = await seeded();
    const dir = await tempDir();
    const box = memoryBox(store, dir, { transforms: [gzip()] });
    const m = await box.backup();
    expect((await box.verify(m.id)).ok).toBe(true);
    expect((await box.verify(m.id, { mode: "decode" })).ok).toBe(true);
    const alpha = m.components[0]!.artifacts.find((a) => a.name === "alpha")!;
    const file = join(dir, alpha.key);
    const bytes = await readFile(file);
    bytes[1000] = bytes[1000]! ^ 0x10;
    await writeFile(file, bytes);
    const bad = await box.verify(m.id);
    expect(bad.ok).toBe(false);
    const entry = bad.components[0]!.artifacts.find((a) => a.name === "alpha")!;
    expect(entry.error?.code).toBe("E_INTEGRITY");
    expect(bad.components[0]!.artifacts.filter((a) => a.ok).length).toBe(2);
    await truncate(file, 500);
    const cut = await box.verify(m.id, { mode: "decode" });
    expect(cut.components[0]!.artifacts.find((a) => a.name === "alpha")!.error?.code).toMatch(
      /E_TRUNCATED|E_INTEGRITY/,
    );
  });
});

describe("restore", () => {
  let store: MemoryStore;
  let dir: string;
  beforeEach(async () => {
    store = await seeded();
    dir = await tempDir();
  });

  it("restores the exact bytes; a dry run reports what would be overwritten and changes nothing", async () => {
    const box = memoryBox(store, dir, { transforms: [gzip()] });
    const before = store.snapshot();
    const m = await box.backup();
    store.get().set("alpha", Buffer.from("changed"));
    store.get().delete("beta");
    const changed = store.snapshot();
    const dry = await box.restore("latest", { dryRun: true });
    expect(dry.dryRun).toBe(true);
    expect(dry.components[0]!.preview!.replaces.find((r) => r.name === "alpha")).toEqual({
      name: "alpha",
      current: 7,
      incoming: 300_000,
      unit: "bytes",
    });
    expect(store.snapshot()).toEqual(changed);
    expect((await box.list()).length).toBe(1);
    const report = await box.restore(m.id);
    expect(store.snapshot()).toEqual(before);
    expect(report.components[0]!.verifiedFirst).toBe(true);
    expect(report.components[0]!.checks).toEqual([{ name: "entries", ok: true, expected: 3, actual: 3 }]);
  });

  it("restores into another target without touching the original", async () => {
    const box = memoryBox(store, dir);
    const before = store.snapshot();
    const m = await box.backup();
    store.get().set("alpha", Buffer.from("changed"));
    const changed = store.snapshot();
    await box.restore(m.id, { targets: { memory: { store: "copy" } } });
    expect(store.snapshot("copy")).toEqual(before);
    expect(store.snapshot()).toEqual(changed);
    await expect(box.restore(m.id, { targets: { other: {} } })).rejects.toMatchObject({ code: "E_CONFIG" });
  });

  it("verifies a non-atomic source's artifacts before applying anything: a corrupt backup leaves the target untouched", async () => {
    const box = memoryBox(store, dir, { transforms: [gzip()] });
    const m = await box.backup();
    const last = m.components[0]!.artifacts.find((a) => a.name === "empty")!;
    await writeFile(join(dir, last.key), Buffer.from("not gzip at all"));
    store.get().set("alpha", Buffer.from("changed"));
    const changed = store.snapshot();
    const err = await box.restore(m.id).catch((e: unknown) => e);
    expect(isStrongboxError(err)).toBe(true);
    expect(["E_INTEGRITY", "E_FORMAT", "E_TRUNCATED"]).toContain((err as { code: string }).code);
    expect((err as Error).message).toContain("nothing was restored");
    expect(store.snapshot()).toEqual(changed);
    expect((await box.list()).length).toBe(1);
  });

  it("never hands a consumer the last chunk of an artifact whose hash does not match", async () => {
    const src = memorySource(store, { chunkSize: 16 * 1024 });
    const box = createStrongbox({ sources: [src], storage: local({ directory: dir }), logger: silentLogger });
    const m = await box.backup();
    const path = join(dir, m.id, "manifest.json");
    const manifest = JSON.parse(await readFile(path, "utf8"));
    const alpha = manifest.components[0].artifacts.find((a: { name: string }) => a.name === "alpha");
    alpha.plainSha256 = "0".repeat(64);
    await writeFile(path, JSON.stringify(manifest));
    let received = 0;
    src.restore = async (ctx) => {
      for await (const chunk of await ctx.open("alpha")) received += (chunk as Buffer).length;
      return {};
    };
    const err = await box.restore(m.id, { verifyFirst: false, safetyBackup: false }).catch((e: unknown) => e);
    expect(isStrongboxError(err, "E_INTEGRITY"), String(err)).toBe(true);
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(alpha.plainSize);
  });

  it("takes a safety backup first and rolls the target back when the restore fails mid-apply", async () => {
    const src = memorySource(store);
    const box = createStrongbox({ sources: [src], storage: local({ directory: dir }), logger: silentLogger });
    const m = await box.backup();
    store.get().set("alpha", Buffer.from("current state"));
    store.get().set("gamma", Buffer.from("only now"));
    const current = store.snapshot();
    src.options.failRestoreAfter = 1;
    const err = await box.restore(m.id).catch((e: unknown) => e);
    expect(isStrongboxError(err, "E_SOURCE")).toBe(true);
    expect((err as Error).message).toMatch(/rolled back to safety backup \d{8}T\d{6}Z-[a-z2-7]{6}/);
    expect(store.snapshot()).toEqual(current);
    const safety = (await box.list()).find((b) => b.tags.includes("safety"));
    expect(safety).toBeDefined();
    expect((await box.get(safety!.id)).safetyFor).toEqual({ backupId: m.id, components: ["memory"] });
  });

  it("needs the decryption transform to read an encrypted backup, and says so", async () => {
    const box = memoryBox(store, dir);
    const m = await box.backup();
    const path = join(dir, m.id, "manifest.json");
    const manifest = JSON.parse(await readFile(path, "utf8"));
    for (const a of manifest.components[0].artifacts) a.transforms = [{ id: "age", recipients: [], passphrase: false }];
    await writeFile(path, JSON.stringify(manifest));
    await expect(box.restore(m.id)).rejects.toMatchObject({ code: "E_DECRYPT" });
    for (const a of manifest.components[0].artifacts) a.transforms = [{ id: "rot13" }];
    await writeFile(path, JSON.stringify(manifest));
    await expect(box.restore(m.id)).rejects.toMatchObject({ code: "E_FORMAT" });
  });
});

describe("prune, delete, pin", () => {
  it("applies the retention policy with reasons, dry run first, and collects incomplete backups after the grace period", async () => {
    const store = await seeded();
    const dir = await tempDir();
    const box = memoryBox(store, dir, { retention: { keepLast: 2 } });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await box.backup()).id);
    // An old backup that never finished.
    const stale = "20200101T000000Z-abcdef";
    await writeFile(join(dir, "README"), "foreign file, ignored");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(join(dir, stale, "memory"), { recursive: true });
    await writeFile(join(dir, stale, "memory", "alpha"), "partial");
    await box.pin(ids[0]!);

    const dry = await box.prune({ dryRun: true });
    const plan = dry.storages[0]!.plan;
    expect(plan.keep.map((k) => k.id).sort()).toEqual([ids[0], ids[2], ids[3]].sort());
    expect(plan.keep.find((k) => k.id === ids[0])!.reasons).toContain("pinned");
    expect(plan.remove.map((r) => r.id)).toEqual([ids[1]]);
    expect(dry.storages[0]!.incomplete.map((i) => i.id)).toEqual([stale]);
    expect((await box.list({ includeIncomplete: true })).length).toBe(5);

    const done = await box.prune();
    expect(done.storages[0]!.deleted.sort()).toEqual([ids[1], stale].sort());
    expect((await box.list({ includeIncomplete: true })).map((b) => b.id).sort()).toEqual(
      [ids[0], ids[2], ids[3]].sort(),
    );
    expect(await readFile(join(dir, "README"), "utf8")).toContain("foreign");
    await expect(stat(join(dir, ids[1]!))).rejects.toThrow();

    await box.delete(ids[3]!);
    expect((await box.list()).map((b) => b.id).sort()).toEqual([ids[0], ids[2]].sort());
  });

  it("without a retention policy removes no complete backup", async () => {
    const store = await seeded();
    const dir = await tempDir();
    const box = memoryBox(store, dir);
    await box.backup();
    await box.backup();
    const r = await box.prune();
    expect(r.storages[0]!.deleted).toEqual([]);
    expect((await box.list()).length).toBe(2);
  });
});

describe("health", () => {
  it("reports each check and an overall verdict; an unreachable storage is a failed check, not a crash", async () => {
    const store = await seeded();
    const dir = await tempDir();
    const box = createStrongbox({
      sources: [memorySource(store)],
      storage: [local({ directory: dir }), unreachableStorage()],
      logger: silentLogger,
    });
    const empty = await box.health({ maxAge: "26h", minCount: 1 });
    expect(empty.healthy).toBe(false);
    await box.backup({ components: ["memory"] }).catch(() => undefined);
    const only = memoryBox(store, dir);
    await only.backup();
    const good = await only.health({ maxAge: "26h", maxTotalSize: "1GB", minCount: 1 });
    expect(good.healthy).toBe(true);
    expect(good.checks.map((c) => c.name)).toEqual(["reachable", "maxAge", "maxTotalSize", "minCount"]);
    const later = await only.health({ maxAge: "26h", now: new Date(Date.now() + 27 * 3600_000) });
    expect(later.healthy).toBe(false);
    expect(later.checks.find((c) => c.name === "maxAge")!.message).toMatch(/old \(limit/);
    const tooBig = await only.health({ maxTotalSize: 1000 });
    expect(tooBig.checks.find((c) => c.name === "maxTotalSize")!.ok).toBe(false);
    const mixed = await box.health({ minCount: 1 });
    expect(mixed.healthy).toBe(false);
    expect(mixed.checks.find((c) => c.storage === "unreachable://nowhere")).toMatchObject({
      name: "reachable",
      ok: false,
    });
  });
});

describe("export", () => {
  it("streams one tar holding the manifest and the stored artifacts, which unpacks into a usable storage", async () => {
    const store = await seeded();
    const dir = await tempDir();
    const box = memoryBox(store, dir, { transforms: [gzip()] });
    const m = await box.backup();
    const tar = await box.export(m.id);
    const dir2 = await tempDir();
    const names: string[] = [];
    const ex = extract();
    const target: Storage = local({ directory: dir2 });
    const done = new Promise<void>((resolve, reject) => {
      ex.on("entry", (header, stream, next) => {
        names.push(header.name);
        target.put(header.name, stream as never).then(() => next(), reject);
      });
      ex.on("finish", resolve);
      ex.on("error", reject);
    });
    tar.pipe(ex);
    await done;
    expect(names[0]).toBe(`${m.id}/manifest.json`);
    expect(names.length).toBe(4);
    const store2 = new MemoryStore();
    const box2 = createStrongbox({ sources: [memorySource(store2)], storage: target, logger: silentLogger });
    await box2.restore(m.id);
    expect(store2.snapshot()).toEqual(store.snapshot());
  });
});
