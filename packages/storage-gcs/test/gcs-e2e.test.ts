import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Storage as GcsClient } from "@google-cloud/storage";
import { createStrongbox, encrypt, generateIdentity, gzip, local, silentLogger } from "@strongbox/core";
import { files } from "@strongbox/source-files";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gcs } from "../src/index.js";
import { type RunningEmulator, startGcsEmulator } from "./support/emulator.js";

let emu: RunningEmulator;
let dir: string;

beforeAll(async () => {
  emu = await startGcsEmulator();
  dir = await mkdtemp(join(tmpdir(), "strongbox-gcs-e2e-"));
});
afterAll(async () => {
  await emu?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("createStrongbox() with gcs()", () => {
  it("backs up files to GCS and a local copy in one read, verifies, and restores from GCS", async () => {
    const data = join(dir, "data");
    await mkdir(join(data, "sub"), { recursive: true });
    await writeFile(join(data, "a.txt"), "alpha\n");
    await writeFile(join(data, "sub", "b.bin"), Buffer.alloc(300_000, 7));
    const { identity, recipient } = await generateIdentity();
    const cloud = gcs({ bucket: "strongbox-e2e", prefix: "prod", projectId: "demo-test", apiEndpoint: emu.endpoint });
    const box = createStrongbox({
      sources: [files({ name: "files", paths: [data] })],
      storage: [cloud, local({ directory: join(dir, "local") })],
      transforms: [gzip(), encrypt({ recipients: [recipient], identities: [identity] })],
      logger: silentLogger,
    });

    const manifest = await box.backup();
    // The manifest, written last, is in the bucket: read it with the native client.
    const native = new GcsClient({ projectId: "demo-test", apiEndpoint: emu.endpoint });
    const [raw] = await native.bucket("strongbox-e2e").file(`prod/${manifest.id}/manifest.json`).download();
    expect(JSON.parse(raw.toString()).id).toBe(manifest.id);
    const artifactKey = manifest.components[0]?.artifacts[0]?.key as string;
    const [exists] = await native.bucket("strongbox-e2e").file(`prod/${artifactKey}`).exists();
    expect(exists).toBe(true);

    expect((await box.list()).map((b) => b.id)).toContain(manifest.id);
    expect((await box.verify(manifest.id)).ok).toBe(true);

    const target = join(dir, "restored");
    await box.restore(manifest.id, { targets: { files: { directory: target } } });
    expect(await readFile(join(target, "a.txt"), "utf8")).toBe("alpha\n");
    expect((await readFile(join(target, "sub", "b.bin"))).equals(Buffer.alloc(300_000, 7))).toBe(true);
  }, 60_000);
});
