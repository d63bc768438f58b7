import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pack } from "tar-stream";
import { wrapError } from "../errors.js";
import { serializeManifest } from "../manifest/codec.js";
import { VerifyingCounter } from "../pipeline/hash-counter.js";
import { findBackup } from "./catalog.js";
import type { ManagerState } from "./state.js";

/**
 * One tar stream holding a whole backup exactly as stored — `{id}/manifest.json` first, then every
 * artifact (still compressed/encrypted) — for downloads and moving backups between storages.
 * Stored bytes are checked against the manifest while they stream; a mismatch fails the tar.
 */
export async function runExport(
  state: ManagerState,
  idOrLatest: string,
  options: { storage?: number; signal?: AbortSignal } = {},
): Promise<Readable> {
  const { manifest, storage } = await findBackup(state, idOrLatest, options);
  const tar = pack();
  const write = async () => {
    const body = serializeManifest(manifest);
    tar.entry(
      { name: `${manifest.id}/manifest.json`, size: body.length, mode: 0o600, mtime: new Date(manifest.completedAt) },
      body,
    );
    for (const component of manifest.components) {
      for (const artifact of component.artifacts) {
        const entry = tar.entry({
          name: artifact.key,
          size: artifact.size,
          mode: 0o600,
          mtime: new Date(manifest.completedAt),
        });
        const stored = await storage.get(artifact.key, { signal: options.signal });
        await pipeline(
          stored,
          new VerifyingCounter({ size: artifact.size, sha256: artifact.sha256 }, `stored object ${artifact.key}`),
          entry,
          { signal: options.signal },
        );
      }
    }
    tar.finalize();
  };
  write().catch((err: unknown) => {
    tar.destroy(wrapError(err, "E_STORAGE", "core", `exporting ${manifest.id}`));
  });
  // tar-stream packs are streamx streams; wrap for a plain Node Readable (errors carry through).
  return Readable.from(tar, { objectMode: false });
}
