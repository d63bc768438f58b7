// Real Amazon S3 (or any S3-compatible service), run only when configured:
//   STRONGBOX_S3_BUCKET       bucket to use (required; test objects go under a random prefix and are removed)
//   STRONGBOX_S3_REGION       region (default: AWS_REGION / the SDK's chain)
//   STRONGBOX_S3_ENDPOINT     endpoint for MinIO/R2/Ceph (optional; then path-style addressing is used)
//   STRONGBOX_S3_OBJECT_LOCK  "1" when the bucket has Object Lock enabled: runs the retention test
// Credentials come from the SDK's default chain (env, profile, SSO, role).
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectVersionsCommand } from "@aws-sdk/client-s3";
import { isStrongboxError } from "@strongbox/core";
import { type S3Storage, type S3StorageOptions, s3 } from "@strongbox/storage-s3";
import { storageSuite } from "@strongbox/testkit";
import { describe, expect, it } from "vitest";

const bucket = process.env.STRONGBOX_S3_BUCKET;
const run = `strongbox-test-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
const base: Omit<S3StorageOptions, "bucket"> = {
  region: process.env.STRONGBOX_S3_REGION,
  endpoint: process.env.STRONGBOX_S3_ENDPOINT,
  forcePathStyle: process.env.STRONGBOX_S3_ENDPOINT ? true : undefined,
};
const MiB = 1024 * 1024;

if (!bucket) {
  console.warn(
    "[storage-s3] real-S3 tests skipped: set STRONGBOX_S3_BUCKET (plus credentials through the AWS default chain and STRONGBOX_S3_REGION or AWS_REGION) to run them",
  );
}

describe.skipIf(!bucket)("s3() on real S3", () => {
  const make = (extra: Partial<S3StorageOptions> = {}) =>
    s3({ bucket: bucket!, prefix: run, ...base, ...extra }) as S3Storage;

  storageSuite("s3 (real)", () => {
    const storage = make();
    return {
      storage,
      async readNative(key) {
        try {
          const out = await storage.client.send(new GetObjectCommand({ Bucket: bucket!, Key: `${run}/${key}` }));
          return Buffer.from(await out.Body!.transformToByteArray());
        } catch (err) {
          if ((err as { name?: string }).name === "NoSuchKey") return undefined;
          throw err;
        }
      },
      cleanup: () => storage.close!(),
    };
  });

  it("an aborted multipart upload leaves no open upload behind", async () => {
    const storage = make({ partSize: 5 * MiB });
    const ac = new AbortController();
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent >= 12 * MiB) return; // then stall
        sent += MiB;
        this.push(randomBytes(MiB));
      },
    });
    const put = storage.put("aborted.bin", body, { signal: ac.signal });
    setTimeout(() => ac.abort(), 4000);
    await expect(put).rejects.toMatchObject({ code: "E_ABORTED" });
    const open = await storage.client.send(new ListMultipartUploadsCommand({ Bucket: bucket!, Prefix: `${run}/` }));
    expect(open.Uploads ?? []).toEqual([]);
    expect(await storage.head("aborted.bin")).toBeUndefined();
    await storage.close!();
  }, 120_000);

  it("a missing bucket fails fast with E_STORAGE naming it", async () => {
    const missing = `${bucket}-missing-${randomBytes(4).toString("hex")}`;
    const storage = s3({ bucket: missing, ...base });
    const started = Date.now();
    const err = await storage.put("x", Readable.from([Buffer.from("x")])).catch((e: unknown) => e);
    expect(isStrongboxError(err, "E_STORAGE")).toBe(true);
    expect((err as Error).message).toContain(missing);
    expect(Date.now() - started).toBeLessThan(10_000);
    await storage.close!();
  }, 30_000);

  it.skipIf(!process.env.STRONGBOX_S3_OBJECT_LOCK)(
    "Object Lock: delete skips a retained object, and deletes it once retention has passed",
    async () => {
      const retainUntil = new Date(Date.now() + 20_000);
      const storage = make({ objectLock: { mode: "GOVERNANCE", retainUntil } });
      await storage.put("locked/a.bin", Readable.from([randomBytes(1000)]));
      const first = await storage.delete(["locked/a.bin"]);
      expect(first?.skipped?.map((s) => s.key)).toEqual(["locked/a.bin"]);
      expect((await storage.head("locked/a.bin"))?.size).toBe(1000);
      await new Promise((r) => setTimeout(r, Math.max(0, retainUntil.getTime() - Date.now()) + 2000));
      expect(await storage.delete(["locked/a.bin"])).toEqual({});
      const versions = await storage.client.send(
        new ListObjectVersionsCommand({ Bucket: bucket!, Prefix: `${run}/locked/` }),
      );
      expect([...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])]).toEqual([]);
      await storage.close!();
    },
    90_000,
  );
});

if (bucket && !process.env.STRONGBOX_S3_OBJECT_LOCK) {
  console.warn(
    "[storage-s3] real-S3 Object Lock test skipped: set STRONGBOX_S3_OBJECT_LOCK=1 for a bucket with Object Lock enabled",
  );
}
