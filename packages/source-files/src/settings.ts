import type { ArtifactRecord, RestoreContext } from "@strongbox/core";
import { StrongboxError } from "@strongbox/core";
import { type ArtifactMeta, artifactBase, destinationFor } from "./layout.js";
import type { ExistingPolicy, FilesOptions, FilesRestoreOptions, FilesTarget, RestoreMode } from "./options.js";
import { ADAPTER } from "./walk.js";

function configError(message: string): StrongboxError {
  return new StrongboxError("E_CONFIG", message, { adapter: ADAPTER });
}

export function validateOptions(options: FilesOptions): void {
  if (!options || typeof options !== "object") throw configError('files() needs an options object with "paths"');
  if (!Array.isArray(options.paths) || options.paths.length === 0)
    throw configError('files() is missing required option "paths" (a non-empty array of file or directory paths)');
  for (const p of options.paths)
    if (typeof p !== "string" || p === "")
      throw configError(`files(): every entry of "paths" must be a non-empty string, got ${JSON.stringify(p)}`);
  if (
    options.exclude !== undefined &&
    (!Array.isArray(options.exclude) || options.exclude.some((e) => typeof e !== "string" || e === ""))
  ) {
    throw configError('files(): "exclude" must be an array of non-empty glob strings');
  }
  if (options.name !== undefined && (typeof options.name !== "string" || options.name === ""))
    throw configError('files(): "name" must be a non-empty string');
  validateRestore(options.restore ?? {});
}

export function validateRestore(t: { mode?: unknown; existing?: unknown; directory?: unknown }): void {
  if (t.mode !== undefined && t.mode !== "replace" && t.mode !== "merge")
    throw configError(`files(): restore mode must be "replace" or "merge", got ${JSON.stringify(t.mode)}`);
  if (t.existing !== undefined && !["overwrite", "skip", "fail"].includes(t.existing as string)) {
    throw configError(`files(): "existing" must be "overwrite", "skip" or "fail", got ${JSON.stringify(t.existing)}`);
  }
  if (t.directory !== undefined && (typeof t.directory !== "string" || t.directory === ""))
    throw configError('files(): target "directory" must be a non-empty path');
}

export function metaOf(record: ArtifactRecord): ArtifactMeta {
  const meta = record.meta as Partial<ArtifactMeta> | undefined;
  if (!meta || typeof meta.path !== "string" || (meta.kind !== "file" && meta.kind !== "directory")) {
    throw new StrongboxError(
      "E_FORMAT",
      `artifact ${JSON.stringify(record.name)} has no files meta (path, kind) in the manifest: it was not made by files()`,
      { adapter: ADAPTER },
    );
  }
  return meta as ArtifactMeta;
}

/** The restore behaviour for one call: target overrides first, then the factory's defaults. */
export interface RestoreSettings {
  mode: RestoreMode;
  existing: ExistingPolicy;
  allowExternalSymlinks: boolean;
  preserveOwner: boolean;
  destinations: Array<{ record: ArtifactRecord; meta: ArtifactMeta; base: string; dest: string }>;
}

export function restoreSettings(ctx: RestoreContext, restoreDefaults: FilesRestoreOptions): RestoreSettings {
  const target = (ctx.target ?? {}) as FilesTarget;
  validateRestore(target);
  const mode: RestoreMode = target.mode ?? restoreDefaults.mode ?? "replace";
  const existing: ExistingPolicy = target.existing ?? restoreDefaults.existing ?? "overwrite";
  const allowExternalSymlinks = target.allowExternalSymlinks ?? restoreDefaults.allowExternalSymlinks ?? false;
  const preserveOwner = target.preserveOwner ?? restoreDefaults.preserveOwner ?? process.getuid?.() === 0;
  const artifacts = ctx.component.artifacts;
  const destinations = artifacts.map((record) => {
    const meta = metaOf(record);
    const base = artifactBase(record.name);
    return { record, meta, base, dest: destinationFor(meta, base, target.directory, artifacts.length) };
  });
  return { mode, existing, allowExternalSymlinks, preserveOwner, destinations };
}
