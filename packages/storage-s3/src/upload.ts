/**
 * How a `put()` maps onto S3 uploads.
 *
 * The body is streamed into `@aws-sdk/lib-storage`'s `Upload`, which cuts it into `partSize`
 * buffers and sends up to `queueSize` of them at once, so memory stays at about
 * `partSize × queueSize` whatever the object size:
 *   - a body that ends within the first part becomes one PutObject (atomic by nature);
 *   - anything longer becomes CreateMultipartUpload → UploadPart × n → CompleteMultipartUpload.
 *     S3 shows the object only when Complete succeeds, so readers never see a partial object.
 *     Parts are plain buffers, so the SDK can retry each one on transient errors.
 *
 * On failure or abort the multipart upload must not linger: its parts are invisible but billed,
 * forever. lib-storage aborts it itself (`leavePartsOnError: false`), but its `done()` settles
 * before that abort has run when `upload.abort()` is called, and it keeps feeding the remaining
 * parts after one part has failed. So every request goes through {@link TrackedClient}, which
 *   - cancels in-flight UploadPart/PutObject requests when the put is aborted,
 *   - notices the first failed part and stops the upload at once,
 *   - remembers the UploadId, and after a failure waits for every request it let through and
 *     sends AbortMultipartUpload itself unless the upload was already completed or aborted,
 * so that `put()` rejects only once nothing is left behind.
 */

import { pipeline, type Readable, Transform } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type CreateMultipartUploadCommandOutput,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { StrongboxError } from "@strongbox/core";
import { errorName } from "./errors.js";

export interface UploadRequest {
  client: S3Client;
  params: PutObjectCommandInput & { Bucket: string; Key: string };
  body: Readable;
  partSize: number;
  queueSize: number;
  signal?: AbortSignal;
}

/** S3 refuses more parts than this in one multipart upload. */
export const MAX_PARTS = 10_000;
const MiB = 1024 * 1024;

/** Raises the part size when the known size would need more than 10,000 parts. */
export function partSizeFor(size: number | undefined, partSize: number): number {
  if (size === undefined || size <= partSize * MAX_PARTS) return partSize;
  return Math.ceil(size / (MAX_PARTS - 1) / MiB) * MiB;
}

type Command = Parameters<S3Client["send"]>[0];

/** Wraps the client Upload talks to; see the file comment for why. */
class TrackedClient {
  readonly inflight = new Set<Promise<unknown>>();
  uploadId: string | undefined;
  /** Complete or Abort succeeded: nothing left to clean. */
  settled = false;
  firstFailure: unknown;
  onPartFailure: (err: unknown) => void = () => {};
  readonly proxy: S3Client;

  constructor(
    private readonly client: S3Client,
    private readonly signal: AbortSignal | undefined,
  ) {
    const send = (command: Command, options?: unknown) => this.send(command, options);
    this.proxy = new Proxy(client, {
      get: (target, prop) => (prop === "send" ? send : Reflect.get(target, prop)),
    });
  }

  private send(command: Command, options?: unknown): Promise<unknown> {
    // Parts and single PUTs can be cut short safely; Create must finish so its UploadId is known
    // and can be aborted, and Complete/Abort must never be cancelled half-way.
    const cancellable = command instanceof UploadPartCommand || command instanceof PutObjectCommand;
    const sendOptions = cancellable && this.signal ? { ...(options as object), abortSignal: this.signal } : options;
    const p = (this.client.send as (c: Command, o?: unknown) => Promise<unknown>)(command, sendOptions).then(
      (out) => {
        if (command instanceof CreateMultipartUploadCommand) {
          this.uploadId = (out as CreateMultipartUploadCommandOutput).UploadId;
        } else if (
          command instanceof CompleteMultipartUploadCommand ||
          command instanceof AbortMultipartUploadCommand
        ) {
          this.settled = true;
        }
        return out;
      },
      (err: unknown) => {
        if (command instanceof AbortMultipartUploadCommand && errorName(err) === "NoSuchUpload") this.settled = true;
        else if (cancellable || command instanceof CreateMultipartUploadCommand) {
          this.firstFailure ??= err;
          this.onPartFailure(err);
        }
        throw err;
      },
    );
    this.inflight.add(p);
    const forget = () => this.inflight.delete(p);
    p.then(forget, forget);
    return p;
  }

