/**
 * Local storage under crashes and full disks, concurrent writers, and file permissions:
 * - a child Node process SIGKILLed in the middle of a backup leaves nothing that `list()` calls
 *   complete, and `prune()` (clock moved past the grace period) removes what it left;
 * - a full disk (a 2 MiB tmpfs mounted by the test; an ENOSPC-failing wrapper where mounting is
 *   not allowed) fails the backup with E_STORAGE and leaves no partial object, not even a temp file;
 * - two backups started at the same moment both complete with distinct ids;
 * - every file written is 0600 and every directory 0700.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Transform } from "node:stream";
import { fileURLToPath } from "node:url";
import { createStrongbox, encrypt, generateIdentity, gzip, local, type Storage, silentLogger } from "@strongbox/core";
import { files } from "@strongbox/source-files";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectCode, memorySource, modesUnder, removeDir, snapshotTree, tempDir } from "./support/helpers.js";

const HOUR = 3_600_000;

/** Every regular file under dir (relative paths), temp files included: the raw fs view. */
async function allFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe("the backing-up process is SIGKILLed mid-run", () => {
  let root: string;
  let child: ChildProcess | undefined;
  let leftAfterPrune: string[] = ["(the test above did not run)"];
  beforeAll(async () => {
    root = await tempDir("sigkill");
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await removeDir(root);
  });

  it("list() shows no half backup as complete; prune() after the grace period removes every committed leftover", async () => {
    const src = join(root, "src");
    await mkdir(src);
    // A small file first (its artifact is committed before the kill), then a big one (in flight).
    await writeFile(join(src, "small.txt"), "small and already stored");
    const block = randomBytes(1 << 20);
    const big = join(src, "big.bin");
    await writeFile(big, Buffer.alloc(0));
    for (let i = 0; i < 96; i++) await writeFile(big, block, { flag: "a" });
    const store = join(root, "store");
    const support = fileURLToPath(new URL("./support/", import.meta.url));
    child = spawn(
      process.execPath,
      [
        "--experimental-transform-types",
        "--no-warnings",
        "--import",
        join(support, "register-ts.mjs"),
        join(support, "backup-child.ts"),
        join(src, "small.txt"),
        big,
        store,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d;
    });
    // Kill it once it has streamed a few MiB of the big file.
    const killedAt = await new Promise<number>((resolve, reject) => {
      let out = "";
      child!.stdout!.on("data", (d: Buffer) => {
        out += d;
        for (const line of out.split("\n").slice(0, -1)) {
          const msg = JSON.parse(line) as { bytes?: number; artifact?: string; done?: string };
          if (msg.done) reject(new Error("the backup finished before it could be killed; use a bigger file"));
          if (msg.artifact === "big.bin.tar" && (msg.bytes ?? 0) >= 8 << 20) {
            child!.kill("SIGKILL");
            resolve(msg.bytes!);
          }
        }
        out = out.slice(out.lastIndexOf("\n") + 1);
      });
      child!.once("exit", (code, signal) => {
        if (signal !== "SIGKILL") reject(new Error(`child exited ${code}: ${stderr}`));
      });
    });
    await new Promise((r) => child!.once("exit", r));
    expect(child.signalCode).toBe("SIGKILL");
    expect(killedAt).toBeLessThan(96 << 20);

    const box = createStrongbox({
      sources: [files({ name: "big", paths: [join(src, "small.txt"), big] })],
      storage: local({ directory: store }),
      logger: silentLogger,
    });
    // What the crash left: the committed small artifact and the big one's temp file.
    const left = await allFiles(store);
    expect(left.some((f) => f.endsWith("small.txt.tar.gz"))).toBe(true);
    expect(left.some((f) => f.includes(".strongbox-tmp-"))).toBe(true);
    expect(left.some((f) => f.endsWith("manifest.json"))).toBe(false);

    expect(await box.list()).toEqual([]);
    const incomplete = await box.list({ includeIncomplete: true });
    expect(incomplete).toHaveLength(1);
    expect(incomplete[0]!.complete).toBe(false);
    await expectCode(box.restore(incomplete[0]!.id), "E_NOT_FOUND");
    await expectCode(box.restore("latest"), "E_NOT_FOUND");

    // Within the grace period (24 h) prune keeps it: it might be a backup still running.
    const early = await box.prune({ now: new Date(incomplete[0]!.time.getTime() + HOUR) });
    expect(early.storages[0]!.incomplete).toEqual([]);
    expect((await allFiles(store)).length).toBe(left.length);

    const late = await box.prune({ now: new Date(incomplete[0]!.time.getTime() + 25 * HOUR) });
    expect(late.storages[0]!.deleted).toEqual([incomplete[0]!.id]);
    expect(await box.list({ includeIncomplete: true })).toEqual([]);
    // Natively: every committed object of the killed backup is gone.
    leftAfterPrune = await allFiles(store);
    expect(leftAfterPrune.filter((f) => !f.includes(".strongbox-tmp-"))).toEqual([]);
  });

  // Listings never show temp files, so prune removes the killed writer's `.strongbox-tmp-*` file
  // through the storage's sweep() (older than the grace period), not through the listing.
  it("…and prune leaves no temp file of the killed upload on disk", () => {
    expect(leftAfterPrune).toEqual([]);
  });
});

