import { execFileSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { StrongboxError } from "../src/errors.js";
import { TEMP_PREFIX } from "../src/storage/atomic-write.js";
import { fsError } from "../src/storage/fs-errors.js";
import { local } from "../src/storage/local.js";

const made: string[] = [];
afterAll(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

async function tempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `strongbox-local-${label}-`));
  made.push(dir);
  return dir;
}

async function rejection(promise: Promise<unknown>): Promise<StrongboxError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(StrongboxError);
    return err as StrongboxError;
  }
  throw new Error("expected a rejection, but it resolved");
}

async function read(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Every path under `dir`, relative, including dot files (what a person sees with `find`). */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map((e) => relative(dir, join(dir, e))).sort();
}

async function keys(storage: ReturnType<typeof local>, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.list(prefix)) out.push(o.key);
  return out.sort();
}

/** A body that emits `before` bytes and then fails. */
function failing(before: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= before) return this.destroy(new Error("source broke"));
      sent += 65536;
      this.push(Buffer.alloc(65536, 1));
    },
  });
}

describe("local(): options", () => {
  it("requires a directory and names it", () => {
    expect(() => local(undefined as never)).toThrow(/"directory"/);
    expect(() => local({} as never)).toThrow(/missing required option "directory"/);
    expect(() => local({ directory: "" })).toThrow(expect.objectContaining({ code: "E_CONFIG" }));
  });

  it("rejects impossible modes", () => {
    expect(() => local({ directory: "/tmp/x", fileMode: -1 })).toThrow(/fileMode/);
    expect(() => local({ directory: "/tmp/x", dirMode: 0o70000 })).toThrow(/dirMode/);
  });

  it("reports type, an absolute location and rangedGet", () => {
    const storage = local({ directory: "relative/backups" });
    expect(storage.type).toBe("local");
    expect(storage.location).toBe(join(process.cwd(), "relative/backups"));
    expect(storage.capabilities?.rangedGet).toBe(true);
  });
});

describe("local(): file and directory modes", () => {
  let umask = 0;
  beforeEach(() => {
    // A permissive umask would loosen modes that were only passed to open/mkdir.
    umask = process.umask(0o000);
    return () => {
      process.umask(umask);
    };
  });

  it("writes files 0600 and directories 0700 whatever the umask", async () => {
    const base = await tempDir("modes");
    const directory = join(base, "new-root", "backups");
    const storage = local({ directory });
    await storage.put("a/b/c.bin", Readable.from([Buffer.from("x")]));
    expect((await stat(join(directory, "a/b/c.bin"))).mode & 0o777).toBe(0o600);
    for (const dir of ["new-root", "new-root/backups", "new-root/backups/a", "new-root/backups/a/b"]) {
      expect((await stat(join(base, dir))).mode & 0o777, dir).toBe(0o700);
    }
  });

  it("applies custom modes and leaves an existing root's mode alone", async () => {
    const directory = await tempDir("custom-modes");
    await chmod(directory, 0o755);
    const storage = local({ directory, fileMode: 0o640, dirMode: 0o750 });
    await storage.put("x/y.bin", Readable.from([Buffer.from("x")]));
    await storage.put("x/y.bin", Readable.from([Buffer.from("overwritten")]));
    expect((await stat(join(directory, "x/y.bin"))).mode & 0o777).toBe(0o640);
    expect((await stat(join(directory, "x"))).mode & 0o777).toBe(0o750);
    expect((await stat(directory)).mode & 0o777).toBe(0o755);
  });
});

