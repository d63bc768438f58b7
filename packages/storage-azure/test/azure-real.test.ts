/**
 * Against a real Azure Storage account. Runs only when STRONGBOX_AZURE_CONNECTION_STRING is set
 * (or STRONGBOX_AZURE_SAS_URL, a container SAS URL with permissions rwdl). The container
 * (STRONGBOX_AZURE_CONTAINER, default "strongbox-ci") is created when missing; everything is
 * written under a fresh prefix and deleted afterwards.
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import type { Storage, StrongboxError } from "@strongbox/core";
import { patternStream, readAll, sha256Of } from "@strongbox/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AzureBlobOptions, azureBlob } from "../src/index.js";

const connectionString = process.env.STRONGBOX_AZURE_CONNECTION_STRING;
const sasUrl = process.env.STRONGBOX_AZURE_SAS_URL;
const enabled = Boolean(connectionString || sasUrl);
if (!enabled)
  console.warn(
    "[storage-azure] real-cloud suite skipped: set STRONGBOX_AZURE_CONNECTION_STRING (or STRONGBOX_AZURE_SAS_URL) to run it",
  );

describe.skipIf(!enabled)("azureBlob() on real Azure Blob Storage", () => {
  const prefix = `strongbox-ci/${Date.now()}-${randomBytes(3).toString("hex")}`;
  const base = (): AzureBlobOptions =>
    connectionString
      ? { connectionString, container: process.env.STRONGBOX_AZURE_CONTAINER ?? "strongbox-ci" }
      : { sasUrl: sasUrl as string };
  // Built lazily: describe bodies run even when skipped, and azureBlob() checks its options.
  let storage: Storage;
  beforeAll(() => {
    storage = azureBlob({ ...base(), prefix });
  });
  afterAll(async () => {
    if (!storage) return;
    const keys: string[] = [];
    for await (const o of storage.list("")) keys.push(o.key);
    await storage.delete(keys);
  });

  it("round-trips, heads, ranges, lists and batch-deletes", async () => {
    const body = randomBytes(3 * 1024 * 1024 + 5);
    expect((await storage.put("a/b.bin", Readable.from([body]))).size).toBe(body.length);
    expect(await readAll(await storage.get("a/b.bin"))).toEqual(body);
    expect(await readAll(await storage.get("a/b.bin", { range: { start: 7, end: 1000 } }))).toEqual(
      body.subarray(7, 1001),
    );
    expect((await storage.head("a/b.bin"))?.size).toBe(body.length);
    expect(((await storage.get("a/none").catch((e: unknown) => e)) as StrongboxError).code).toBe("E_NOT_FOUND");
    const many = Array.from({ length: 300 }, (_, i) => `m/${i}`);
    for (let i = 0; i < many.length; i += 50)
      await Promise.all(many.slice(i, i + 50).map((k) => storage.put(k, Readable.from([Buffer.from(k)]))));
    await storage.delete([...many, "m/none"]);
    let left = 0;
    for await (const _ of storage.list("m/")) left++;
    expect(left).toBe(0);
  }, 180_000);

  it("streams 40 MiB in blocks and reads it back; a failed upload leaves nothing", async () => {
    const big = azureBlob({ ...base(), prefix, bufferSize: 4 * 1024 * 1024, accessTier: "Cool" });
    const body = patternStream(40 * 1024 * 1024);
    await big.put("big.bin", body);
    expect((await sha256Of(await big.get("big.bin"))).hash).toBe(body.digest());
    await big.put("f.bin", patternStream(20 * 1024 * 1024, { failAfter: 9 * 1024 * 1024 })).catch(() => undefined);
    expect(await big.head("f.bin")).toBeUndefined();
  }, 300_000);

  it.skipIf(!connectionString)(
    "a wrong key is E_STORAGE without the key (needs the connection string)",
    async () => {
      const wrong = randomBytes(64).toString("base64");
      const bad = azureBlob({
        connectionString: (connectionString as string).replace(/AccountKey=[^;]+/, `AccountKey=${wrong}`),
        container: "strongbox-ci",
        createContainer: false,
      });
      const err = (await bad.head("x").catch((e: unknown) => e)) as StrongboxError;
      expect(err.code).toBe("E_STORAGE");
      expect(err.message).not.toContain(wrong);
    },
    60_000,
  );
});
