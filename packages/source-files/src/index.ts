/**
 * @strongbox/source-files — files and directories backed up as plain tar streams.
 *
 *   files({ name: "uploads", paths: ["/srv/app/uploads"], exclude: ["*.tmp"] })
 */
export { files } from "./files.js";
export type { ArtifactMeta } from "./layout.js";
export type { ExistingPolicy, FilesOptions, FilesRestoreOptions, FilesTarget, RestoreMode } from "./options.js";
