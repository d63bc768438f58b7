import type { Readable } from "node:stream";
import { isStrongboxError, StrongboxError } from "@strongbox/core";
import tar from "tar-stream";
import { ADAPTER } from "./walk.js";

/** One tar entry: its header and its body (which must be consumed or drained before the next). */
export type TarEntry = tar.ExtractEvents["entry"][1];

/** Maps tar-stream's own errors onto Strongbox codes; errors from `ctx.open()` keep theirs. */
export function tarError(err: unknown, what: string): StrongboxError {
  if (isStrongboxError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/Unexpected end of data/i.test(message))
    return new StrongboxError("E_TRUNCATED", `${what}: the tar ends in the middle of an entry`, {
      adapter: ADAPTER,
      cause: err,
    });
  if (/Invalid tar header|Header exceeds|Invalid header/i.test(message))
    return new StrongboxError("E_FORMAT", `${what}: not a valid tar (${message})`, { adapter: ADAPTER, cause: err });
  return new StrongboxError("E_SOURCE", `${what}: ${message}`, { adapter: ADAPTER, cause: err });
}

/**
 * Reads `input` as a tar, yielding entries one at a time. Backpressure is respected both ways: the
 * input is paused while tar-stream's buffer is full, and tar-stream waits for the current entry's
 * body to be consumed. The generator ends only after the input ended cleanly, so a caller that
 * commits after the loop never commits a stream that failed at its very end (e.g. a checksum
 * mismatch detected by `ctx.open()` on the last byte). Aborting destroys the input.
 */
export async function* readTar(
  input: Readable,
  signal: AbortSignal | undefined,
  what: string,
  state: TarReadState = {},
): AsyncGenerator<TarEntry> {
  const extract = tar.extract();
  let failure: unknown;
  extract.on("error", (err) => {
    state.error ??= failure ?? err;
  });
  const fail = (err: unknown) => {
    if (failure === undefined) failure = err;
    state.error ??= err;
    extract.destroy(err as Error);
    if (!input.destroyed) input.destroy();
  };
  const inputDone = new Promise<void>((resolve, reject) => {
    let ended = false;
    input.on("data", (chunk: Buffer) => {
      if (!extract.write(chunk)) input.pause();
    });
    extract.on("drain", () => input.resume());
    input.once("end", () => {
      ended = true;
      extract.end(undefined);
      resolve();
    });
    input.once("error", (err) => {
      fail(err);
      reject(err);
    });
    input.once("close", () => {
      if (!ended) {
        const err =
          failure ??
          new StrongboxError("E_TRUNCATED", `${what}: the artifact stream closed before its end`, { adapter: ADAPTER });
        fail(err);
        reject(err);
      }
    });
  });
  inputDone.catch(() => {});
  const onAbort = () =>
    fail(new StrongboxError("E_ABORTED", `${what}: aborted`, { adapter: ADAPTER, cause: signal?.reason }));
  if (signal?.aborted) onAbort();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    try {
      for await (const entry of extract) yield entry;
    } catch (err) {
      throw failure ?? err;
    }
    await inputDone;
    if (failure !== undefined) throw failure;
  } catch (err) {
    throw tarError(err, what);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (!input.destroyed && !input.readableEnded) input.destroy();
    if (!extract.destroyed) extract.destroy(new Error("tar reading stopped"));
  }
}

/** Where {@link readTar} records the first real error, for callers that only see an entry's generic "Stream was destroyed". */
export interface TarReadState {
  error?: unknown;
}

/**
 * The error to report for a failure met while consuming an entry's body: tar-stream destroys the
 * body with a generic error, while the cause (truncation, the input's E_INTEGRITY) lands on the
 * extract a moment later.
 */
export async function entryFailure(err: unknown, state: TarReadState, what: string): Promise<StrongboxError> {
  if (!isStrongboxError(err)) await new Promise((resolve) => setImmediate(resolve));
  return tarError(state.error ?? err, what);
}

/** Reads and discards an entry's body. */
export async function drainEntry(entry: TarEntry): Promise<void> {
  for await (const _ of entry) {
    // discard
  }
}
