import { constants } from "node:fs";
import {
  chmod,
  chown,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  open,
  readlink,
  rm,
  symlink,
  unlink,
  utimes,
} from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import type { Readable } from "node:stream";
import { type Logger, StrongboxError, throwIfAborted } from "@strongbox/core";
import { entrySegments, hostile } from "./entry-names.js";
import { drainEntry, entryFailure, readTar, type TarEntry, type TarReadState } from "./tar-input.js";
import { ADAPTER, sourceError } from "./walk.js";

export interface ExtractOptions {
  signal?: AbortSignal;
  logger: Logger;
  /** chown to the archive's uid/gid (root only). */
  preserveOwner: boolean;
  /** Accept symlinks pointing outside the destination (never written through either way). */
  allowExternalSymlinks: boolean;
  /** For messages: which artifact this is. */
  label: string;
}

export interface ExtractStats {
  files: number;
  bytes: number;
  directories: number;
  symlinks: number;
  hardlinks: number;
  /** Entries not restored (FIFOs). */
  skipped: number;
  warnings: string[];
  /** Top-level names written, in order (a single-file artifact has exactly one). */
  topLevel: string[];
  /** Whether the tar had an entry for the root directory itself (`./`), carrying its mode and mtime. */
  rootEntry: boolean;
}

interface PendingLink {
  segments: string[];
  target: string;
  mtime: Date;
  uid: number;
  gid: number;
  name: string;
}

interface DirMeta {
  path: string;
  depth: number;
  mode: number;
  mtime: Date;
  uid: number;
  gid: number;
}

const SMALL_FILE = 256 * 1024;
const MAX_INFLIGHT_FILES = 16;
const MAX_INFLIGHT_BYTES = 8 * 1024 * 1024;

/** Creates and fills one small file; O_EXCL | O_NOFOLLOW: never open something that appeared at this path meanwhile. */
async function writeSmallFile(
  path: string,
  body: Buffer,
  mode: number,
  mtime: Date,
  owner: { uid: number; gid: number } | undefined,
): Promise<void> {
  const fh = await open(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  ).catch((err) => {
    throw sourceError("create", path, err);
  });
  try {
    if (body.length > 0) await fh.write(body, 0, body.length);
    if (owner) await fh.chown(owner.uid, owner.gid);
    await fh.chmod(mode);
    await fh.utimes(mtime, mtime);
  } catch (err) {
    throw sourceError("write", path, err);
  } finally {
    await fh.close();
  }
}

function mtimeOf(entry: TarEntry): Date {
  // GNU tar and bsdtar pax archives carry sub-second times; plain ustar headers whole seconds.
  const pax = (entry.header as { pax?: Record<string, string> }).pax;
  const precise = pax?.mtime ? Number.parseFloat(pax.mtime) : Number.NaN;
  if (Number.isFinite(precise)) return new Date(precise * 1000);
  return entry.header.mtime ?? new Date();
}

/**
 * Extracts a tar into `root`, a directory this restore just created and nobody else writes to.
 *
 * Security, in the order of a classic tar attack's steps:
 * - names are confined below `root` ({@link entrySegments}); devices are refused;
 * - parents of every entry are checked to be real directories, never symlinks (no write-through);
 * - symlinks are created only at the very END (as GNU tar's "delayed links"), so no file is ever
 *   written while any symlink from the archive exists; each is then checked to resolve inside
 *   `root` by walking the tree as the kernel would (see {@link resolvesInside});
 * - hardlinks must point at a regular file already extracted.
 * Modes, mtimes (and owners when `preserveOwner`) are applied from file descriptors or after
 * `lstat` checks, never by following a path that could be a link.
 */
