import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { isAbsolute, posix } from "node:path";
import { Readable } from "node:stream";
import { type Logger, StrongboxError, wrapError } from "@strongbox/core";
import tar from "tar-stream";
import {
  ADAPTER,
  newWalkCounters,
  sourceError,
  type WalkCounters,
  type WalkItem,
  type WalkOptions,
  walk,
} from "./walk.js";

/** What went into one tar, recorded in the artifact's manifest meta. */
export interface PackStats extends Omit<WalkCounters, "skippedExamples"> {
  files: number;
  bytes: number;
  directories: number;
  symlinks: number;
  /** Files whose size or mtime changed while they were read (stored as read; shrunk ones zero-padded). */
  changed: number;
  /** Symlinks pointing outside the backed-up path (restoring them needs `allowExternalSymlinks`). */
  externalSymlinks: number;
}

// Big enough to keep syscalls few, small enough that the tar stream's buffers stay bounded.
const CHUNK = 256 * 1024;
const ZEROS = Buffer.alloc(CHUNK);

type Sink = ReturnType<tar.Pack["entry"]>;

type TarHeader = Partial<tar.Header> & { name: string };

const isClosing = (pack: tar.Pack): boolean => pack.destroying;

function waitDrain(sink: Sink): Promise<void> {
  return new Promise((resolve, reject) => {
    // A destroyed sink never emits again: waiting on it would hang the producer forever.
    if (sink.destroying || sink.destroyed) {
      reject(new Error("tar entry closed"));
      return;
    }
    const done = (err?: Error) => {
      sink.off("drain", onDrain);
      sink.off("close", onClose);
      sink.off("error", done);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error("tar entry closed"));
    sink.on("drain", onDrain);
    sink.on("close", onClose);
    sink.on("error", done);
  });
}

/** Adds one entry and resolves when tar-stream has taken all of it (or rejects when it failed). */
function addEntry(pack: tar.Pack, header: TarHeader): { sink: Sink; added: Promise<void> } {
  if (isClosing(pack)) throw new StrongboxError("E_ABORTED", "tar stream closed", { adapter: ADAPTER });
  let sink: Sink | undefined;
  const added = new Promise<void>((resolve, reject) => {
    sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
  });
  // Errors also arrive through the callback; without a listener streamx would throw them.
  sink!.on("error", () => {});
  added.catch(() => {});
  return { sink: sink!, added };
}

export interface PackOptions extends WalkOptions {
  logger: Logger;
  /** Called every few hundred entries with a step description. */
  onProgress?: (message: string, bytes: number) => void;
}

/**
 * Streams `root` (a file or a directory) as a POSIX/pax tar, file by file, honouring backpressure:
 * each file is read in chunks only as fast as the consumer takes them. A producer failure (an
 * unreadable file, an abort) destroys the stream with a StrongboxError, so a short artifact can
 * never look complete. `done` resolves with the counts once the tar is finished.
 */
