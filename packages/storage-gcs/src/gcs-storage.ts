/**
 * Google Cloud Storage, through `@google-cloud/storage`.
 *
 * How the contract maps onto GCS:
 * - put: a body that ends within `singleRequestLimit` goes up in one multipart request; a larger
 *   one streams through a resumable session. GCS creates the object only when the request or the
 *   session completes, so a failed or aborted upload never shows a partial object; on failure
 *   the SDK's inner upload is destroyed with the error (which aborts the in-flight request) and
 *   the session is cancelled with a DELETE to its URI, best effort.
 * - get: metadata first (a missing object rejects E_NOT_FOUND before any stream exists, and the
 *   read is pinned to that generation so an overwrite mid-download cannot mix two objects), then a
 *   streamed, CRC32C-validated download; ranges become HTTP Range requests.
 * - list: objects.list pages of up to 1000, `autoPaginate: false` and our own pageToken loop so
 *   memory stays at one page however many objects there are.
 * - delete: the JSON API deletes one object per request; requests run with bounded concurrency
 *   and a 404 for the object counts as done.
 */
import { addAbortSignal, Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Bucket, File, Storage as GcsClient } from "@google-cloud/storage";
import {
  assertValidKey,
  assertValidPrefix,
  BodyReader,
  type DeleteResult,
  forEachBounded,
  type GetOptions,
  joinPrefix,
  type ListOptions,
  type ObjectInfo,
  type PutOptions,
  relayDownload,
  requireOptions,
  type Storage,
  StrongboxError,
  throwIfAborted,
} from "@strongbox/core";
import { resolveClient } from "./client.js";
import { ADAPTER, type GcsErrorContext, isMissingBucket, mapGcsError, statusOf } from "./errors.js";
import type { GcsOptions } from "./options.js";

/** Bodies up to this size are sent in one request instead of a resumable session. */
const SINGLE_REQUEST_LIMIT = 8 * 1024 * 1024;

/** Creates a {@link Storage} that keeps backups in a Google Cloud Storage bucket. */
export function gcs(options: GcsOptions): Storage {
  return new GcsStorage(options);
}

class GcsStorage implements Storage {
  readonly type = "gcs";
  readonly location: string;
  readonly capabilities = { rangedGet: true } as const;

  private readonly options: GcsOptions;
  private readonly client: GcsClient;
  private readonly bucket: Bucket;
  /** Object-name prefix without slashes at either end ("" for the bucket root). */
  private readonly root: string;
  /** Set once any call proved the bucket exists, so a 404 then simply means "no such object". */
  private bucketSeen = false;

