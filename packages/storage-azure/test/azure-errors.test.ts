import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import {
  BlobServiceClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";
import { type Storage, StrongboxError } from "@strongbox/core";
import { readAll, type SeenRequest, startFaultProxy } from "@strongbox/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AzureBlobOptions, azureBlob } from "../src/index.js";
import { AZURITE_ACCOUNT, AZURITE_KEY, type RunningAzurite, startAzurite } from "./support/azurite.js";

let azurite: RunningAzurite;
let native: BlobServiceClient;
let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
let flakyLeft = 0;
let refuseBatches = false;
const FAST_RETRY = { maxTries: 4, retryDelayInMs: 20, maxRetryDelayInMs: 50 };

beforeAll(async () => {
  azurite = await startAzurite();
  native = BlobServiceClient.fromConnectionString(azurite.connectionString);
  proxy = await startFaultProxy(new URL(azurite.blobEndpoint).origin, (req: SeenRequest) => {
    if (refuseBatches && req.url.includes("comp=batch"))
      return {
        status: 400,
        json: { error: "batch refused by a proxy" },
        headers: { "x-ms-error-code": "InvalidInput" },
      };
    if (flakyLeft > 0 && req.url.includes("/flaky-container")) {
      flakyLeft--;
      return { status: 503, json: {}, headers: { "x-ms-error-code": "ServerBusy" } };
    }
    return undefined;
  });
});
afterAll(async () => {
  await proxy?.close();
  await azurite?.stop();
});

/** A container SAS URL signed with the emulator key. */
function sasFor(container: string, permissions: string): string {
  const sas = generateBlobSASQueryParameters(
    {
      containerName: container,
      permissions: ContainerSASPermissions.parse(permissions),
      expiresOn: new Date(Date.now() + 3600_000),
    },
    new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
  ).toString();
  return `${azurite.blobEndpoint}/${container}?${sas}`;
}

async function failure(p: Promise<unknown>, ...secrets: string[]): Promise<StrongboxError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StrongboxError);
  const e = err as StrongboxError;
  expect(e.message.startsWith("[strongbox] [azure-blob] ")).toBe(true);
  for (const s of secrets) expect(e.message).not.toContain(s);
  return e;
}

async function drain(it: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of it) n++;
  return n;
}

function everyCall(storage: Storage): Array<() => Promise<unknown>> {
  return [
    () => storage.put("k", Readable.from([Buffer.from("x")])),
    () => storage.get("k"),
    () => storage.head("k"),
    () => drain(storage.list("")),
    () => storage.delete(["k", "k2"]),
  ];
}

describe("azureBlob() failure modes on azurite", () => {
  it("a missing container with createContainer: false fails every call with E_STORAGE naming it", async () => {
    const storage = azureBlob({
      connectionString: azurite.connectionString,
      container: "no-such-container",
      createContainer: false,
    });
    for (const call of everyCall(storage)) {
      const err = await failure(call(), AZURITE_KEY);
      expect(err.code).toBe("E_STORAGE");
      expect(err.message).toContain(`container "no-such-container" does not exist in account "${AZURITE_ACCOUNT}"`);
      expect(err.message).toContain("createContainer");
    }
    expect(await native.getContainerClient("no-such-container").exists()).toBe(false);
  });

  it("a wrong account key fails fast with E_STORAGE, says what to check, and never shows the key", async () => {
    const wrongKey = randomBytes(64).toString("base64");
    const storage = azureBlob({
      account: AZURITE_ACCOUNT,
      accountKey: wrongKey,
      endpoint: azurite.blobEndpoint,
      container: "any-container",
    });
    const started = Date.now();
    for (const call of everyCall(storage)) {
      const err = await failure(call(), wrongKey, AZURITE_KEY);
      expect(err.code).toBe("E_STORAGE");
      expect(err.message).toContain(`authentication failed for account "${AZURITE_ACCOUNT}"`);
      expect(err.message).toContain("account key");
    }
    // 403 is permanent: no retry loop.
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("a SAS without write permission fails with E_STORAGE naming the role / SAS permissions, never the token", async () => {
    const c = native.getContainerClient("sas-readonly");
    await c.createIfNotExists();
    const url = sasFor("sas-readonly", "rl");
    const sig = new URL(url).searchParams.get("sig") as string;
    const storage = azureBlob({ sasUrl: url });
    const err = await failure(storage.put("k", Readable.from([Buffer.from("x")])), sig, encodeURIComponent(sig));
    expect(err.code).toBe("E_STORAGE");
    expect(err.message).toContain('permission denied on container "sas-readonly"');
    expect(err.message).toContain("Storage Blob Data Contributor");
    expect(err.message).toContain("rwdl");
    expect(await storage.head("k")).toBeUndefined();
  });

  it("createContainer cannot create with a container SAS: the write names the container and why creating failed", async () => {
    const url = sasFor("ghost-container", "rwdl");
    const storage = azureBlob({ sasUrl: url });
    const err = await failure(
      storage.put("k", Readable.from([Buffer.from("x")])),
      new URL(url).searchParams.get("sig") as string,
    );
    expect(err.code).toBe("E_STORAGE");
    expect(err.message).toContain('container "ghost-container" does not exist');
    expect(err.message).toContain("creating it failed");
  });

  it("transient 503s are retried by the SDK with backoff, then each call succeeds", async () => {
    await native.getContainerClient("flaky-container").createIfNotExists();
    const storage = azureBlob({
      account: AZURITE_ACCOUNT,
      accountKey: AZURITE_KEY,
      endpoint: `${proxy.endpoint}/${AZURITE_ACCOUNT}`,
      container: "flaky-container",
      createContainer: false,
      retry: FAST_RETRY,
    });
    const calls: Array<() => Promise<unknown>> = [
      () => storage.put("r/one", Readable.from([Buffer.from("survived")])),
      async () => expect(String(await readAll(await storage.get("r/one")))).toBe("survived"),
      async () => expect((await storage.head("r/one"))?.size).toBe(8),
      async () => expect(await drain(storage.list("r/"))).toBe(1),
      () => storage.delete(["r/one"]),
    ];
    for (const call of calls) {
      flakyLeft = 2;
      await call();
      expect(flakyLeft).toBe(0);
    }
    expect(await storage.head("r/one")).toBeUndefined();
  });

  it("falls back to single deletes when a batch request is refused as a whole", async () => {
    await native.getContainerClient("batchless").createIfNotExists();
    const options: AzureBlobOptions = {
      account: AZURITE_ACCOUNT,
      accountKey: AZURITE_KEY,
      endpoint: `${proxy.endpoint}/${AZURITE_ACCOUNT}`,
      container: "batchless",
      retry: FAST_RETRY,
    };
    const storage = azureBlob(options);
    const keys = Array.from({ length: 30 }, (_, i) => `b/${i}`);
    for (const k of keys) await storage.put(k, Readable.from([Buffer.from(k)]));
    refuseBatches = true;
    try {
      const before = proxy.seen.length;
      await storage.delete([...keys, "b/missing"]);
      const seen = proxy.seen.slice(before);
      expect(seen.some((r) => r.url.includes("comp=batch"))).toBe(true);
      expect(seen.filter((r) => r.method === "DELETE").length).toBe(31);
    } finally {
      refuseBatches = false;
    }
    expect(await drain(storage.list("b/"))).toBe(0);
  });
});
