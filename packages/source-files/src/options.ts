/** How `restore()` treats what is already at the destination. */
export type RestoreMode = "replace" | "merge";

/** In `merge` mode, what to do with a file that already exists at the destination. */
export type ExistingPolicy = "overwrite" | "skip" | "fail";

/** Restore behaviour; every field can also be given per restore in `targets: { files: { … } }`. */
export interface FilesRestoreOptions {
  /**
   * `"replace"`: the destination ends up holding exactly the backed-up content. The archive is
   * extracted into a staging directory next to the destination and swapped in with renames; the
   * old content is removed only after the swap, so a failed restore leaves it untouched.
   * `"merge"`: the backed-up files are added to what is there; see `existing`.
   * @default "replace"
   */
  mode?: RestoreMode;
  /**
   * In `merge` mode: `"overwrite"` replaces existing files, `"skip"` keeps them, `"fail"` refuses
   * the restore with `E_CONFLICT` (naming the first existing file) before anything is written.
   * @default "overwrite"
   */
  existing?: ExistingPolicy;
  /**
   * Accept symbolic links whose target points outside the destination (absolute targets such as
   * `/usr/share/zoneinfo/UTC`, or `../..` escapes). Off by default because a hostile archive can
   * use them to reach files outside the restore directory; even when on, nothing is ever written
   * THROUGH a symlink.
   * @default false
   */
  allowExternalSymlinks?: boolean;
  /**
   * Restore the numeric owner and group recorded in the archive (`chown`). Only root can do this,
   * so it defaults to whether the process runs as root — the same default as GNU tar.
   * @default process.getuid() === 0
   */
  preserveOwner?: boolean;
}

/** Options of {@link files}. */
export interface FilesOptions {
  /**
   * Component name in manifests and in `targets`; unique per manager.
   * @default "files"
   */
  name?: string;
  /**
   * Files or directories to back up. Each becomes one tar artifact named after its base name
   * (`/srv/app/uploads` → `uploads.tar`; a second `…/uploads` → `uploads-2.tar`). Relative paths
   * are resolved against the working directory at construction.
   */
  paths: string[];
  /**
   * Glob patterns (picomatch syntax) of entries to leave out, matched against the path relative
   * to each backed-up path (`"cache/**"`, `"*.tmp"`). A pattern without `/` matches the base name
   * at any depth (`"node_modules"`); an excluded directory is not descended into.
   * @default []
   */
  exclude?: string[];
  /**
   * Store what symbolic links point to instead of the links themselves. Directory cycles are
   * detected and skipped. The backed-up paths themselves are always followed.
   * @default false
   */
  followSymlinks?: boolean;
  /** Default restore behaviour (overridable per restore through the target). */
  restore?: FilesRestoreOptions;
}

/** The target overrides `restore()`, `preview()` and `backup()` (safety backup) understand. */
export interface FilesTarget extends FilesRestoreOptions {
  /**
   * Restore into this directory instead of the original paths. With one backed-up path it is
   * where that path's content goes; with several, each goes into `directory/<artifact name>`.
   */
  directory?: string;
}
