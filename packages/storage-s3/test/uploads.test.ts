// Multipart streaming, memory, abort/failure cleanup, retries and fast permanent failures.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { StrongboxError } from "@strongbox/core";
import { s3 } from "@strongbox/storage-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createBucket,
  type Fault,
  INTERNAL_ERROR,
  openUploads,
  rawClient,
  readNative,
  type S3rverHandle,
  type SeenRequest,
  SLOW_DOWN,
  s3rverOptions,
  s3rverStorage,
  startFaultProxy,
  startS3rver,
  uploadsOnDisk,
} from "./s3rver.js";

const BUCKET = "uploads";
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

/** `total` bytes of a deterministic pattern, produced lazily chunk by chunk (never held whole). */
function patternStream(total: number, chunk = MiB): { stream: Readable; sha256: () => string } {
  const hash = createHash("sha256");
  let sent = 0;
  let n = 0;
  const stream = new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const len = Math.min(chunk, total - sent);
      const buf = Buffer.alloc(len, n++ % 256);
      buf.writeUInt32BE(n, 0);
      hash.update(buf);
      sent += len;
      this.push(buf);
    },
  });
  return { stream, sha256: () => hash.digest("hex") };
}

/** Emits `bytes` then neither ends nor errors: a producer that is still working. */
function stallingStream(bytes: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= bytes) return; // no push: stall
      const len = Math.min(MiB, bytes - sent);
      sent += len;
      this.push(Buffer.alloc(len, 3));
    },
  });
}

async function rejection(p: Promise<unknown>): Promise<StrongboxError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StrongboxError);
  return err as StrongboxError;
}

