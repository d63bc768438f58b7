import { Readable } from "node:stream";
import { registerSecret, type Storage, StrongboxError } from "@strongbox/core";
import { readAll, type SeenRequest, startFaultProxy } from "@strongbox/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gcs } from "../src/index.js";
import { type RunningEmulator, startGcsEmulator } from "./support/emulator.js";
import { gcsError } from "./support/gcs-error.js";

// Real Cloud Storage error bodies, answered by a proxy in front of the emulator (which creates
// any bucket on first use and checks no credentials, so it cannot produce them itself).
const MISSING = gcsError(404, "The specified bucket does not exist.", "notFound");
const FORBIDDEN = gcsError(
  403,
  "backup-writer@proj.iam.gserviceaccount.com does not have storage.objects.create access to the Google Cloud Storage object. Permission 'storage.objects.create' denied on resource (or it may not exist).",
  "forbidden",
);
const UNAUTHORIZED = gcsError(401, "Invalid Credentials", "authError");
const RETENTION = gcsError(
  403,
  "Object 'b/locked/x' is subject to bucket's retention policy or object retention and cannot be deleted or overwritten until 2027-01-01T00:00:00Z",
  "retentionPolicyNotMet",
);
const SECRET =
  "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw-not-a-real-key\n-----END PRIVATE KEY-----\n";

let emu: RunningEmulator;
let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
let flakyLeft = 0;

beforeAll(async () => {
  emu = await startGcsEmulator();
  proxy = await startFaultProxy(emu.endpoint, (req: SeenRequest) => {
    if (req.url.includes("/b/missing-bucket/") || req.url.includes("/b/missing-bucket?"))
      return { status: 404, json: MISSING };
    if (req.url.includes("/b/forbidden-bucket/")) return { status: 403, json: FORBIDDEN };
    if (req.url.includes("/b/unauth-bucket/")) return { status: 401, json: UNAUTHORIZED };
    // Objects.get on a missing bucket answers like a missing object here; only the listing says "bucket".
    if (req.url.includes("/b/vague-bucket/")) {
      return req.url.includes("/o?") || req.url.endsWith("/o")
        ? { status: 404, json: MISSING }
        : { status: 404, json: gcsError(404, "No such object: vague-bucket/x", "notFound") };
    }
    if (req.url.includes("/b/locked-bucket/o/") && req.method === "DELETE" && req.url.includes("locked")) {
      return decodeURIComponent(req.url).includes("/o/p/locked/") ? { status: 403, json: RETENTION } : undefined;
    }
    if (req.url.includes("/b/flaky-bucket/") && flakyLeft > 0) {
      flakyLeft--;
      return { status: 503, json: gcsError(503, "Backend Error", "backendError") };
    }
    return undefined;
  });
});
afterAll(async () => {
  await proxy?.close();
  await emu?.stop();
});

function storageFor(bucket: string): Storage {
  registerSecret(SECRET);
  return gcs({
    bucket,
    prefix: "p",
    projectId: "demo-test",
    apiEndpoint: proxy.endpoint,
    // Keep the test quick: retries still happen, with short waits.
    retry: { maxRetries: 3, maxRetryDelay: 1 },
  });
}

async function failure(p: Promise<unknown>): Promise<StrongboxError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StrongboxError);
  const e = err as StrongboxError;
  expect(e.message.startsWith("[strongbox] [gcs] ")).toBe(true);
  expect(e.message).not.toContain("PRIVATE KEY");
  return e;
}

async function drain(it: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of it) n++;
  return n;
}

