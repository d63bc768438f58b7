/**
 * Azure Blob Storage, through `@azure/storage-blob`.
 *
 * How the contract maps onto block blobs:
 * - put: `uploadStream` stages the body as blocks of `bufferSize` (`maxConcurrency` in flight)
 *   and commits the block list only after the last one. Until that commit the blob does not
 *   exist (or keeps its previous content), so a failed or aborted upload is never visible; its
 *   uncommitted blocks are invisible too and Azure discards them after a week.
 * - get: one GET (ranged when asked) whose stream the SDK resumes on broken connections,
 *   pinned to the blob's ETag so an overwrite mid-download cannot mix two versions.
 * - list: flat listing pages (`byPage`) of up to 5000 blobs; one page in memory at a time.
 * - delete: Blob Batch requests of 256 deletes, snapshots included; a missing blob is fine.
 */
import { addAbortSignal, Readable } from "node:stream";
import type { BlobBatchDeleteBlobsResponse, BlobClient, ContainerClient } from "@azure/storage-blob";
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
  type Storage,
  StrongboxError,
  throwIfAborted,
} from "@strongbox/core";
import { resolveContainer } from "./client.js";
import { ADAPTER, type AzureErrorContext, errorCodeOf, mapAzureError, safeCause, statusOf } from "./errors.js";
import type { AzureBlobOptions } from "./options.js";

/** The service's limit of sub-requests per Blob Batch request. */
const BATCH_SIZE = 256;

/** Creates a {@link Storage} that keeps backups in an Azure Blob Storage container. */
export function azureBlob(options: AzureBlobOptions): Storage {
  return new AzureBlobStorage(options);
}

class AzureBlobStorage implements Storage {
  readonly type = "azure-blob";
  readonly location: string;
  readonly capabilities = { rangedGet: true } as const;

  private readonly options: AzureBlobOptions;
  private readonly container: ContainerClient;
  private readonly root: string;
  private readonly account: string;
  private ensured: Promise<void> | undefined;
  private createError: string | undefined;
  /** Set after a batch request was refused as a whole and single deletes worked instead. */
  private batchUnsupported = false;

