/**
 * Local filesystem storage: one file per key under a directory, written atomically (temp file in
 * the same directory → fsync → rename → fsync of the directory), private by default (files 0600,
 * directories 0700, set with chmod so the umask cannot loosen them).
 *
 * Keys map to paths segment by segment. Besides the usual key rules, every path is resolved and
 * checked to stay under the directory — also through symlinks planted inside it — so a hostile
 * manifest cannot make Strongbox read, write or delete anything outside.
 */
import { constants } from "node:fs";
import { lstat, open, realpath, rmdir, unlink } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import type {
  DeleteResult,
  GetOptions,
  ListOptions,
  ObjectInfo,
  PutOptions,
  Storage,
  StorageCapabilities,
} from "../contracts/storage.js";
import { StrongboxError, throwIfAborted } from "../errors.js";
import { assertValidKey, assertValidPrefix } from "../util/keys.js";
import { requireOptions } from "../util/options.js";
import { ensureDirectory, isTempName, TEMP_PREFIX, writeAtomically } from "./atomic-write.js";
import { fsError, isMissing } from "./fs-errors.js";
import { walkObjects, walkStaleTemps } from "./walk.js";

const ADAPTER = "local";
/** Files unlinked at once by `delete()`: enough to hide latency, few enough to stay under fd limits. */
const DELETE_CONCURRENCY = 16;

export interface LocalStorageOptions {
  /** Directory holding the backups; created (with `dirMode`) on first write. Relative paths resolve against `process.cwd()`. */
  directory: string;
  /**
   * Mode of every object file written.
   * @default 0o600
   */
  fileMode?: number;
  /**
   * Mode of every directory Strongbox creates (including `directory` itself when it is missing).
   * Existing directories are left as they are.
   * @default 0o700
   */
  dirMode?: number;
}

/** Stores backups as files under `directory`. */
export function local(options: LocalStorageOptions): Storage {
  requireOptions(ADAPTER, options, ["directory"]);
  if (typeof options.directory !== "string") {
    throw new StrongboxError("E_CONFIG", `local() option "directory" must be a path string`, { adapter: ADAPTER });
  }
  const fileMode = checkMode("fileMode", options.fileMode, 0o600);
  const dirMode = checkMode("dirMode", options.dirMode, 0o700);
  const root = resolve(options.directory);
  return new LocalStorage(root, fileMode, dirMode);
}

function checkMode(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0 || value > 0o7777) {
    throw new StrongboxError(
      "E_CONFIG",
      `local() option "${name}" must be a file mode such as 0o600, got ${String(value)}`,
      {
        adapter: ADAPTER,
      },
    );
  }
  return value;
}

class LocalStorage implements Storage {
  readonly type = "local";
  readonly capabilities: StorageCapabilities = { rangedGet: true };
  /** Root with symlinks resolved, computed once the directory exists. */
  #realRoot: string | undefined;

