/**
 * Against real Google Cloud Storage. Runs only when STRONGBOX_GCS_BUCKET is set, with
 * credentials from STRONGBOX_GCS_KEY_FILE or Application Default Credentials
 * (GOOGLE_APPLICATION_CREDENTIALS, gcloud auth application-default login). Everything is written
 * under a fresh prefix (STRONGBOX_GCS_PREFIX, default "strongbox-ci") and deleted afterwards.
 * The identity needs roles/storage.objectAdmin on the bucket.
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { Storage as GcsClient } from "@google-cloud/storage";
import type { StrongboxError } from "@strongbox/core";
import { patternStream, readAll, sha256Of } from "@strongbox/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gcs } from "../src/index.js";

const bucket = process.env.STRONGBOX_GCS_BUCKET;
const keyFilename = process.env.STRONGBOX_GCS_KEY_FILE;
if (!bucket)
  console.warn(
    "[storage-gcs] real-cloud suite skipped: set STRONGBOX_GCS_BUCKET (and STRONGBOX_GCS_KEY_FILE or Application Default Credentials) to run it",
  );

describe.skipIf(!bucket)("gcs() on real Google Cloud Storage", () => {
  const prefix = `${process.env.STRONGBOX_GCS_PREFIX ?? "strongbox-ci"}/${Date.now()}-${randomBytes(3).toString("hex")}`;
  // Built lazily: describe bodies run even when skipped, and gcs() checks its options.
  const native = new GcsClient(keyFilename ? { keyFilename } : {});
  let storage: ReturnType<typeof gcs>;
  beforeAll(() => {
    storage = gcs({ bucket: bucket as string, prefix, ...(keyFilename ? { keyFilename } : {}) });
  });

  afterAll(async () => {
    if (bucket) await native.bucket(bucket).deleteFiles({ prefix: `${prefix}/`, force: true });
  });

  it("round-trips, heads, ranges, lists and deletes, checked with the native client", async () => {
    const body = randomBytes(3 * 1024 * 1024 + 5);
    expect((await storage.put("a/b.bin", Readable.from([body]))).size).toBe(body.length);
    const [buf] = await native
      .bucket(bucket as string)
      .file(`${prefix}/a/b.bin`)
      .download();
    expect(buf.equals(body)).toBe(true);
    expect(await readAll(await storage.get("a/b.bin"))).toEqual(body);
    expect(await readAll(await storage.get("a/b.bin", { range: { start: 7, end: 1000 } }))).toEqual(
      body.subarray(7, 1001),
    );
    expect((await storage.head("a/b.bin"))?.size).toBe(body.length);
    expect(await storage.head("a/none")).toBeUndefined();
    expect(((await storage.get("a/none").catch((e: unknown) => e)) as StrongboxError).code).toBe("E_NOT_FOUND");
    const keys: string[] = [];
    for await (const o of storage.list("a/")) keys.push(o.key);
    expect(keys).toEqual(["a/b.bin"]);
    await storage.delete(["a/b.bin", "a/none"]);
    expect(await storage.head("a/b.bin")).toBeUndefined();
  }, 120_000);

  it("uploads in chunks (chunkSize) and applies storageClass", async () => {
    const chunked = gcs({
      bucket: bucket as string,
      prefix,
      chunkSize: 8 * 1024 * 1024,
      storageClass: "NEARLINE",
      ...(keyFilename ? { keyFilename } : {}),
    });
    const body = patternStream(20 * 1024 * 1024);
    await chunked.put("chunked.bin", body);
    const file = native.bucket(bucket as string).file(`${prefix}/chunked.bin`);
    const [meta] = await file.getMetadata();
    expect(meta.storageClass).toBe("NEARLINE");
    expect((await sha256Of(file.createReadStream())).hash).toBe(body.digest());
  }, 180_000);

  it("a failed upload leaves nothing", async () => {
    await storage.put("f.bin", patternStream(12 * 1024 * 1024, { failAfter: 6 * 1024 * 1024 })).catch(() => undefined);
    const [exists] = await native
      .bucket(bucket as string)
      .file(`${prefix}/f.bin`)
      .exists();
    expect(exists).toBe(false);
  }, 120_000);

  it("a bucket that does not exist is E_STORAGE naming it", async () => {
    const ghost = gcs({
      bucket: `strongbox-missing-${randomBytes(8).toString("hex")}`,
      ...(keyFilename ? { keyFilename } : {}),
    });
    const err = (await ghost.put("x", Readable.from([Buffer.from("x")])).catch((e: unknown) => e)) as StrongboxError;
    expect(err.code).toBe("E_STORAGE");
    expect(err.message).toContain("strongbox-missing-");
    const err2 = (await ghost.get("x").catch((e: unknown) => e)) as StrongboxError;
    expect(err2.code).toBe("E_STORAGE");
  }, 60_000);
});