describe("local(): temp files", () => {
  it("never lists uploads in progress, and leaves no temp file behind", async () => {
    const directory = await tempDir("temp");
    const storage = local({ directory });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent === 1) {
          void gate.then(() => this.push(null));
          return;
        }
        sent++;
        this.push(Buffer.alloc(100_000, 7));
      },
    });
    const upload = storage.put("dir/obj.bin", body);
    // Wait until the temp file exists on disk with data in it.
    for (let i = 0; i < 100 && !(await tree(directory)).some((p) => p.includes(TEMP_PREFIX)); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const during = await tree(directory);
    expect(
      during.some((p) => p.startsWith(`dir/${TEMP_PREFIX}`)),
      `tree during upload: ${during}`,
    ).toBe(true);
    expect(await keys(storage)).toEqual([]);
    expect(await storage.head("dir/obj.bin")).toBeUndefined();
    release();
    expect((await upload).size).toBe(100_000);
    expect(await tree(directory)).toEqual(["dir", "dir/obj.bin"]);
    expect(await keys(storage)).toEqual(["dir/obj.bin"]);
  });

  it("skips stray temp files (a crash mid-upload) in listings", async () => {
    const directory = await tempDir("stray");
    await mkdir(join(directory, "a"), { recursive: true });
    await writeFile(join(directory, `${TEMP_PREFIX}deadbeef`), "partial");
    await writeFile(join(directory, "a", `${TEMP_PREFIX}cafe`), "partial");
    await writeFile(join(directory, "a", "real.bin"), "real");
    expect(await keys(local({ directory }))).toEqual(["a/real.bin"]);
  });

  it("sweep() removes stray temp files older than the cutoff and the directories they leave empty", async () => {
    const directory = await tempDir("sweep");
    await mkdir(join(directory, "id1", "comp"), { recursive: true });
    await mkdir(join(directory, "id2"), { recursive: true });
    const old = join(directory, "id1", "comp", `${TEMP_PREFIX}old`);
    const fresh = join(directory, "id2", `${TEMP_PREFIX}fresh`);
    await writeFile(old, "left by a killed process");
    await writeFile(fresh, "an upload in progress");
    await writeFile(join(directory, "id2", "real.bin"), "real");
    await utimes(old, new Date("2026-01-01T00:00:00Z"), new Date("2026-01-01T00:00:00Z"));
    const result = await local({ directory }).sweep!({ olderThan: new Date(Date.now() - 3600_000) });
    expect(result).toEqual({ removed: 1 });
    expect(await tree(directory)).toEqual(["id2", `id2/${TEMP_PREFIX}fresh`, "id2/real.bin"].sort());
  });

  it("removes the temp file when the body fails or the put is aborted", async () => {
    const directory = await tempDir("cleanup");
    const storage = local({ directory });
    const failed = await rejection(storage.put("x/broken.bin", failing(1024 * 1024)));
    expect(failed.code).toBe("E_STORAGE");
    expect(failed.message).toContain('"x/broken.bin"');
    const controller = new AbortController();
    const aborted = storage.put("x/aborted.bin", failing(64 * 1024 * 1024), { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    expect((await rejection(aborted)).code).toBe("E_ABORTED");
    expect((await tree(directory)).filter((p) => p.includes(TEMP_PREFIX))).toEqual([]);
  });

  it("refuses keys that use the temp prefix", async () => {
    const storage = local({ directory: await tempDir("reserved") });
    const err = await rejection(storage.put(`a/${TEMP_PREFIX}x`, Readable.from([])));
    expect(err.code).toBe("E_CONFIG");
  });
});