export function packPath(root: string, options: PackOptions): { stream: Readable; done: Promise<PackStats> } {
  const pack = tar.pack();
  const stream = Readable.from(pack, { objectMode: false });
  const counters = newWalkCounters();
  const stats: PackStats = {
    files: 0,
    bytes: 0,
    directories: 0,
    symlinks: 0,
    changed: 0,
    externalSymlinks: 0,
    vanished: 0,
    special: 0,
    cycles: 0,
    excluded: 0,
  };

  const onAbort = () =>
    pack.destroy(
      new StrongboxError("E_ABORTED", `backup of ${JSON.stringify(root)} aborted`, {
        adapter: ADAPTER,
        cause: options.signal?.reason,
      }),
    );
  options.signal?.addEventListener("abort", onAbort, { once: true });

  const done = (async () => {
    try {
      let entries = 0;
      for await (const item of walk(root, options, counters)) {
        if (isClosing(pack)) break;
        await writeItem(pack, item, stats, options);
        if (++entries % 500 === 0) options.onProgress?.(`${entries} entries`, stats.bytes);
      }
      if (isClosing(pack))
        throw new StrongboxError("E_ABORTED", `backup of ${JSON.stringify(root)} stopped: the stream was closed`, {
          adapter: ADAPTER,
        });
      pack.finalize();
      await new Promise<void>((resolve, reject) => {
        // "end" fires once the consumer has read everything; "close" without it means it went away.
        let ended = false;
        pack.once("end", () => {
          ended = true;
        });
        pack.once("close", () =>
          ended
            ? resolve()
            : reject(new StrongboxError("E_ABORTED", "tar stream closed before its end", { adapter: ADAPTER })),
        );
      });
    } catch (err) {
      const error = options.signal?.aborted
        ? new StrongboxError("E_ABORTED", `backup of ${JSON.stringify(root)} aborted`, { adapter: ADAPTER, cause: err })
        : wrapError(err, "E_SOURCE", ADAPTER, `backup of ${JSON.stringify(root)}`);
      pack.destroy(error);
      throw error;
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
    stats.vanished = counters.vanished;
    stats.special = counters.special;
    stats.cycles = counters.cycles;
    stats.excluded = counters.excluded;
    if (stats.externalSymlinks > 0) {
      options.logger.warn(
        `[files] ${JSON.stringify(root)}: ${stats.externalSymlinks} symlink(s) point outside the backed-up path; they are stored as-is, and a restore accepts them only with allowExternalSymlinks`,
      );
    }
    const skipped = counters.vanished + counters.special + counters.cycles;
    if (skipped > 0) {
      options.logger.warn(
        `[files] ${JSON.stringify(root)}: skipped ${counters.vanished} vanished, ${counters.special} special (socket/FIFO/device), ${counters.cycles} cyclic entries`,
        { examples: counters.skippedExamples },
      );
    }
    return stats;
  })();
  done.catch(() => {});
  return { stream, done };
}

async function writeItem(pack: tar.Pack, item: WalkItem, stats: PackStats, options: PackOptions): Promise<void> {
  const st = item.stats;
  const base = { mode: st.mode & 0o7777, mtime: st.mtime, uid: st.uid, gid: st.gid };
  if (item.type === "directory") {
    const { sink, added } = addEntry(pack, {
      ...base,
      name: item.rel === "" ? "./" : `${item.rel}/`,
      type: "directory",
    });
    sink.end(undefined);
    await added;
    if (item.rel !== "") stats.directories++;
    return;
  }
  if (item.type === "symlink") {
    const target = item.linkTarget ?? "";
    const { sink, added } = addEntry(pack, { ...base, name: item.rel, type: "symlink", linkname: target });
    sink.end(undefined);
    await added;
    stats.symlinks++;
    const resolved = posix.normalize(posix.join(posix.dirname(item.rel), target));
    if (isAbsolute(target) || resolved === ".." || resolved.startsWith("../")) {
      stats.externalSymlinks++;
      options.logger.debug(`[files] symlink ${JSON.stringify(item.abs)} points outside the backed-up path`, { target });
    }
    return;
  }
  await writeFile(pack, item, base, stats, options);
}

async function writeFile(
  pack: tar.Pack,
  item: WalkItem,
  base: Pick<TarHeader, "mode" | "mtime" | "uid" | "gid">,
  stats: PackStats,
  options: PackOptions,
): Promise<void> {
  let fh: FileHandle;
  try {
    // O_NOFOLLOW: if the file was swapped for a symlink since it was listed, do not read through it.
    fh = await open(item.abs, constants.O_RDONLY | (options.followSymlinks ? 0 : constants.O_NOFOLLOW));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ELOOP" || code === "ENOTDIR") {
      stats.vanished++;
      options.logger.warn(`[files] ${JSON.stringify(item.abs)} vanished during the backup: skipped`);
      return;
    }
    throw sourceError("read", item.abs, err);
  }
  try {
    // Size from the open descriptor: the bytes we read belong to the same file we describe.
    const st = await fh.stat();
    if (!st.isFile()) {
      stats.vanished++;
      return;
    }
    const size = st.size;
    const { sink, added } = addEntry(pack, {
      ...base,
      mode: st.mode & 0o7777,
      mtime: st.mtime,
      name: item.rel,
      type: "file",
      size,
    });
    let pos = 0;
    while (pos < size) {
      const want = Math.min(CHUNK, size - pos);
      const buf = Buffer.allocUnsafe(want);
      let bytesRead: number;
      try {
        ({ bytesRead } = await fh.read(buf, 0, want, pos));
      } catch (err) {
        sink.destroy(new Error("read failed"));
        throw sourceError("read", item.abs, err);
      }
      if (bytesRead === 0) break;
      pos += bytesRead;
      if (!sink.write(bytesRead === want ? buf : buf.subarray(0, bytesRead))) await waitDrain(sink);
    }
    let changed = false;
    if (pos < size) {
      // tar needs exactly the size written in the header: pad as GNU tar does, and say so.
      options.logger.warn(
        `[files] ${JSON.stringify(item.abs)} shrank by ${size - pos} bytes while read: padded with zeros`,
      );
      changed = true;
      while (pos < size) {
        const n = Math.min(CHUNK, size - pos);
        pos += n;
        if (!sink.write(ZEROS.subarray(0, n))) await waitDrain(sink);
      }
    } else {
      const after = await fh.stat();
      if (after.size !== size || after.mtimeMs !== st.mtimeMs) {
        options.logger.warn(`[files] ${JSON.stringify(item.abs)} changed while read: stored the first ${size} bytes`);
        changed = true;
      }
    }
    sink.end(undefined);
    await added;
    stats.files++;
    stats.bytes += size;
    if (changed) stats.changed++;
  } finally {
    await fh.close().catch(() => {});
  }
}
