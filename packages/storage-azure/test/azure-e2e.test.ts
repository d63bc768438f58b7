import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { createStrongbox, encrypt, generateIdentity, gzip, local, silentLogger } from "@strongbox/core";
import { files } from "@strongbox/source-files";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { azureBlob } from "../src/index.js";
import { type RunningAzurite, startAzurite } from "./support/azurite.js";

let azurite: RunningAzurite;
let dir: string;

beforeAll(async () => {
  azurite = await startAzurite();
  dir = await mkdtemp(join(tmpdir(), "strongbox-azure-e2e-"));
});
afterAll(async () => {
  await azurite?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("createStrongbox() with azureBlob()", () => {
  it("backs up files to Azure and a local copy in one read, verifies, and restores from Azure", async () => {
    const data = join(dir, "data");
    await mkdir(join(data, "sub"), { recursive: true });
    await writeFile(join(data, "a.txt"), "alpha\n");
    await writeFile(join(data, "sub", "b.bin"), Buffer.alloc(300_000, 7));
    const { identity, recipient } = await generateIdentity();
    const cloud = azureBlob({ connectionString: azurite.connectionString, container: "strongbox-e2e", prefix: "prod" });
    const box = createStrongbox({
      sources: [files({ name: "files", paths: [data] })],
      storage: [cloud, local({ directory: join(dir, "local") })],
      transforms: [gzip(), encrypt({ recipients: [recipient], identities: [identity] })],
      logger: silentLogger,
    });

    const manifest = await box.backup();
    // The manifest, written last, is in the container: read it with the native client.
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      "strongbox-e2e",
    );
    const raw = await container.getBlobClient(`prod/${manifest.id}/manifest.json`).downloadToBuffer();
    expect(JSON.parse(raw.toString()).id).toBe(manifest.id);
    const artifactKey = manifest.components[0]?.artifacts[0]?.key as string;
    expect(await container.getBlobClient(`prod/${artifactKey}`).exists()).toBe(true);

    expect((await box.list()).map((b) => b.id)).toContain(manifest.id);
    expect((await box.verify(manifest.id)).ok).toBe(true);

    const target = join(dir, "restored");
    await box.restore(manifest.id, { targets: { files: { directory: target } } });
    expect(await readFile(join(target, "a.txt"), "utf8")).toBe("alpha\n");
    expect((await readFile(join(target, "sub", "b.bin"))).equals(Buffer.alloc(300_000, 7))).toBe(true);
  }, 60_000);
});
