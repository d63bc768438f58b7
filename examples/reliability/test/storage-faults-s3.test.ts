/**
 * Storage failing in the middle of a backup, S3 half: a TCP proxy that resets or stalls
 * connections after N bytes (support/tcp-fault-proxy.ts) in front of s3rver, and an HTTP proxy
 * answering 500/503. Each backup either completes after retries (and restores byte for byte) or fails
 * cleanly: E_STORAGE / E_ABORTED, no manifest, no open multipart upload, no committed blob, and the
 * previous backup's objects unchanged — all checked through the native SDKs.
 */
import { randomBytes } from "node:crypto";
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { createStrongbox, type Storage, silentLogger } from "@strongbox/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createBucket,
  INTERNAL_ERROR,
  openUploads,
  rawClient,
  readNative,
  type S3rverHandle,
  SLOW_DOWN,
  s3rverStorage,
  startFaultProxy,
  startS3rver,
  uploadsOnDisk,
} from "../../../packages/storage-s3/test/s3rver.js";
import { expectCode, memorySource, sha256 } from "./support/helpers.js";
import { startTcpFaultProxy, type TcpFaultProxy } from "./support/tcp-fault-proxy.js";

const MiB = 1024 * 1024;
/** 11 MiB: three multipart parts of 5 MiB on S3, three blocks of 4 MiB on Azure. */
const payload = randomBytes(11 * MiB);
const previousPayload = randomBytes(64 * 1024);

function box(storage: Storage, data: Buffer) {
  return createStrongbox({ sources: [memorySource("blob", () => data)], storage, logger: silentLogger });
}

describe("S3 (s3rver) behind a fault-injecting TCP proxy", () => {
  let server: S3rverHandle;
  let native: S3Client;
  let tcp: TcpFaultProxy;
  const bucket = "faults";
  let previous: { id: string; objects: Record<string, string> };

  const storage = (socketTimeoutMs = 1_000) =>
    s3rverStorage(`http://127.0.0.1:${tcp.port}`, bucket, {
      prefix: "rel",
      partSize: 5 * MiB,
      queueSize: 2,
      maxAttempts: 3,
      socketTimeoutMs,
    });

  /** Every object under the prefix, natively: key → sha256. */
  async function objects(prefix = "rel/"): Promise<Record<string, string>> {
    const out = await native.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    const entries: Record<string, string> = {};
    for (const o of out.Contents ?? []) entries[o.Key!] = sha256((await readNative(native, bucket, o.Key!))!);
    return entries;
  }

  async function expectNothingLeft(id: string): Promise<void> {
    expect(Object.keys(await objects(`rel/${id}/`))).toEqual([]);
    expect(await openUploads(native, bucket)).toEqual([]);
    expect(await uploadsOnDisk(server.directory, bucket)).toEqual([]);
    expect(await objects(`rel/${previous.id}/`)).toEqual(previous.objects);
  }

  beforeAll(async () => {
    server = await startS3rver();
    native = rawClient(server.endpoint);
    await createBucket(native, bucket);
    tcp = await startTcpFaultProxy(Number(new URL(server.endpoint).port));
    const b = box(storage(), previousPayload);
    const m = await b.backup();
    previous = { id: m.id, objects: await objects(`rel/${m.id}/`) };
    expect(Object.keys(previous.objects)).toContain(`rel/${m.id}/manifest.json`);
  });
  afterAll(async () => {
    await tcp?.close();
    native?.destroy();
    await server?.stop();
  });

  it("a connection reset mid-part is retried and the backup completes intact", async () => {
    tcp.fault = { kind: "reset", afterBytes: 2 * MiB, times: 1 };
    const resetsBefore = tcp.stats.resets;
    const b = box(storage(), payload);
    const m = await b.backup();
    expect(tcp.stats.resets).toBe(resetsBefore + 1);
    // Native check: the stored object is exactly the payload, and no part is left over.
    expect(sha256((await readNative(native, bucket, `rel/${m.components[0]!.artifacts[0]!.key}`))!)).toBe(
      sha256(payload),
    );
    expect(await openUploads(native, bucket)).toEqual([]);
    expect((await b.verify(m.id, { mode: "decode" })).ok).toBe(true);
    await b.delete(m.id);
  });

  it("every connection reset: fails with E_STORAGE, no manifest, no multipart parts, previous backup untouched", async () => {
    tcp.fault = { kind: "reset", afterBytes: 1 * MiB };
    const b = box(storage(), payload);
    let failedId = "";
    b.on("backup:failed", (e) => {
      failedId = e.id;
    });
    const err = await expectCode(b.backup(), "E_STORAGE");
    expect(err.message).toMatch(/faults|s3/);
    tcp.fault = { kind: "pass" };
    expect(failedId).not.toBe("");
    await expectNothingLeft(failedId);
    expect((await b.list()).map((s) => s.id)).toEqual([previous.id]);
  });

  it("a stalled connection is abandoned when the caller's signal fires: E_ABORTED, nothing left", async () => {
    tcp.fault = { kind: "stall", afterBytes: 1 * MiB, times: 1 };
    const stallsBefore = tcp.stats.stalls;
    // A socket timeout longer than the caller's patience: the signal is what ends it.
    const b = box(storage(60_000), payload);
    let failedId = "";
    b.on("backup:failed", (e) => {
      failedId = e.id;
    });
    const t0 = Date.now();
    await expectCode(b.backup({ signal: AbortSignal.timeout(2_000) }), "E_ABORTED");
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(tcp.stats.stalls).toBe(stallsBefore + 1);
    tcp.fault = { kind: "pass" };
    await expectNothingLeft(failedId);
  });

  // An idle-socket timeout (socketTimeoutMs) turns a stalled connection into a retried failure.
  it("a stalled connection without a caller signal is given up and retried on its own", async () => {
    tcp.fault = { kind: "stall", afterBytes: 1 * MiB, times: 1 };
    const b = box(storage(), payload);
    const outcome = b.backup().then(
      () => "completed",
      (e: { code?: string }) => `failed ${e.code}`,
    );
    const settled = await Promise.race([outcome, new Promise((r) => setTimeout(() => r("still hanging"), 4_000))]);
    // Unstick it either way, so nothing is left running after the test.
    tcp.releaseStalls();
    tcp.fault = { kind: "pass" };
    await outcome;
    expect(settled).not.toBe("still hanging");
  });
});

