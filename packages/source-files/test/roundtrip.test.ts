import { execFile } from "node:child_process";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { files } from "@strongbox/source-files";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LONG_NAME, makeTree, UNICODE_DIR, UNICODE_FILE } from "./fixture.js";
import { backupTo, openFrom, restoreCtx, scratch, snapshotTree } from "./helpers.js";

const run = promisify(execFile);
const BIG = 50 * 1024 * 1024;

describe("files(): round trip of a real tree", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let src: string;
  let out: string;
  let original: Awaited<ReturnType<typeof snapshotTree>>;
  let component: Awaited<ReturnType<typeof backupTo>>;

  beforeAll(async () => {
    ({ dir, cleanup } = await scratch());
    src = join(dir, "uploads");
    out = join(dir, "artifacts");
    await mkdir(src);
    await makeTree(src, { bigBytes: BIG });
    original = await snapshotTree(src, { rootMeta: true });
    component = await backupTo(files({ name: "uploads", paths: [src] }), out);
  });
  afterAll(() => cleanup());

  it("writes one tar artifact per path with its meta and counts", async () => {
    expect(component.artifacts.map((a) => a.name)).toEqual(["uploads.tar"]);
    const fileCount = original.filter((n) => n.type === "file").length;
    const bytes = original.reduce((s, n) => s + (n.size ?? 0), 0);
    expect(component.artifacts[0]?.meta).toMatchObject({
      path: src,
      kind: "directory",
      files: fileCount,
      bytes,
      symlinks: 1,
    });
    expect(component.stats?.counts).toEqual({ "uploads.files": fileCount, "uploads.bytes": bytes });
    expect((await stat(join(out, "uploads.tar"))).size).toBeGreaterThan(BIG);
  });

  it("restores identically (content, modes, mtimes, symlinks, empty dirs, unicode and long names)", async () => {
    const dest = join(dir, "restored");
    const result = await files({ paths: [src] }).restore(restoreCtx(component, openFrom(out), { directory: dest }));
    expect(await snapshotTree(dest, { rootMeta: true })).toEqual(original);
    expect(result.stats?.counts).toEqual(component.stats?.counts);
  });

  it("is a standard tar: GNU tar lists and extracts it identically", async () => {
    const tarFile = join(out, "uploads.tar");
    const { stdout } = await run("tar", ["-tf", tarFile], { maxBuffer: 1 << 20 });
    const names = stdout
      .trim()
      .split("\n")
      .map((n) => n.replace(/\/$/, ""));
    const expected = original.map((n) => n.path).filter((p) => p !== ".");
    expect(names.filter((n) => n !== ".").sort()).toEqual(expected.sort());
    expect(names).toContain(`${UNICODE_DIR}/${UNICODE_FILE}`);
    expect(names).toContain(LONG_NAME);
    const verbose = (await run("tar", ["-tvf", tarFile], { maxBuffer: 1 << 20 })).stdout;
    expect(verbose).toMatch(/^lrwxrwxrwx .* sub\/link-to-a -> \.\.\/a\.txt$/m);
    expect(verbose).toMatch(/^-rw------- .* 2021-03-04 05:06 a\.txt$/m);
    const byTar = join(dir, "by-gnu-tar");
    await mkdir(byTar);
    await run("tar", ["-xf", tarFile, "-C", byTar], { env: { ...process.env, TZ: "UTC" } });
    expect(await snapshotTree(byTar, { rootMeta: true })).toEqual(original);
  });

  it("restores an archive written by GNU tar (pax format, ./ prefixes)", async () => {
    const gnuTar = join(out, "gnu.tar");
    await run("tar", ["--format=pax", "-cf", gnuTar, "-C", src, "."]);
    const dest = join(dir, "from-gnu");
    const component2 = { ...component, artifacts: [{ ...component.artifacts[0]!, name: "gnu.tar" }] };
    await files({ paths: [src] }).restore(restoreCtx(component2, openFrom(out), { directory: dest }));
    expect(await snapshotTree(dest, { rootMeta: true })).toEqual(original);
  });

  it("restores into the original path by default, replacing what changed", async () => {
    await writeFile(join(src, "a.txt"), "changed");
    await writeFile(join(src, "new-file.txt"), "added after the backup");
    await files({ paths: [src] }).restore(restoreCtx(component, openFrom(out)));
    expect(await snapshotTree(src, { rootMeta: true })).toEqual(original);
  });
});
