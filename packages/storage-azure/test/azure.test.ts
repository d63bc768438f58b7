import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { BlobServiceClient, type ContainerClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { type Storage, StrongboxError } from "@strongbox/core";
import { patternStream, readAll } from "@strongbox/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AzureBlobOptions, azureBlob } from "../src/index.js";
import { AZURITE_ACCOUNT, AZURITE_KEY, type RunningAzurite, startAzurite } from "./support/azurite.js";

const CONTAINER = "strongbox-azure-test";
let azurite: RunningAzurite;
let native: BlobServiceClient;
let container: ContainerClient;

beforeAll(async () => {
  azurite = await startAzurite();
  native = BlobServiceClient.fromConnectionString(azurite.connectionString);
  container = native.getContainerClient(CONTAINER);
});
afterAll(async () => {
  await azurite?.stop();
});

/** A storage under a fresh prefix, so tests never see each other's blobs. */
function fresh(extra: Partial<AzureBlobOptions> = {}): { storage: Storage; prefix: string } {
  const prefix = `t-${randomBytes(4).toString("hex")}/backups`;
  const storage = azureBlob({ connectionString: azurite.connectionString, container: CONTAINER, prefix, ...extra });
  return { storage, prefix };
}

async function nativeRead(name: string, c: ContainerClient = container): Promise<Buffer | undefined> {
  const blob = c.getBlobClient(name);
  if (!(await blob.exists())) return undefined;
  return blob.downloadToBuffer();
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

describe("azureBlob() on azurite", () => {
  it("names itself and its location, creates its container on the first write", async () => {
    const name = `created-${randomBytes(3).toString("hex")}`;
    const storage = azureBlob({ connectionString: azurite.connectionString, container: name, prefix: "prod/app" });
    expect(storage.type).toBe("azure-blob");
    expect(storage.location).toBe(`azure://${AZURITE_ACCOUNT}/${name}/prod/app`);
    // Reads before any write see an empty store, and create nothing.
    expect(await collect(storage.list(""))).toEqual([]);
    expect(await storage.head("x")).toBeUndefined();
    expect((await rejection(storage.get("x"))).code).toBe("E_NOT_FOUND");
    expect(await native.getContainerClient(name).exists()).toBe(false);
    await storage.put("x", Readable.from([Buffer.from("first")]));
    expect(await native.getContainerClient(name).exists()).toBe(true);
    expect(String(await nativeRead("prod/app/x", native.getContainerClient(name)))).toBe("first");
  });

  it("puts a blob that the native client reads back byte for byte, with its content type", async () => {
    const { storage, prefix } = fresh();
    const body = randomBytes(300_000);
    const res = await storage.put(
      "20261121T020000Z-abc/postgres/app.dump.gz",
      Readable.from([body.subarray(0, 1000), body.subarray(1000)]),
    );
    expect(res.size).toBe(body.length);
    expect(await nativeRead(`${prefix}/20261121T020000Z-abc/postgres/app.dump.gz`)).toEqual(body);
    const props = await container.getBlobClient(`${prefix}/20261121T020000Z-abc/postgres/app.dump.gz`).getProperties();
    expect(props.contentType).toBe("application/octet-stream");
  });

  it("connects with a ready BlobServiceClient, a ContainerClient, account + key, and a SAS URL", async () => {
    await container.createIfNotExists();
    const key = `ways-${randomBytes(3).toString("hex")}`;
    const sas = await container.generateSasUrl({
      permissions: (await import("@azure/storage-blob")).ContainerSASPermissions.parse("rwdl"),
      expiresOn: new Date(Date.now() + 3600_000),
    });
    const ways: AzureBlobOptions[] = [
      { client: native, container: CONTAINER },
      { client: container },
      { account: AZURITE_ACCOUNT, accountKey: AZURITE_KEY, endpoint: azurite.blobEndpoint, container: CONTAINER },
      {
        account: AZURITE_ACCOUNT,
        credential: new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
        endpoint: azurite.blobEndpoint,
        container: CONTAINER,
      },
      { sasUrl: sas },
    ];
    for (const [i, way] of ways.entries()) {
      const storage = azureBlob({ ...way, prefix: key });
      expect(storage.location).toBe(`azure://${AZURITE_ACCOUNT}/${CONTAINER}/${key}`);
      await storage.put(`w${i}`, Readable.from([Buffer.from(`way ${i}`)]), { contentType: "text/plain" });
      expect(String(await nativeRead(`${key}/w${i}`))).toBe(`way ${i}`);
      expect(String(await readAll(await storage.get(`w${i}`)))).toBe(`way ${i}`);
      expect((await collect(storage.list(""))).map((o) => o.key)).toContain(`w${i}`);
      await storage.delete([`w${i}`]);
      expect(await nativeRead(`${key}/w${i}`)).toBeUndefined();
    }
  });

  it("replaces an existing blob and reads the new bytes", async () => {
    const { storage, prefix } = fresh();
    await storage.put("a.txt", Readable.from([Buffer.from("first version")]));
    await storage.put("a.txt", Readable.from([Buffer.from("second")]));
    expect(String(await nativeRead(`${prefix}/a.txt`))).toBe("second");
    expect(String(await readAll(await storage.get("a.txt")))).toBe("second");
  });

  it("gets what the native client wrote, and heads it", async () => {
    const { storage, prefix } = fresh();
    const body = randomBytes(70_000);
    await container.getBlockBlobClient(`${prefix}/x/native.bin`).uploadData(body);
    expect(await readAll(await storage.get("x/native.bin"))).toEqual(body);
    const info = await storage.head("x/native.bin");
    expect(info?.key).toBe("x/native.bin");
    expect(info?.size).toBe(body.length);
    expect(info?.lastModified).toBeInstanceOf(Date);
    expect(info?.etag).toBeTruthy();
  });

  it("stores an empty blob", async () => {
    const { storage, prefix } = fresh();
    expect((await storage.put("empty", Readable.from([]))).size).toBe(0);
    expect(await nativeRead(`${prefix}/empty`)).toEqual(Buffer.alloc(0));
    expect((await readAll(await storage.get("empty"))).length).toBe(0);
    expect((await storage.head("empty"))?.size).toBe(0);
  });

  it("rejects E_NOT_FOUND for a missing blob and heads it as undefined", async () => {
    const { storage } = fresh();
    const err = await rejection(storage.get("no/such/blob"));
    expect(err.code).toBe("E_NOT_FOUND");
    expect(err.message).toMatch(/^\[strongbox\] \[azure-blob\] /);
    expect(await storage.head("no/such/blob")).toBeUndefined();
  });

  it("serves byte ranges (inclusive), open-ended ranges and empty past-the-end ranges", async () => {
    const { storage } = fresh();
    const body = randomBytes(2 * 1024 * 1024 + 17);
    await storage.put("big.bin", Readable.from([body]));
    expect(storage.capabilities?.rangedGet).toBe(true);
    expect(await readAll(await storage.get("big.bin", { range: { start: 10, end: 19 } }))).toEqual(
      body.subarray(10, 20),
    );
    expect(await readAll(await storage.get("big.bin", { range: { start: 1024 * 1024 } }))).toEqual(
      body.subarray(1024 * 1024),
    );
    expect(
      await readAll(await storage.get("big.bin", { range: { start: body.length - 5, end: body.length + 100 } })),
    ).toEqual(body.subarray(-5));
    expect((await readAll(await storage.get("big.bin", { range: { start: body.length } }))).length).toBe(0);
    expect((await rejection(storage.get("missing.bin", { range: { start: 5 } }))).code).toBe("E_NOT_FOUND");
    expect((await rejection(storage.get("big.bin", { range: { start: 5, end: 2 } }))).code).toBe("E_CONFIG");
    expect(await readAll(await storage.get("big.bin"))).toEqual(body);
  });

  it("rejects invalid keys with E_CONFIG", async () => {
    const { storage } = fresh();
    for (const key of ["", "/abs", "a/../b", "a//b", "a\\b", "./a"]) {
      expect((await rejection(storage.put(key, Readable.from([Buffer.from("x")])))).code).toBe("E_CONFIG");
      expect((await rejection(storage.get(key))).code).toBe("E_CONFIG");
    }
    expect((await rejection(storage.delete(["ok", "../escape"]))).code).toBe("E_CONFIG");
  });

  it("lists by prefix, relative to its own prefix, never blobs beside it", async () => {
    const { storage, prefix } = fresh();
    await storage.put("b1/postgres/app.dump", Readable.from([Buffer.from("12345")]));
    await storage.put("b1/manifest.json", Readable.from([Buffer.from("{}")]));
    await storage.put("b2/manifest.json", Readable.from([Buffer.from("{ }")]));
    await container.getBlockBlobClient(`${prefix}x/intruder`).uploadData(Buffer.from("no"));
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
  });

  it("pages through listings (1,100 blobs in pages of 400) and batch-deletes them (256 per batch)", async () => {
    const { storage, prefix } = fresh({ pageSize: 400 });
    const names = Array.from({ length: 1100 }, (_, i) => `many/${String(i).padStart(4, "0")}`);
    for (let i = 0; i < names.length; i += 100) {
      await Promise.all(
        names.slice(i, i + 100).map((n) => container.getBlockBlobClient(`${prefix}/${n}`).uploadData(Buffer.from(n))),
      );
    }
    const listed = await collect(storage.list("many/"));
    expect(listed.length).toBe(1100);
    expect(new Set(listed.map((o) => o.key))).toEqual(new Set(names));
    expect(listed.every((o) => o.size === 9)).toBe(true);
    const res = await storage.delete([...names, "many/never-existed"]);
    expect(res?.skipped ?? []).toEqual([]);
    let left = 0;
    for await (const _ of container.listBlobsFlat({ prefix: `${prefix}/` })) left++;
    expect(left).toBe(0);
  });

  it("deletes blob by blob when batching is off; missing and duplicate keys are fine", async () => {
    const { storage, prefix } = fresh({ batchDelete: false, deleteConcurrency: 3 });
    for (const k of ["d/1", "d/2", "keep"]) await storage.put(k, Readable.from([Buffer.from(k)]));
    await storage.delete(["d/1", "d/2", "d/1", "never/existed"]);
    expect(await nativeRead(`${prefix}/d/1`)).toBeUndefined();
    expect(await nativeRead(`${prefix}/d/2`)).toBeUndefined();
    expect(String(await nativeRead(`${prefix}/keep`))).toBe("keep");
    await storage.delete([]);
  });

  it("deletes blobs that have snapshots", async () => {
    const { storage, prefix } = fresh();
    await storage.put("snap", Readable.from([Buffer.from("v")]));
    await storage.put("other", Readable.from([Buffer.from("o")]));
    await container.getBlobClient(`${prefix}/snap`).createSnapshot();
    await storage.delete(["snap", "other"]);
    expect(await nativeRead(`${prefix}/snap`)).toBeUndefined();
  });

  it("a body that fails mid-way leaves nothing visible, and an older blob intact", async () => {
    const { storage, prefix } = fresh({ bufferSize: 1024 * 1024 });
    const err = await rejection(
      storage.put("broken.bin", patternStream(20 * 1024 * 1024, { failAfter: 3 * 1024 * 1024 })),
    );
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
    const { storage, prefix } = fresh({ bufferSize: 1024 * 1024 });
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

  it("writes new blobs in the chosen access tier", async () => {
    const { storage, prefix } = fresh({ accessTier: "Cool" });
    await storage.put("cool.bin", Readable.from([Buffer.from("cool")]));
    expect((await container.getBlobClient(`${prefix}/cool.bin`).getProperties()).accessTier).toBe("Cool");
  });

  it("checks its options at construction", () => {
    const fail = (o: unknown): StrongboxError => {
      try {
        azureBlob(o as AzureBlobOptions);
      } catch (e) {
        return e as StrongboxError;
      }
      throw new Error("did not throw");
    };
    expect(fail({ container: "c" }).message).toContain(
      'needs one of "client", "connectionString", "sasUrl" or "account"',
    );
    expect(fail({ connectionString: azurite.connectionString }).message).toContain('needs "container"');
    expect(fail({ connectionString: azurite.connectionString, account: "x", container: "c" }).message).toContain(
      "only one of",
    );
    expect(fail({ account: "Bad_Name", accountKey: "k", container: "c" }).code).toBe("E_CONFIG");
    expect(fail({ account: "acct", container: "c" }).message).toContain('"accountKey" or "credential"');
    expect(fail({ sasUrl: "https://acct.blob.core.windows.net/c", container: "c" }).message).toContain("no SAS token");
    expect(
      fail({ connectionString: azurite.connectionString, container: "c", accessTier: "Frozen" }).message,
    ).toContain("accessTier");
    expect(fail({ connectionString: azurite.connectionString, container: "c", bufferSize: 0 }).message).toContain(
      "bufferSize",
    );
  });
});