describe("gcs() failure modes (real GCS error bodies through a proxy)", () => {
  it("a missing bucket fails every operation fast with E_STORAGE naming the bucket", async () => {
    const storage = storageFor("missing-bucket");
    const started = Date.now();
    const before = proxy.seen.length;
    for (const call of [
      () => storage.put("k", Readable.from([Buffer.from("x")])),
      () => storage.get("k"),
      () => storage.head("k"),
      () => drain(storage.list("")),
      () => storage.delete(["k"]),
    ]) {
      const err = await failure(call());
      expect(err.code).toBe("E_STORAGE");
      expect(err.message).toContain('bucket "missing-bucket" does not exist');
      expect(err.message).toContain("check the bucket name");
    }
    // Permanent errors are not retried: one request per call (get/head: metadata only).
    expect(proxy.seen.length - before).toBeLessThanOrEqual(5);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("a missing bucket behind an object-style 404 is still told apart from a missing object", async () => {
    const storage = storageFor("vague-bucket");
    const err = await failure(storage.get("x"));
    expect(err.code).toBe("E_STORAGE");
    expect(err.message).toContain('bucket "vague-bucket" does not exist');
    expect((await failure(storage.head("x"))).code).toBe("E_STORAGE");
  });

  it("403 fails fast with E_STORAGE, the role to grant, and no secret", async () => {
    const storage = storageFor("forbidden-bucket");
    const before = proxy.seen.length;
    const err = await failure(storage.put("k", Readable.from([Buffer.from("x")])));
    expect(err.code).toBe("E_STORAGE");
    expect(err.message).toContain('permission denied on bucket "forbidden-bucket"');
    expect(err.message).toContain("roles/storage.objectAdmin");
    expect(err.message).toContain("storage.objects.create");
    expect(proxy.seen.length - before).toBe(1);
    expect((await failure(drain(storage.list("")))).code).toBe("E_STORAGE");
  });

  it("401 (bad or revoked credentials) fails with E_STORAGE saying to check credentials", async () => {
    const storage = storageFor("unauth-bucket");
    const err = await failure(storage.get("k"));
    expect(err.code).toBe("E_STORAGE");
    expect(err.message).toContain("authentication failed");
    expect(err.message).toContain("keyFilename");
  });

  it("transient 503s are retried by the SDK with backoff, then the call succeeds", async () => {
    const storage = storageFor("flaky-bucket");
    flakyLeft = 2;
    await storage.put("r/one", Readable.from([Buffer.from("survived")]));
    expect(flakyLeft).toBe(0);
    // A resumable session (body over singleRequestLimit) survives them too.
    flakyLeft = 1;
    await gcs({
      bucket: "flaky-bucket",
      prefix: "p",
      projectId: "demo-test",
      apiEndpoint: proxy.endpoint,
      retry: { maxRetries: 3, maxRetryDelay: 1 },
      singleRequestLimit: 1024,
    }).put("r/two", Readable.from([Buffer.alloc(5000, 7)]));
    expect(flakyLeft).toBe(0);
    expect((await storage.head("r/two"))?.size).toBe(5000);
    await storage.delete(["r/two"]);
    flakyLeft = 1;
    expect(String(await readAll(await storage.get("r/one")))).toBe("survived");
    flakyLeft = 1;
    expect((await storage.head("r/one"))?.size).toBe(8);
    flakyLeft = 1;
    expect(await drain(storage.list("r/"))).toBe(1);
    flakyLeft = 1;
    await storage.delete(["r/one"]);
    expect(flakyLeft).toBe(0);
    expect(await storage.head("r/one")).toBeUndefined();
  });

  it("retention-locked objects are reported as skipped, the rest deleted", async () => {
    const storage = storageFor("locked-bucket");
    await storage.put("locked/a", Readable.from([Buffer.from("a")]));
    await storage.put("free/b", Readable.from([Buffer.from("b")]));
    const res = await storage.delete(["locked/a", "free/b"]);
    expect(res?.skipped?.map((s) => s.key)).toEqual(["locked/a"]);
    expect(res?.skipped?.[0]?.reason).toContain("retention");
    expect(await storage.head("free/b")).toBeUndefined();
    expect(await storage.head("locked/a")).toBeDefined();
  });

  it("sends storageClass and kmsKeyName with every upload, single-request and resumable", async () => {
    const kms = "projects/p/locations/l/keyRings/r/cryptoKeys/k";
    const storage = gcs({
      bucket: "plain-bucket",
      apiEndpoint: proxy.endpoint,
      projectId: "demo-test",
      storageClass: "COLDLINE",
      kmsKeyName: kms,
      singleRequestLimit: 64 * 1024,
    });
    let before = proxy.seen.length;
    await storage.put("small.bin", Readable.from([Buffer.from("cold")]));
    const single = proxy.seen.slice(before).find((r) => r.method === "POST" && r.url.includes("uploadType=multipart"));
    expect(single?.body).toContain('"storageClass":"COLDLINE"');
    expect(new URL(single!.url, "http://x").searchParams.get("kmsKeyName")).toBe(kms);

    before = proxy.seen.length;
    await storage.put("big.bin", Readable.from([Buffer.alloc(100 * 1024, 1), Buffer.alloc(100 * 1024, 2)]));
    const start = proxy.seen.slice(before).find((r) => r.method === "POST" && r.url.includes("uploadType=resumable"));
    expect(JSON.parse(start?.body ?? "{}").storageClass).toBe("COLDLINE");
    expect(new URL(start!.url, "http://x").searchParams.get("kmsKeyName")).toBe(kms);
    expect((await storage.head("big.bin"))?.size).toBe(200 * 1024);
  });

  it("a private key given in credentials never shows in messages", () => {
    const storage = gcs({
      bucket: "x-bucket",
      credentials: {
        client_email: "a@b.iam.gserviceaccount.com",
        private_key: "-----BEGIN PRIVATE KEY-----\nSECRETSECRETSECRET\n-----END PRIVATE KEY-----\n",
      },
    });
    expect(storage.location).toBe("gs://x-bucket");
    const e = new StrongboxError(
      "E_STORAGE",
      "leaked -----BEGIN PRIVATE KEY-----\nSECRETSECRETSECRET\n-----END PRIVATE KEY-----\n here",
      { adapter: "gcs" },
    );
    expect(e.message).not.toContain("SECRETSECRETSECRET");
  });
});