export async function extractTar(input: Readable, root: string, options: ExtractOptions): Promise<ExtractStats> {
  const stats: ExtractStats = {
    files: 0,
    bytes: 0,
    directories: 0,
    symlinks: 0,
    hardlinks: 0,
    skipped: 0,
    warnings: [],
    topLevel: [],
    rootEntry: false,
  };
  const realDirs = new Set<string>([root]);
  const pendingLinks = new Map<string, PendingLink>();
  const dirMeta = new Map<string, DirMeta>();
  const modeMask = options.preserveOwner ? 0o7777 : 0o1777;
  const seenTop = new Set<string>();
  // Non-directory paths this extraction created. `root` is fresh and only this function writes
  // there, so a path in neither `created` nor `realDirs` does not exist: no lstat needed.
  const created = new Set<string>();
  // Small files are written concurrently (bounded), since per-file syscalls, not bytes, dominate.
  const inflight = new Map<string, Promise<void>>();
  let inflightBytes = 0;
  let writeError: unknown;
  const ownerOf = (uid: number, gid: number) =>
    options.preserveOwner && (uid !== process.getuid?.() || gid !== process.getgid?.()) ? { uid, gid } : undefined;

  const settleWrites = async (max: number): Promise<void> => {
    while (inflight.size > max || (max > 0 && inflightBytes > MAX_INFLIGHT_BYTES)) {
      await inflight.values().next().value;
    }
    if (writeError !== undefined) throw writeError;
  };

  const ensureParents = async (segments: string[], name: string): Promise<void> => {
    let cur = root;
    for (let i = 0; i < segments.length - 1; i++) {
      cur = join(cur, segments[i] as string);
      if (realDirs.has(cur)) continue;
      if (created.has(cur)) {
        throw hostile(
          `its parent ${JSON.stringify(segments.slice(0, i + 1).join("/"))} is a file extracted earlier, not a directory`,
          name,
        );
      }
      const st = await lstat(cur).catch((err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") return undefined;
        throw sourceError("inspect", cur, err);
      });
      if (!st) {
        await mkdir(cur, { mode: 0o755 }).catch((err) => {
          throw sourceError("create directory", cur, err);
        });
      } else if (!st.isDirectory()) {
        throw hostile(
          `its parent ${JSON.stringify(segments.slice(0, i + 1).join("/"))} is not a directory (a symlink or file would be written through)`,
          name,
        );
      }
      realDirs.add(cur);
    }
  };

  /** Clears the way for a new non-directory entry at `path` (a later duplicate entry wins, as in tar). */
  const clearPath = async (path: string): Promise<void> => {
    if (realDirs.has(path)) {
      await settleWrites(0);
      await rm(path, { recursive: true, force: true });
      for (const d of realDirs) if (d === path || d.startsWith(`${path}/`)) realDirs.delete(d);
      for (const d of dirMeta.keys()) if (d === path || d.startsWith(`${path}/`)) dirMeta.delete(d);
      for (const d of created) if (d.startsWith(`${path}/`)) created.delete(d);
    } else if (created.has(path)) {
      await inflight.get(path);
      await unlink(path);
      created.delete(path);
    }
  };

  const noteTop = (segments: string[]) => {
    const top = segments[0];
    if (top !== undefined && !seenTop.has(top)) {
      seenTop.add(top);
      stats.topLevel.push(top);
    }
  };

  const tarState: TarReadState = {};
  try {
    for await (const entry of readTar(input, options.signal, options.label, tarState)) {
      throwIfAborted(options.signal, ADAPTER);
      const header = entry.header;
      const name = header.name;
      const segments = entrySegments(name);
      const path = join(root, ...segments);
      const mtime = mtimeOf(entry);
      const uid = header.uid ?? 0;
      const gid = header.gid ?? 0;
      const mode = (header.mode ?? 0o644) & modeMask;
      try {
        switch (header.type) {
          case "directory": {
            await ensureParents(segments, name);
            if (segments.length > 0) {
              if (created.has(path)) await clearPath(path);
              if (!realDirs.has(path)) await mkdir(path, { mode: 0o700 });
              realDirs.add(path);
              pendingLinks.delete(path);
              noteTop(segments);
              stats.directories++;
            } else {
              stats.rootEntry = true;
            }
            // Applied at the end: writing children would change the mtime, and 0500 dirs must stay writable meanwhile.
            dirMeta.set(path, {
              path,
              depth: segments.length,
              mode: (header.mode ?? 0o755) & modeMask,
              mtime,
              uid,
              gid,
            });
            await drainEntry(entry);
            break;
          }
          case "file":
          case "contiguous-file": {
            if (segments.length === 0) throw hostile("a file cannot replace the destination directory", name);
            await ensureParents(segments, name);
            await clearPath(path);
            pendingLinks.delete(path);
            noteTop(segments);
            created.add(path);
            const owner = ownerOf(uid, gid);
            if ((header.size ?? 0) <= SMALL_FILE) {
              const chunks: Buffer[] = [];
              for await (const chunk of entry as AsyncIterable<Buffer>) chunks.push(chunk);
              const body = Buffer.concat(chunks);
              inflightBytes += body.length;
              const job = writeSmallFile(path, body, mode, mtime, owner).then(
                () => {
                  stats.files++;
                  stats.bytes += body.length;
                },
                (err: unknown) => {
                  writeError ??= err;
                },
              );
              const tracked = job.finally(() => {
                inflightBytes -= body.length;
                if (inflight.get(path) === tracked) inflight.delete(path);
              });
              inflight.set(path, tracked);
              await settleWrites(MAX_INFLIGHT_FILES);
              break;
            }
            // O_EXCL | O_NOFOLLOW: never open something that appeared at this path meanwhile.
            const fh = await open(
              path,
              constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
              0o600,
            ).catch((err) => {
              throw sourceError("create", path, err);
            });
            try {
              let written = 0;
              for await (const chunk of entry as AsyncIterable<Buffer>) {
                await fh.write(chunk, 0, chunk.length);
                written += chunk.length;
              }
              if (owner) await fh.chown(owner.uid, owner.gid);
              await fh.chmod(mode);
              await fh.utimes(mtime, mtime);
              stats.files++;
              stats.bytes += written;
            } finally {
              await fh.close();
            }
            break;
          }
          case "symlink": {
            if (segments.length === 0) throw hostile("a symlink cannot replace the destination directory", name);
            const target = header.linkname ?? "";
            if (target === "" || target.includes("\0")) throw hostile("the symlink has no valid target", name);
            if (!options.allowExternalSymlinks && isAbsolute(target)) {
              throw hostile(
                `symlink to the absolute path ${JSON.stringify(target)} points outside the destination (set allowExternalSymlinks to accept it)`,
                name,
              );
            }
            await ensureParents(segments, name);
            noteTop(segments);
            pendingLinks.delete(path);
            pendingLinks.set(path, { segments, target, mtime, uid, gid, name });
            await drainEntry(entry);
            break;
          }
          case "link": {
            if (segments.length === 0) throw hostile("a hardlink cannot replace the destination directory", name);
            const targetSegments = entrySegments(header.linkname ?? "");
            if (targetSegments.length === 0) throw hostile("the hardlink has no valid target", name);
            const targetPath = join(root, ...targetSegments);
            if (targetPath === path) throw hostile("the hardlink points at itself", name);
            await inflight.get(targetPath);
            const st = created.has(targetPath) ? await lstat(targetPath).catch(() => undefined) : undefined;
            if (!st?.isFile())
              throw hostile(
                `the hardlink target ${JSON.stringify(header.linkname)} is not a regular file extracted before it`,
                name,
              );
            await ensureParents(segments, name);
            await clearPath(path);
            pendingLinks.delete(path);
            noteTop(segments);
            await link(targetPath, path);
            created.add(path);
            stats.hardlinks++;
            await drainEntry(entry);
            break;
          }
          case "character-device":
          case "block-device":
            throw hostile("device entries are not restored", name);
          case "fifo":
            stats.skipped++;
            stats.warnings.push(`FIFO ${name} not restored`);
            await drainEntry(entry);
            break;
          default:
            throw new StrongboxError(
              "E_FORMAT",
              `${options.label}: unsupported tar entry type ${JSON.stringify(header.type)} for ${JSON.stringify(name)}`,
              { adapter: ADAPTER },
            );
        }
      } catch (err) {
        entry.destroy(err as Error);
        // A body that stops short surfaces here as tar-stream's own error: give it its code.
        throw await entryFailure(err, tarState, options.label);
      }
    }

    await settleWrites(0);
  } finally {
    // Never leave writes running into a directory the caller is about to delete.
    await Promise.allSettled(inflight.values());
  }

  // Delayed symlinks: every file is written; now create the links, checking each against the tree.
  for (const pending of pendingLinks.values()) {
    throwIfAborted(options.signal, ADAPTER);
    const path = join(root, ...pending.segments);
    const existing = await lstat(path).catch(() => undefined);
    if (existing?.isDirectory())
      throw hostile("the same path is both a directory and a symlink (a write-through attempt)", pending.name);
    if (existing) await unlink(path);
    // A later entry may have replaced a parent directory with a file: recheck the chain.
    await ensureParents(pending.segments, pending.name);
    if (
      !options.allowExternalSymlinks &&
      !(await resolvesInside(root, pending.segments.slice(0, -1), pending.target))
    ) {
      throw hostile(
        `symlink target ${JSON.stringify(pending.target)} resolves outside the destination (set allowExternalSymlinks to accept it)`,
        pending.name,
      );
    }
    await symlink(pending.target, path);
    const owner = ownerOf(pending.uid, pending.gid);
    if (owner) await lchown(path, owner.uid, owner.gid);
    await lutimes(path, pending.mtime, pending.mtime);
    stats.symlinks++;
  }

  // Directory modes and times last, deepest first, each checked to still be a real directory.
  const dirs = [...dirMeta.values()].sort((a, b) => b.depth - a.depth);
  for (const d of dirs) {
    const st = await lstat(d.path).catch(() => undefined);
    if (!st?.isDirectory()) continue;
    const owner = ownerOf(d.uid, d.gid);
    if (owner) await chown(d.path, owner.uid, owner.gid);
    await chmod(d.path, d.mode);
    await utimes(d.path, d.mtime, d.mtime);
  }
  return stats;
}

/**
 * Resolves a relative symlink target the way the kernel would, but confined to `root` and using
 * the tree as it is now: symlinks met on the way are substituted (each was itself checked when
 * created), and `..` may only step out of a directory that really exists — after a missing
 * component, `..` is refused, because a symlink created there later could change what it means.
 */
export async function resolvesInside(root: string, fromSegments: string[], target: string): Promise<boolean> {
  if (isAbsolute(target)) return false;
  const parts = [...fromSegments];
  let queue = target.split("/");
  let hops = 0;
  let unresolved = false;
  while (queue.length > 0) {
    const seg = queue.shift() as string;
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (unresolved || parts.length === 0) return false;
      parts.pop();
      continue;
    }
    parts.push(seg);
    if (unresolved) continue;
    const here = join(root, ...parts);
    const st = await lstat(here).catch(() => undefined);
    if (!st) {
      unresolved = true;
    } else if (st.isSymbolicLink()) {
      if (++hops > 40) return false;
      const next = await readlink(here);
      if (isAbsolute(next)) return false;
      parts.pop();
      queue = [...next.split("/"), ...queue];
    } else if (!st.isDirectory()) {
      unresolved = true;
    }
  }
  return true;
}
