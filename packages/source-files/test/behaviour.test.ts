import { execFile } from "node:child_process";
import { mkdir, readdir, readFile, rm, stat, symlink, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { StrongboxError } from "@strongbox/core";
import { files } from "@strongbox/source-files";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeBig } from "./fixture.js";
import { backupTo, ctxBase, listAll, openFrom, restoreCtx, scratch, snapshotTree } from "./helpers.js";

const run = promisify(execFile);

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await scratch("sf-beh-"));
});
afterEach(() => cleanup());

async function tree(root: string, content: Record<string, string>): Promise<void> {
  for (const [rel, text] of Object.entries(content)) {
    await mkdir(join(root, rel, ".."), { recursive: true });
    await writeFile(join(root, rel), text);
  }
}

describe("merge mode", () => {
  const setup = async () => {
    const src = join(dir, "site");
    await tree(src, { "index.html": "new index", "css/app.css": "body{}", "img/logo.svg": "<svg/>" });
    const comp = await backupTo(files({ paths: [src] }), join(dir, "out"));
    const dest = join(dir, "dest");
    await tree(dest, { "index.html": "old index", "local.txt": "mine" });
    return { comp, dest, open: openFrom(join(dir, "out")) };
  };

  it('existing: "fail" refuses with E_CONFLICT naming the first existing file, before writing anything', async () => {
    const { comp, dest, open } = await setup();
    const before = await snapshotTree(dir);
    const err = await files({ paths: ["/unused"] })
      .restore(restoreCtx(comp, open, { directory: dest, mode: "merge", existing: "fail" }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StrongboxError);
    expect(err).toMatchObject({ code: "E_CONFLICT" });
    expect((err as Error).message).toContain(join(dest, "index.html"));
    expect(await snapshotTree(dir)).toEqual(before);
  });

  it('existing: "skip" keeps existing files and adds the rest', async () => {
    const { comp, dest, open } = await setup();
    const res = await files({ paths: ["/unused"], restore: { mode: "merge", existing: "skip" } }).restore(
      restoreCtx(comp, open, { directory: dest }),
    );
    expect(await readFile(join(dest, "index.html"), "utf8")).toBe("old index");
    expect(await readFile(join(dest, "css/app.css"), "utf8")).toBe("body{}");
    expect(await readFile(join(dest, "local.txt"), "utf8")).toBe("mine");
    expect(await listAll(dest)).toEqual(["css", "css/app.css", "img", "img/logo.svg", "index.html", "local.txt"]);
    expect(res.details).toMatchObject({ mode: "merge", existing: "skip", "site.existing": 1 });
  });

  it('existing: "overwrite" replaces existing files and keeps unrelated ones', async () => {
    const { comp, dest, open } = await setup();
    await files({ paths: ["/unused"] }).restore(restoreCtx(comp, open, { directory: dest, mode: "merge" }));
    expect(await readFile(join(dest, "index.html"), "utf8")).toBe("new index");
    expect(await readFile(join(dest, "local.txt"), "utf8")).toBe("mine");
    expect(await readdir(dir)).toEqual(["dest", "out", "site"]); // no staging left
  });

  it("preview reports what a merge would overwrite and touches nothing", async () => {
    const { comp, dest, open } = await setup();
    const before = await snapshotTree(dir);
    const p = await files({ paths: ["/unused"] }).preview!(
      restoreCtx(comp, open, { directory: dest, mode: "merge", existing: "skip" }, undefined, true),
    );
    expect(p.exists).toBe(true);
    expect(p.replaces).toEqual([{ name: dest, current: 1, incoming: 3, unit: "files" }]);
    expect(p.notes?.[0]).toContain("index.html");
    expect(await snapshotTree(dir)).toEqual(before);
  });

  it("preview of a replace lists the current files that would go, and says when the destination is missing", async () => {
    const { comp, dest, open } = await setup();
    const before = await snapshotTree(dir);
    const p = await files({ paths: ["/unused"] }).preview!(restoreCtx(comp, open, { directory: dest }));
    expect(p).toMatchObject({
      exists: true,
      target: dest,
      replaces: [{ name: dest, current: 2, incoming: 3, unit: "files" }],
    });
    expect(p.notes?.[0]).toMatch(/index\.html, local\.txt/);
    const missing = await files({ paths: ["/unused"] }).preview!(
      restoreCtx(comp, open, { directory: join(dir, "nope") }),
    );
    expect(missing.exists).toBe(false);
    expect(await snapshotTree(dir)).toEqual(before);
  });
});

describe("backup details", () => {
  it("exclude globs: base-name patterns at any depth, path patterns, excluded dirs not descended", async () => {
    const src = join(dir, "app");
    await tree(src, {
      "keep.txt": "k",
      "debug.log": "x",
      "deep/er/trace.log": "x",
      "node_modules/pkg/index.js": "x",
      "lib/node_modules/x.js": "x",
      "cache/a/b.bin": "x",
      "cache.txt": "kept: cache/** excludes the cache directory only",
      "src/main.ts": "m",
    });
    const source = files({ paths: [src], exclude: ["*.log", "node_modules", "cache/**"] });
    const comp = await backupTo(source, join(dir, "out"));
    const { stdout } = await run("tar", ["-tf", join(dir, "out", "app.tar")]);
    expect(stdout.trim().split("\n").sort()).toEqual(
      ["./", "cache.txt", "deep/", "deep/er/", "keep.txt", "lib/", "src/", "src/main.ts"].sort(),
    );
    expect(comp.stats?.counts).toEqual({
      "app.files": 3,
      "app.bytes": 1 + 1 + "kept: cache/** excludes the cache directory only".length,
    });
  });

  it("skips and counts sockets/FIFOs; stores symlinks as links unless followSymlinks", async () => {
    const src = join(dir, "s");
    await tree(src, { "real/file.txt": "data" });
    await run("mkfifo", [join(src, "pipe")]);
    await symlink("real", join(src, "alias"));
    const comp = await backupTo(files({ paths: [src] }), join(dir, "out1"));
    expect(comp.artifacts[0]?.meta).toMatchObject({ files: 1, symlinks: 1, special: 1 });
    const followed = await backupTo(files({ paths: [src], followSymlinks: true }), join(dir, "out2"));
    expect(followed.artifacts[0]?.meta).toMatchObject({ files: 2, symlinks: 0, special: 1 });
    const { stdout } = await run("tar", ["-tf", join(dir, "out2", "s.tar")]);
    expect(stdout).toContain("alias/file.txt");
  });

  it("deduplicates artifact names of paths sharing a base name, and restores each into directory/<name>", async () => {
    await tree(join(dir, "a", "data"), { "x.txt": "from a" });
    await tree(join(dir, "b", "data"), { "y.txt": "from b" });
    await tree(dir, { "config.yml": "k: v" });
    const source = files({ paths: [join(dir, "a", "data"), join(dir, "b", "data"), join(dir, "config.yml")] });
    const comp = await backupTo(source, join(dir, "out"));
    expect(comp.artifacts.map((a) => a.name)).toEqual(["data.tar", "data-2.tar", "config.yml.tar"]);
    expect(comp.stats?.counts).toMatchObject({
      "data.files": 1,
      "data-2.files": 1,
      "config.yml.files": 1,
      "config.yml.bytes": 4,
    });
    const target = join(dir, "restore-here");
    await source.restore(restoreCtx(comp, openFrom(join(dir, "out")), { directory: target }));
    expect(await listAll(target)).toEqual(["config.yml", "data", "data-2", "data-2/y.txt", "data/x.txt"]);
    expect(await readFile(join(target, "config.yml"), "utf8")).toBe("k: v");
  });

  it("a single file path round-trips in place (replace) and into a directory", async () => {
    const file = join(dir, "settings.json");
    await writeFile(file, '{"a":1}');
    const source = files({ paths: [file] });
    const comp = await backupTo(source, join(dir, "out"));
    await writeFile(file, "broken");
    await source.restore(restoreCtx(comp, openFrom(join(dir, "out"))));
    expect(await readFile(file, "utf8")).toBe('{"a":1}');
    await source.restore(restoreCtx(comp, openFrom(join(dir, "out")), { directory: join(dir, "elsewhere") }));
    expect(await readFile(join(dir, "elsewhere", "settings.json"), "utf8")).toBe('{"a":1}');
    expect((await readdir(dir)).sort()).toEqual(["elsewhere", "out", "settings.json"]);
  });

  it("a file that shrinks while read is zero-padded, counted, and the tar stays valid", async () => {
    const src = join(dir, "grow");
    await mkdir(src);
    await writeBig(join(src, "a.bin"), 4 * 1024 * 1024);
    await writeFile(join(src, "z-after.txt"), "still here");
    let changedWarning = "";
    const logger = { ...ctxBase().logger, warn: (m: string) => (changedWarning ||= m) };
    const it = files({ paths: [src] })
      .backup({ ...ctxBase(), logger, backupId: "t" })
      [Symbol.asyncIterator]();
    const art = (await it.next()).value!;
    const chunks: Buffer[] = [];
    let truncated = false;
    let seen = 0;
    for await (const c of art.stream) {
      chunks.push(c as Buffer);
      seen += (c as Buffer).length;
      if (!truncated && seen > 1024 * 1024) {
        truncated = true;
        await truncate(join(src, "a.bin"), 1000);
      }
    }
    const meta = await art.done!();
    expect(meta).toMatchObject({ files: 2, changed: 1, bytes: 4 * 1024 * 1024 + 10 });
    expect(changedWarning).toMatch(/shrank/);
    await writeFile(join(dir, "g.tar"), Buffer.concat(chunks));
    const out = join(dir, "x");
    await mkdir(out);
    await run("tar", ["-xf", join(dir, "g.tar"), "-C", out]);
    expect((await stat(join(out, "a.bin"))).size).toBe(4 * 1024 * 1024);
    expect(await readFile(join(out, "z-after.txt"), "utf8")).toBe("still here");
  });

  it("a file that vanishes during the walk is skipped and counted, with a warning", async () => {
    const src = join(dir, "v");
    await mkdir(src);
    await writeBig(join(src, "a.bin"), 4 * 1024 * 1024);
    await writeFile(join(src, "b.txt"), "will vanish");
    await writeFile(join(src, "c.txt"), "stays");
    const warnings: string[] = [];
    const logger = { ...ctxBase().logger, warn: (m: string) => warnings.push(m) };
    const it = files({ paths: [src] })
      .backup({ ...ctxBase(), logger, backupId: "t" })
      [Symbol.asyncIterator]();
    const art = (await it.next()).value!;
    const chunks: Buffer[] = [];
    let removed = false;
    for await (const c of art.stream) {
      chunks.push(c as Buffer);
      if (!removed) {
        removed = true;
        await rm(join(src, "b.txt"));
      }
    }
    expect(await art.done!()).toMatchObject({ files: 2, vanished: 1 });
    expect(warnings.join("\n")).toMatch(/1 vanished/);
    await writeFile(join(dir, "v.tar"), Buffer.concat(chunks));
    const { stdout } = await run("tar", ["-tf", join(dir, "v.tar")]);
    expect(stdout.trim().split("\n")).toEqual(["./", "a.bin", "c.txt"]);
  });

  it("abort mid-backup destroys the stream with E_ABORTED and done() rejects", async () => {
    const src = join(dir, "big");
    await mkdir(src);
    await writeBig(join(src, "a.bin"), 16 * 1024 * 1024);
    const ac = new AbortController();
    const it = files({ paths: [src] })
      .backup({ ...ctxBase(ac.signal), backupId: "t" })
      [Symbol.asyncIterator]();
    const art = (await it.next()).value!;
    let received = 0;
    const err = await (async () => {
      for await (const c of art.stream) {
        received += (c as Buffer).length;
        if (received > 1024 * 1024) ac.abort();
      }
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_ABORTED" });
    expect(received).toBeLessThan(8 * 1024 * 1024);
    await expect(art.done!()).rejects.toMatchObject({ code: "E_ABORTED" });
  });

  it("check() names a missing path (E_SOURCE); inspect() and backup() refuse it too", async () => {
    const missing = join(dir, "does-not-exist");
    await mkdir(join(dir, "ok"));
    const source = files({ paths: [join(dir, "ok"), missing] });
    await expect(source.check!(ctxBase())).rejects.toMatchObject({
      code: "E_SOURCE",
      message: expect.stringContaining(missing),
    });
    await expect(source.inspect!(ctxBase())).rejects.toMatchObject({ code: "E_SOURCE" });
    await expect(files({ paths: [join(dir, "ok")] }).check!(ctxBase())).resolves.toBeUndefined();
  });

  const isRoot = process.getuid?.() === 0;
  if (isRoot)
    console.warn(
      "[source-files tests] skipping the unreadable-file test: root can read a mode-000 file, so EACCES cannot be produced",
    );
  it.skipIf(isRoot)("an unreadable file fails the backup with E_SOURCE naming it", async () => {
    const src = join(dir, "locked");
    await tree(src, { "secret.txt": "x" });
    await run("chmod", ["000", join(src, "secret.txt")]);
    const it = files({ paths: [src] })
      .backup({ ...ctxBase(), backupId: "t" })
      [Symbol.asyncIterator]();
    const art = (await it.next()).value!;
    const err = await (async () => {
      for await (const _ of art.stream);
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_SOURCE", message: expect.stringContaining("secret.txt") });
  });

  it("options are validated at construction (E_CONFIG)", () => {
    expect(() => files({ paths: [] })).toThrow(/paths/);
    expect(() => files({} as never)).toThrow(StrongboxError);
    expect(() => files({ paths: ["/x"], restore: { mode: "sideways" as never } })).toThrow(/replace/);
  });
});

describe("safety backup and restore test", () => {
  it("backup(ctx) honours ctx.target.directory with the same artifact names; a missing target restores as removal", async () => {
    const src = join(dir, "uploads");
    await tree(src, { "a.txt": "original" });
    const source = files({ name: "uploads", paths: [src] });
    const target = join(dir, "other");
    await tree(target, { "b.txt": "in the target" });
    const safety = await backupTo(source, join(dir, "safety"), { directory: target });
    expect(safety.artifacts.map((a) => a.name)).toEqual(["uploads.tar"]);
    expect(safety.stats?.counts).toEqual({ "uploads.files": 1, "uploads.bytes": "in the target".length });
    const { stdout } = await run("tar", ["-tf", join(dir, "safety", "uploads.tar")]);
    expect(stdout).toContain("b.txt");

    const ghost = join(dir, "ghost");
    const none = await backupTo(source, join(dir, "safety2"), { directory: ghost });
    expect(none.artifacts[0]?.meta).toMatchObject({ missing: true, files: 0 });
    await tree(ghost, { "created-by-a-failed-restore.txt": "x" });
    await source.restore(restoreCtx(none, openFrom(join(dir, "safety2")), { directory: ghost }));
    await expect(stat(ghost)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("restoreTest extracts to a scratch dir, compares counts, and removes it", async () => {
    const src = join(dir, "data");
    await tree(src, { "a.txt": "12345", "b/c.txt": "678" });
    const source = files({ paths: [src] });
    const comp = await backupTo(source, join(dir, "out"));
    const res = await source.restoreTest!(restoreCtx(comp, openFrom(join(dir, "out"))));
    expect(res.ok).toBe(true);
    expect(res.checks).toEqual(
      expect.arrayContaining([
        { name: "data.files", ok: true, expected: 2, actual: 2 },
        { name: "data.bytes", ok: true, expected: 8, actual: 8 },
      ]),
    );
    // A manifest whose counts disagree fails the drill.
    const lying = { ...comp, artifacts: comp.artifacts.map((a) => ({ ...a, meta: { ...a.meta, files: 3 } })) };
    const bad = await source.restoreTest!(restoreCtx(lying, openFrom(join(dir, "out"))));
    expect(bad.ok).toBe(false);
    expect(bad.checks).toContainEqual({ name: "data.files", ok: false, expected: 3, actual: 2 });
    const leftovers = (await readdir((await import("node:os")).tmpdir())).filter((n) =>
      n.startsWith("strongbox-files-restore-test-"),
    );
    expect(leftovers).toEqual([]);
  });
});

describe("failed restores leave no trace", () => {
  it("a restore into a directory that did not exist removes the parents it created when it fails", async () => {
    const src = join(dir, "data");
    await tree(src, { "a.txt": "x" });
    const source = files({ paths: [src] });
    const comp = await backupTo(source, join(dir, "out"));
    const target = join(dir, "new", "deeper", "place");
    const { Readable } = await import("node:stream");
    const open = async () => Readable.from([Buffer.alloc(2048, 0x41)]);
    await expect(source.restore(restoreCtx(comp, open, { directory: target }))).rejects.toMatchObject({
      code: "E_FORMAT",
    });
    expect((await readdir(dir)).sort()).toEqual(["data", "out"]);
  });
});

describe("owners and memory", () => {
  const root = process.getuid?.() === 0;
  if (!root)
    console.warn("[source-files tests] skipping the owner round trip: only root can chown files to another uid");
  it.skipIf(!root)("as root, numeric owners are stored and restored (preserveOwner defaults to true)", async () => {
    const src = join(dir, "owned");
    await tree(src, { "theirs.txt": "x", "mine.txt": "y" });
    const { chown } = await import("node:fs/promises");
    await chown(join(src, "theirs.txt"), 1234, 5678);
    const source = files({ paths: [src] });
    const comp = await backupTo(source, join(dir, "out"));
    const { stdout } = await run("tar", ["--numeric-owner", "-tvf", join(dir, "out", "owned.tar")]);
    expect(stdout).toMatch(/ 1234\/5678 .* theirs\.txt$/m);
    await source.restore(restoreCtx(comp, openFrom(join(dir, "out")), { directory: join(dir, "r1") }));
    expect(await stat(join(dir, "r1", "theirs.txt"))).toMatchObject({ uid: 1234, gid: 5678 });
    await source.restore(
      restoreCtx(comp, openFrom(join(dir, "out")), { directory: join(dir, "r2"), preserveOwner: false }),
    );
    expect(await stat(join(dir, "r2", "theirs.txt"))).toMatchObject({ uid: 0, gid: 0 });
  });

  it("backs up a big file with backpressure: the producer reads only a bounded amount ahead of the consumer", async () => {
    const src = join(dir, "mem");
    await mkdir(src);
    await writeBig(join(src, "big.bin"), 64 * 1024 * 1024);
    // Count what is read from disk, through FileHandle.prototype.read (what the producer uses).
    const { open } = await import("node:fs/promises");
    const probe = await open(join(src, "big.bin"));
    const proto = Object.getPrototypeOf(probe) as { read: (...args: unknown[]) => Promise<{ bytesRead: number }> };
    await probe.close();
    const original = proto.read;
    let readFromDisk = 0;
    proto.read = async function (this: unknown, ...args: unknown[]) {
      const r = await original.apply(this, args);
      readFromDisk += r.bytesRead;
      return r;
    };
    try {
      let consumed = 0;
      let chunks = 0;
      let maxAhead = 0;
      for await (const art of files({ paths: [src] }).backup({ ...ctxBase(), backupId: "t" })) {
        for await (const c of art.stream) {
          consumed += (c as Buffer).length;
          // A stalled consumer: give the producer every chance to run ahead.
          if (consumed < 32 * 1024 * 1024 && ++chunks % 20 === 0) await new Promise((r) => setTimeout(r, 20));
          maxAhead = Math.max(maxAhead, readFromDisk - consumed);
        }
        await art.done?.();
      }
      expect(readFromDisk).toBe(64 * 1024 * 1024);
      expect(maxAhead).toBeLessThan(2 * 1024 * 1024);
    } finally {
      proto.read = original;
    }
  });
});
