import { mkdir, readdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { type ComponentRecord, StrongboxError } from "@strongbox/core";
import { files } from "@strongbox/source-files";
import tar from "tar-stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backupTo, listAll, restoreCtx, scratch, snapshotTree } from "./helpers.js";

type Entry = { header: Partial<tar.Header> & { name: string }; body?: string };

/** A hand-made (hostile) tar, built with tar-stream like an attacker would. */
async function makeTar(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) =>
      pack.entry({ mtime: new Date(0), ...e.header }, e.body ?? "", (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

const component = (meta: Record<string, unknown>, name = "dest.tar"): ComponentRecord => ({
  name: "files",
  type: "files",
  startedAt: new Date().toISOString(),
  durationMs: 0,
  artifacts: [{ name, key: name, size: 0, sha256: "", plainSize: 0, plainSha256: "", transforms: [], meta }],
});

describe("restore refuses archives that would escape the destination", () => {
  let sandbox: string;
  let cleanup: () => Promise<void>;
  let dest: string;
  let outside: string;
  let before: Awaited<ReturnType<typeof snapshotTree>>;

  beforeEach(async () => {
    ({ dir: sandbox, cleanup } = await scratch("sf-sec-"));
    dest = join(sandbox, "dest");
    outside = join(sandbox, "outside");
    await mkdir(dest);
    await mkdir(outside);
    await writeFile(join(dest, "keep.txt"), "precious");
    await writeFile(join(outside, "secret"), "do not touch");
    before = await snapshotTree(sandbox);
  });
  afterEach(() => cleanup());

  const restoreTar = async (buf: Buffer, target: Record<string, unknown> = {}) =>
    files({ paths: [dest] }).restore(
      restoreCtx(component({ path: dest, kind: "directory" }), async () => Readable.from([buf]), {
        directory: dest,
        ...target,
      }),
    );

  const expectRefusedAndUntouched = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StrongboxError);
    expect(["E_INTEGRITY", "E_FORMAT"]).toContain((err as StrongboxError).code);
    expect((err as Error).message).toMatch(/^\[strongbox\] \[files\]/);
    // Nothing outside, destination untouched, no staging left behind, the secret not hardlinked.
    expect(await snapshotTree(sandbox)).toEqual(before);
    expect((await stat(join(outside, "secret"))).nlink).toBe(1);
    return err as StrongboxError;
  };

  const cases: Array<[string, () => Entry[]]> = [
    ["a ../ name", () => [{ header: { name: "../outside/evil" }, body: "x" }]],
    ["a nested ../ name", () => [{ header: { name: "ok/../../outside/evil" }, body: "x" }]],
    ["an absolute name", () => [{ header: { name: join(outside, "abs") }, body: "x" }]],
    [
      "an absolute symlink, then a write through it",
      () => [
        { header: { name: "a", type: "symlink", linkname: outside } },
        { header: { name: "a/passwd" }, body: "pwned" },
      ],
    ],
    [
      "a relative symlink out, then a write through it",
      () => [
        { header: { name: "a", type: "symlink", linkname: "../outside" } },
        { header: { name: "a/passwd" }, body: "pwned" },
      ],
    ],
    [
      "a relative symlink out alone",
      () => [{ header: { name: "sub/up", type: "symlink", linkname: "../../outside/secret" } }],
    ],
    [
      "a chain of symlinks escaping (s -> ., l -> s/../outside)",
      () => [
        { header: { name: "s", type: "symlink", linkname: "." } },
        { header: { name: "l", type: "symlink", linkname: "s/../outside" } },
      ],
    ],
    ["a hardlink out (relative)", () => [{ header: { name: "h", type: "link", linkname: "../outside/secret" } }]],
    ["a hardlink out (absolute)", () => [{ header: { name: "h", type: "link", linkname: join(outside, "secret") } }]],
    [
      "a file, then an entry below it",
      () => [
        { header: { name: "f" }, body: "x" },
        { header: { name: "f/g" }, body: "y" },
      ],
    ],
    ["a device entry", () => [{ header: { name: "null", type: "character-device", devmajor: 1, devminor: 3 } }]],
  ];

  for (const [what, entries] of cases) {
    it(`replace mode: ${what}`, async () => {
      await expectRefusedAndUntouched(restoreTar(await makeTar(entries())));
    });
    it(`merge mode: ${what}`, async () => {
      await expectRefusedAndUntouched(restoreTar(await makeTar(entries()), { mode: "merge" }));
    });
  }

  it("allowExternalSymlinks still never writes through a link", async () => {
    const tarBuf = await makeTar([
      { header: { name: "a", type: "symlink", linkname: outside } },
      { header: { name: "a/passwd" }, body: "pwned" },
    ]);
    await expectRefusedAndUntouched(restoreTar(tarBuf, { allowExternalSymlinks: true }));
  });

  it("allowExternalSymlinks accepts an outward link itself (stored as-is, never followed)", async () => {
    await restoreTar(
      await makeTar([{ header: { name: "zoneinfo", type: "symlink", linkname: "/usr/share/zoneinfo/UTC" } }]),
      { allowExternalSymlinks: true },
    );
    expect(await listAll(dest)).toEqual(["zoneinfo"]);
    expect(await readFile(join(outside, "secret"), "utf8")).toBe("do not touch");
  });

  it("merge never writes through a symlink already at the destination", async () => {
    await symlink(outside, join(dest, "link"));
    const tarBuf = await makeTar([
      { header: { name: "link/", type: "directory", mode: 0o755 } },
      { header: { name: "link/evil.txt" }, body: "x" },
    ]);
    await restoreTar(tarBuf, { mode: "merge", existing: "overwrite" });
    // The user's link was replaced by the real directory from the archive; outside is untouched.
    expect(await listAll(outside)).toEqual(["secret"]);
    expect(await readFile(join(dest, "link", "evil.txt"), "utf8")).toBe("x");
    expect(await readFile(join(dest, "keep.txt"), "utf8")).toBe("precious");
  });

  it("a legit inside symlink chain is accepted", async () => {
    await restoreTar(
      await makeTar([
        { header: { name: "v2/", type: "directory", mode: 0o755 } },
        { header: { name: "v2/app.js" }, body: "ok" },
        { header: { name: "current", type: "symlink", linkname: "v2" } },
        { header: { name: "bin/", type: "directory", mode: 0o755 } },
        { header: { name: "bin/app", type: "symlink", linkname: "../current/app.js" } },
      ]),
    );
    expect(await readFile(join(dest, "bin", "app"), "utf8")).toBe("ok");
    expect(await readdir(dest)).toEqual(["bin", "current", "v2"]);
  });
});

describe("replace mode is all-or-nothing", () => {
  let sandbox: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir: sandbox, cleanup } = await scratch("sf-atomic-"));
  });
  afterEach(() => cleanup());

  const setup = async () => {
    const src = join(sandbox, "src");
    await mkdir(join(src, "d"), { recursive: true });
    for (let i = 0; i < 30; i++) await writeFile(join(src, "d", `f${i}`), Buffer.alloc(40_000, i));
    const comp = await backupTo(files({ paths: [src] }), join(sandbox, "out"));
    const bytes = await readFile(join(sandbox, "out", "src.tar"));
    const dest = join(sandbox, "dest");
    await mkdir(dest);
    await writeFile(join(dest, "old.txt"), "old content");
    return { comp, bytes, dest, before: await snapshotTree(sandbox) };
  };

  it("leaves the destination untouched when the artifact stream fails mid-way", async () => {
    const { comp, bytes, dest, before } = await setup();
    const open = async () => {
      const s = new PassThrough();
      s.write(bytes.subarray(0, 600_000));
      setTimeout(() => s.destroy(new StrongboxError("E_INTEGRITY", "sha256 mismatch (test)")), 20);
      return s;
    };
    await expect(files({ paths: [dest] }).restore(restoreCtx(comp, open, { directory: dest }))).rejects.toMatchObject({
      code: "E_INTEGRITY",
    });
    expect(await snapshotTree(sandbox)).toEqual(before);
  });

  it("refuses a tar cut in the middle of an entry (E_TRUNCATED), destination untouched", async () => {
    const { comp, bytes, dest, before } = await setup();
    const open = async () => Readable.from([bytes.subarray(0, 300_100)]);
    await expect(files({ paths: [dest] }).restore(restoreCtx(comp, open, { directory: dest }))).rejects.toMatchObject({
      code: "E_TRUNCATED",
      message: expect.stringContaining("ends in the middle"),
    });
    expect(await snapshotTree(sandbox)).toEqual(before);
  });

  it("refuses garbage (E_FORMAT), destination untouched", async () => {
    const { comp, dest, before } = await setup();
    const open = async () => Readable.from([Buffer.alloc(4096, 0x41)]);
    await expect(files({ paths: [dest] }).restore(restoreCtx(comp, open, { directory: dest }))).rejects.toMatchObject({
      code: "E_FORMAT",
    });
    expect(await snapshotTree(sandbox)).toEqual(before);
  });

  it("stops on abort during restore, destination untouched", async () => {
    const { comp, bytes, dest, before } = await setup();
    const ac = new AbortController();
    const open = async () => {
      const s = new PassThrough();
      s.write(bytes.subarray(0, 200_000));
      setTimeout(() => ac.abort(), 20);
      return s;
    };
    await expect(
      files({ paths: [dest] }).restore(restoreCtx(comp, open, { directory: dest }, ac.signal)),
    ).rejects.toMatchObject({ code: "E_ABORTED" });
    expect(await snapshotTree(sandbox)).toEqual(before);
  });
});
