import type { Readable } from "node:stream";

/** One stored object, as listings and `head()` report it. */
export interface ObjectInfo {
  /** Key relative to the storage's root/prefix, `/`-separated. */
  key: string;
  size: number;
  lastModified?: Date;
  etag?: string;
}

export interface PutOptions {
  signal?: AbortSignal;
  /** Exact size when known in advance (lets some backends skip multipart). */
  size?: number;
  contentType?: string;
}

export interface GetOptions {
  signal?: AbortSignal;
  /** Inclusive byte range; `end` omitted means to the end of the object. */
  range?: { start: number; end?: number };
}

export interface ListOptions {
  signal?: AbortSignal;
}

export interface DeleteResult {
  /** Keys the backend refused to delete on purpose (e.g. S3 Object Lock retention), with why. */
  skipped?: Array<{ key: string; reason: string }>;
}

export interface StorageCapabilities {
  /** `get()` honours `range`. */
  rangedGet?: boolean;
  /** Objects may be retention-locked; `delete()` reports them in `skipped` instead of failing. */
  immutability?: boolean;
}

/**
 * Where backups are kept: a flat key → bytes store. Keys are relative to the storage's own root
 * (a directory, a bucket + prefix) and are `/`-separated with no empty, `.` or `..` segments, no
 * leading `/` and no backslashes; an implementation rejects any other key with `E_CONFIG`.
 *
 * Errors: every method rejects with a `StrongboxError` — `E_NOT_FOUND` from `get()` of a missing
 * key, `E_STORAGE` for everything the backend refuses or cannot do (its message names the
 * bucket/directory and what to check, never a credential), `E_ABORTED` when the signal fired.
 */
export interface Storage {
  /** Adapter id: "local", "s3", "gcs", "azure-blob". */
  readonly type: string;
  /** Human-readable location without secrets, e.g. "s3://bucket/prefix" or "/var/backups". */
  readonly location: string;
  readonly capabilities?: StorageCapabilities;

  /**
   * Stores the whole body under `key`, replacing any object there.
   * ATOMIC: no reader (`get`, `head`, `list`) ever sees a partial object — either the previous
   * state or the complete new object. On failure or abort nothing new is visible and no
   * temporary parts are left behind (temp files removed, multipart uploads aborted).
   * Consumes `body` with backpressure; never buffers the whole body. Resolves with bytes stored.
   */
  put(key: string, body: Readable, options?: PutOptions): Promise<{ size: number }>;

  /** Streams the object. Rejects `E_NOT_FOUND` when it does not exist. */
  get(key: string, options?: GetOptions): Promise<Readable>;

  /** Size and time of an object, or `undefined` when it does not exist. */
  head(key: string): Promise<ObjectInfo | undefined>;

  /**
   * Every object whose key starts with `prefix` ("" for all), paginating underneath as needed.
   * Order is not guaranteed. Objects being written and not yet complete are never listed.
   */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo>;

  /**
   * Deletes the keys, batching underneath. Missing keys are not an error. Objects the backend
   * refuses on purpose (retention locks) are reported in `skipped` rather than failing the call.
   */
  delete(keys: string[]): Promise<DeleteResult | undefined>;

  /**
   * Removes leftovers of writes that never finished and that no listing shows — temp files of a
   * process killed mid-upload, abandoned multipart uploads — started before `olderThan` (so writes
   * in progress are left alone). `prune()` calls it with its grace period. Resolves with how many
   * leftovers were removed. Optional: storages whose writes leave nothing behind need none.
   */
  sweep?(options: { olderThan: Date; signal?: AbortSignal }): Promise<{ removed: number }>;

  /** Releases clients and sockets the storage created itself (not ones the user passed in). */
  close?(): Promise<void>;
}
