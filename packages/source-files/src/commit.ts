import { randomBytes } from "node:crypto";
import type { Stats } from "node:fs";
import { chmod, lstat, mkdir, mkdtemp, readdir, realpath, rename, rm, unlink, utimes } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { type Logger, StrongboxError } from "@strongbox/core";
import type { ExistingPolicy } from "./options.js";
import { ADAPTER, sourceError } from "./walk.js";

const exists = (path: string) => lstat(path).catch(() => undefined);

/**
 * The real location to restore to: a destination that is a symlink (`/srv/uploads` →
 * `/data/uploads`) is resolved so the swap replaces the data, not the user's link.
 */
export async function resolveDestination(dest: string): Promise<string> {
  return realpath(dest).catch(() => dest);
}

/**
 * A fresh staging directory NEXT TO the destination: same filesystem, so the final move is a
 * rename (atomic, no copy). Its name starts with "." and says what it is, in case a crash leaves it.
 * `createdParent` is the first directory this call had to create (if any), so a failed restore can
 * remove it and leave the filesystem as it found it.
 */
export async function makeStaging(dest: string): Promise<{ staging: string; createdParent?: string }> {
  const parent = dirname(dest);
  const createdParent = await mkdir(parent, { recursive: true }).catch((err) => {
    throw sourceError("create directory", parent, err);
  });
  const staging = await mkdtemp(join(parent, `.${basename(dest)}.strongbox-restore-`)).catch((err) => {
    throw sourceError("create a staging directory in", parent, err);
  });
  return createdParent === undefined ? { staging } : { staging, createdParent };
}

function asideName(path: string): string {
  return join(dirname(path), `.${basename(path)}.strongbox-old-${randomBytes(4).toString("hex")}`);
}

/**
 * Puts `staged` at `dest` with renames: the old content is moved aside, the new one renamed in,
 * and only then is the old one deleted. If the second rename fails the old one is put back.
 */
export async function swapIn(staged: string, dest: string, logger: Logger): Promise<void> {
  const current = await exists(dest);
  // A file over a file (or link) needs no aside copy: rename() replaces it atomically.
  if (!current || (!current.isDirectory() && !(await lstat(staged)).isDirectory())) {
    await rename(staged, dest).catch((err) => {
      throw sourceError("move the restored data to", dest, err);
    });
    return;
  }
  const aside = asideName(dest);
  await rename(dest, aside).catch((err) => {
    throw sourceError("move the current data aside at", dest, err);
  });
  try {
    await rename(staged, dest);
  } catch (err) {
    await rename(aside, dest).catch(() => {});
    throw sourceError("move the restored data to", dest, err);
  }
  await rm(aside, { recursive: true, force: true }).catch((err) => {
    logger.warn(
      `[files] restored ${JSON.stringify(dest)}, but could not remove the previous content left at ${JSON.stringify(aside)}: ${(err as Error).message}`,
    );
  });
}

/** Removes `dest` (restoring a safety backup of "nothing was there"), old content deleted last. */
export async function removeDestination(dest: string, logger: Logger): Promise<void> {
  if (!(await exists(dest))) return;
  const aside = asideName(dest);
  await rename(dest, aside).catch((err) => {
    throw sourceError("remove", dest, err);
  });
  await rm(aside, { recursive: true, force: true }).catch((err) => {
    logger.warn(`[files] could not remove ${JSON.stringify(aside)}: ${(err as Error).message}`);
  });
}

type MergeAction = { from: string; to: string; removeExisting: "none" | "file" | "directory" };

export interface MergePlan {
  actions: MergeAction[];
  /** Existing directories kept, deepest first, with the staged directory's mode and mtime (taken before any move). */
  dirs: Array<{ to: string; mode: number; mtime: Date }>;
  /** Existing files left alone (`skip`) or replaced (`overwrite`). */
  existing: string[];
}

function conflict(path: string): StrongboxError {
  return new StrongboxError(
    "E_CONFLICT",
    `${JSON.stringify(path)} already exists and the restore uses existing: "fail" (nothing was written; use existing: "overwrite" or "skip", or mode: "replace")`,
    {
      adapter: ADAPTER,
      details: { path },
    },
  );
}

/**
 * Read-only: works out how to merge the staged tree into `dest`. Directories present on both
 * sides are merged; anything else present on both sides is a conflict the policy decides. Only
 * real directories of the destination are descended into, so nothing is moved through a symlink.
 * With `fail`, it throws E_CONFLICT at the first existing file, before anything is written.
 */
export async function planMerge(staged: string, dest: string, policy: ExistingPolicy): Promise<MergePlan> {
  const plan: MergePlan = { actions: [], dirs: [], existing: [] };
  const root = await exists(dest);
  if (!root) {
    plan.actions.push({ from: staged, to: dest, removeExisting: "none" });
    return plan;
  }
  if (!root.isDirectory()) {
    if (policy === "fail") throw conflict(dest);
    plan.existing.push(dest);
    if (policy === "overwrite") plan.actions.push({ from: staged, to: dest, removeExisting: "file" });
    return plan;
  }
  const visit = async (from: string, to: string, self: Stats): Promise<void> => {
    const names = (await readdir(from)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      const src = join(from, name);
      const dst = join(to, name);
      const [s, d] = await Promise.all([lstat(src), exists(dst)]);
      if (!d) {
        plan.actions.push({ from: src, to: dst, removeExisting: "none" });
      } else if (s.isDirectory() && d.isDirectory()) {
        await visit(src, dst, s);
      } else {
        if (policy === "fail") throw conflict(dst);
        plan.existing.push(dst);
        if (policy === "overwrite")
          plan.actions.push({
            from: src,
            to: dst,
            removeExisting: d.isDirectory() ? "directory" : s.isDirectory() ? "file" : "none",
          });
      }
    }
    plan.dirs.push({ to, mode: self.mode & 0o7777, mtime: self.mtime });
  };
  await visit(staged, dest, await lstat(staged));
  return plan;
}

/** Applies a merge plan with renames; `applyDirMeta` copies staged directory modes and mtimes. */
export async function applyMerge(plan: MergePlan, applyDirMeta: boolean, logger: Logger): Promise<void> {
  for (const action of plan.actions) {
    try {
      if (action.removeExisting === "directory") {
        await swapIn(action.from, action.to, logger);
      } else {
        // rename() replaces a file or symlink atomically and never follows it; a directory staged
        // over a file needs the file gone first.
        if (action.removeExisting === "file") await unlink(action.to);
        await rename(action.from, action.to);
      }
    } catch (err) {
      throw err instanceof StrongboxError ? err : sourceError("write", action.to, err);
    }
  }
  if (!applyDirMeta) return;
  for (const { to, mode, mtime } of plan.dirs) {
    if (!(await exists(to))?.isDirectory()) continue;
    await chmod(to, mode);
    await utimes(to, mtime, mtime);
  }
}