  constructor(options: GcsOptions) {
    requireOptions(ADAPTER, options, ["bucket"]);
    if (!/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(options.bucket)) {
      throw new StrongboxError(
        "E_CONFIG",
        `gcs() "bucket" must be a bare bucket name (lowercase letters, digits, "-", "_", "."), got ${JSON.stringify(options.bucket)}`,
        { adapter: ADAPTER },
      );
    }
    const root = (options.prefix ?? "").replace(/^\/+|\/+$/g, "");
    if (root) assertValidPrefix(root, ADAPTER);
    for (const name of ["pageSize", "deleteConcurrency", "chunkSize", "singleRequestLimit"] as const) {
      const v = options[name];
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
        throw new StrongboxError("E_CONFIG", `gcs() "${name}" must be a positive integer, got ${JSON.stringify(v)}`, {
          adapter: ADAPTER,
        });
      }
    }
    this.options = options;
    this.root = root;
    this.client = resolveClient(options).client;
    this.bucket = this.client.bucket(
      options.bucket,
      options.userProject ? { userProject: options.userProject } : undefined,
    );
    this.location = `gs://${options.bucket}${root ? `/${root}` : ""}`;
  }

  private name(key: string): string {
    return joinPrefix(this.root, assertValidKey(key, ADAPTER));
  }

  private ctx(op: GcsErrorContext["op"], name?: string): GcsErrorContext {
    return { op, bucket: this.options.bucket, name };
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<{ size: number }> {
    const name = this.name(key);
    if (options.signal?.aborted) {
      body.destroy();
      throwIfAborted(options.signal, ADAPTER);
    }
    // An abort destroys the body, which ends any wait for its next chunk.
    if (options.signal) addAbortSignal(options.signal, body);
    const { storageClass, kmsKeyName, userProject } = this.options;
    const file = this.bucket.file(name, kmsKeyName ? { kmsKeyName } : {});
    const metadata = {
      contentType: options.contentType ?? "application/octet-stream",
      ...(storageClass ? { storageClass } : {}),
    };
    const source = new BodyReader(body);
    try {
      // Small bodies (manifests, small artifacts) go up in one multipart request: atomic as well,
      // and one round trip instead of two.
      const head = await source.readUpTo(this.options.singleRequestLimit ?? SINGLE_REQUEST_LIMIT);
      throwIfAborted(options.signal, ADAPTER);
      if (head.ended) {
        const data = Buffer.concat(head.chunks);
        await file.save(data, { resumable: false, metadata, ...(userProject ? { userProject } : {}) });
        this.bucketSeen = true;
        return { size: data.length };
      }
      await this.resumableUpload(file, source.rest(head.chunks), metadata, options.signal);
      this.bucketSeen = true;
      return { size: source.bytes };
    } catch (err) {
      body.destroy();
      // The caller's abort, or the body's own failure (a source or transform error), explains it
      // better than whatever the SDK made of it.
      throw (
        source.putFailure(`put ${this.location}/${key}`, ADAPTER, options.signal) ??
        mapGcsError(err, this.ctx("put", name))
      );
    }
  }

  /** Streams `data` through a resumable session; on any failure the session never finalises. */
  private async resumableUpload(
    file: File,
    data: Readable,
    metadata: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const { chunkSize, userProject } = this.options;
    const innerUpload = captureInnerUpload(file);
    const upload = file.createWriteStream({
      resumable: true,
      ...(chunkSize ? { chunkSize } : {}),
      ...(userProject ? { userProject } : {}),
      metadata,
    });
    let sessionUri: string | undefined;
    upload.on("uri", (uri: string) => {
      sessionUri = uri;
    });
    upload.once("error", (err: Error) => {
      // Must happen now, before the SDK tears its inner stream down without an error (see
      // captureInnerUpload): with the error, the in-flight request is aborted and GCS never
      // finalises what it has received — even when the whole body had already been handed over.
      innerUpload()?.destroy(err);
    });
    try {
      // pipeline destroys every stream with the error on failure or abort.
      await pipeline(data, upload, signal ? { signal } : {});
    } catch (err) {
      // Not awaited: the caller learns of the failure now; the cancel finishes on its own.
      if (sessionUri) void cancelSession(sessionUri);
      throw err;
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    const name = this.name(key);
    throwIfAborted(options.signal, ADAPTER);
    const range = options.range;
    if (range) checkRange(range);
    const meta = await this.metadata(this.bucket.file(name), "get");
    if (!meta)
      throw new StrongboxError("E_NOT_FOUND", `get ${this.location}/${key}: no such object`, { adapter: ADAPTER });
    const size = Number(meta.size ?? 0);
    let start: number | undefined;
    let end: number | undefined;
    if (range) {
      // Nothing to send (an empty object, or a start at or past the end): an empty stream, as
      // fs.createReadStream gives, rather than a 416 from the server.
      if (range.start >= size) return Readable.from([]);
      start = range.start;
      end = Math.min(range.end ?? size - 1, size - 1);
    }
    const pinned = this.bucket.file(name, meta.generation !== undefined ? { generation: Number(meta.generation) } : {});
    const src = pinned.createReadStream({
      ...(range ? { start, end } : {}),
      ...(this.options.userProject ? { userProject: this.options.userProject } : {}),
    });
    return relayDownload(src, (err) => mapGcsError(err, this.ctx("get", name)), ADAPTER, options.signal);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const meta = await this.metadata(this.bucket.file(this.name(key)), "head");
    if (!meta) return undefined;
    return toInfo(key, meta);
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix, ADAPTER);
    const full = this.root ? `${this.root}/${prefix}` : prefix;
    const strip = this.root ? this.root.length + 1 : 0;
    let pageToken: string | undefined;
    do {
      throwIfAborted(options.signal, ADAPTER);
      let files: File[];
      let next: unknown;
      try {
        [files, next] = await this.bucket.getFiles({
          prefix: full,
          autoPaginate: false,
          maxResults: this.options.pageSize ?? 1000,
          ...(pageToken ? { pageToken } : {}),
        });
      } catch (err) {
        throw mapGcsError(err, this.ctx("list", full));
      }
      this.bucketSeen = true;
      for (const f of files) {
        const key = f.name.slice(strip);
        // Folder placeholders ("dir/") made by consoles and tools are not objects we wrote.
        if (!key || key.endsWith("/")) continue;
        yield toInfo(key, f.metadata);
      }
      pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
    } while (pageToken);
  }

  async delete(keys: string[]): Promise<DeleteResult> {
    const names = [...new Set(keys.map((k) => this.name(k)))];
    const skipped: Array<{ key: string; reason: string }> = [];
    await forEachBounded(names, this.options.deleteConcurrency ?? 16, async (name) => {
      try {
        await this.bucket.file(name).delete();
      } catch (err) {
        if (isMissingBucket(err)) throw mapGcsError(err, this.ctx("delete", name));
        if (statusOf(err) === 404) return;
        // Retention policies, object holds and object retention refuse deletes on purpose.
        const message = err instanceof Error ? err.message : String(err);
        if (statusOf(err) === 403 && /retention|hold/i.test(message)) {
          skipped.push({ key: name.slice(this.root ? this.root.length + 1 : 0), reason: message });
          return;
        }
        throw mapGcsError(err, this.ctx("delete", name));
      }
    });
    return skipped.length > 0 ? { skipped } : {};
  }

  async close(): Promise<void> {
    // @google-cloud/storage keeps no sockets open between requests that need closing.
  }

  /** Object metadata, `undefined` when the object does not exist; a missing bucket rejects. */
  private async metadata(file: File, op: "get" | "head"): Promise<File["metadata"] | undefined> {
    try {
      const [meta] = await file.getMetadata(this.options.userProject ? { userProject: this.options.userProject } : {});
      this.bucketSeen = true;
      return meta;
    } catch (err) {
      if (statusOf(err) !== 404) throw mapGcsError(err, this.ctx(op, file.name));
      if (isMissingBucket(err)) throw mapGcsError(err, this.ctx(op, file.name));
      await this.assertBucketExists(op, file.name);
      return undefined;
    }
  }

  /**
   * A 404 for an object may hide a missing bucket (a typo in the bucket name must not look like
   * an empty storage). One cheap listing settles it the first time.
   */
  private async assertBucketExists(op: GcsErrorContext["op"], name: string): Promise<void> {
    if (this.bucketSeen) return;
    try {
      await this.bucket.getFiles({ prefix: name, autoPaginate: false, maxResults: 1 });
      this.bucketSeen = true;
    } catch (err) {
      if (statusOf(err) === 404) {
        const missing = Object.assign(new Error("The specified bucket does not exist."), { code: 404, cause: err });
        throw mapGcsError(missing, this.ctx(op, name));
      }
      // Cannot tell (e.g. no list permission): the object 404 stands.
    }
  }
}