describe("local(): objects and directories", () => {
  it("prunes directories a delete left empty, up to but not including the root", async () => {
    const directory = await tempDir("prune");
    const storage = local({ directory });
    await storage.put("p/q/r/one.bin", Readable.from([Buffer.from("1")]));
    await storage.put("p/two.bin", Readable.from([Buffer.from("2")]));
    await storage.delete(["p/q/r/one.bin"]);
    expect(await tree(directory)).toEqual(["p", "p/two.bin"]);
    await storage.delete(["p/two.bin"]);
    expect(await tree(directory)).toEqual([]);
    expect((await stat(directory)).isDirectory()).toBe(true);
  });

  it("reports keys that clash with directories as E_STORAGE with a hint", async () => {
    const directory = await tempDir("clash");
    const storage = local({ directory });
    await storage.put("a", Readable.from([Buffer.from("file")]));
    const under = await rejection(storage.put("a/b", Readable.from([Buffer.from("x")])));
    expect(under.code).toBe("E_STORAGE");
    expect(under.message).toMatch(/clashes with an existing object/);
    await storage.put("d/e", Readable.from([Buffer.from("x")]));
    const over = await rejection(storage.put("d", Readable.from([Buffer.from("x")])));
    expect(over.code).toBe("E_STORAGE");
    expect(over.message).toMatch(/names a directory/);
    expect(await keys(storage)).toEqual(["a", "d/e"]);
  });

  it("checks options.size against the bytes received", async () => {
    const storage = local({ directory: await tempDir("size") });
    const err = await rejection(storage.put("s.bin", Readable.from([Buffer.alloc(10)]), { size: 11 }));
    expect(err.code).toBe("E_INTEGRITY");
    expect(await storage.head("s.bin")).toBeUndefined();
    expect((await storage.put("s.bin", Readable.from([Buffer.alloc(10)]), { size: 10 })).size).toBe(10);
    // A short body never replaces the version already there.
    await rejection(storage.put("s.bin", Readable.from([Buffer.alloc(3)]), { size: 4 }));
    expect((await storage.head("s.bin"))?.size).toBe(10);
  });

  it("validates ranges and aborts reads", async () => {
    const storage = local({ directory: await tempDir("range") });
    await storage.put("r.bin", Readable.from([Buffer.alloc(4 * 1024 * 1024, 3)]));
    expect((await rejection(storage.get("r.bin", { range: { start: -1 } }))).code).toBe("E_CONFIG");
    expect((await rejection(storage.get("r.bin", { range: { start: 5, end: 4 } }))).code).toBe("E_CONFIG");
    expect((await read(await storage.get("r.bin", { range: { start: 4 * 1024 * 1024 - 2 } }))).length).toBe(2);
    const controller = new AbortController();
    const stream = await storage.get("r.bin", { signal: controller.signal });
    controller.abort();
    const err = await rejection(read(stream));
    expect(err.code).toBe("E_ABORTED");
  });

  it("names the key and directory in E_NOT_FOUND", async () => {
    const directory = await tempDir("notfound");
    const err = await rejection(local({ directory }).get("nope/x.bin"));
    expect(err.code).toBe("E_NOT_FOUND");
    expect(err.message).toBe(`[strongbox] [local] object "nope/x.bin" does not exist in ${directory}`);
  });

  it("lists nothing, and heads undefined, when the directory does not exist yet", async () => {
    const storage = local({ directory: join(await tempDir("absent"), "not-yet") });
    expect(await keys(storage)).toEqual([]);
    expect(await storage.head("a")).toBeUndefined();
    await storage.delete(["a/b"]);
  });
});

