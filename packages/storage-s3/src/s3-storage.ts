/**
 * `s3()` — the Storage contract on Amazon S3 and S3-compatible services.
 *
 * Uploads: a `put()` streams the body through lib-storage's `Upload` — a single PutObject when
 * the body fits in one part, otherwise a multipart upload of `partSize` parts, `queueSize` at a
 * time, that S3 makes visible only on CompleteMultipartUpload (so puts are atomic). A failed or
 * aborted put aborts its multipart upload before it rejects; see ./upload.ts for how.
 * Downloads stream GetObject (with a Range header for ranged reads); listing pages through
 * ListObjectsV2; deletes go out as DeleteObjects of up to 1,000 keys, and objects that Object
 * Lock keeps are reported as `skipped` (see ./delete.ts).
 */

import type { Readable } from "node:stream";
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type PutObjectCommandInput,
  type S3Client,
} from "@aws-sdk/client-s3";
import {
  assertValidKey,
  assertValidPrefix,
  type DeleteResult,
  type GetOptions,
  joinPrefix,
  type ListOptions,
  type ObjectInfo,
  type PutOptions,
  requireOptions,
  type Storage,
  type StorageCapabilities,
  StrongboxError,
  throwIfAborted,
} from "@strongbox/core";
import { createClient } from "./client.js";
import { type DeleteOutcome, deleteObjects } from "./delete.js";
import { ADAPTER, type ErrorContext, isNotFound, toStorageError } from "./errors.js";
import type { S3StorageOptions } from "./options.js";
import { enforceRange } from "./range.js";
import { partSizeFor, streamUpload } from "./upload.js";

const MiB = 1024 * 1024;
export const DEFAULT_PART_SIZE = 8 * MiB;
export const DEFAULT_QUEUE_SIZE = 4;
const DAY_MS = 86_400_000;

/** Creates an S3 storage. Throws `E_CONFIG` at once when an option is missing or invalid. */
export function s3(options: S3StorageOptions): Storage {
  return new S3Storage(options);
}

export class S3Storage implements Storage {
  readonly type = "s3";
  readonly location: string;
  readonly capabilities: StorageCapabilities = { rangedGet: true, immutability: true };
  readonly bucket: string;
  /** Normalised prefix without leading/trailing slashes ("" for the bucket root). */
  readonly prefix: string;
  readonly client: S3Client;
  private readonly ownsClient: boolean;
  private readonly options: S3StorageOptions;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly deleteVersions: boolean;

