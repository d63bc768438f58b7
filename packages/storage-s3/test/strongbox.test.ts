// End to end through the manager: backup → S3 (checked natively) → verify → restore, and prune
// that reports backups Object Lock still keeps instead of failing.
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { createStrongbox, gzip, type Source } from "@strongbox/core";
import { s3 } from "@strongbox/storage-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBucket, rawClient, readNative, type S3rverHandle, s3rverStorage, startS3rver } from "./s3rver.js";

const BUCKET = "e2e";
const MiB = 1024 * 1024;
let server: S3rverHandle;
let raw: S3Client;

beforeAll(async () => {
  server = await startS3rver();
  raw = rawClient(server.endpoint);
  await createBucket(raw, BUCKET);
});

afterAll(async () => {
  raw?.destroy();
  await server?.stop();
});

/** A source whose data is a byte string held by the test (what a real source reads from its store). */
function memorySource(name: string, initial: Buffer): Source & { data: Buffer } {
  const src = {
    name,
    type: "memory",
    data: initial,
    async *backup() {
      yield { name: "data.bin", stream: Readable.from([src.data.subarray(0, 1000), src.data.subarray(1000)]) };
    },
    async restore(ctx: Parameters<Source["restore"]>[0]) {
      src.data = await buffer(await ctx.open("data.bin"));
      return {};
    },
  };
  return src;
}

describe("createStrongbox() with s3()", () => {
  it("backs up to S3 (multipart, gzip), verifies and restores byte-exact", async () => {
    // Incompressible, so the gzipped artifact still needs several 5 MiB parts.
    const original = randomBytes(12 * MiB);
    const source = memorySource("notes", original);
    const storage = s3rverStorage(server.endpoint, BUCKET, { prefix: "prod", partSize: 5 * MiB });
    const box = createStrongbox({ sources: [source], storage, transforms: [gzip()] });
    try {
      const manifest = await box.backup();
      const artifact = manifest.components[0]!.artifacts[0]!;
      expect(artifact.key).toMatch(/notes\/data\.bin\.gz$/);
      // What S3 holds, read with the raw client: the manifest and the artifact with its recorded hash.
      const stored = await readNative(raw, BUCKET, `prod/${artifact.key}`);
      expect(stored?.length).toBe(artifact.size);
      expect(createHash("sha256").update(stored!).digest("hex")).toBe(artifact.sha256);
      const head = await raw.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `prod/${manifest.id}/manifest.json` }));
      expect(head.ContentLength).toBeGreaterThan(0);

      expect((await box.list()).map((b) => b.id)).toContain(manifest.id);
      expect((await box.verify(manifest.id)).ok).toBe(true);

      source.data = Buffer.from("changed since the backup");
      await box.restore(manifest.id, { force: true, safetyBackup: false });
      expect(source.data.equals(original)).toBe(true);
    } finally {
      await box.close?.();
    }
  }, 60_000);

  it("prune reports backups still under Object Lock as skipped and keeps them", async () => {
    const source = memorySource("notes", Buffer.from("v1"));
    // s3rver has no Object Lock: this client answers deletes of the locked backup's objects the
    // way S3 answers for retained versions (per-key AccessDenied), without sending them.
    const locked = new Set<string>();
    const client = rawClient(server.endpoint);
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== "DeleteObjectsCommand") return next(args);
        const input = args.input as { Delete: { Objects: Array<{ Key?: string; VersionId?: string }> } };
        const isLocked = (key = "") => [...locked].some((id) => key.includes(`/${id}/`));
        const refused = input.Delete.Objects.filter((o) => isLocked(o.Key));
        const errors = refused.map((o) => ({
          Key: o.Key,
          VersionId: o.VersionId,
          Code: "AccessDenied",
          Message: "Access Denied because object protected by object lock.",
        }));
        input.Delete.Objects = input.Delete.Objects.filter((o) => !isLocked(o.Key));
        if (input.Delete.Objects.length === 0) return { output: { $metadata: {}, Errors: errors }, response: {} };
        const result = await next(args);
        const output = result.output as { Errors?: unknown[] };
        output.Errors = [...(output.Errors ?? []), ...errors];
        return result;
      },
      { step: "initialize", name: "simulateObjectLock" },
    );
    const storage = s3({
      bucket: BUCKET,
      prefix: "locked",
      client,
      objectLock: { mode: "COMPLIANCE", retainDays: 7 },
    });
    const box = createStrongbox({ sources: [source], storage, retention: { keepLast: 1 } });
    try {
      const first = await box.backup();
      const second = await box.backup();
      const third = await box.backup();
      locked.add(first.id); // still retained; the second one's retention has "expired"

      const report = await box.prune();
      const entry = report.storages[0]!;
      expect(entry.errors).toEqual([]);
      expect(entry.deleted).toEqual([second.id]);
      expect(entry.skipped.map((s) => s.id)).toContain(first.id);
      expect(entry.skipped[0]!.reason).toMatch(/Object Lock/);
      const ids = (await box.list()).map((b) => b.id);
      expect(ids).toContain(first.id); // still listed and restorable
      expect(ids).not.toContain(second.id);
      expect(ids).toContain(third.id);
      expect(await readNative(raw, BUCKET, `locked/${first.id}/manifest.json`)).toBeDefined();
      expect(await readNative(raw, BUCKET, `locked/${second.id}/manifest.json`)).toBeUndefined();
    } finally {
      await box.close?.();
      client.destroy();
    }
  }, 60_000);
});
