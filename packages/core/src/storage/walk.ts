import { lstat, opendir } from "node:fs/promises";
import { join } from "node:path";
import type { ObjectInfo } from "../contracts/storage.js";
import { throwIfAborted } from "../errors.js";
import { isTempName } from "./atomic-write.js";
import { fsError, isMissing } from "./fs-errors.js";

/**
 * Lists regular files under `root` whose key starts with `prefix`, lazily: one directory handle
 * open per level, entries yielded as they are read, so a million-object store costs no memory.
 * It starts at the deepest directory the prefix names (`a/b/c` starts in `a/b`) and only descends
 * into directories that can hold matching keys. Temp files and symlinks are never reported.
 */
export async function* walkObjects(root: string, prefix: string, signal?: AbortSignal): AsyncGenerator<ObjectInfo> {
  const cut = prefix.lastIndexOf("/");
  const startKey = cut >= 0 ? prefix.slice(0, cut) : "";
  yield* walkDirectory(root, startKey, prefix, signal);
}

async function* walkDirectory(
  root: string,
  dirKey: string,
  prefix: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<ObjectInfo> {
  const path = dirKey ? join(root, ...dirKey.split("/")) : root;
  let dir: Awaited<ReturnType<typeof opendir>>;
  try {
    dir = await opendir(path, { bufferSize: 64 });
  } catch (err) {
    if (isMissing(err)) return;
    throw fsError(err, "listing", path);
  }
  // `for await` closes the handle when the loop ends, breaks or throws.
  try {
    for await (const entry of dir) {
      throwIfAborted(signal, "local");
      if (isTempName(entry.name)) continue;
      const key = dirKey ? `${dirKey}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        const asDir = `${key}/`;
        if (asDir.startsWith(prefix) || prefix.startsWith(asDir)) yield* walkDirectory(root, key, prefix, signal);
      } else if (entry.isFile() && key.startsWith(prefix) && isListableName(entry.name)) {
        const file = join(path, entry.name);
        try {
          const stats = await lstat(file);
          yield { key, size: stats.size, lastModified: stats.mtime };
        } catch (err) {
          if (!isMissing(err)) throw fsError(err, "reading metadata of", file);
          // Deleted while we listed: it simply is not there any more.
        }
      }
    }
  } catch (err) {
    throw fsError(err, "listing", path);
  }
}

/** Files a person dropped in with names no key can have (backslashes) would be unreadable: skip them. */
function isListableName(name: string): boolean {
  return !name.includes("\\");
}

/**
 * Temp files (`.strongbox-tmp-*`) anywhere under `root` last written before `olderThan`: the
 * leftovers of uploads whose process died. Lazy, like `walkObjects`.
 */
export async function* walkStaleTemps(root: string, olderThan: Date, signal?: AbortSignal): AsyncGenerator<string> {
  let dir: Awaited<ReturnType<typeof opendir>>;
  try {
    dir = await opendir(root, { bufferSize: 64 });
  } catch (err) {
    if (isMissing(err)) return;
    throw fsError(err, "listing", root);
  }
  for await (const entry of dir) {
    throwIfAborted(signal, "local");
    const path = join(root, entry.name);
    if (entry.isDirectory()) yield* walkStaleTemps(path, olderThan, signal);
    else if (entry.isFile() && isTempName(entry.name)) {
      const stats = await lstat(path).catch(() => undefined);
      if (stats && stats.mtime < olderThan) yield path;
    }
  }
}
