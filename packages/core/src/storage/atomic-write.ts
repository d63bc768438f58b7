import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, type FileHandle, mkdir, open, rename, unlink } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { StrongboxError } from "../errors.js";

/**
 * Every in-flight upload is a file named `.strongbox-tmp-<random>` in the target's own directory
 * (same filesystem, so the final rename is atomic). Listings skip this prefix, and keys are not
 * allowed to use it, so a reader can never see a half-written object.
 */
export const TEMP_PREFIX = ".strongbox-tmp-";

export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX);
}

/**
 * Creates `dir` and any missing parents, then chmods each directory it created to `mode`:
 * mkdir's own mode is filtered through the umask, which would make 0700 a wish, not a fact.
 */
export async function ensureDirectory(dir: string, mode: number): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode });
  if (first === undefined) return;
  let current = first;
  await chmod(current, mode);
  const rest = relative(first, dir);
  if (rest === "") return;
  for (const segment of rest.split(sep)) {
    current = join(current, segment);
    await chmod(current, mode);
  }
}

export interface AtomicWriteOptions {
  fileMode: number;
  dirMode: number;
  signal?: AbortSignal | undefined;
  /** When given, a body of any other length fails with E_INTEGRITY before it replaces anything. */
  expectedSize?: number | undefined;
}

/**
 * Streams `body` into a temp file beside `target`, fsyncs it, renames it over `target` and fsyncs
 * the directory, so after a crash the key holds either the old or the new bytes, never a mix.
 * On any failure or abort the temp file is removed and the error rethrown untouched (the caller
 * maps it). Resolves with the number of bytes written.
 */
export async function writeAtomically(target: string, body: Readable, options: AtomicWriteOptions): Promise<number> {
  const dir = dirname(target);
  const temp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString("hex")}`);
  const handle = await openTemp(dir, temp, options);
  let renamed = false;
  try {
    await handle.chmod(options.fileMode);
    // `flush: true` makes the stream fsync the descriptor before closing it; the stream owns and
    // closes the handle from here on, also when the pipeline fails.
    const out = createWriteStream("", { fd: handle, flush: true, highWaterMark: 64 * 1024 });
    await pipeline(body, out, options.signal ? { signal: options.signal } : {});
    if (options.expectedSize !== undefined && out.bytesWritten !== options.expectedSize) {
      throw new StrongboxError(
        "E_INTEGRITY",
        `the body had ${out.bytesWritten} bytes but options.size said ${options.expectedSize}; nothing was replaced`,
        { adapter: "local" },
      );
    }
    await rename(temp, target);
    renamed = true;
    await syncDirectory(dir);
    return out.bytesWritten;
  } catch (err) {
    // The stream may not have closed the handle if it failed before taking it over.
    await handle.close().catch(() => {});
    if (!renamed) await unlink(temp).catch(() => {});
    throw err;
  }
}

/**
 * Opens the temp file exclusively. A concurrent `delete()` may prune the freshly created (still
 * empty) parent directory between mkdir and open; recreating it and retrying covers that race.
 */
async function openTemp(dir: string, temp: string, options: AtomicWriteOptions): Promise<FileHandle> {
  for (let attempt = 0; ; attempt++) {
    await ensureDirectory(dir, options.dirMode);
    try {
      return await open(temp, "wx", options.fileMode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || attempt >= 4) throw err;
    }
  }
}

/** fsync on the directory makes the rename itself durable. Some filesystems refuse it (EINVAL): fine. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EINVAL" && code !== "ENOTSUP" && code !== "EISDIR") throw err;
  } finally {
    await handle?.close().catch(() => {});
  }
}
