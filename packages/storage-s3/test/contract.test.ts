// The Storage contract on s3rver, call by call, checked through the raw S3Client.
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import {
  type DeleteObjectsCommandInput,
  type DeleteObjectsCommandOutput,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { isStrongboxError, type Storage, StrongboxError } from "@strongbox/core";
import { DELETE_BATCH, type S3Storage, s3 } from "@strongbox/storage-s3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  createBucket,
  rawClient,
  readNative,
  type S3rverHandle,
  s3rverOptions,
  s3rverStorage,
  startFaultProxy,
  startS3rver,
} from "./s3rver.js";

const BUCKET = "contract";
let server: S3rverHandle;
let raw: S3Client;
let storage: Storage;

beforeAll(async () => {
  server = await startS3rver();
  raw = rawClient(server.endpoint);
  await createBucket(raw, BUCKET);
  storage = s3rverStorage(server.endpoint, BUCKET, { prefix: "/prod/app/" });
});

afterAll(async () => {
  await storage?.close?.();
  raw?.destroy();
  await server?.stop();
});

async function expectCode(p: Promise<unknown>, code: string): Promise<StrongboxError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(StrongboxError);
  expect((err as StrongboxError).code).toBe(code);
  return err as StrongboxError;
}

describe("s3() on s3rver: the Storage contract", () => {
  it("describes itself", () => {
    expect(storage.type).toBe("s3");
    expect(storage.location).toBe("s3://contract/prod/app");
    expect(storage.capabilities).toEqual({ rangedGet: true, immutability: true });
  });

  it("builds its client with 5 attempts and the standard retry strategy unless told otherwise", async () => {
    const own = storage as S3Storage;
    expect(await own.client.config.maxAttempts()).toBe(5);
    expect(((await own.client.config.retryStrategy()) as { mode?: string }).mode).toBe("standard");
    const tuned = s3(s3rverOptions(server.endpoint, BUCKET, { maxAttempts: 2, retryMode: "adaptive" })) as S3Storage;
    expect(await tuned.client.config.maxAttempts()).toBe(2);
    expect(((await tuned.client.config.retryStrategy()) as { mode?: string }).mode).toBe("adaptive");
    await tuned.close();
  });

  it("put stores the bytes under bucket/prefix/key, as the native client reads them", async () => {
    const data = Buffer.from("hello strongbox\n".repeat(1000));
    const res = await storage.put("b1/postgres/app.dump", Readable.from([data.subarray(0, 100), data.subarray(100)]));
    expect(res).toEqual({ size: data.length });
    expect(await readNative(raw, BUCKET, "prod/app/b1/postgres/app.dump")).toEqual(data);
    const head = await raw.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "prod/app/b1/postgres/app.dump" }));
    expect(head.ContentType).toBe("application/octet-stream");
  });

  it("put replaces an existing object, and stores empty bodies", async () => {
    await storage.put("b1/replace", Readable.from([Buffer.from("old old old")]));
    await storage.put("b1/replace", Readable.from([Buffer.from("new")]));
    expect((await readNative(raw, BUCKET, "prod/app/b1/replace"))?.toString()).toBe("new");
    expect(await storage.put("b1/empty", Readable.from([]))).toEqual({ size: 0 });
    expect(await readNative(raw, BUCKET, "prod/app/b1/empty")).toEqual(Buffer.alloc(0));
  });

  it("get streams what the native client wrote; a missing key is E_NOT_FOUND", async () => {
    await raw.send(new PutObjectCommand({ Bucket: BUCKET, Key: "prod/app/native/x.bin", Body: "written natively" }));
    expect((await buffer(await storage.get("native/x.bin"))).toString()).toBe("written natively");
    const err = await expectCode(storage.get("native/missing.bin"), "E_NOT_FOUND");
    expect(err.message).toMatch(/^\[strongbox\] \[s3\] get s3:\/\/contract\/prod\/app\/native\/missing\.bin/);
  });

  it("get honours ranges (inclusive end, open end) and rejects bad ones", async () => {
    const data = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251));
    await storage.put("ranged.bin", Readable.from([data]));
    expect(await buffer(await storage.get("ranged.bin", { range: { start: 10, end: 19 } }))).toEqual(
      data.subarray(10, 20),
    );
    expect(await buffer(await storage.get("ranged.bin", { range: { start: 4000 } }))).toEqual(data.subarray(4000));
    // (bytes=1-1, not 0-0: s3rver reads an end of 0 as "to the end", an emulator bug.)
    expect(await buffer(await storage.get("ranged.bin", { range: { start: 1, end: 1 } }))).toEqual(data.subarray(1, 2));
    await expectCode(storage.get("ranged.bin", { range: { start: 5, end: 2 } }), "E_CONFIG");
    await expectCode(storage.get("ranged.bin", { range: { start: 9999 } }), "E_STORAGE");
  });

  it("aborting a get's signal stops the stream it returned", async () => {
    await storage.put("abort-get.bin", Readable.from([Buffer.alloc(4 * 1024 * 1024, 9)]));
    const ac = new AbortController();
    const body = await storage.get("abort-get.bin", { signal: ac.signal });
    const received: Buffer[] = [];
    const err = await (async () => {
      for await (const chunk of body) {
        received.push(chunk as Buffer);
        if (received.length === 1) ac.abort();
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as Error | undefined)?.name).toBe("AbortError");
    expect(Buffer.concat(received).length).toBeLessThan(4 * 1024 * 1024);
    expect(body.destroyed).toBe(true);
  });

  it("head reports size and time, undefined when missing", async () => {
    await storage.put("head/it", Readable.from([Buffer.alloc(1234, 7)]));
    const info = await storage.head("head/it");
    expect(info).toMatchObject({ key: "head/it", size: 1234 });
    expect(info?.lastModified).toBeInstanceOf(Date);
    expect(await storage.head("head/none")).toBeUndefined();
  });

  it("list strips the storage prefix, filters by prefix, and never leaks outside it", async () => {
    await raw.send(new PutObjectCommand({ Bucket: BUCKET, Key: "prod/application/outside", Body: "x" }));
    await raw.send(new PutObjectCommand({ Bucket: BUCKET, Key: "other/outside", Body: "x" }));
    await storage.put("l/one/a", Readable.from([Buffer.from("a")]));
    await storage.put("l/one/b", Readable.from([Buffer.from("bb")]));
    await storage.put("l/two/c", Readable.from([Buffer.from("ccc")]));
    const one = [];
    for await (const o of storage.list("l/one/")) one.push(o);
    expect(one.map((o) => [o.key, o.size]).sort()).toEqual([
      ["l/one/a", 1],
      ["l/one/b", 2],
    ]);
    const all = [];
    for await (const o of storage.list("")) all.push(o.key);
    expect(all).toContain("l/two/c");
    expect(all).toContain("b1/postgres/app.dump");
    expect(all.some((k) => k.includes("outside"))).toBe(false);
  });

  it("delete removes keys, ignores missing ones and duplicates", async () => {
    await storage.put("d/1", Readable.from([Buffer.from("1")]));
    await storage.put("d/2", Readable.from([Buffer.from("2")]));
    const res = await storage.delete(["d/1", "d/2", "d/2", "d/never-existed"]);
    expect(res?.skipped ?? []).toEqual([]);
    expect(await readNative(raw, BUCKET, "prod/app/d/1")).toBeUndefined();
    expect(await readNative(raw, BUCKET, "prod/app/d/2")).toBeUndefined();
    expect(await storage.delete([])).toEqual({});
  });

  it("rejects invalid keys and prefixes with E_CONFIG before any request", async () => {
    for (const key of ["", "/abs", "a/../b", "a//b", "a\\b", "./a"]) {
      await expectCode(storage.put(key, Readable.from([])), "E_CONFIG");
      await expectCode(storage.get(key), "E_CONFIG");
    }
    await expectCode(storage.delete(["ok", "../x"]), "E_CONFIG");
    await expectCode(
      (async () => {
        for await (const _ of storage.list("../")) void _;
      })(),
      "E_CONFIG",
    );
  });

  it("checks options at construction and names what is wrong", () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{}, /missing required option "bucket"/],
      [{ bucket: "s3://b/p" }, /"bucket" must be a bucket name/],
      [{ bucket: "b", partSize: 1024 }, /"partSize" must be an integer between 5 MiB and 5 GiB/],
      [{ bucket: "b", queueSize: 0 }, /"queueSize"/],
      [{ bucket: "b", kmsKeyId: "k" }, /"kmsKeyId" needs serverSideEncryption/],
      [{ bucket: "b", objectLock: { mode: "GOVERNANCE" } }, /exactly one of "retainDays" or "retainUntil"/],
      [{ bucket: "b", objectLock: { mode: "LOCKED", retainDays: 1 } }, /"objectLock.mode"/],
      [{ bucket: "b", maxAttempts: 0 }, /"maxAttempts"/],
    ];
    for (const [opts, re] of cases) {
      let err: unknown;
      try {
        s3(opts as never);
      } catch (e) {
        err = e;
      }
      expect(isStrongboxError(err, "E_CONFIG"), JSON.stringify(opts)).toBe(true);
      expect((err as Error).message).toMatch(re);
    }
  });

  it("paginates list over 1,100 keys and deletes them in batches of 1,000", async () => {
    const keys = Array.from({ length: 1100 }, (_, i) => `many/${String(i).padStart(5, "0")}`);
    // Written natively, 50 at a time: the adapter's list must find exactly these.
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(
        keys
          .slice(i, i + 50)
          .map((k) => raw.send(new PutObjectCommand({ Bucket: BUCKET, Key: `prod/app/${k}`, Body: k }))),
      );
    }
    // Count the ListObjectsV2 and DeleteObjects requests on the wire.
    const proxy = await startFaultProxy(server.endpoint);
    const counted = s3(s3rverOptions(proxy.endpoint, BUCKET, { prefix: "prod/app" }));
    try {
      const listed: string[] = [];
      for await (const o of counted.list("many/")) listed.push(o.key);
      expect(listed.sort()).toEqual(keys);
      const pages = proxy.seen.filter((r) => r.method === "GET" && r.url.includes("list-type=2"));
      expect(pages.length).toBe(2); // 1,000 + 100: pagination really happened

      expect(await counted.delete(keys)).toEqual({});
      // s3rver sometimes answers a DeleteObjects with 500 (it races on removing directories); the
      // SDK retries it, so count first attempts only.
      const deletes = proxy.seen.filter(
        (r) =>
          r.method === "POST" &&
          r.url.includes("delete") &&
          String(r.headers["amz-sdk-request"]).startsWith("attempt=1;"),
      );
      expect(deletes.length).toBe(Math.ceil(keys.length / DELETE_BATCH));
      const left: string[] = [];
      for await (const o of storage.list("many/")) left.push(o.key);
      expect(left).toEqual([]);
    } finally {
      await counted.close?.();
      await proxy.close();
    }
  });
});