  constructor(options: S3StorageOptions) {
    requireOptions(ADAPTER, options, ["bucket"]);
    validate(options);
    this.options = options;
    this.bucket = options.bucket;
    this.prefix = (options.prefix ?? "").replace(/^\/+|\/+$/g, "");
    if (this.prefix) assertValidKey(this.prefix, ADAPTER);
    this.location = `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ""}`;
    this.partSize = options.partSize ?? DEFAULT_PART_SIZE;
    this.queueSize = options.queueSize ?? DEFAULT_QUEUE_SIZE;
    this.deleteVersions = options.deleteVersions ?? options.objectLock !== undefined;
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? createClient(options);
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<{ size: number }> {
    const Key = this.fullKey(key);
    const ctx = this.ctx("put", Key);
    if (options.signal?.aborted) {
      body.destroy();
      throwIfAborted(options.signal, ADAPTER);
    }
    try {
      return await streamUpload({
        client: this.client,
        params: { ...this.putParams(options), Bucket: this.bucket, Key },
        body,
        partSize: partSizeFor(options.size, this.partSize),
        queueSize: this.queueSize,
        signal: options.signal,
      });
    } catch (err) {
      throw toStorageError(err, ctx);
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    const Key = this.fullKey(key);
    const ctx = this.ctx("get", Key);
    throwIfAborted(options.signal, ADAPTER);
    let Range: string | undefined;
    if (options.range) {
      const { start, end } = options.range;
      if (!Number.isInteger(start) || start < 0 || (end !== undefined && (!Number.isInteger(end) || end < start))) {
        throw new StrongboxError(
          "E_CONFIG",
          `get ${this.location}/${key}: invalid range ${JSON.stringify(options.range)}`,
          {
            adapter: ADAPTER,
          },
        );
      }
      Range = `bytes=${start}-${end ?? ""}`;
    }
    let body: Readable;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key, Range }), {
        abortSignal: options.signal,
      });
      body = out.Body as Readable;
      if (options.range) body = enforceRange(body, options.range, out.ContentRange);
    } catch (err) {
      if (isNotFound(err)) {
        throw new StrongboxError("E_NOT_FOUND", `get ${this.location}/${key}: no such object`, {
          adapter: ADAPTER,
          cause: err,
        });
      }
      throw toStorageError(err, ctx);
    }
    const signal = options.signal;
    if (signal) {
      // The SDK's abortSignal covers the request, not the body we hand out: tie the two.
      const onAbort = () =>
        body.destroy(Object.assign(new Error("aborted"), { name: "AbortError", cause: signal.reason }));
      signal.addEventListener("abort", onAbort, { once: true });
      body.once("close", () => signal.removeEventListener("abort", onAbort));
    }
    return body;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const Key = this.fullKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return { key, size: out.ContentLength ?? 0, lastModified: out.LastModified, etag: out.ETag };
    } catch (err) {
      // HEAD answers carry no body, so a missing bucket also looks like 404 here.
      if (isNotFound(err)) return undefined;
      throw toStorageError(err, this.ctx("head", Key));
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix, ADAPTER);
    const Prefix = this.prefix ? joinPrefix(this.prefix, prefix) : prefix;
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    let ContinuationToken: string | undefined;
    do {
      throwIfAborted(options.signal, ADAPTER);
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: Prefix || undefined, ContinuationToken }),
          { abortSignal: options.signal },
        );
      } catch (err) {
        throw toStorageError(err, this.ctx("list", Prefix));
      }
      for (const obj of page.Contents ?? []) {
        // Keys ending in "/" are console-made "folders", never something this storage wrote.
        if (!obj.Key || obj.Key.endsWith("/")) continue;
        yield { key: obj.Key.slice(strip), size: obj.Size ?? 0, lastModified: obj.LastModified, etag: obj.ETag };
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async delete(keys: string[]): Promise<DeleteResult | undefined> {
    const unique = [...new Set(keys.map((k) => this.fullKey(k)))];
    if (unique.length === 0) return {};
    let outcome: DeleteOutcome;
    try {
      outcome = await deleteObjects(this.client, this.bucket, unique, { versions: this.deleteVersions });
    } catch (err) {
      throw toStorageError(err, this.ctx("delete", this.prefix || undefined));
    }
    const skipped = outcome.skipped.map((s) => ({ key: this.relativeKey(s.key), reason: s.reason }));
    if (outcome.failed.length > 0) {
      const first = outcome.failed[0]!;
      const actions = this.deleteVersions ? "s3:DeleteObject and s3:DeleteObjectVersion" : "s3:DeleteObject";
      throw new StrongboxError(
        "E_STORAGE",
        `delete in ${this.location} failed for ${outcome.failed.length} key(s), first "${this.relativeKey(first.key)}": ${first.code} ${first.message} — check that the IAM policy allows ${actions} on arn:aws:s3:::${this.bucket}/*`,
        { adapter: ADAPTER, details: { bucket: this.bucket, failed: outcome.failed.slice(0, 50), skipped } },
      );
    }
    return skipped.length > 0 ? { skipped } : {};
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }

  /** Full object key inside the bucket. */
  fullKey(key: string): string {
    assertValidKey(key, ADAPTER);
    return this.prefix ? joinPrefix(this.prefix, key) : key;
  }

  private relativeKey(full: string): string {
    return this.prefix && full.startsWith(`${this.prefix}/`) ? full.slice(this.prefix.length + 1) : full;
  }

  private ctx(operation: string, key?: string): ErrorContext {
    return { bucket: this.bucket, operation, key, endpoint: this.options.endpoint };
  }

  private putParams(options: PutOptions): Omit<PutObjectCommandInput, "Bucket" | "Key"> {
    const o = this.options;
    const params: Omit<PutObjectCommandInput, "Bucket" | "Key"> = {
      ContentType: options.contentType ?? "application/octet-stream",
    };
    if (o.storageClass) params.StorageClass = o.storageClass;
    if (o.serverSideEncryption) params.ServerSideEncryption = o.serverSideEncryption;
    if (o.kmsKeyId) params.SSEKMSKeyId = o.kmsKeyId;
    const checksum = o.checksumAlgorithm ?? (o.objectLock ? "CRC32" : undefined);
    if (checksum) params.ChecksumAlgorithm = checksum;
    if (o.objectLock) {
      params.ObjectLockMode = o.objectLock.mode;
      // Computed per put, so each backup gets its full retention from the moment it is written.
      params.ObjectLockRetainUntilDate =
        o.objectLock.retainUntil ?? new Date(Date.now() + (o.objectLock.retainDays ?? 0) * DAY_MS);
    }
    return params;
  }
}