describe("disk full on local storage", () => {
  let root: string;
  let mountPoint: string;
  let mounted = false;
  beforeAll(async () => {
    root = await tempDir("diskfull");
    mountPoint = join(root, "small-disk");
    await mkdir(mountPoint);
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", mountPoint], { stdio: "pipe" });
      mounted = true;
    } catch (err) {
      console.warn(
        `[reliability] cannot mount a 2 MiB tmpfs (${(err as Error).message.split("\n")[0]}); using a Storage wrapper that fails writes with ENOSPC instead`,
      );
    }
  });
  afterAll(async () => {
    if (mounted) execFileSync("umount", ["-l", mountPoint]);
    await removeDir(root);
  });

  /** Local storage on the small disk, or (no mount) one whose writes fail with ENOSPC past 2 MiB. */
  function smallDisk(): Storage {
    const storage = local({ directory: join(mountPoint, "backups") });
    if (mounted) return storage;
    return {
      ...storage,
      type: storage.type,
      location: storage.location,
      put: (key, body, options) => {
        let written = 0;
        const limit = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            written += chunk.length;
            if (written > 2 << 20)
              cb(Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28 }));
            else cb(null, chunk);
          },
        });
        body.on("error", (e) => limit.destroy(e));
        return storage.put(key, body.pipe(limit), options);
      },
      get: (k, o) => storage.get(k, o),
      head: (k) => storage.head(k),
      list: (p, o) => storage.list(p, o),
      delete: (k) => storage.delete(k),
    };
  }

  it("fails with a clear E_STORAGE, leaves no partial object, and the earlier backup still restores", async () => {
    console.info(`[reliability] disk full runs on ${mounted ? "a real 2 MiB tmpfs" : "an ENOSPC-failing wrapper"}`);
    const small = randomBytes(100 * 1024);
    const first = memorySource("data", () => small);
    const okBox = createStrongbox({ sources: [first], storage: smallDisk(), logger: silentLogger });
    const previous = await okBox.backup();
    const before = await snapshotTree(join(mountPoint, "backups"));

    const big = randomBytes(3 << 20);
    const box = createStrongbox({
      sources: [memorySource("data", () => big)],
      storage: smallDisk(),
      logger: silentLogger,
    });
    const err = await expectCode(box.backup(), "E_STORAGE");
    expect(err.message).toMatch(/space|ENOSPC|full/i);
    expect(err.message).toContain(mountPoint);
    // Natively: exactly the earlier backup's files, no temp file, no partial artifact. (Empty
    // directories of the failed backup may remain: they hold nothing and no listing shows them.)
    const filesOnly = (t: Record<string, string>) =>
      Object.fromEntries(Object.entries(t).filter(([, v]) => v !== "dir"));
    expect(filesOnly(await snapshotTree(join(mountPoint, "backups")))).toEqual(filesOnly(before));
    expect((await box.list({ includeIncomplete: true })).map((s) => s.id)).toEqual([previous.id]);
    await okBox.restore(previous.id);
    expect(first.restored?.equals(small)).toBe(true);
  });
});

describe("concurrent writers and file modes", () => {
  let root: string;
  beforeAll(async () => {
    root = await tempDir("local");
  });
  afterAll(() => removeDir(root));

  it("two backups started at the same moment on the same storage both complete, with distinct ids", async () => {
    const store = join(root, "two");
    const a = randomBytes(200_000);
    const b = randomBytes(300_000);
    const srcA = memorySource("data", () => a);
    const srcB = memorySource("data", () => b);
    const boxA = createStrongbox({ sources: [srcA], storage: local({ directory: store }), transforms: [gzip()] });
    const boxB = createStrongbox({ sources: [srcB], storage: local({ directory: store }), transforms: [gzip()] });
    const [ma, mb] = await Promise.all([boxA.backup(), boxB.backup()]);
    expect(ma.id).not.toBe(mb.id);
    const listed = (await boxA.list()).map((s) => s.id).sort();
    expect(listed).toEqual([ma.id, mb.id].sort());
    await boxA.restore(ma.id);
    await boxB.restore(mb.id);
    expect(srcA.restored?.equals(a)).toBe(true);
    expect(srcB.restored?.equals(b)).toBe(true);
  });

  it("after a real backup every file is 0600 and every directory 0700, whatever the umask", async () => {
    const src = join(root, "perm-src");
    await mkdir(join(src, "sub"), { recursive: true });
    await writeFile(join(src, "a.txt"), "a");
    await writeFile(join(src, "sub/b.txt"), "b");
    const store = join(root, "perm-store", "nested");
    const { recipient } = generateIdentity();
    const oldUmask = process.umask(0o022);
    try {
      const box = createStrongbox({
        sources: [files({ name: "site", paths: [src] })],
        storage: local({ directory: store }),
        transforms: [gzip(), encrypt({ recipients: [recipient] })],
        logger: silentLogger,
      });
      const m = await box.backup({ tags: ["weekly"] });
      await box.pin(m.id);
    } finally {
      process.umask(oldUmask);
    }
    const entries = await modesUnder(join(root, "perm-store"));
    const filesSeen = entries.filter((e) => !e.dir);
    expect(filesSeen.length).toBeGreaterThanOrEqual(4); // artifact, manifest, tag marker, pin marker
    const wrong = entries.filter((e) => e.mode !== (e.dir ? 0o700 : 0o600));
    expect(wrong.map((e) => `${e.path} ${e.mode.toString(8)}`)).toEqual([]);
  });
});