describe("s3() uploads on s3rver", () => {
  // The conformance suite (suite.test.ts) streams 200 MiB with an RSS check in every run; this
  // one checks the multipart details on 48 MiB, or proves the memory bound on a bigger object
  // with STRONGBOX_S3_BIG_MIB=1024 (1 GiB: about a minute; kept out of CI for time).
  const bigMiB = Number(process.env.STRONGBOX_S3_BIG_MIB ?? 48);
  it(`streams ${bigMiB} MiB as a multipart upload, byte-exact, memory bounded by the parts in flight`, async () => {
    const storage = s3rverStorage(server.endpoint, BUCKET);
    const total = bigMiB * MiB;
    const { stream, sha256 } = patternStream(total);
    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 25);
    const started = Date.now();
    try {
      const res = await storage.put("big/object.bin", stream);
      expect(res.size).toBe(total);
    } finally {
      clearInterval(sampler);
    }
    const seconds = (Date.now() - started) / 1000;
    const growth = (peak - base) / MiB;
    console.info(`[s3] ${bigMiB} MiB put: ${seconds.toFixed(1)} s, RSS growth ${growth.toFixed(0)} MiB`);
    // partSize 8 MiB × queueSize 4 = 32 MiB of parts in flight, plus the chunks being cut into
    // parts and garbage V8 has not collected yet — whatever the object size.
    expect(growth).toBeLessThan(150);

    // Read back natively, streaming, and compare hashes.
    const out = await raw.send(new GetObjectCommand({ Bucket: BUCKET, Key: "big/object.bin" }));
    expect(out.ContentLength).toBe(total);
    const hash = createHash("sha256");
    for await (const c of out.Body as Readable) hash.update(c as Buffer);
    expect(hash.digest("hex")).toBe(sha256());
    // The multipart upload was completed, so nothing is left open.
    expect(await openUploads(raw, BUCKET)).toEqual([]);

    // A ranged get across a part boundary (8 MiB) returns exactly those bytes.
    const ranged = Buffer.concat(
      await (await storage.get("big/object.bin", { range: { start: 8 * MiB - 3, end: 8 * MiB + 3 } })).toArray(),
    );
    expect(ranged.length).toBe(7);
    expect([...ranged.subarray(0, 3)]).toEqual([7, 7, 7]); // chunk n=8 filled with 7
    expect(ranged.readUInt32BE(3)).toBe(9); // next chunk starts with its counter
    await storage.delete(["big/object.bin"]);
    await storage.close?.();
  }, 600_000);

  it("abort during a multipart upload aborts it: no open upload, no parts, no object, body destroyed", async () => {
    const storage = s3rverStorage(server.endpoint, BUCKET, { partSize: 5 * MiB, queueSize: 2 });
    const body = stallingStream(12 * MiB);
    const ac = new AbortController();
    const put = storage.put("aborted/obj", body, { signal: ac.signal });
    // Wait until S3 really holds an open upload with parts, then abort.
    const deadline = Date.now() + 15_000;
    while ((await openUploads(raw, BUCKET)).length === 0 && Date.now() < deadline) await sleep(50);
    expect((await openUploads(raw, BUCKET)).length).toBe(1);
    await sleep(300);
    ac.abort();
    const err = await rejection(put);
    expect(err.code).toBe("E_ABORTED");
    expect(await openUploads(raw, BUCKET)).toEqual([]);
    expect(await uploadsOnDisk(server.directory, BUCKET)).toEqual([]);
    expect(await readNative(raw, BUCKET, "aborted/obj")).toBeUndefined();
    expect(body.destroyed).toBe(true);
    await storage.close?.();
  });

  it("an already-aborted signal writes nothing", async () => {
    const storage = s3rverStorage(server.endpoint, BUCKET);
    const body = Readable.from([Buffer.from("x")]);
    const err = await rejection(storage.put("aborted/early", body, { signal: AbortSignal.abort() }));
    expect(err.code).toBe("E_ABORTED");
    expect(await readNative(raw, BUCKET, "aborted/early")).toBeUndefined();
    await storage.close?.();
  });

  it("a failing source fails the put and aborts the multipart upload", async () => {
    const storage = s3rverStorage(server.endpoint, BUCKET, { partSize: 5 * MiB });
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent >= 11 * MiB) return void this.destroy(new Error("pg_dump exited with code 1"));
        sent += MiB;
        this.push(Buffer.alloc(MiB, 1));
      },
    });
    const err = await rejection(storage.put("failed/source", body));
    expect(err.code).toBe("E_STORAGE");
    expect(err.message).toMatch(/failed: the body stream failed: pg_dump exited with code 1$/);
    expect(await openUploads(raw, BUCKET)).toEqual([]);
    expect(await uploadsOnDisk(server.directory, BUCKET)).toEqual([]);
    expect(await readNative(raw, BUCKET, "failed/source")).toBeUndefined();

    // Same when the body fails before a first part is complete (the single-PUT path).
    const early = new Readable({
      read() {
        this.push(Buffer.alloc(1024));
        this.destroy(new Error("tar: file changed as we read it"));
      },
    });
    const earlyErr = await rejection(storage.put("failed/early", early));
    expect(earlyErr.message).toMatch(/the body stream failed: tar: file changed as we read it$/);
    expect(await readNative(raw, BUCKET, "failed/early")).toBeUndefined();

    // A source that already speaks StrongboxError keeps its code and message.
    const sourceErr = new StrongboxError("E_SOURCE", "pg_dump: connection refused", { adapter: "postgres" });
    const failing = new Readable({
      read() {
        this.destroy(sourceErr);
      },
    });
    expect(await rejection(storage.put("failed/source2", failing))).toBe(sourceErr);
    await storage.close?.();
  });

  it("a part that keeps failing fails the put fast and aborts the multipart upload", async () => {
    const proxy = await startFaultProxy(server.endpoint);
    proxy.fault = (r) => (r.method === "PUT" && r.url.includes("partNumber=2") ? INTERNAL_ERROR : "pass");
    const storage = s3(s3rverOptions(proxy.endpoint, BUCKET, { partSize: 5 * MiB, queueSize: 1, maxAttempts: 3 }));
    try {
      const { stream } = patternStream(40 * MiB);
      const err = await rejection(storage.put("failed/part", stream));
      expect(err.code).toBe("E_STORAGE");
      expect(err.message).toMatch(/InternalError 500/);
      expect(err.message).toMatch(/after 3 attempts/);
      // Part 2 was tried maxAttempts times; the upload stopped there instead of sending all 8 parts.
      const parts = proxy.seen.filter((r) => r.method === "PUT" && r.url.includes("partNumber"));
      expect(parts.filter((r) => r.url.includes("partNumber=2")).length).toBe(3);
      expect(parts.length).toBeLessThan(6);
      expect(proxy.seen.some((r) => r.method === "DELETE" && r.url.includes("uploadId="))).toBe(true);
      expect(await openUploads(raw, BUCKET)).toEqual([]);
      expect(await uploadsOnDisk(server.directory, BUCKET)).toEqual([]);
      expect(await readNative(raw, BUCKET, "failed/part")).toBeUndefined();
    } finally {
      await storage.close?.();
      await proxy.close();
    }
  });

  it("retries transient failures (500, 503 SlowDown, reset connections) and succeeds", async () => {
    const proxy = await startFaultProxy(server.endpoint);
    const storage = s3(s3rverOptions(proxy.endpoint, BUCKET, { partSize: 5 * MiB }));
    try {
      // First attempt of part 1 → 500, of part 2 → reset, of Complete → 503 SlowDown.
      const failedOnce = new Set<string>();
      const plan: Array<[(r: SeenRequest) => boolean, string, Fault]> = [
        [(r) => r.url.includes("partNumber=1"), "part 1", INTERNAL_ERROR],
        [(r) => r.url.includes("partNumber=2"), "part 2", "reset"],
        [(r) => r.method === "POST" && r.url.includes("uploadId="), "complete", SLOW_DOWN],
      ];
      proxy.fault = (r) => {
        const hit = plan.find(([match, name]) => match(r) && !failedOnce.has(name));
        if (!hit) return "pass";
        failedOnce.add(hit[1]);
        return hit[2];
      };
      const { stream, sha256 } = patternStream(12 * MiB);
      expect((await storage.put("retried/obj", stream)).size).toBe(12 * MiB);
      expect(failedOnce.size).toBe(3);
      const stored = await readNative(raw, BUCKET, "retried/obj");
      expect(createHash("sha256").update(stored!).digest("hex")).toBe(sha256());

      // A GET whose connection is reset once is retried too.
      let resets = 0;
      proxy.fault = (r) => (r.method === "GET" && resets++ === 0 ? "reset" : "pass");
      const got = Buffer.concat(await (await storage.get("retried/obj", { range: { start: 0, end: 9 } })).toArray());
      expect(got).toEqual(stored!.subarray(0, 10));
      expect(resets).toBe(2);
    } finally {
      await storage.close?.();
      await proxy.close();
    }
  });

  it("a missing bucket fails fast with E_STORAGE naming the bucket, after one request", async () => {
    const proxy = await startFaultProxy(server.endpoint);
    const storage = s3(s3rverOptions(proxy.endpoint, "no-such-bucket"));
    try {
      const started = Date.now();
      const err = await rejection(storage.put("x", Readable.from([Buffer.from("x")])));
      expect(err.code).toBe("E_STORAGE");
      expect(err.message).toMatch(/bucket "no-such-bucket" does not exist — check the bucket name, the region/);
      expect(proxy.seen.length).toBe(1);
      expect(Date.now() - started).toBeLessThan(2000);
      const listErr = await rejection(
        (async () => {
          for await (const _ of storage.list("")) void _;
        })(),
      );
      expect(listErr.code).toBe("E_STORAGE");
      expect(listErr.message).toContain("no-such-bucket");
    } finally {
      await storage.close?.();
      await proxy.close();
    }
  });

  it("rejected credentials fail fast with E_STORAGE, one request, and never show the secret", async () => {
    const proxy = await startFaultProxy(server.endpoint);
    const secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";
    try {
      // s3rver itself rejects an unknown access key id (InvalidAccessKeyId, 403).
      const storage = s3(
        s3rverOptions(proxy.endpoint, BUCKET, { credentials: { accessKeyId: "AKIAWRONG", secretAccessKey: secret } }),
      );
      let started = Date.now();
      let err = await rejection(storage.put("creds/x", Readable.from([Buffer.from("x")])));
      expect(err.code).toBe("E_STORAGE");
      expect(err.message).toMatch(/InvalidAccessKeyId 403/);
      expect(err.message).toMatch(
        /credentials were rejected for bucket "uploads" — check the access key id and secret/,
      );
      expect(err.message).not.toContain(secret);
      expect(proxy.seen.length).toBe(1);
      expect(Date.now() - started).toBeLessThan(2000);
      await storage.close?.();

      // s3rver does not verify SigV4 signatures, so a wrong secret and a policy refusal are
      // answered by the proxy in S3's words — one that even echoes the secret back, which the
      // message must mask.
      const denied = s3(
        s3rverOptions(proxy.endpoint, BUCKET, { credentials: { accessKeyId: "S3RVER", secretAccessKey: secret } }),
      );
      for (const fault of [
        {
          status: 403,
          code: "SignatureDoesNotMatch",
          message: `The request signature we calculated does not match (key ${secret})`,
        },
        { status: 403, code: "AccessDenied", message: "Access Denied" },
      ]) {
        proxy.seen.length = 0;
        proxy.fault = () => fault;
        started = Date.now();
        err = await rejection(denied.put("creds/y", Readable.from([Buffer.from("y")])));
        expect(err.code).toBe("E_STORAGE");
        expect(err.message).toContain('bucket "uploads"');
        expect(err.message).toMatch(
          fault.code === "AccessDenied" ? /IAM policy allows s3:PutObject/ : /check the access key id/,
        );
        expect(err.message).not.toContain(secret);
        expect(JSON.stringify(err.details)).not.toContain(secret);
        expect(proxy.seen.length).toBe(1);
        expect(Date.now() - started).toBeLessThan(2000);
      }
      await denied.close?.();
    } finally {
      await proxy.close();
    }
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
