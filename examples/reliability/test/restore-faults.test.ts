/**
 * Faults during restore. A real backup (files source → gzip → age → local storage) is damaged
 * on disk in each of the ways storage and people damage things — a flipped bit, a truncated
 * file, two artifacts swapped, a manifest hash edited — or restored with the wrong key. Each
 * must fail with its own error code and leave the restore target exactly as it was (compared
 * file by file with fs). Then a Redis restore that breaks half-way (the target starts refusing
 * writes) must be rolled back to the safety backup (compared key by key with raw commands).
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type BackupManifest,
  createStrongbox,
  encrypt,
  generateIdentity,
  gzip,
  local,
  type StrongboxErrorCode,
  silentLogger,
} from "@strongbox/core";
import { files } from "@strongbox/source-files";
import { redis } from "@strongbox/source-redis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startRedis, type TestServer } from "../../../packages/source-redis/test/helpers/servers.js";
import { expectCode, removeDir, sha256, snapshotTree, tempDir } from "./support/helpers.js";

const key = generateIdentity();

describe("damaged artifacts and wrong keys (files source, local storage)", () => {
  let root: string;
  let storeDir: string;
  let target: string;
  let manifest: BackupManifest;
  let targetBefore: Record<string, string>;
  const make = (identity = key.identity) =>
    createStrongbox({
      sources: [files({ name: "site", paths: [join(root, "src/docs"), join(root, "src/media")] })],
      storage: local({ directory: storeDir }),
      transforms: [gzip(), encrypt({ recipients: [key.recipient], identities: [identity] })],
      logger: silentLogger,
    });
  const file = (artifact: number) => join(storeDir, manifest.components[0]!.artifacts[artifact]!.key);
  const restore = (box = make()) => box.restore(manifest.id, { targets: { site: { directory: target } }, force: true });

  /** Damages the store, expects restore (and a decode verify) to fail with `code`, then repairs it. */
  async function damaged(paths: string[], damage: () => Promise<void>, code: StrongboxErrorCode): Promise<string> {
    const saved = await Promise.all(paths.map((p) => readFile(p)));
    await damage();
    try {
      const err = await expectCode(restore(), code);
      const verify = await make().verify(manifest.id, { mode: "decode" });
      expect(verify.ok).toBe(false);
      expect(verify.components[0]!.artifacts.some((a) => a.error?.code === code)).toBe(true);
      // Nothing was applied: the target is byte-for-byte what it was.
      expect(await snapshotTree(target)).toEqual(targetBefore);
      return err.message;
    } finally {
      await Promise.all(paths.map((p, i) => writeFile(p, saved[i]!)));
    }
  }

  beforeAll(async () => {
    root = await tempDir("restore");
    storeDir = join(root, "store");
    target = join(root, "target");
    for (const [name, size] of [
      ["docs/a.txt", 40_000],
      ["docs/sub/b.txt", 70_000],
      ["media/c.bin", 300_000],
    ] as const) {
      await mkdir(join(root, "src", name, ".."), { recursive: true });
      // Incompressible-ish text so artifacts span several 64 KiB age chunks.
      await writeFile(join(root, "src", name), Buffer.from(sha256(name).repeat(size / 64)).toString("base64"));
    }
    manifest = await make().backup();
    expect(manifest.components[0]!.artifacts).toHaveLength(2);
    await mkdir(join(target, "keep"), { recursive: true });
    await writeFile(join(target, "keep/precious.txt"), "what the target held before the restore");
    targetBefore = await snapshotTree(target);
  });
  afterAll(() => removeDir(root));

  it("the undamaged backup restores (the control case)", async () => {
    const scratch = join(root, "control");
    await make().restore(manifest.id, { targets: { site: { directory: scratch } } });
    expect(await snapshotTree(scratch)).toEqual(await snapshotTree(join(root, "src")));
    await rm(scratch, { recursive: true, force: true });
  });

  const messages: Record<string, string> = {};

  it("a flipped bit → E_INTEGRITY, target untouched", async () => {
    messages.flip = await damaged(
      [file(1)],
      async () => {
        const b = await readFile(file(1));
        b[Math.floor(b.length / 2)]! ^= 0x10;
        await writeFile(file(1), b);
      },
      "E_INTEGRITY",
    );
  });

  it("a truncated artifact → E_TRUNCATED, target untouched", async () => {
    messages.truncated = await damaged(
      [file(1)],
      async () => truncate(file(1), Math.floor((await readFile(file(1))).length / 2)),
      "E_TRUNCATED",
    );
  });

  it("two artifacts swapped → E_INTEGRITY, target untouched", async () => {
    messages.swapped = await damaged(
      [file(0), file(1)],
      async () => {
        const [a, b] = [await readFile(file(0)), await readFile(file(1))];
        await writeFile(file(0), b);
        await writeFile(file(1), a);
      },
      "E_INTEGRITY",
    );
  });

  it("a manifest whose recorded sha256 does not match → E_INTEGRITY, target untouched", async () => {
    const manifestFile = join(storeDir, manifest.id, "manifest.json");
    messages.hash = await damaged(
      [manifestFile],
      async () => {
        const m = JSON.parse(await readFile(manifestFile, "utf8")) as BackupManifest;
        const a = m.components[0]!.artifacts[0]!;
        a.sha256 = (a.sha256[0] === "0" ? "1" : "0") + a.sha256.slice(1);
        await writeFile(manifestFile, JSON.stringify(m));
      },
      "E_INTEGRITY",
    );
    expect(messages.hash).toMatch(/sha256|hash|checksum/i);
  });

  it("the wrong age key → E_DECRYPT, target untouched", async () => {
    const other = generateIdentity();
    const err = await expectCode(restore(make(other.identity)), "E_DECRYPT");
    expect(err.message).not.toContain(other.identity);
    expect(await snapshotTree(target)).toEqual(targetBefore);
  });

  it("each failure names what went wrong differently", () => {
    expect(Object.keys(messages)).toHaveLength(4);
    expect(new Set(Object.values(messages)).size).toBe(4);
  });
});