  constructor(
    readonly location: string,
    private readonly fileMode: number,
    private readonly dirMode: number,
  ) {}

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<{ size: number }> {
    const path = this.pathOf(key);
    try {
      throwIfAborted(options.signal, ADAPTER);
      // Check before mkdir: `mkdir -p` through a planted symlink would already create directories outside.
      // (When even the root is missing there is nothing to check: we create it.)
      const existing = await nearestExisting(dirname(path));
      if (!relative(this.location, existing).startsWith("..")) await this.assertInside(existing, key);
      await ensureDirectory(dirname(path), this.dirMode);
      await this.assertInside(dirname(path), key);
      const size = await writeAtomically(path, body, {
        fileMode: this.fileMode,
        dirMode: this.dirMode,
        signal: options.signal,
        expectedSize: options.size,
      });
      return { size };
    } catch (err) {
      body.destroy();
      throw fsError(err, `writing ${JSON.stringify(key)} to`, path);
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    const path = this.pathOf(key);
    const range = checkRange(options.range);
    throwIfAborted(options.signal, ADAPTER);
    await this.assertInside(dirname(path), key, true);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      // O_NOFOLLOW: a symlink planted as an object must not lead outside the directory.
      handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === "ELOOP") throw notFound(key, this.location);
      throw fsError(err, `opening ${JSON.stringify(key)} at`, path);
    }
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw notFound(key, this.location);
    } catch (err) {
      await handle.close().catch(() => {});
      throw fsError(err, `reading ${JSON.stringify(key)} at`, path);
    }
    const source = handle.createReadStream({
      start: range?.start ?? 0,
      ...(range?.end !== undefined ? { end: range.end } : {}),
      highWaterMark: 64 * 1024,
    });
    return guardStream(source, path, key, options.signal);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const path = this.pathOf(key);
    if (!(await this.assertInside(dirname(path), key, true))) return undefined;
    try {
      const stats = await lstat(path);
      return stats.isFile() ? { key, size: stats.size, lastModified: stats.mtime } : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw fsError(err, `reading metadata of ${JSON.stringify(key)} at`, path);
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncGenerator<ObjectInfo> {
    assertValidPrefix(prefix, ADAPTER);
    throwIfAborted(options.signal, ADAPTER);
    yield* walkObjects(this.location, prefix, options.signal);
  }

  async delete(keys: string[]): Promise<DeleteResult | undefined> {
    // Validate everything first: a bad key must not leave the batch half done.
    const paths = keys.map((key) => ({ key, path: this.pathOf(key) }));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < paths.length) {
        const item = paths[next++]!;
        await this.deleteOne(item.key, item.path);
      }
    };
    await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, paths.length) }, worker));
    return undefined;
  }

  async sweep(options: { olderThan: Date; signal?: AbortSignal }): Promise<{ removed: number }> {
    let removed = 0;
    for await (const path of walkStaleTemps(this.location, options.olderThan, options.signal)) {
      try {
        await unlink(path);
        removed++;
      } catch (err) {
        if (!isMissing(err)) throw fsError(err, "removing the abandoned temp file", path);
      }
      await this.pruneEmptyParents(dirname(path));
    }
    return { removed };
  }

  private async deleteOne(key: string, path: string): Promise<void> {
    if (!(await this.assertInside(dirname(path), key, true))) return;
    try {
      const stats = await lstat(path);
      // A directory is not an object (it only holds other keys); nothing to delete.
      if (stats.isDirectory()) return;
      await unlink(path);
    } catch (err) {
      if (isMissing(err)) return;
      throw fsError(err, `deleting ${JSON.stringify(key)} at`, path);
    }
    await this.pruneEmptyParents(dirname(path));
  }

  /** Removes directories left empty by a delete, up to (never including) the root. */
  private async pruneEmptyParents(dir: string): Promise<void> {
    while (dir !== this.location && dir.startsWith(this.location)) {
      try {
        await rmdir(dir);
      } catch {
        // Not empty (ENOTEMPTY/EEXIST), already gone, or in use: pruning is only tidiness.
        return;
      }
      dir = dirname(dir);
    }
  }

  /** Validates the key and maps it to a path that provably stays under the root. */
  private pathOf(key: string): string {
    assertValidKey(key, ADAPTER);
    if (key.split("/").some(isTempName)) {
      throw new StrongboxError(
        "E_CONFIG",
        `invalid storage key ${JSON.stringify(key)}: segments starting "${TEMP_PREFIX}" are reserved for uploads in progress`,
        {
          adapter: ADAPTER,
        },
      );
    }
    const path = join(this.location, ...key.split("/"));
    const rel = relative(this.location, path);
    if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) {
      throw new StrongboxError(
        "E_CONFIG",
        `invalid storage key ${JSON.stringify(key)}: it resolves outside ${this.location}`,
        {
          adapter: ADAPTER,
        },
      );
    }
    return path;
  }

  /**
   * Resolves symlinks in `dir` and refuses when the real path leaves the real root. With
   * `missingOk`, a directory that does not exist yields `false` (so the object cannot exist).
   */
  private async assertInside(dir: string, key: string, missingOk = false): Promise<boolean> {
    let real: string;
    try {
      this.#realRoot ??= await realpath(this.location);
      real = await realpath(dir);
    } catch (err) {
      if (missingOk && isMissing(err)) return false;
      throw fsError(err, `resolving ${JSON.stringify(key)} at`, dir);
    }
    const rel = relative(this.#realRoot, real);
    if (rel.startsWith("..") || isAbsolute(rel)) {
      throw new StrongboxError(
        "E_CONFIG",
        `storage key ${JSON.stringify(key)} leads outside ${this.location} through a symlink; refusing`,
        {
          adapter: ADAPTER,
        },
      );
    }
    return true;
  }
}

/** The closest ancestor of `dir` (or `dir` itself) that exists. */
async function nearestExisting(dir: string): Promise<string> {
  for (let current = dir; ; current = dirname(current)) {
    try {
      await lstat(current);
      return current;
    } catch (err) {
      if (!isMissing(err) || dirname(current) === current) throw err;
    }
  }
}

function notFound(key: string, location: string): StrongboxError {
  return new StrongboxError("E_NOT_FOUND", `object ${JSON.stringify(key)} does not exist in ${location}`, {
    adapter: ADAPTER,
  });
}

function checkRange(range: GetOptions["range"]): GetOptions["range"] {
  if (range === undefined) return undefined;
  const { start, end } = range;
  const ok =
    Number.isSafeInteger(start) && start >= 0 && (end === undefined || (Number.isSafeInteger(end) && end >= start));
  if (!ok) {
    throw new StrongboxError("E_CONFIG", `invalid range ${JSON.stringify(range)}: need 0 <= start <= end (inclusive)`, {
      adapter: ADAPTER,
    });
  }
  return range;
}

/**
 * Hands out a stream whose errors are StrongboxErrors (fs errors mapped, aborts as E_ABORTED).
 * A PassThrough in between keeps the mapping out of fs internals; it costs one buffer hop.
 */
function guardStream(source: Readable, path: string, key: string, signal: AbortSignal | undefined): Readable {
  const out = new PassThrough({ highWaterMark: 64 * 1024 });
  const onAbort = (): void => {
    out.destroy(
      new StrongboxError("E_ABORTED", `reading ${JSON.stringify(key)}: aborted`, {
        adapter: ADAPTER,
        cause: signal?.reason,
      }),
    );
  };
  source.on("error", (err) => out.destroy(fsError(err, `reading ${JSON.stringify(key)} at`, path)));
  out.on("close", () => {
    signal?.removeEventListener("abort", onAbort);
    source.destroy();
  });
  signal?.addEventListener("abort", onAbort, { once: true });
  source.pipe(out);
  return out;
}