function validate(o: S3StorageOptions): void {
  const bad = (message: string): never => {
    throw new StrongboxError("E_CONFIG", `s3(): ${message}`, { adapter: ADAPTER });
  };
  if (typeof o.bucket !== "string" || !/^[a-zA-Z0-9.\-_]{1,255}$/.test(o.bucket)) {
    bad(
      `"bucket" must be a bucket name (got ${JSON.stringify(String(o.bucket).slice(0, 80))}), without "s3://" or a path`,
    );
  }
  if (
    o.partSize !== undefined &&
    (!Number.isInteger(o.partSize) || o.partSize < 5 * MiB || o.partSize > 5 * 1024 * MiB)
  ) {
    bad(`"partSize" must be an integer between 5 MiB and 5 GiB (S3's limits), got ${o.partSize}`);
  }
  if (o.queueSize !== undefined && (!Number.isInteger(o.queueSize) || o.queueSize < 1)) {
    bad(`"queueSize" must be a positive integer, got ${o.queueSize}`);
  }
  if (o.maxAttempts !== undefined && (!Number.isInteger(o.maxAttempts) || o.maxAttempts < 1)) {
    bad(`"maxAttempts" must be a positive integer, got ${o.maxAttempts}`);
  }
  if (o.retryMode !== undefined && o.retryMode !== "standard" && o.retryMode !== "adaptive") {
    bad(`"retryMode" must be "standard" or "adaptive"`);
  }
  const sse = o.serverSideEncryption;
  if (sse !== undefined && sse !== "AES256" && sse !== "aws:kms" && sse !== "aws:kms:dsse") {
    bad(`"serverSideEncryption" must be "AES256", "aws:kms" or "aws:kms:dsse"`);
  }
  if (o.kmsKeyId !== undefined && sse !== "aws:kms" && sse !== "aws:kms:dsse") {
    bad(`"kmsKeyId" needs serverSideEncryption: "aws:kms"`);
  }
  if (o.objectLock) {
    const { mode, retainDays, retainUntil } = o.objectLock;
    if (mode !== "GOVERNANCE" && mode !== "COMPLIANCE") bad(`"objectLock.mode" must be "GOVERNANCE" or "COMPLIANCE"`);
    if ((retainDays === undefined) === (retainUntil === undefined)) {
      bad(`"objectLock" needs exactly one of "retainDays" or "retainUntil"`);
    }
    if (retainDays !== undefined && !(retainDays > 0)) bad(`"objectLock.retainDays" must be a positive number`);
    if (retainUntil !== undefined && !(retainUntil instanceof Date && !Number.isNaN(retainUntil.getTime()))) {
      bad(`"objectLock.retainUntil" must be a valid Date`);
    }
  }
  if (o.client !== undefined && (typeof o.client !== "object" || typeof o.client.send !== "function")) {
    bad(`"client" must be an S3Client`);
  }
}