describe("a Redis restore that fails mid-apply is rolled back to the safety backup", () => {
  let source: TestServer;
  let targetServer: TestServer;
  let root: string;

  /** The whole db natively: key → [DUMP payload, PTTL > 0]. */
  async function dumpAll(server: TestServer): Promise<Record<string, string>> {
    const c = server.client();
    try {
      const out: Record<string, string> = {};
      for (const k of (await c.keys("*")).sort()) {
        const [dump, ttl] = await Promise.all([c.dumpBuffer(k), c.pttl(k)]);
        out[k] = `${sha256(dump!)}:${ttl > 0 ? "ttl" : ttl}`;
      }
      return out;
    } finally {
      c.disconnect();
    }
  }

  beforeAll(async () => {
    root = await tempDir("redis-rollback");
    [source, targetServer] = await Promise.all([startRedis(), startRedis()]);
    const s = source.client();
    // Random values, so the stored artifact is megabytes even gzipped: a preview that reads only
    // the header closes the stream long before the end-of-stream checksum could fire.
    const p = s.pipeline();
    for (let i = 0; i < 3000; i++) p.set(`incoming:${i}`, randomBytes(1024).toString("hex"));
    await p.exec();
    s.disconnect();
  });
  // Every case starts from the same small target state, with no memory limit.
  beforeEach(async () => {
    const t = targetServer.client();
    await t.config("SET", "maxmemory", "0");
    await t.flushall();
    await t.set("existing:string", "before");
    await t.hset("existing:hash", { a: "1", b: "2" });
    await t.rpush("existing:list", "x", "y", "z");
    await t.set("existing:ttl", "v", "EX", 3600);
    t.disconnect();
  });
  afterAll(async () => {
    await Promise.all([source?.stop(), targetServer?.stop()]);
    await removeDir(root);
  });

  function makeBox() {
    return createStrongbox({
      sources: [redis({ name: "cache", url: source.url, batchSize: 200 })],
      storage: local({ directory: join(root, "store") }),
      transforms: [gzip()],
      logger: silentLogger,
    });
  }

  async function expectRolledBack(
    box: ReturnType<typeof makeBox>,
    id: string,
    target: Record<string, unknown>,
    before: Record<string, string>,
    messagePattern: RegExp,
  ): Promise<void> {
    let failed: { rolledBack: boolean } | undefined;
    box.on("restore:failed", (e) => {
      failed = e;
    });
    const err = await expectCode(
      box.restore(id, { targets: { cache: { url: targetServer.url, ...target } }, force: true, verifyFirst: false }),
      err0(messagePattern),
    );
    expect(err.message).toMatch(messagePattern);
    expect(err.message).toMatch(/rolled back to safety backup/);
    expect(failed?.rolledBack).toBe(true);
    // Natively: exactly the keys, values and expiries that were there before.
    expect(await dumpAll(targetServer)).toEqual(before);
  }
  const err0 = (p: RegExp) => (String(p).includes("OOM") ? "E_SOURCE" : "E_INTEGRITY");

  it("a flipped bit with default options: verified before anything is applied → E_INTEGRITY, target untouched", async () => {
    const box = makeBox();
    const manifest = await box.backup();
    const before = await dumpAll(targetServer);
    const file = join(root, "store", manifest.components[0]!.artifacts[0]!.key);
    const bytes = await readFile(file);
    bytes[bytes.length - 12]! ^= 0x01;
    await writeFile(file, bytes);
    const err = await expectCode(
      box.restore(manifest.id, { targets: { cache: { url: targetServer.url, flush: "db" } }, force: true }),
      "E_INTEGRITY",
    );
    expect(err.message).toMatch(/nothing was restored/);
    expect(await dumpAll(targetServer)).toEqual(before);
    await box.close();
  });

  for (const flush of ["db", "default", "none"] as const) {
    // The rollback restores the safety backup with the user's target options; an explicit
    // flush "none" must not stop it from flushing (a safety backup always restores with a flush).
    it(`checksum fails at the very end (verifyFirst: false, flush: ${flush}): keys were applied, then rolled back to exactly the pre-restore state`, async () => {
      const box = makeBox();
      const manifest = await box.backup();
      const before = await dumpAll(targetServer);
      expect(Object.keys(before)).toHaveLength(4);
      // Edit the stored sha256 in the manifest: every byte decodes, every key is applied, and
      // only the checksum at the very end of the stream fails — the latest a restore can fail.
      const manifestFile = join(root, "store", manifest.id, "manifest.json");
      const m = JSON.parse(await readFile(manifestFile, "utf8")) as BackupManifest;
      const a = m.components[0]!.artifacts[0]!;
      a.sha256 = (a.sha256[0] === "0" ? "1" : "0") + a.sha256.slice(1);
      await writeFile(manifestFile, JSON.stringify(m));
      await expectRolledBack(
        box,
        manifest.id,
        flush === "default" ? {} : { flush },
        before,
        /integrity|sha256|crc|check/i,
      );
      await box.close();
    });
  }

  // The rollback must work while the target refuses writes: the RDB-version check before the
  // flush reads an existing key's DUMP instead of writing a probe key.
  it("the target starts refusing writes mid-restore (OOM, noeviction): E_SOURCE, rolled back, target equals its pre-restore state", async () => {
    const box = makeBox();
    const manifest = await box.backup();
    const before = await dumpAll(targetServer);
    expect(Object.keys(before)).toHaveLength(4);
    const t = targetServer.client();
    const baseline = Number(/used_memory:(\d+)/.exec(await t.info("memory"))![1]);
    await t.config("SET", "maxmemory-policy", "noeviction");
    // Once 1,500 of the 3,000 incoming keys are in (~3 MB over the baseline; polled with DBSIZE on
    // another connection), cap the memory at baseline + 1 MB: later RESTOREs are refused with OOM,
    // while the pre-restore state (flushed, then 4 small keys) fits easily — a rollback that
    // flushes first can succeed.
    const watcher = targetServer.client();
    let capped = false;
    const poll = setInterval(() => {
      void watcher.dbsize().then(async (n) => {
        if (!capped && n >= 1500) {
          capped = true;
          await watcher.config("SET", "maxmemory", String(baseline + (1 << 20)));
        }
      });
    }, 2);
    try {
      await expectRolledBack(box, manifest.id, { flush: "db" }, before, /OOM/);
      expect(capped, "the cap was applied mid-restore").toBe(true);
    } finally {
      clearInterval(poll);
      watcher.disconnect();
      t.disconnect();
      await box.close();
    }
  });
});
