/** The testkit's conformance suites run against core's built-in storage and transforms. */
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encrypt, generateIdentity, gzip, local } from "@strongbox/core";
import { storageSuite, transformSuite } from "@strongbox/testkit";
import { afterAll } from "vitest";

const dirs: string[] = [];
async function tempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `strongbox-suite-${label}-`));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

storageSuite("local", async () => {
  const directory = await tempDir("local");
  return {
    storage: local({ directory }),
    // The native view: plain fs, exactly what a person would find on disk.
    async readNative(key) {
      try {
        return await readFile(join(directory, ...key.split("/")));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
      }
    },
  };
});

transformSuite("gzip", () => ({ encoder: gzip(), externalDecode: ["gunzip", "-c"] }));

transformSuite("age", async () => {
  const { identity, recipient } = generateIdentity();
  const keyfile = join(await tempDir("age"), "key.txt");
  await writeFile(keyfile, `${identity}\n`, { mode: 0o600 });
  await chmod(keyfile, 0o600);
  return {
    encoder: encrypt({ recipients: [recipient] }),
    decoder: encrypt({ recipients: [recipient], identities: [identity] }),
    externalDecode: ["age", "-d", "-i", keyfile],
  };
});