describe("s3() Object Lock", () => {
  it("sends the lock mode and a per-put retain-until date with every upload", async () => {
    const proxy = await startFaultProxy(server.endpoint);
    const locked = s3(
      s3rverOptions(proxy.endpoint, BUCKET, { prefix: "locked", objectLock: { mode: "COMPLIANCE", retainDays: 30 } }),
    );
    try {
      const before = Date.now();
      await locked.put("small", Readable.from([Buffer.from("tiny")]));
      await locked.put("large", Readable.from([Buffer.alloc(6 * 1024 * 1024, 1)]), { size: 6 * 1024 * 1024 });
      const writes = proxy.seen.filter(
        (r) =>
          (r.method === "PUT" && !r.url.includes("partNumber")) || (r.method === "POST" && r.url.includes("uploads")),
      );
      expect(writes.length).toBe(2); // the PutObject and the CreateMultipartUpload
      for (const w of writes) {
        expect(w.headers["x-amz-object-lock-mode"]).toBe("COMPLIANCE");
        const until = Date.parse(String(w.headers["x-amz-object-lock-retain-until-date"]));
        expect(until - before).toBeGreaterThan(30 * 86_400_000 - 60_000);
        expect(until - before).toBeLessThan(30 * 86_400_000 + 60_000);
      }
      // S3 requires a checksum with Object Lock: CRC32 goes with the PUT and every part.
      const bodies = proxy.seen.filter((r) => r.method === "PUT");
      for (const b of bodies) expect(b.headers["x-amz-checksum-crc32"]).toBeTruthy();
      // …and the stored bytes are the plain body (no aws-chunked framing).
      expect((await readNative(raw, BUCKET, "locked/small"))?.toString()).toBe("tiny");
      expect((await readNative(raw, BUCKET, "locked/large"))?.length).toBe(6 * 1024 * 1024);
    } finally {
      await locked.close?.();
      await proxy.close();
    }
  });

  // s3rver has no Object Lock. The client below answers DeleteObjects for keys under
  // "locked-keep/" the way S3 does for a version under retention (per-key AccessDenied, "protected
  // by object lock") without sending them to the server; every other key really is deleted.
  function lockSimulatingClient(seen: DeleteObjectsCommandInput[]): S3Client {
    const client = rawClient(server.endpoint);
    const refuse = (key: string) =>
      key.includes("/locked-keep/")
        ? { Code: "AccessDenied", Message: "Access Denied because object protected by object lock." }
        : key.includes("/policy-denied/")
          ? { Code: "AccessDenied", Message: "Access Denied" }
          : undefined;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== "DeleteObjectsCommand") return next(args);
        const input = args.input as DeleteObjectsCommandInput;
        seen.push(structuredClone(input));
        const objects = input.Delete?.Objects ?? [];
        const refused = objects.filter((o) => refuse(o.Key ?? ""));
        const kept = objects.filter((o) => !refuse(o.Key ?? ""));
        const errors = refused.map((o) => ({ Key: o.Key, VersionId: o.VersionId, ...refuse(o.Key ?? "") }));
        if (kept.length === 0) {
          return { output: { $metadata: {}, Errors: errors } as DeleteObjectsCommandOutput, response: {} };
        }
        input.Delete = { ...input.Delete, Objects: kept };
        const result = await next(args);
        const output = result.output as DeleteObjectsCommandOutput;
        output.Errors = [...(output.Errors ?? []), ...errors];
        return result;
      },
      { step: "initialize", name: "simulateObjectLock" },
    );
    return client;
  }

  for (const mode of ["by key", "by version (objectLock set)"] as const) {
    it(`delete ${mode}: retained objects come back as skipped and stay, the rest go, other refusals fail`, async () => {
      const seen: DeleteObjectsCommandInput[] = [];
      const client = lockSimulatingClient(seen);
      const destroy = vi.spyOn(client, "destroy");
      const base = mode === "by key" ? "lk1" : "lk2";
      const st = s3({
        bucket: BUCKET,
        prefix: "prod/app",
        client,
        ...(mode === "by key" ? {} : { objectLock: { mode: "GOVERNANCE" as const, retainDays: 1 } }),
      });
      try {
        const keys = [`${base}/locked-keep/a`, `${base}/locked-keep/b`, `${base}/free/c`, `${base}/free/deeper/d`];
        for (const k of keys) await st.put(k, Readable.from([Buffer.from(k)]));
        const res = await st.delete([...keys.slice(0, 3), `${base}/free/missing`]);
        expect(res?.skipped?.map((s) => s.key).sort()).toEqual([`${base}/locked-keep/a`, `${base}/locked-keep/b`]);
        expect(res?.skipped?.[0]?.reason).toMatch(/Object Lock .*AccessDenied.*protected by object lock/);
        expect(await readNative(raw, BUCKET, `prod/app/${base}/locked-keep/a`)).toBeDefined();
        expect(await readNative(raw, BUCKET, `prod/app/${base}/free/c`)).toBeUndefined();
        // A key below a deleted one's "directory" is not touched.
        expect(await readNative(raw, BUCKET, `prod/app/${base}/free/deeper/d`)).toBeDefined();
        const sent = seen.flatMap((i) => i.Delete?.Objects ?? []);
        if (mode === "by key") {
          expect(sent.every((o) => o.VersionId === undefined)).toBe(true);
          expect(sent.length).toBe(4); // the missing key is sent too, S3 ignores it
        } else {
          // Versions were listed first, so only existing versions are deleted, each by id.
          expect(sent.map((o) => `${o.Key}@${o.VersionId}`).sort()).toEqual(
            keys
              .slice(0, 3)
              .map((k) => `prod/app/${k}@null`)
              .sort(),
          );
        }

        // A plain AccessDenied is a policy problem, not retention: it fails with E_STORAGE.
        await st.put(`${base}/policy-denied/e`, Readable.from([Buffer.from("e")]));
        const err = await expectCode(st.delete([`${base}/policy-denied/e`]), "E_STORAGE");
        expect(err.message).toMatch(/IAM policy allows s3:DeleteObject/);
      } finally {
        await st.close?.();
      }
      // The client was the user's: close() leaves it alone.
      expect(destroy).not.toHaveBeenCalled();
      client.destroy();
    });
  }
});
