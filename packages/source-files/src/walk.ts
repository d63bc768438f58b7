import type { Stats } from "node:fs";
import { lstat, readdir, readlink, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { StrongboxError, throwIfAborted } from "@strongbox/core";
import picomatch from "picomatch";

export const ADAPTER = "files";

/** One thing found under a backed-up path, in the order it goes into the tar. */
export interface WalkItem {
  /** Absolute path on disk. */
  abs: string;
  /** Entry name in the tar: `/`-separated, relative to the backed-up path; "" for the root directory. */
  rel: string;
  type: "file" | "directory" | "symlink";
  stats: Stats;
  /** Symlink target, stored as-is. */
  linkTarget?: string;
}

export interface WalkCounters {
  /** Entries that disappeared between being listed and being read. */
  vanished: number;
  /** Sockets, FIFOs and devices: not stored. */
  special: number;
  /** Directory cycles met while following symlinks. */
  cycles: number;
  /** Entries left out by `exclude`. */
  excluded: number;
  /** A few of the skipped paths, for the log. */
  skippedExamples: string[];
}

export function newWalkCounters(): WalkCounters {
  return { vanished: 0, special: 0, cycles: 0, excluded: 0, skippedExamples: [] };
}

export interface WalkOptions {
  exclude?: string[];
  followSymlinks?: boolean;
  signal?: AbortSignal;
}

const isMissing = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
};

export function sourceError(action: string, path: string, err: unknown): StrongboxError {
  const code = (err as NodeJS.ErrnoException).code;
  return new StrongboxError(
    "E_SOURCE",
    `cannot ${action} ${JSON.stringify(path)}${code ? ` (${code})` : ""}: ${(err as Error).message}`,
    {
      adapter: ADAPTER,
      cause: err,
    },
  );
}

/** Compiled exclude patterns; patterns without "/" match base names at any depth, like .gitignore. */
export function excludeMatcher(patterns: string[] | undefined): (rel: string) => boolean {
  if (!patterns || patterns.length === 0) return () => false;
  const match = picomatch(
    patterns.map((p) => p.replace(/^\.\//, "").replace(/\/+$/, "")),
    { dot: true, basename: true },
  );
  return (rel) => match(rel);
}

function skip(counters: WalkCounters, kind: "vanished" | "special" | "cycles", path: string): void {
  counters[kind]++;
  if (counters.skippedExamples.length < 10) counters.skippedExamples.push(path);
}

/**
 * Walks a backed-up path lazily, depth first, each directory's names sorted by code unit so the
 * same tree always gives the same tar. Only one directory listing per depth is held in memory.
 * The root path itself is always followed (the user named it); below it, symlinks are stored as
 * links unless `followSymlinks`.
 */
export async function* walk(root: string, options: WalkOptions, counters: WalkCounters): AsyncGenerator<WalkItem> {
  let rootStats: Stats;
  try {
    rootStats = await stat(root);
  } catch (err) {
    throw sourceError("read", root, err);
  }
  const excluded = excludeMatcher(options.exclude);
  if (!rootStats.isDirectory()) {
    if (!rootStats.isFile())
      throw new StrongboxError("E_SOURCE", `${JSON.stringify(root)} is neither a file nor a directory`, {
        adapter: ADAPTER,
      });
    yield { abs: root, rel: basename(root), type: "file", stats: rootStats };
    return;
  }
  yield { abs: root, rel: "", type: "directory", stats: rootStats };
  yield* walkDir(root, "", new Set([`${rootStats.dev}:${rootStats.ino}`]), options, excluded, counters);
}

async function* walkDir(
  dir: string,
  rel: string,
  ancestors: Set<string>,
  options: WalkOptions,
  excluded: (rel: string) => boolean,
  counters: WalkCounters,
): AsyncGenerator<WalkItem> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isMissing(err)) {
      skip(counters, "vanished", dir);
      return;
    }
    throw sourceError("list directory", dir, err);
  }
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    throwIfAborted(options.signal, ADAPTER);
    const abs = join(dir, name);
    const childRel = rel ? `${rel}/${name}` : name;
    if (excluded(childRel)) {
      counters.excluded++;
      continue;
    }
    let st: Stats;
    try {
      st = await lstat(abs);
      if (st.isSymbolicLink() && options.followSymlinks) {
        // A dangling link cannot be followed: keep it as a link rather than lose it.
        st = await stat(abs).catch(() => st);
      }
    } catch (err) {
      if (isMissing(err)) {
        skip(counters, "vanished", abs);
        continue;
      }
      throw sourceError("read", abs, err);
    }
    if (st.isDirectory()) {
      const id = `${st.dev}:${st.ino}`;
      if (ancestors.has(id)) {
        skip(counters, "cycles", abs);
        continue;
      }
      yield { abs, rel: childRel, type: "directory", stats: st };
      ancestors.add(id);
      yield* walkDir(abs, childRel, ancestors, options, excluded, counters);
      ancestors.delete(id);
    } else if (st.isFile()) {
      yield { abs, rel: childRel, type: "file", stats: st };
    } else if (st.isSymbolicLink()) {
      let linkTarget: string;
      try {
        linkTarget = await readlink(abs);
      } catch (err) {
        if (isMissing(err) || (err as NodeJS.ErrnoException).code === "EINVAL") {
          skip(counters, "vanished", abs);
          continue;
        }
        throw sourceError("read link", abs, err);
      }
      yield { abs, rel: childRel, type: "symlink", stats: st, linkTarget };
    } else {
      skip(counters, "special", abs);
    }
  }
}