describe("local(): path escapes", () => {
  it("refuses to follow a directory symlink out of the root", async () => {
    const base = await tempDir("escape");
    const directory = join(base, "root");
    const outside = join(base, "outside");
    await mkdir(directory);
    await mkdir(outside);
    await writeFile(join(outside, "secret.txt"), "outside");
    await symlink(outside, join(directory, "link"));
    const storage = local({ directory });
    for (const attempt of [
      () => storage.put("link/new.txt", Readable.from([Buffer.from("x")])),
      () => storage.put("link/deeper/new.txt", Readable.from([Buffer.from("x")])),
      () => storage.get("link/secret.txt"),
      () => storage.head("link/secret.txt"),
      () => storage.delete(["link/secret.txt"]),
    ]) {
      const err = await rejection(attempt());
      expect(err.code).toBe("E_CONFIG");
      expect(err.message).toMatch(/outside .* through a symlink/);
    }
    expect((await tree(outside)).sort()).toEqual(["secret.txt"]);
    expect(await readFile(join(outside, "secret.txt"), "utf8")).toBe("outside");
    expect(await keys(storage)).toEqual([]);
  });

  it("does not read through a symlink planted as an object", async () => {
    const base = await tempDir("filelink");
    const directory = join(base, "root");
    await mkdir(directory);
    await writeFile(join(base, "secret.txt"), "outside");
    await symlink(join(base, "secret.txt"), join(directory, "evil"));
    const storage = local({ directory });
    expect((await rejection(storage.get("evil"))).code).toBe("E_NOT_FOUND");
    expect(await storage.head("evil")).toBeUndefined();
    expect(await keys(storage)).toEqual([]);
    await storage.delete(["evil"]);
    expect(await readFile(join(base, "secret.txt"), "utf8")).toBe("outside");
  });

  it("rejects traversal keys before touching the disk", async () => {
    const base = await tempDir("traversal");
    const storage = local({ directory: join(base, "root") });
    for (const key of ["../x", "a/../../x", "/etc/passwd", "a\\..\\x", "C:/x", "a\0b"]) {
      expect((await rejection(storage.put(key, Readable.from([Buffer.from("x")])))).code, key).toBe("E_CONFIG");
      expect((await rejection(storage.get(key))).code, key).toBe("E_CONFIG");
    }
    expect(await tree(base)).toEqual([]);
  });
});

describe("local(): error messages", () => {
  it("maps errno values to hints without raw internals", () => {
    const mk = (code: string) => Object.assign(new Error(`${code}: something, open '/x'`), { code });
    expect(fsError(mk("EACCES"), "writing", "/srv/b").message).toBe(
      "[strongbox] [local] writing /srv/b failed (EACCES, permission denied: check the owner and mode of the backup directory and its parents)",
    );
    expect(fsError(mk("ENOSPC"), "writing", "/srv/b").message).toMatch(/disk full/);
    expect(fsError(mk("ENOSPC"), "writing", "/srv/b").code).toBe("E_STORAGE");
    expect(fsError(Object.assign(new Error("x"), { name: "AbortError" }), "writing", "/srv/b").code).toBe("E_ABORTED");
  });
});

/** A real full disk: a 1 MiB tmpfs (needs root and mount; skipped with the reason otherwise). */
const tmpfs = await (async (): Promise<{ dir: string } | { reason: string }> => {
  if (process.platform !== "linux") return { reason: "tmpfs mounts need Linux" };
  if (process.getuid?.() !== 0) return { reason: "mounting a tiny tmpfs needs root" };
  const dir = await mkdtemp(join(tmpdir(), "strongbox-enospc-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", dir], { stdio: "pipe" });
    return { dir };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    return { reason: `mount -t tmpfs failed: ${(err as Error).message.split("\n")[0]}` };
  }
})();
if ("reason" in tmpfs) console.warn(`[local.test] skipping the ENOSPC test: ${tmpfs.reason}`);

describe.skipIf("reason" in tmpfs)("local(): full disk", () => {
  const dir = "dir" in tmpfs ? tmpfs.dir : "";
  afterAll(async () => {
    execFileSync("umount", [dir]);
    await rm(dir, { recursive: true, force: true });
  });

  it("fails with E_STORAGE naming the key, the path and 'disk full', keeping the old version", async () => {
    const storage = local({ directory: dir });
    await storage.put("db/dump", Readable.from([Buffer.from("old version")]));
    const err = await rejection(storage.put("db/dump", Readable.from([Buffer.alloc(4 * 1024 * 1024, 5)])));
    expect(err.code).toBe("E_STORAGE");
    expect(err.message).toContain('"db/dump"');
    expect(err.message).toContain(join(dir, "db/dump"));
    expect(err.message).toMatch(/ENOSPC, disk full/);
    expect((await read(await storage.get("db/dump"))).toString()).toBe("old version");
    expect(await tree(dir)).toEqual(["db", "db/dump"]);
  });
});