  constructor(options: AzureBlobOptions) {
    if (!options || typeof options !== "object") {
      throw new StrongboxError("E_CONFIG", "azureBlob() needs an options object", { adapter: ADAPTER });
    }
    const root = (options.prefix ?? "").replace(/^\/+|\/+$/g, "");
    if (root) assertValidPrefix(root, ADAPTER);
    for (const name of ["bufferSize", "maxConcurrency", "pageSize", "deleteConcurrency"] as const) {
      const v = options[name];
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
        throw new StrongboxError(
          "E_CONFIG",
          `azureBlob() "${name}" must be a positive integer, got ${JSON.stringify(v)}`,
          { adapter: ADAPTER },
        );
      }
    }
    if (options.bufferSize !== undefined && options.bufferSize > 4000 * 1024 * 1024) {
      throw new StrongboxError("E_CONFIG", 'azureBlob() "bufferSize" is at most 4000 MiB (the block size limit)', {
        adapter: ADAPTER,
      });
    }
    if (options.accessTier !== undefined && !["Hot", "Cool", "Cold", "Archive"].includes(options.accessTier)) {
      throw new StrongboxError(
        "E_CONFIG",
        `azureBlob() "accessTier" must be "Hot", "Cool", "Cold" or "Archive", got ${JSON.stringify(options.accessTier)}`,
        { adapter: ADAPTER },
      );
    }
    this.options = options;
    this.root = root;
    this.container = resolveContainer(options);
    this.account = this.container.accountName || "account";
    this.location = `azure://${this.account}/${this.container.containerName}${root ? `/${root}` : ""}`;
  }

  private name(key: string): string {
    return joinPrefix(this.root, assertValidKey(key, ADAPTER));
  }

  private ctx(op: AzureErrorContext["op"], name?: string): AzureErrorContext {
    return { op, account: this.account, container: this.container.containerName, name, createError: this.createError };
  }

  /** With createContainer (the default) true, a missing container reads as an empty one. */
  private get readsTolerateMissingContainer(): boolean {
    return this.options.createContainer !== false;
  }

  /**
   * Creates the container once before the first write. Failures are remembered, not thrown:
   * a container SAS or a role without container rights cannot create but can write to an
   * existing container; if it really is missing the write fails naming it, with this reason.
   */
  private ensureContainer(): Promise<void> {
    if (this.options.createContainer === false) return Promise.resolve();
    this.ensured ??= this.container.createIfNotExists().then(
      () => {
        this.createError = undefined;
      },
      (err: unknown) => {
        this.createError = mapAzureError(err, this.ctx("put")).message.replace(/^\[strongbox\] \[[^\]]+\] /, "");
        this.ensured = undefined;
      },
    );
    return this.ensured;
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<{ size: number }> {
    const name = this.name(key);
    if (options.signal?.aborted) {
      body.destroy();
      throwIfAborted(options.signal, ADAPTER);
    }
    const controller = new AbortController();
    const onAbort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    // An abort destroys the body, which ends any wait for its next chunk.
    addAbortSignal(controller.signal, body);
    const blob = this.container.getBlockBlobClient(name);
    const bufferSize = this.options.bufferSize ?? 8 * 1024 * 1024;
    const common = {
      abortSignal: controller.signal,
      blobHTTPHeaders: { blobContentType: options.contentType ?? "application/octet-stream" },
      ...(this.options.accessTier ? { tier: this.options.accessTier } : {}),
    };
    const source = new BodyReader(body);
    // The SDK's upload promise does not settle while a block upload is stalled, even when its
    // abortSignal fires: race it with our own abort, and watch for progress.
    const stalled = watchProgress(controller, source, this.options.stallTimeoutMs ?? 120_000);
    const abandoned = new Promise<never>((_, reject) => {
      controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true });
    });
    const settle = <T>(upload: Promise<T>): Promise<T> => {
      upload.catch(() => {}); // it may reject after we gave up on it
      return Promise.race([upload, abandoned]);
    };
    const progress = { onProgress: stalled.touch };
    try {
      const ready = this.ensureContainer();
      // Up to one block is read first. A body that ends within it goes up in a single Put Blob,
      // which is atomic on its own and, unlike staged blocks, cannot be wiped out by a concurrent
      // upload to the same name committing first (a commit discards every uncommitted block).
      const head = await settle(source.readUpTo(bufferSize));
      await settle(ready);
      throwIfAborted(options.signal, ADAPTER);
      if (head.ended) {
        const data = Buffer.concat(head.chunks);
        await settle(blob.upload(data, data.length, { ...common, ...progress }));
        return { size: data.length };
      }
      await settle(
        blob.uploadStream(source.rest(head.chunks), bufferSize, this.options.maxConcurrency ?? 4, {
          ...common,
          ...progress,
        }),
      );
      return { size: source.bytes };
    } catch (err) {
      // Stop the body; blocks already staged are never committed and Azure discards them.
      controller.abort();
      body.destroy();
      if (stalled.fired) {
        throw new StrongboxError(
          "E_STORAGE",
          `put ${this.location}/${key}: no progress for ${stalled.ms / 1000} s (the connection stalled); nothing was stored`,
          { adapter: ADAPTER },
        );
      }
      // The caller's abort, or the body's own failure (a source or transform error), explains it
      // better than whatever the SDK made of it.
      throw (
        source.putFailure(`put ${this.location}/${key}`, ADAPTER, options.signal) ??
        mapAzureError(err, this.ctx("put", name))
      );
    } finally {
      stalled.stop();
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    const name = this.name(key);
    throwIfAborted(options.signal, ADAPTER);
    const range = options.range;
    if (range) checkRange(range);
    const blob = this.container.getBlobClient(name);
    const offset = range?.start ?? 0;
    const count = range?.end !== undefined ? range.end - range.start + 1 : undefined;
    try {
      const res = await blob.download(offset, count, {
        maxRetryRequests: this.options.downloadRetries ?? 5,
        ...(options.signal ? { abortSignal: options.signal } : {}),
      });
      const stream = res.readableStreamBody as Readable | undefined;
      if (!stream) return Readable.from([]);
      return relayDownload(stream, (err) => mapAzureError(err, this.ctx("get", name)), ADAPTER, options.signal);
    } catch (err) {
      // 416: the range starts at or past the end. Like fs, that reads as nothing — if the blob exists.
      if (statusOf(err) === 416 && range && (await this.head(key))) return Readable.from([]);
      if (errorCodeOf(err) === "ContainerNotFound" && this.readsTolerateMissingContainer) {
        throw new StrongboxError(
          "E_NOT_FOUND",
          `get ${this.location}/${key}: no such blob (the container does not exist yet)`,
          { adapter: ADAPTER, cause: safeCause(err) },
        );
      }
      throw mapAzureError(err, this.ctx("get", name));
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const name = this.name(key);
    try {
      const p = await this.container.getBlobClient(name).getProperties();
      return {
        key,
        size: p.contentLength ?? 0,
        ...(p.lastModified ? { lastModified: p.lastModified } : {}),
        ...(p.etag ? { etag: p.etag } : {}),
      };
    } catch (err) {
      const code = errorCodeOf(err);
      if (code === "ContainerNotFound" && this.readsTolerateMissingContainer) return undefined;
      if (code === "BlobNotFound") return undefined;
      throw mapAzureError(err, this.ctx("head", name));
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix, ADAPTER);
    const full = this.root ? `${this.root}/${prefix}` : prefix;
    const strip = this.root ? this.root.length + 1 : 0;
    const pages = this.container
      .listBlobsFlat({ ...(full ? { prefix: full } : {}), ...(options.signal ? { abortSignal: options.signal } : {}) })
      .byPage({ maxPageSize: this.options.pageSize ?? 5000 });
    while (true) {
      throwIfAborted(options.signal, ADAPTER);
      let page: Awaited<ReturnType<typeof pages.next>>;
      try {
        page = await pages.next();
      } catch (err) {
        if (errorCodeOf(err) === "ContainerNotFound" && this.readsTolerateMissingContainer) return;
        throw mapAzureError(err, this.ctx("list", full));
      }
      if (page.done) return;
      for (const item of page.value.segment.blobItems) {
        const key = item.name.slice(strip);
        // Directory markers ("dir/") made by tools are not objects we wrote.
        if (!key || key.endsWith("/")) continue;
        yield {
          key,
          size: item.properties.contentLength ?? 0,
          ...(item.properties.lastModified ? { lastModified: item.properties.lastModified } : {}),
          ...(item.properties.etag ? { etag: item.properties.etag } : {}),
        };
      }
    }
  }

  async delete(keys: string[]): Promise<DeleteResult> {
    const names = [...new Set(keys.map((k) => this.name(k)))];
    const skipped: Array<{ key: string; reason: string }> = [];
    for (let i = 0; i < names.length; i += BATCH_SIZE) {
      const chunk = names.slice(i, i + BATCH_SIZE);
      if (this.options.batchDelete !== false && !this.batchUnsupported && chunk.length > 1) {
        const done = await this.deleteBatch(chunk, skipped);
        if (done) continue;
      }
      await forEachBounded(chunk, this.options.deleteConcurrency ?? 16, (name) => this.deleteOne(name, skipped));
    }
    return skipped.length > 0 ? { skipped } : {};
  }

  /** One Blob Batch request; `false` when the service refused the batch itself (then fall back). */
  private async deleteBatch(names: string[], skipped: Array<{ key: string; reason: string }>): Promise<boolean> {
    const clients: BlobClient[] = names.map((n) => this.container.getBlobClient(n));
    let res: BlobBatchDeleteBlobsResponse;
    try {
      res = await this.container.getBlobBatchClient().deleteBlobs(clients, { deleteSnapshots: "include" });
    } catch (err) {
      const code = errorCodeOf(err);
      if (code === "ContainerNotFound") {
        if (this.readsTolerateMissingContainer) return true;
        throw mapAzureError(err, this.ctx("delete"));
      }
      // Refused as a whole: try blob by blob, which also reports a real permission problem precisely.
      return false;
    }
    const failures: string[] = [];
    res.subResponses.forEach((sub, idx) => {
      const name = names[idx] as string;
      if (sub.status >= 200 && sub.status < 300) return;
      if (sub.errorCode === "BlobNotFound") return;
      if (sub.errorCode === "ContainerNotFound" && this.readsTolerateMissingContainer) return;
      if (sub.errorCode && /Immutab|LegalHold|Lease/i.test(sub.errorCode)) {
        skipped.push({ key: this.keyOf(name), reason: `${sub.errorCode}: ${sub.statusMessage ?? ""}`.trim() });
        return;
      }
      failures.push(`${this.keyOf(name)} (HTTP ${sub.status}${sub.errorCode ? ` ${sub.errorCode}` : ""})`);
    });
    if (failures.length > 0) {
      const first = res.subResponses.find((s) => s.status >= 300 && s.errorCode !== "BlobNotFound");
      const cause = Object.assign(new Error(first?.statusMessage || "batch delete failed"), {
        statusCode: first?.status,
        details: { errorCode: first?.errorCode },
      });
      const mapped = mapAzureError(cause, this.ctx("delete"));
      throw new StrongboxError(
        "E_STORAGE",
        `${mapped.message} — ${failures.length} of ${names.length} not deleted: ${failures.slice(0, 5).join(", ")}${failures.length > 5 ? ", …" : ""}`,
        {
          adapter: ADAPTER,
          cause,
        },
      );
    }
    return true;
  }

  private async deleteOne(name: string, skipped: Array<{ key: string; reason: string }>): Promise<void> {
    try {
      await this.container.getBlobClient(name).deleteIfExists({ deleteSnapshots: "include" });
      // Batches were refused but single deletes work: stop trying batches.
      if (this.options.batchDelete !== false) this.batchUnsupported = true;
    } catch (err) {
      const code = errorCodeOf(err);
      if (code === "ContainerNotFound" && this.readsTolerateMissingContainer) return;
      if (code && /Immutab|LegalHold|Lease/i.test(code)) {
        skipped.push({ key: this.keyOf(name), reason: `${code}: ${(err as Error).message.split("\n")[0]}` });
        return;
      }
      throw mapAzureError(err, this.ctx("delete", name));
    }
  }

  private keyOf(name: string): string {
    return this.root ? name.slice(this.root.length + 1) : name;
  }

  async close(): Promise<void> {
    // The SDK's HTTP agent holds no resources that need an explicit close.
  }
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
 * Aborts `controller` when the upload is stuck on the network: Azure has not acknowledged all the
 * data read, no progress event came for `ms`, and the upload is not waiting for the body (a slow
 * source is not a stall).
 */
function watchProgress(controller: AbortController, source: BodyReader, ms: number) {
  let last = Date.now();
  let acked = 0;
  let seen = source.bytes;
  const state = {
    fired: false,
    ms,
    touch: (ev: { loadedBytes: number }) => {
      acked = ev.loadedBytes;
      last = Date.now();
    },
    stop: () => clearInterval(timer),
  };
  const timer = setInterval(
    () => {
      if (source.waiting || source.bytes !== seen || source.bytes <= acked) {
        seen = source.bytes;
        last = Date.now();
      } else if (Date.now() - last > ms) {
        state.fired = true;
        controller.abort(new Error(`no progress for ${ms} ms`));
      }
    },
    Math.max(50, Math.min(ms / 4, 5_000)),
  );
  timer.unref();
  return state;
}