  /** Waits for every request let through, then aborts the multipart upload if still open. */
  async cleanup(bucket: string, key: string): Promise<unknown> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    if (this.uploadId === undefined || this.settled) return undefined;
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: this.uploadId }));
      this.settled = true;
      return undefined;
    } catch (err) {
      if (errorName(err) === "NoSuchUpload") return undefined;
      return err;
    }
  }
}

/**
 * Streams `body` to S3 and resolves with the byte count once the object is complete. On failure
 * or abort it rejects only after the multipart upload (if any) is aborted; the body is destroyed.
 */
export async function streamUpload(req: UploadRequest): Promise<{ size: number }> {
  const { signal } = req;
  let size = 0;
  let stopped = false;
  const counter = new Transform({
    transform(chunk: Buffer | string, _enc, cb) {
      size += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length;
      cb(null, chunk);
    },
  });
  // pipeline: an error on either side destroys the other, so a failing source fails the upload
  // and a failed upload stops the source (and the child process behind it).
  let bodyError: unknown;
  pipeline(req.body, counter, (err) => {
    if (err && !stopped) bodyError = err;
  });

  const tracked = new TrackedClient(req.client, signal);
  const upload = new Upload({
    client: tracked.proxy,
    params: { ...req.params, Body: counter },
    partSize: req.partSize,
    queueSize: req.queueSize,
    leavePartsOnError: false,
  });
  const stop = (reason: unknown) => {
    if (stopped) return;
    stopped = true;
    // Unblocks uploaders waiting for data, and tells the producer to stop.
    counter.destroy(reason instanceof Error ? reason : new Error(String(reason)));
    void upload.abort();
  };
  tracked.onPartFailure = (err) => stop(err);
  const onAbort = () => stop(abortReason(signal));
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });

  try {
    await upload.done();
    return { size };
  } catch (err) {
    if (!counter.destroyed) counter.destroy();
    // Let the pipeline report a body error first (its callback runs on a later tick).
    await new Promise((resolve) => setImmediate(resolve));
    const cleanupError = await tracked.cleanup(req.params.Bucket, req.params.Key);
    if (signal?.aborted) throw withCleanup(abortReason(signal), cleanupError, req);
    if (bodyError !== undefined) throw withCleanup(sourceFailure(bodyError, req), cleanupError, req);
    // upload.abort() after a failed part makes done() reject with a bare AbortError: report the part's error.
    throw withCleanup(tracked.firstFailure ?? err, cleanupError, req);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** The producer failed (a dump tool died…): say so, rather than blame S3. Its own StrongboxError stays as is. */
function sourceFailure(err: unknown, req: UploadRequest): unknown {
  if (err instanceof StrongboxError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new StrongboxError(
    "E_STORAGE",
    `put s3://${req.params.Bucket}/${req.params.Key} failed: the body stream failed: ${message}`,
    {
      adapter: "s3",
      cause: err,
    },
  );
}

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error && reason.name === "AbortError") return reason;
  return Object.assign(new Error("aborted", { cause: reason }), { name: "AbortError" });
}

/** An abort that failed is worth saying: the user may have to remove the parts by hand. */
function withCleanup(err: unknown, cleanupError: unknown, req: UploadRequest): unknown {
  if (cleanupError === undefined) return err;
  return new StrongboxError(
    "E_STORAGE",
    `put s3://${req.params.Bucket}/${req.params.Key} failed and its multipart upload could not be aborted (${errorName(cleanupError)}); add a lifecycle rule "AbortIncompleteMultipartUpload" or abort it by hand`,
    { adapter: "s3", cause: err, details: { cleanupError } },
  );
}
