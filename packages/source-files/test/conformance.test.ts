import { execFile } from "node:child_process";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { createStrongbox, encrypt, generateIdentity, gzip, local } from "@strongbox/core";
import { files } from "@strongbox/source-files";
import { sourceSuite } from "@strongbox/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTree } from "./fixture.js";
import { scratch, snapshotTree } from "./helpers.js";

const run = promisify(execFile);

sourceSuite("files", async () => {
  const { dir, cleanup } = await scratch("sf-suite-");
  const live = join(dir, "live");
  const alt = join(dir, "alt");
  await mkdir(live);
  const snapshot = () => snapshotTree(live, { rootMeta: true });
  return {
    source: files({ name: "uploads", paths: [live] }),
    async seed() {
      await rm(live, { recursive: true, force: true });
      await mkdir(live);
      await makeTree(live);
    },
    snapshot,
    async mutate() {
      await writeFile(join(live, "a.txt"), "mutated");
      await writeFile(join(live, "extra.txt"), "added");
      await rm(join(live, "sub"), { recursive: true });
    },
    altTarget: { target: { directory: alt }, snapshot: () => snapshotTree(alt, { rootMeta: true }) },
    cleanup,
  };
});

const hasAge = await run("age", ["--version"]).then(
  () => true,
  () => false,
);
if (!hasAge)
  console.warn(
    "[source-files tests] the age CLI is not installed (apt-get install age): the standard-tools recipe check is skipped",
  );

describe("createStrongbox + files() + gzip + encrypt to local()", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await scratch("sf-e2e-"));
  });
  afterAll(() => cleanup());

  it("backs up, verifies, restores into another directory; age + tar alone read the artifact", async () => {
    const live = join(dir, "uploads");
    await mkdir(live);
    await makeTree(live, { bigBytes: 3 * 1024 * 1024 });
    const original = await snapshotTree(live, { rootMeta: true });
    const { identity, recipient } = generateIdentity();
    const storageDir = join(dir, "backups");
    const box = createStrongbox({
      sources: [files({ name: "uploads", paths: [live] })],
      storage: local({ directory: storageDir }),
      transforms: [gzip(), encrypt({ recipients: [recipient], identities: [identity] })],
    });
    try {
      const manifest = await box.backup();
      const artifact = manifest.components[0]!.artifacts[0]!;
      expect(artifact.key).toBe(`${manifest.id}/uploads/uploads.tar.gz.age`);
      expect(artifact.meta).toMatchObject({ path: live, kind: "directory", files: 7 });
      expect((await box.verify(manifest.id, { mode: "restore-test" })).ok).toBe(true);

      const target = join(dir, "restored");
      await box.restore(manifest.id, { targets: { uploads: { directory: target } }, force: true });
      expect(await snapshotTree(target, { rootMeta: true })).toEqual(original);
      expect((await readdir(dir)).filter((n) => n.includes("strongbox-"))).toEqual([]);

      if (hasAge) {
        // The README recipe: age -d -i key.txt uploads.tar.gz.age | tar -xzf - -C /restore/here
        const byTools = join(dir, "by-tools");
        await mkdir(byTools);
        await writeFile(join(dir, "key.txt"), `${identity}\n`, { mode: 0o600 });
        await run("sh", [
          "-c",
          'age -d -i "$1" "$2" | tar -xzf - -C "$3"',
          "sh",
          join(dir, "key.txt"),
          join(storageDir, artifact.key),
          byTools,
        ]);
        expect(await snapshotTree(byTools, { rootMeta: true })).toEqual(original);
      }
    } finally {
      await box.close();
    }
  });
});
