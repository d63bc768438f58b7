/**
 * Stream, assertion and skip helpers shared by the suites (internal: not exported from the package).
 */
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import type { ObjectInfo, Storage } from "@strongbox/core";

export const MiB = 1024 * 1024;

import { expect } from "vitest";

export type SkipContext = { skip(note?: string): never };

/** Skips the running test and prints why, so a skipped promise is never silent. */
export function skipWithReason(ctx: SkipContext, suite: string, what: string, reason: string): never {
  console.warn(`[strongbox testkit] ${suite}: skipping "${what}": ${reason}`);
  return ctx.skip(reason);
}

/** Awaits `promise` and checks it rejects with a StrongboxError (of one of `codes`, when given). */
export async function expectStrongboxError(
  promise: Promise<unknown>,
  codes: string[] | undefined,
  what: string,
): Promise<Error> {
  let error: unknown;
  let failed = false;
  try {
    await promise;
  } catch (err) {
    error = err;
    failed = true;
  }
  const expected = codes ? `a StrongboxError ${codes.join(" or ")}` : "a StrongboxError";
  if (!failed) expect.fail(`${what}: expected ${expected}, but it succeeded`);
  const e = error as { name?: unknown; code?: unknown; message?: unknown };
  const seen = error instanceof Error ? `${e.name} ${String(e.code ?? "")}: ${e.message}` : String(error);
  expect(e?.name, `${what}: expected ${expected}, got ${seen}`).toBe("StrongboxError");
  if (codes) expect(codes, `${what}: expected ${expected}, got ${seen}`).toContain(e.code);
  expect(String(e.message), `${what}: message must start with "[strongbox]"`).toMatch(/^\[strongbox\] \[/);
  return error as Error;
}

export async function expectBytes(storage: Storage, key: string, want: Buffer): Promise<void> {
  const got = await collect(await storage.get(key));
  expect(got.length, `get("${key}") returned ${got.length} bytes, expected ${want.length}`).toBe(want.length);
  const at = firstDifference(got, want);
  expect(at, `get("${key}") bytes differ from what was put, first at offset ${at}`).toBe(-1);
}

export function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

export async function listAll(storage: Storage, prefix: string): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const info of storage.list(prefix)) out.push(info);
  return out;
}

export async function listKeys(storage: Storage, prefix: string): Promise<string[]> {
  return (await listAll(storage, prefix)).map((o) => o.key);
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** A byte stream of `data` cut into `size`-byte chunks (uneven sizes exercise adapters' buffering). */
export function chunked(data: Buffer, size: number): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= data.length) {
        this.push(null);
        return;
      }
      this.push(data.subarray(offset, offset + size));
      offset += size;
    },
  });
}

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

export async function hashStream(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest("hex"), size };
}

/**
 * A `total`-byte stream generated on demand (never held in memory) and hashed as it goes.
 * Content: a 1 MiB random block read at shifting offsets and stamped with the chunk number, so it
 * is not compressible by a 32 KiB-window compressor and no two chunks are equal.
 */
export function generatedStream(
  total: number,
  options: { chunkSize?: number; onChunk?: (produced: number) => void } = {},
): { stream: Readable; sha256(): string; produced(): number } {
  const chunkSize = options.chunkSize ?? 64 * 1024;
  const block = randomBytes(MiB + chunkSize);
  const hash = createHash("sha256");
  let produced = 0;
  let index = 0;
  let digest: string | undefined;
  const stream = new Readable({
    highWaterMark: chunkSize,
    read() {
      if (produced >= total) {
        digest ??= hash.digest("hex");
        this.push(null);
        return;
      }
      const n = Math.min(chunkSize, total - produced);
      const chunk = Buffer.allocUnsafe(n);
      const offset = (index * 7919) % MiB;
      block.copy(chunk, 0, offset, offset + n);
      if (n >= 4) chunk.writeUInt32LE(index, 0);
      index++;
      produced += n;
      hash.update(chunk);
      options.onChunk?.(produced);
      this.push(chunk);
    },
  });
  return {
    stream,
    sha256: () => {
      if (digest === undefined) throw new Error("generatedStream: sha256() asked before the stream ended");
      return digest;
    },
    produced: () => produced,
  };
}

/** Emits `before` bytes, then fails with `error` (as a broken source would). */
export function failingStream(before: number, error: Error): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= before) {
        this.destroy(error);
        return;
      }
      const chunk = randomBytes(64 * 1024);
      sent += chunk.length;
      this.push(chunk);
    },
  });
}

/**
 * Calls `onThreshold` once `threshold` bytes have been read from it and keeps going, up to a
 * 64 MiB cap, so a storage that ignores the abort finishes (and fails the test) instead of
 * writing forever.
 */
export function endlessStream(threshold: number, onThreshold: () => void): Readable {
  let sent = 0;
  let fired = false;
  const chunk = randomBytes(64 * 1024);
  return new Readable({
    read() {
      if (sent >= 64 * MiB) {
        this.push(null);
        return;
      }
      sent += chunk.length;
      if (sent >= threshold && !fired) {
        fired = true;
        setImmediate(onThreshold);
      }
      this.push(Buffer.from(chunk));
    },
  });
}

/** Emits `pauseAt` bytes, then waits for `release()` before emitting the rest up to `total`. */
export function pausedStream(
  pauseAt: number,
  total: number,
): { stream: Readable; paused: Promise<void>; release(): void; sha256(): string } {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let announce!: () => void;
  const paused = new Promise<void>((resolve) => {
    announce = resolve;
  });
  const hash = createHash("sha256");
  const block = randomBytes(64 * 1024);
  let produced = 0;
  let state: "before" | "waiting" | "after" = "before";
  let digest: string | undefined;
  const pushNext = (stream: Readable): void => {
    if (produced >= total) {
      digest = hash.digest("hex");
      stream.push(null);
      return;
    }
    const chunk = Buffer.from(block.subarray(0, Math.min(block.length, total - produced)));
    chunk.writeUInt32LE(produced, 0);
    produced += chunk.length;
    hash.update(chunk);
    stream.push(chunk);
  };
  const stream = new Readable({
    highWaterMark: 64 * 1024,
    read() {
      if (state === "waiting") return;
      if (state === "before" && produced >= pauseAt) {
        state = "waiting";
        announce();
        void released.then(() => {
          state = "after";
          pushNext(this);
        });
        return;
      }
      pushNext(this);
    },
  });
  return {
    stream,
    paused,
    release,
    sha256: () => {
      if (digest === undefined) throw new Error("pausedStream: sha256() asked before the stream ended");
      return digest;
    },
  };
}

/** Samples RSS every 20 ms; `stop()` returns the peak growth over the starting value. */
export function watchRss(): { stop(): number } {
  (globalThis as { gc?: () => void }).gc?.();
  const start = process.memoryUsage.rss();
  let peak = start;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage.rss());
      return peak - start;
    },
  };
}
