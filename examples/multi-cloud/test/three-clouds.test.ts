import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { BlobServiceClient } from "@azure/storage-blob";
import { Storage as GcsClient } from "@google-cloud/storage";
import { createStrongbox, encrypt, generateIdentity, gzip, silentLogger } from "@strongbox/core";
import { files } from "@strongbox/source-files";
import { azureBlob } from "@strongbox/storage-azure";
import { gcs } from "@strongbox/storage-gcs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAzurite, startAzurite } from "../../../packages/storage-azure/test/support/azurite.js";
import { type RunningEmulator, startGcsEmulator } from "../../../packages/storage-gcs/test/support/emulator.js";
import {
  createBucket,
  rawClient,
  type S3rverHandle,
  s3rverStorage,
  startS3rver,
} from "../../../packages/storage-s3/test/s3rver.js";

let s3srv: S3rverHandle;
let gcsEmu: RunningEmulator;
let azurite: RunningAzurite;
let dir: string;

beforeAll(async () => {
  [s3srv, gcsEmu, azurite] = await Promise.all([startS3rver(), startGcsEmulator(), startAzurite()]);
  dir = await mkdtemp(join(tmpdir(), "strongbox-three-clouds-"));
}, 120_000);
afterAll(async () => {
  await Promise.allSettled([s3srv?.stop(), gcsEmu?.stop(), azurite?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function readBody(body: AsyncIterable<Uint8Array> | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body ?? []) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

describe("one source, three clouds at once", () => {
  it("writes identical bytes to S3, GCS and Azure from one read, and restores from each", async () => {
    const data = join(dir, "data");
    await mkdir(join(data, "nested"), { recursive: true });
    await writeFile(join(data, "a.txt"), "alpha\n".repeat(1000));
    await writeFile(
      join(data, "nested", "b.bin"),
      Buffer.from(Array.from({ length: 700_000 }, (_, i) => (i * 31) & 0xff)),
    );

    const s3native = rawClient(s3srv.endpoint);
    await createBucket(s3native, "three");
    const { identity, recipient } = generateIdentity();
    const source = files({ name: "uploads", paths: [data] });
    let reads = 0;
    const counted = {
      ...source,
      backup(ctx: Parameters<typeof source.backup>[0]) {
        reads++;
        return source.backup(ctx);
      },
    };
    const box = createStrongbox({
      sources: [counted],
      storage: [
        s3rverStorage(s3srv.endpoint, "three", { prefix: "app" }),
        gcs({ bucket: "three", prefix: "app", projectId: "demo-test", apiEndpoint: gcsEmu.endpoint }),
        azureBlob({ connectionString: azurite.connectionString, container: "three", prefix: "app" }),
      ],
      transforms: [gzip(), encrypt({ recipients: [recipient], identities: [identity] })],
      logger: silentLogger,
    });

    const manifest = await box.backup();
    expect(reads).toBe(1);
    const artifact = manifest.components[0]!.artifacts[0]!;

    // Each cloud holds the same bytes, read with its own SDK.
    const fromS3 = await readBody(
      (await s3native.send(new GetObjectCommand({ Bucket: "three", Key: `app/${artifact.key}` })))
        .Body as AsyncIterable<Uint8Array>,
    );
    const [fromGcs] = await new GcsClient({ projectId: "demo-test", apiEndpoint: gcsEmu.endpoint })
      .bucket("three")
      .file(`app/${artifact.key}`)
      .download();
    const fromAzure = await BlobServiceClient.fromConnectionString(azurite.connectionString)
      .getContainerClient("three")
      .getBlobClient(`app/${artifact.key}`)
      .downloadToBuffer();
    for (const bytes of [fromS3, fromGcs, fromAzure]) {
      expect(bytes.length).toBe(artifact.size);
      expect(sha(bytes)).toBe(artifact.sha256);
    }
    expect((await box.list())[0]).toMatchObject({ id: manifest.id, storages: [0, 1, 2] });

    // Restore from each storage in turn into its own directory.
    for (const storage of [0, 1, 2]) {
      const target = join(dir, `restored-${storage}`);
      await box.restore(manifest.id, { storage, targets: { uploads: { directory: target } } });
      expect(await readFile(join(target, "a.txt"), "utf8")).toBe("alpha\n".repeat(1000));
      expect(sha(await readFile(join(target, "nested", "b.bin")))).toBe(
        sha(await readFile(join(data, "nested", "b.bin"))),
      );
    }
    await box.close();
  }, 180_000);
});