describe("S3 (s3rver) behind an HTTP proxy answering 500 / 503", () => {
  let server: S3rverHandle;
  let native: S3Client;
  let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
  const bucket = "http-faults";

  beforeAll(async () => {
    server = await startS3rver();
    native = rawClient(server.endpoint);
    await createBucket(native, bucket);
    proxy = await startFaultProxy(server.endpoint);
  });
  afterAll(async () => {
    await proxy?.close();
    native?.destroy();
    await server?.stop();
  });

  const storage = () => s3rverStorage(proxy.endpoint, bucket, { partSize: 5 * MiB, queueSize: 2, maxAttempts: 3 });

  it("503 SlowDown and 500 InternalError on parts are retried; the backup completes intact", async () => {
    let failedParts = 0;
    proxy.fault = (req) => {
      if (req.method === "PUT" && req.url.includes("partNumber=") && failedParts < 2) {
        failedParts++;
        return failedParts === 1 ? SLOW_DOWN : INTERNAL_ERROR;
      }
      return "pass";
    };
    const b = box(storage(), payload);
    const m = await b.backup();
    expect(failedParts).toBe(2);
    expect(proxy.seen.filter((r) => r.status === 503 || r.status === 500)).toHaveLength(2);
    const stored = await readNative(native, bucket, m.components[0]!.artifacts[0]!.key);
    expect(sha256(stored!)).toBe(sha256(payload));
    expect(await openUploads(native, bucket)).toEqual([]);
    proxy.fault = () => "pass";
  });

  it("the manifest PUT failing every time fails the backup cleanly; the earlier backup stays restorable", async () => {
    proxy.fault = () => "pass";
    const b = box(storage(), previousPayload);
    const before = await b.backup();
    proxy.fault = (req) => (req.method === "PUT" && req.url.includes("/manifest.json") ? INTERNAL_ERROR : "pass");
    const b2 = box(storage(), payload);
    let failedId = "";
    b2.on("backup:failed", (e) => {
      failedId = e.id;
    });
    await expectCode(b2.backup(), "E_STORAGE");
    proxy.fault = () => "pass";
    const left = await native.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${failedId}/` }));
    expect(left.Contents ?? []).toEqual([]);
    expect(await openUploads(native, bucket)).toEqual([]);
    const list = await b2.list({ includeIncomplete: true });
    expect(list.map((s) => s.id)).not.toContain(failedId);
    const src = memorySource("blob", () => previousPayload);
    const reader = createStrongbox({ sources: [src], storage: storage() });
    await reader.restore(before.id);
    expect(src.restored?.equals(previousPayload)).toBe(true);
  });
});
