import { constants, type Stats } from "node:fs";
import { access, stat } from "node:fs/promises";
import { Readable } from "node:stream";
import {
  type BackupContext,
  type OperationContext,
  type RestoreContext,
  type RestorePreview,
  type RestoreResult,
  type RestoreTestResult,
  type Source,
  type SourceArtifact,
  type SourceStats,
  StrongboxError,
  type TargetOverrides,
  throwIfAborted,
} from "@strongbox/core";
import tar from "tar-stream";
import { countTree } from "./count.js";
import { type ArtifactMeta, destinationFor, planPaths } from "./layout.js";
import type { FilesOptions, FilesTarget } from "./options.js";
import { packPath } from "./pack.js";
import { previewFiles } from "./preview.js";
import { restoreFiles } from "./restore.js";
import { restoreTestFiles } from "./restore-test.js";
import { restoreSettings, validateOptions, validateRestore } from "./settings.js";
import { ADAPTER } from "./walk.js";

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  return stat(path).catch(() => undefined);
}

/** An empty tar: what a safety backup stores when the target did not exist. */
function emptyTar(): Readable {
  const pack = tar.pack();
  pack.finalize();
  return Readable.from(pack, { objectMode: false });
}

/**
 * Files and directories as tar streams: each configured path becomes one artifact, a plain
 * POSIX/pax tar (`uploads.tar`) that `tar -xf uploads.tar -C dir` restores without Strongbox.
 */
export function files(options: FilesOptions): Source {
  validateOptions(options);
  const planned = planPaths(options.paths);
  const name = options.name ?? "files";
  const restoreDefaults = options.restore ?? {};
  const walkOptions = { exclude: options.exclude, followSymlinks: options.followSymlinks ?? false };

  /** Where each configured path lives for this operation: its own place, or under a target directory. */
  const rootsFor = async (target: TargetOverrides | undefined) => {
    const directory = (target as FilesTarget | undefined)?.directory;
    validateRestore({ directory });
    return Promise.all(
      planned.map(async (p) => {
        const st = await statOrUndefined(p.path);
        const kind: ArtifactMeta["kind"] = st && !st.isDirectory() ? "file" : "directory";
        return {
          ...p,
          kind,
          root: destinationFor({ path: p.path, kind }, p.base, directory, planned.length),
          redirected: directory !== undefined,
        };
      }),
    );
  };

  const source: Source = {
    name,
    type: "files",
    capabilities: { pointInTime: false, atomicRestore: true, safetyBackup: true },

    async check(ctx: OperationContext): Promise<void> {
      for (const p of planned) {
        throwIfAborted(ctx.signal, ADAPTER);
        const st = await stat(p.path).catch((err: NodeJS.ErrnoException) => {
          throw new StrongboxError(
            "E_SOURCE",
            `path ${JSON.stringify(p.path)} ${err.code === "ENOENT" ? "does not exist" : `cannot be read (${err.code})`}`,
            { adapter: ADAPTER, cause: err },
          );
        });
        await access(p.path, constants.R_OK | (st.isDirectory() ? constants.X_OK : 0)).catch((err) => {
          throw new StrongboxError("E_SOURCE", `path ${JSON.stringify(p.path)} is not readable by this process`, {
            adapter: ADAPTER,
            cause: err,
          });
        });
      }
    },

    async inspect(ctx: OperationContext & { target?: TargetOverrides }): Promise<SourceStats> {
      const counts: Record<string, number> = {};
      for (const r of await rootsFor(ctx.target)) {
        if (!r.redirected && !(await statOrUndefined(r.root)))
          throw new StrongboxError("E_SOURCE", `path ${JSON.stringify(r.root)} does not exist`, { adapter: ADAPTER });
        const c = await countTree(r.root, { ...walkOptions, signal: ctx.signal });
        counts[`${r.base}.files`] = c.files;
        counts[`${r.base}.bytes`] = c.bytes;
      }
      return { counts, info: { paths: planned.map((p) => p.path) } };
    },

    async *backup(ctx: BackupContext): AsyncGenerator<SourceArtifact> {
      for (const r of await rootsFor(ctx.target)) {
        throwIfAborted(ctx.signal, ADAPTER);
        const meta: ArtifactMeta = { path: r.path, kind: r.kind };
        if (r.redirected) meta.backedUpFrom = r.root;
        if (!(await statOrUndefined(r.root))) {
          if (!r.redirected)
            throw new StrongboxError("E_SOURCE", `path ${JSON.stringify(r.root)} does not exist`, { adapter: ADAPTER });
          // Safety backup of a target that does not exist yet: restoring it removes what the restore created.
          Object.assign(meta, { missing: true, files: 0, bytes: 0 });
          yield { name: r.artifact, stream: emptyTar(), meta };
          continue;
        }
        const packed = packPath(r.root, {
          ...walkOptions,
          signal: ctx.signal,
          logger: ctx.logger,
          onProgress: (message, bytes) => ctx.progress({ artifact: r.artifact, bytes, message }),
        });
        yield {
          name: r.artifact,
          stream: packed.stream,
          meta,
          done: async () => {
            const s = await packed.done;
            // `meta` is the object handed over above; filling it in covers callers that read it after done().
            Object.assign(meta, s);
            return { ...s };
          },
        };
      }
    },

    restore: (ctx: RestoreContext): Promise<RestoreResult> => restoreFiles(ctx, restoreSettings(ctx, restoreDefaults)),

    preview: (ctx: RestoreContext): Promise<RestorePreview> => previewFiles(ctx, restoreSettings(ctx, restoreDefaults)),

    restoreTest: (ctx: RestoreContext): Promise<RestoreTestResult> => restoreTestFiles(ctx),
  };
  return source;
}
