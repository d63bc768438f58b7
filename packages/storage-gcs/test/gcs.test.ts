import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { Storage as GcsClient } from "@google-cloud/storage";
import { type Storage, StrongboxError } from "@strongbox/core";
import { patternStream, readAll } from "@strongbox/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gcs } from "../src/index.js";
import { type RunningEmulator, startGcsEmulator } from "./support/emulator.js";

const BUCKET = "strongbox-gcs-test";
let emu: RunningEmulator;
let native: GcsClient;

beforeAll(async () => {
  emu = await startGcsEmulator();
  native = new GcsClient({ projectId: "demo-test", apiEndpoint: emu.endpoint });
});
afterAll(async () => {
  await emu?.stop();
});

/** A storage under a fresh prefix, so tests never see each other's objects. */
function fresh(extra: Partial<Parameters<typeof gcs>[0]> = {}): { storage: Storage; prefix: string } {
  const prefix = `t-${randomBytes(4).toString("hex")}/backups`;
  const storage = gcs({ bucket: BUCKET, prefix, projectId: "demo-test", apiEndpoint: emu.endpoint, ...extra });
  return { storage, prefix };
}

async function nativeRead(name: string): Promise<Buffer | undefined> {
  const file = native.bucket(BUCKET).file(name);
  const [exists] = await file.exists();
  if (!exists) return undefined;
  const [buf] = await file.download();
  return buf;
}

async function collect(
  it: AsyncIterable<{ key: string; size: number }>,
): Promise<Array<{ key: string; size: number }>> {
  const out: Array<{ key: string; size: number }> = [];
  for await (const o of it) out.push({ key: o.key, size: o.size });
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

async function rejection(p: Promise<unknown>): Promise<StrongboxError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StrongboxError);
  return err as StrongboxError;
}

