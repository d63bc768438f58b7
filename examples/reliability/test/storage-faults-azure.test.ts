/**
 * Storage failing in the middle of a backup, Azure half: a TCP proxy that resets or stalls
 * connections after N bytes (support/tcp-fault-proxy.ts) in front of azurite.
 * Each backup either completes after retries (byte-identical) or fails cleanly: E_STORAGE /
 * E_ABORTED, no committed blob, and the previous backup's blobs unchanged — checked with the
 * Azure SDK.
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { BlobServiceClient } from "@azure/storage-blob";
import { createStrongbox, type Storage, silentLogger } from "@strongbox/core";
import { azureBlob } from "@strongbox/storage-azure";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAzurite, startAzurite } from "../../../packages/storage-azure/test/support/azurite.js";
import { expectCode, memorySource, sha256 } from "./support/helpers.js";
import { startTcpFaultProxy, type TcpFaultProxy } from "./support/tcp-fault-proxy.js";

const MiB = 1024 * 1024;
/** 11 MiB: three multipart parts of 5 MiB on S3, three blocks of 4 MiB on Azure. */
const payload = randomBytes(11 * MiB);
const previousPayload = randomBytes(64 * 1024);

function box(storage: Storage, data: Buffer) {
  return createStrongbox({ sources: [memorySource("blob", () => data)], storage, logger: silentLogger });
}

describe("Azure Blob (azurite) behind a fault-injecting TCP proxy", () => {
  let azurite: RunningAzurite;
  let tcp: TcpFaultProxy;
  let native: BlobServiceClient;
  const container = "faults";
  let previous: { id: string; blobs: Record<string, string> };

  const storage = () =>
    azureBlob({
      connectionString: azurite.connectionString.replace(/:\d+\/devstoreaccount1/, `:${tcp.port}/devstoreaccount1`),
      container,
      bufferSize: 4 * MiB,
      maxConcurrency: 2,
      retry: { maxTries: 3, retryDelayInMs: 50, maxRetryDelayInMs: 200, tryTimeoutInMs: 3_000 },
      stallTimeoutMs: 1_500,
    });

  /** Committed blobs under `prefix`, natively: name → sha256. Uncommitted blocks are not blobs. */
  async function blobs(prefix: string): Promise<Record<string, string>> {
    const c = native.getContainerClient(container);
    const out: Record<string, string> = {};
    for await (const b of c.listBlobsFlat({ prefix }))
      out[b.name] = sha256(await c.getBlobClient(b.name).downloadToBuffer());
    return out;
  }

  beforeAll(async () => {
    azurite = await startAzurite();
    native = BlobServiceClient.fromConnectionString(azurite.connectionString);
    tcp = await startTcpFaultProxy(Number(new URL(azurite.blobEndpoint).port));
    const m = await box(storage(), previousPayload).backup();
    previous = { id: m.id, blobs: await blobs(`${m.id}/`) };
    expect(Object.keys(previous.blobs)).toContain(`${m.id}/manifest.json`);
  });
  afterAll(async () => {
    await tcp?.close();
    await azurite?.stop();
  });

  it("a connection reset mid-block is retried and the backup completes intact", async () => {
    tcp.fault = { kind: "reset", afterBytes: 2 * MiB, times: 1 };
    const resetsBefore = tcp.stats.resets;
    const b = box(storage(), payload);
    const m = await b.backup();
    expect(tcp.stats.resets).toBe(resetsBefore + 1);
    const stored = await native
      .getContainerClient(container)
      .getBlobClient(m.components[0]!.artifacts[0]!.key)
      .downloadToBuffer();
    expect(sha256(stored)).toBe(sha256(payload));
    await b.delete(m.id);
  });

  /**
   * Starts a backup into a connection that stalls after 1 MiB, waits up to `waitMs` for it to
   * settle, then unsticks it (resets the stalled sockets) and cleans up whatever it became.
   */
  async function stalledBackup(signal: AbortSignal | undefined, waitMs: number): Promise<string> {
    tcp.fault = { kind: "stall", afterBytes: 1 * MiB, times: 1 };
    const b = box(storage(), payload);
    const outcome = b.backup(signal ? { signal } : {}).then(
      async (m) => {
        await b.delete(m.id);
        return "completed";
      },
      (e: { code?: string }) => `failed ${e.code}`,
    );
    const settled = await Promise.race([
      outcome,
      new Promise<string>((r) => setTimeout(() => r("still hanging"), waitMs)),
    ]);
    tcp.releaseStalls();
    tcp.fault = { kind: "pass" };
    await outcome;
    return settled;
  }

  // The SDK's upload promise does not settle while a block upload is stalled; put() races it with
  // the caller's signal.
  it("a stalled connection is abandoned when the caller's signal fires: E_ABORTED", async () => {
    expect(await stalledBackup(AbortSignal.timeout(1_000), 4_000)).toBe("failed E_ABORTED");
  });

  // The SDK's per-try timeout does not cover a stalled block upload (tryTimeoutInMs is 3 s here):
  // the stall watchdog (stallTimeoutMs) gives the upload up with E_STORAGE — nothing committed —
  // and the scheduler's retries run the backup again. (S3's socket timeout retries the request
  // itself; the Azure SDK offers no equivalent for uploadStream.)
  it("a stalled connection without a caller signal is given up: E_STORAGE, nothing committed", async () => {
    expect(await stalledBackup(undefined, 4_000)).toBe("failed E_STORAGE");
  });

  it("a source that pauses longer than stallTimeoutMs is not a stall: the put completes", async () => {
    tcp.fault = { kind: "pass" };
    const chunks = [payload.subarray(0, 5 * MiB), payload.subarray(5 * MiB)];
    const slow = Readable.from(
      (async function* () {
        yield chunks[0]!;
        await new Promise((r) => setTimeout(r, 2_500));
        yield chunks[1]!;
      })(),
    );
    const key = `slow-source-${Date.now()}.bin`;
    const s = storage();
    expect(await s.put(key, slow)).toEqual({ size: payload.length });
    await s.delete([key]);
  });

  it("every connection reset: fails with E_STORAGE, no blob committed, previous backup untouched", async () => {
    tcp.fault = { kind: "reset", afterBytes: 1 * MiB };
    const b = box(storage(), payload);
    let failedId = "";
    b.on("backup:failed", (e) => {
      failedId = e.id;
    });
    await expectCode(b.backup(), "E_STORAGE");
    tcp.fault = { kind: "pass" };
    expect(await blobs(`${failedId}/`)).toEqual({});
    expect(await blobs(`${previous.id}/`)).toEqual(previous.blobs);
    expect((await b.list()).map((s) => s.id)).toEqual([previous.id]);
  });
});