/**
 * Returns a getter for the SDK's inner resumable-upload stream of `file`'s next upload.
 *
 * Why: the public write stream of `createWriteStream()` tears its inner upload down with a plain
 * `destroy()` (duplexify does so), and the inner upload aborts its HTTP request only on an
 * *error*. Without this, a body that had been handed over completely before an abort or failure
 * would still be finalised by GCS and become visible. `startResumableUpload_` is private API, so
 * this wraps it on this one File object only and degrades to a no-op if it ever disappears.
 */
function captureInnerUpload(file: File): () => Writable | undefined {
  let inner: Writable | undefined;
  const target = file as unknown as { startResumableUpload_?: (dup: { _writable?: unknown }, opts?: unknown) => void };
  const original = target.startResumableUpload_;
  if (typeof original === "function") {
    target.startResumableUpload_ = function (this: unknown, dup, opts) {
      original.call(this, dup, opts);
      const w = dup?._writable as Writable | undefined;
      if (w && typeof w.destroy === "function") inner = w;
    };
  }
  return () => inner;
}

function toInfo(key: string, meta: File["metadata"]): ObjectInfo {
  return {
    key,
    size: Number(meta.size ?? 0),
    ...(meta.updated ? { lastModified: new Date(meta.updated) } : {}),
    ...(meta.etag ? { etag: meta.etag } : {}),
  };
}

function checkRange(range: { start: number; end?: number }): void {
  const ok =
    Number.isSafeInteger(range.start) &&
    range.start >= 0 &&
    (range.end === undefined || (Number.isSafeInteger(range.end) && range.end >= range.start));
  if (!ok)
    throw new StrongboxError(
      "E_CONFIG",
      `invalid range ${JSON.stringify(range)}: start and end are inclusive byte offsets, 0 <= start <= end`,
      { adapter: ADAPTER },
    );
}

/**
 * Cancels a resumable session (DELETE on its URI answers 499) so GCS drops what it received.
 * The session URI authorises itself, so no credentials are needed; failures are ignored because
 * an unfinalised session is invisible anyway and expires after a week.
 */
async function cancelSession(uri: string): Promise<void> {
  try {
    const res = await fetch(uri, { method: "DELETE", signal: AbortSignal.timeout(5_000) });
    await res.body?.cancel();
  } catch {
    // best effort
  }
}