describe("gcs() on the firebase-tools storage emulator", () => {
  it("names itself and its location", () => {
    const { storage, prefix } = fresh();
    expect(storage.type).toBe("gcs");
    expect(storage.location).toBe(`gs://${BUCKET}/${prefix}`);
    expect(gcs({ bucket: BUCKET, client: native }).location).toBe(`gs://${BUCKET}`);
  });

  it("puts an object that the native client reads back byte for byte, under the prefix", async () => {
    const { storage, prefix } = fresh();
    const body = randomBytes(300_000);
    const res = await storage.put(
      "20261121T020000Z-abc/postgres/app.dump.gz",
      Readable.from([body.subarray(0, 1000), body.subarray(1000)]),
    );
    expect(res.size).toBe(body.length);
    expect(await nativeRead(`${prefix}/20261121T020000Z-abc/postgres/app.dump.gz`)).toEqual(body);
    const [meta] = await native
      .bucket(BUCKET)
      .file(`${prefix}/20261121T020000Z-abc/postgres/app.dump.gz`)
      .getMetadata();
    expect(meta.contentType).toBe("application/octet-stream");
  });

  it("works with a ready client and no prefix", async () => {
    const storage = gcs({ bucket: BUCKET, client: native });
    const key = `noprefix-${randomBytes(4).toString("hex")}.bin`;
    await storage.put(key, Readable.from([Buffer.from("plain")]), { contentType: "text/plain" });
    expect(String(await nativeRead(key))).toBe("plain");
    expect(String(await readAll(await storage.get(key)))).toBe("plain");
    await storage.delete([key]);
    expect(await nativeRead(key)).toBeUndefined();
  });

  it("replaces an existing object and reads the new bytes", async () => {
    const { storage, prefix } = fresh();
    await storage.put("a.txt", Readable.from([Buffer.from("first version")]));
    await storage.put("a.txt", Readable.from([Buffer.from("second")]));
    expect(String(await nativeRead(`${prefix}/a.txt`))).toBe("second");
    expect(String(await readAll(await storage.get("a.txt")))).toBe("second");
  });

  it("gets what the native client wrote, and heads it", async () => {
    const { storage, prefix } = fresh();
    const body = randomBytes(70_000);
    await native.bucket(BUCKET).file(`${prefix}/x/native.bin`).save(body, { resumable: false });
    expect(await readAll(await storage.get("x/native.bin"))).toEqual(body);
    const info = await storage.head("x/native.bin");
    expect(info?.key).toBe("x/native.bin");
    expect(info?.size).toBe(body.length);
    expect(info?.lastModified).toBeInstanceOf(Date);
    expect(Math.abs(Date.now() - info!.lastModified!.getTime())).toBeLessThan(10 * 60_000);
  });

  it("stores an empty object", async () => {
    const { storage, prefix } = fresh();
    expect((await storage.put("empty", Readable.from([]))).size).toBe(0);
    expect(await nativeRead(`${prefix}/empty`)).toEqual(Buffer.alloc(0));
    expect((await readAll(await storage.get("empty"))).length).toBe(0);
    expect((await storage.head("empty"))?.size).toBe(0);
  });

  it("rejects E_NOT_FOUND for a missing object and heads it as undefined", async () => {
    const { storage } = fresh();
    const err = await rejection(storage.get("no/such/object"));
    expect(err.code).toBe("E_NOT_FOUND");
    expect(err.message).toMatch(/^\[strongbox\] \[gcs\] /);
    expect(await storage.head("no/such/object")).toBeUndefined();
  });

  it("serves byte ranges (inclusive), open-ended ranges and empty past-the-end ranges", async () => {
    const { storage } = fresh();
    const body = randomBytes(2 * 1024 * 1024 + 17);
    await storage.put("big.bin", Readable.from([body]));
    expect(storage.capabilities?.rangedGet).toBe(true);
    expect(await readAll(await storage.get("big.bin", { range: { start: 10, end: 19 } }))).toEqual(
      body.subarray(10, 20),
    );
    expect(await readAll(await storage.get("big.bin", { range: { start: 4 * 1024 * 1024 } }))).toEqual(
      body.subarray(4 * 1024 * 1024),
    );
    expect(
      await readAll(await storage.get("big.bin", { range: { start: body.length - 5, end: body.length + 100 } })),
    ).toEqual(body.subarray(-5));
    expect((await readAll(await storage.get("big.bin", { range: { start: body.length } }))).length).toBe(0);
    expect((await rejection(storage.get("big.bin", { range: { start: 5, end: 2 } }))).code).toBe("E_CONFIG");
    expect((await rejection(storage.get("big.bin", { range: { start: -1 } }))).code).toBe("E_CONFIG");
    // And the whole object, CRC32C-checked by the SDK.
    expect(await readAll(await storage.get("big.bin"))).toEqual(body);
  });

  it("rejects invalid keys with E_CONFIG and touches nothing", async () => {
    const { storage } = fresh();
    for (const key of ["", "/abs", "a/../b", "a//b", "a\\b", "./a"]) {
      expect((await rejection(storage.put(key, Readable.from([Buffer.from("x")])))).code).toBe("E_CONFIG");
      expect((await rejection(storage.get(key))).code).toBe("E_CONFIG");
    }
    expect((await rejection(storage.delete(["ok", "../escape"]))).code).toBe("E_CONFIG");
  });

  it("lists by prefix, relative to its own prefix, never objects beside it", async () => {
    const { storage, prefix } = fresh();
    await storage.put("b1/postgres/app.dump", Readable.from([Buffer.from("12345")]));
    await storage.put("b1/manifest.json", Readable.from([Buffer.from("{}")]));
    await storage.put("b2/manifest.json", Readable.from([Buffer.from("{ }")]));
    // Neighbours that a careless prefix match would pick up:
    await native.bucket(BUCKET).file(`${prefix}x/intruder`).save("no", { resumable: false });
    await native.bucket(BUCKET).file(`${prefix}/b1/folder/`).save("", { resumable: false });
    expect(await collect(storage.list(""))).toEqual([
      { key: "b1/manifest.json", size: 2 },
      { key: "b1/postgres/app.dump", size: 5 },
      { key: "b2/manifest.json", size: 3 },
    ]);
    expect((await collect(storage.list("b1/"))).map((o) => o.key)).toEqual([
      "b1/manifest.json",
      "b1/postgres/app.dump",
    ]);
    expect(await collect(storage.list("b3/"))).toEqual([]);
    expect((await rejection(collect(storage.list("../x")))).code).toBe("E_CONFIG");
  });

  it("paginates with its own pageToken loop (the 1,100-key listing runs in gcs-suite.test.ts)", async () => {
    const { storage, prefix } = fresh({ pageSize: 40, deleteConcurrency: 4 });
    const bucket = native.bucket(BUCKET);
    const names = Array.from({ length: 130 }, (_, i) => `many/${String(i).padStart(4, "0")}`);
    await Promise.all(names.map((n) => bucket.file(`${prefix}/${n}`).save(n, { resumable: false })));
    const listed = await collect(storage.list("many/"));
    // 130 objects in pages of 40: four requests, every object exactly once.
    expect(listed.length).toBe(130);
    expect(new Set(listed.map((o) => o.key))).toEqual(new Set(names));
    expect(listed.every((o) => o.size === 9)).toBe(true);
    // Deleting them all with bounded concurrency leaves nothing.
    await storage.delete(names);
    const [left] = await bucket.getFiles({ prefix: `${prefix}/` });
    expect(left.length).toBe(0);
  });

  it("deletes in batches; missing and duplicate keys are fine", async () => {
    const { storage, prefix } = fresh();
    for (const k of ["d/1", "d/2", "keep"]) await storage.put(k, Readable.from([Buffer.from(k)]));
    const res = await storage.delete(["d/1", "d/2", "d/1", "never/existed"]);
    expect(res?.skipped ?? []).toEqual([]);
    expect(await nativeRead(`${prefix}/d/1`)).toBeUndefined();
    expect(await nativeRead(`${prefix}/d/2`)).toBeUndefined();
    expect(String(await nativeRead(`${prefix}/keep`))).toBe("keep");
    await storage.delete([]);
  });

  it("a body that fails mid-way leaves nothing visible, and an older object intact", async () => {
    const { storage, prefix } = fresh();
    const failing = patternStream(20 * 1024 * 1024, { failAfter: 3 * 1024 * 1024 });
    const err = await rejection(storage.put("broken.bin", failing));
    expect(err.code).toBe("E_STORAGE");
    expect(err.message).toContain("source failed on purpose");
    expect(await storage.head("broken.bin")).toBeUndefined();
    expect(await nativeRead(`${prefix}/broken.bin`)).toBeUndefined();
    expect(await collect(storage.list(""))).toEqual([]);

    await storage.put("kept.bin", Readable.from([Buffer.from("good old bytes")]));
    await rejection(storage.put("kept.bin", patternStream(8 * 1024 * 1024, { failAfter: 2 * 1024 * 1024 })));
    expect(String(await nativeRead(`${prefix}/kept.bin`))).toBe("good old bytes");
  });

  it("an abort mid-upload rejects E_ABORTED and stores nothing", async () => {
    const { storage, prefix } = fresh();
    const ac = new AbortController();
    const body = patternStream(64 * 1024 * 1024);
    let sent = 0;
    body.on("data", (c: Buffer) => {
      sent += c.length;
      if (sent >= 4 * 1024 * 1024 && !ac.signal.aborted) ac.abort();
    });
    const err = await rejection(storage.put("aborted.bin", body, { signal: ac.signal }));
    expect(err.code).toBe("E_ABORTED");
    expect(body.destroyed).toBe(true);
    expect(await nativeRead(`${prefix}/aborted.bin`)).toBeUndefined();
    // An already-aborted signal refuses before any request.
    const pre = patternStream(1024);
    expect((await rejection(storage.put("pre.bin", pre, { signal: AbortSignal.abort() }))).code).toBe("E_ABORTED");
    expect(pre.destroyed).toBe(true);
  });

  it("an abort mid-download ends the stream with E_ABORTED", async () => {
    const { storage } = fresh();
    await storage.put("dl.bin", patternStream(8 * 1024 * 1024));
    const ac = new AbortController();
    const stream = await storage.get("dl.bin", { signal: ac.signal });
    let got = 0;
    const err = await (async () => {
      try {
        for await (const chunk of stream) {
          got += (chunk as Buffer).length;
          if (got > 1024 * 1024) ac.abort();
        }
      } catch (e) {
        return e as StrongboxError;
      }
      return undefined;
    })();
    expect(err?.code).toBe("E_ABORTED");
    expect(got).toBeLessThan(8 * 1024 * 1024);
  });

  it("checks its options at construction", () => {
    const err = (() => {
      try {
        gcs({} as never);
      } catch (e) {
        return e as StrongboxError;
      }
    })();
    expect(err?.code).toBe("E_CONFIG");
    expect(err?.message).toContain('"bucket"');
    expect(() => gcs({ bucket: "gs://x/y" })).toThrow(/bare bucket name/);
    expect(() => gcs({ bucket: "ok-bucket", prefix: "a/../b" })).toThrow(StrongboxError);
    expect(() => gcs({ bucket: "ok-bucket", deleteConcurrency: 0 })).toThrow(/deleteConcurrency/);
  });
});
