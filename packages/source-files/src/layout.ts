import { basename, join, resolve } from "node:path";

/** One backed-up path and the artifact it becomes. */
export interface PlannedPath {
  /** Absolute path as configured. */
  path: string;
  /** Artifact base name: the path's base name, deduplicated (`uploads`, `uploads-2`). */
  base: string;
  /** Artifact name: `<base>.tar`. */
  artifact: string;
}

/** Facts recorded with each artifact; restore reads them back from the manifest. */
export interface ArtifactMeta {
  /** Original absolute path. */
  path: string;
  /** Whether the path was a single file or a directory. */
  kind: "file" | "directory";
  /** Set when a safety backup found nothing at the target: restoring it means "nothing was there". */
  missing?: boolean;
  files?: number;
  bytes?: number;
  [key: string]: unknown;
}

/**
 * Artifact names must be stable across backups (restore matches them) and valid storage key
 * segments, so the root directory ("/") and dot names get a readable stand-in.
 */
export function planPaths(paths: string[]): PlannedPath[] {
  const used = new Map<string, number>();
  return paths.map((p) => {
    const abs = resolve(p);
    let name = basename(abs);
    if (name === "" || name === "." || name === "..") name = "root";
    const seen = used.get(name) ?? 0;
    used.set(name, seen + 1);
    const base = seen === 0 ? name : `${name}-${seen + 1}`;
    return { path: abs, base, artifact: `${base}.tar` };
  });
}

/** `uploads.tar` → `uploads`. */
export function artifactBase(artifactName: string): string {
  return artifactName.endsWith(".tar") ? artifactName.slice(0, -4) : artifactName;
}

/**
 * Where an artifact's content goes. For a directory artifact this is the directory whose content
 * it holds; for a single-file artifact, the file's own path.
 */
export function destinationFor(
  meta: Pick<ArtifactMeta, "path" | "kind">,
  base: string,
  directory: string | undefined,
  artifactCount: number,
): string {
  if (directory === undefined) return meta.path;
  const dir = resolve(directory);
  if (meta.kind === "file") return join(dir, artifactCount === 1 ? basename(meta.path) : base);
  return artifactCount === 1 ? dir : join(dir, base);
}
