import { type BackupContext, type SourceArtifact, StrongboxError } from "@strongbox/core";
import type { SnapshotDescription } from "./api.js";
import type { Deps } from "./context.js";
import { ADAPTER, toStrongbox } from "./http.js";
import { livePairs, missingCollection } from "./inspect.js";
import { SnapshotCheck } from "./snapshot-check.js";
import { SNAPSHOT_EXT } from "./targets.js";

/**
 * One artifact per collection: Qdrant makes a snapshot file (`wait=true`), we stream its
 * download through a checksum check into the pipeline, then delete it from the server.
 */
export async function* backup(deps: Deps, ctx: BackupContext): AsyncGenerator<SourceArtifact> {
  const pairs = await livePairs(deps, ctx.signal, ctx.target);
  for (const { logical, physical } of pairs) {
    const info = await deps.api.collection(physical, ctx.signal);
    if (!info) {
      // A safety backup protects what exists; a missing target collection has nothing to keep.
      if (ctx.target) {
        ctx.logger.debug(`qdrant: collection "${physical}" does not exist; nothing to back up`);
        continue;
      }
      throw missingCollection(physical, deps.http.where);
    }
    ctx.progress({ message: `creating a snapshot of collection "${physical}"` });
    const snapshot = await deps.api.createSnapshot(physical, ctx.signal);
    let check: SnapshotCheck | undefined;
    try {
      check = await openDownload(deps, ctx, physical, snapshot);
      const meta: Record<string, unknown> = {
        collection: physical,
        snapshot: snapshot.name,
        size: snapshot.size,
        ...(snapshot.checksum ? { checksum: snapshot.checksum } : {}),
        ...(snapshot.creation_time ? { creationTime: snapshot.creation_time } : {}),
      };
      yield { name: `${logical}${SNAPSHOT_EXT}`, stream: check, meta };
    } finally {
      // Also reached when the consumer gives up early (abort, storage failure): free the socket.
      if (check && !check.readableEnded) check.destroy();
      if (!deps.options.keepSnapshots) {
        // A fresh signal: the snapshot must go even when the backup was aborted.
        await deps.api.deleteSnapshot(physical, snapshot.name, AbortSignal.timeout(60_000)).catch((err: unknown) => {
          ctx.logger.warn(
            `qdrant: could not delete snapshot ${snapshot.name} of "${physical}" from the server: ${toStrongbox(err, "DELETE snapshot", deps.http.where).message}`,
          );
        });
      }
    }
  }
}

async function openDownload(
  deps: Deps,
  ctx: BackupContext,
  collection: string,
  snapshot: SnapshotDescription,
): Promise<SnapshotCheck> {
  const path = `/collections/${encodeURIComponent(collection)}/snapshots/${encodeURIComponent(snapshot.name)}`;
  const { body } = await deps.http.download({ path, signal: ctx.signal });
  const check = new SnapshotCheck(snapshot, collection);
  // A socket dropped mid-download must fail the artifact as E_SOURCE, never end it short.
  body.on("error", (err: unknown) => {
    if (ctx.signal.aborted) return check.destroy(toStrongbox(err, `GET ${path}`, deps.http.where, ctx.signal));
    const e = err as { code?: string; message?: string };
    check.destroy(
      new StrongboxError(
        "E_SOURCE",
        `the download of snapshot ${snapshot.name} of collection "${collection}" from ${deps.http.where} broke off after ${check.bytes} of ${snapshot.size} bytes${e?.code ? ` (${e.code})` : ""}: ${e?.message ?? String(err)}`,
        { adapter: ADAPTER, cause: err },
      ),
    );
  });
  check.on("close", () => {
    if (!body.destroyed) body.destroy();
  });
  body.pipe(check);
  return check;
}
