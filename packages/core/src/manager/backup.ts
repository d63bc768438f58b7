import { Readable } from "node:stream";
import pLimit from "p-limit";
import type { TargetOverrides } from "../contracts/common.js";
import type { ArtifactRecord, BackupContext, ComponentRecord, Source } from "../contracts/source.js";
import { isAbortError, StrongboxError, wrapError } from "../errors.js";
import { serializeManifest } from "../manifest/codec.js";
import { artifactKey, assertArtifactName, assertTag, manifestKey, newBackupId, tagKey } from "../manifest/layout.js";
import { type BackupManifest, MANIFEST_FORMAT } from "../manifest/types.js";
import type { Destination } from "../pipeline/fan-out.js";
import { storeArtifact } from "../pipeline/store-artifact.js";
import { VERSION } from "../version.js";
import { deleteBackupObjects } from "./remove.js";
import { linkSignals, type ManagerState, progressReporter } from "./state.js";

export interface BackupOptions {
  /** Component (source) names to back up. @default all sources */
  components?: string[];
  tags?: string[];
  description?: string;
  signal?: AbortSignal;
}

/** Used by restore for safety backups: back up restore targets, not the configured stores. */
export interface InternalBackupOptions {
  targets?: Record<string, TargetOverrides>;
  safetyFor?: BackupManifest["safetyFor"];
  /** Only these storages (indexes). @default all */
  storages?: number[];
}

export function selectSources(state: ManagerState, names: string[] | undefined): Source[] {
  if (!names || names.length === 0) return [...state.sources.values()];
  return names.map((n) => {
    const s = state.sources.get(n);
    if (!s)
      throw new StrongboxError(
        "E_CONFIG",
        `no source named "${n}" (configured: ${[...state.sources.keys()].join(", ") || "none"})`,
      );
    return s;
  });
}

export async function runBackup(
  state: ManagerState,
  options: BackupOptions = {},
  internal: InternalBackupOptions = {},
): Promise<BackupManifest> {
  const sources = selectSources(state, options.components);
  if (sources.length === 0) throw new StrongboxError("E_CONFIG", "nothing to back up: no sources configured");
  const tags = [...new Set(options.tags ?? [])].map(assertTag);
  const startedAt = new Date();
  const id = newBackupId(startedAt);
  const controller = linkSignals(options.signal);
  const destinations: Destination[] = (internal.storages ?? state.storages.map((_, i) => i)).map((index) => ({
    index,
    storage: state.storages[index]!,
  }));
  const names = sources.map((s) => s.name);
  state.emitter.emit("backup:started", { id, components: names });
  state.logger.info(`backup ${id} started`, { components: names });

  try {
    const limit = pLimit(state.concurrency);
    const components = await Promise.all(
      sources.map((source) =>
        limit(async () => {
          try {
            return await backupComponent(
              state,
              source,
              id,
              destinations,
              controller.signal,
              internal.targets?.[source.name],
            );
          } catch (err) {
            // Stop the other sources at once: the backup has failed anyway.
            if (!controller.signal.aborted) controller.abort(err);
            throw err;
          }
        }),
      ),
    );
    const manifest: BackupManifest = {
      format: MANIFEST_FORMAT,
      id,
      status: "completed",
      startedAt: startedAt.toISOString(),
      completedAt: new Date().toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      tags,
      ...(options.description ? { description: options.description } : {}),
      host: state.host,
      tool: { name: "strongbox", version: VERSION },
      ...(internal.safetyFor ? { safetyFor: internal.safetyFor } : {}),
      components,
    };
    await writeManifest(state, destinations, manifest, controller.signal);
    state.emitter.emit("backup:completed", { id, manifest, durationMs: manifest.durationMs });
    state.logger.info(`backup ${id} completed`, { durationMs: manifest.durationMs });
    return manifest;
  } catch (raw) {
    const reason =
      controller.signal.aborted && options.signal?.aborted
        ? new StrongboxError("E_ABORTED", `backup ${id} aborted`, { cause: raw })
        : raw;
    const error = wrapError(reason, "E_SOURCE", "core", `backup ${id}`);
    // Nothing of a failed backup may look complete: remove what was written, manifest first.
    await Promise.all(destinations.map((d) => deleteBackupObjects(d.storage, id).catch(() => undefined)));
    state.emitter.emit("backup:failed", { id, error, durationMs: Date.now() - startedAt.getTime() });
    state.logger.error(`backup ${id} failed: ${error.message}`, { code: error.code });
    throw error;
  }
}

async function backupComponent(
  state: ManagerState,
  source: Source,
  id: string,
  destinations: Destination[],
  signal: AbortSignal,
  target: TargetOverrides | undefined,
): Promise<ComponentRecord> {
  const startedAt = new Date();
  const ctx: BackupContext = {
    backupId: id,
    signal,
    logger: state.logger,
    ...(target ? { target } : {}),
    progress: (u) =>
      state.emitter.emit("progress", { phase: "backup", component: source.name, ...u, bytes: u.bytes ?? 0 }),
  };
  const fail = (err: unknown, what: string) => {
    if (signal.aborted && !(err instanceof StrongboxError))
      return new StrongboxError("E_ABORTED", `${what}: aborted`, { adapter: source.type, cause: err });
    return wrapError(err, isAbortError(err) ? "E_ABORTED" : "E_SOURCE", source.type, what);
  };
  try {
    if (state.preflight && source.check && !target) await source.check(ctx);
  } catch (err) {
    throw fail(err, `preflight check of "${source.name}" failed`);
  }
  let stats: ComponentRecord["stats"];
  try {
    stats = source.inspect ? await source.inspect(target ? { ...ctx, target } : ctx) : undefined;
  } catch (err) {
    throw fail(err, `inspecting "${source.name}"`);
  }

  const extensions = state.transforms.map((t) => t.extension).join("");
  const transformRecords = state.transforms.map((t) => t.describe());
  const artifacts: ArtifactRecord[] = [];
  try {
    for await (const artifact of source.backup(ctx)) {
      assertArtifactName(artifact.name, source.type);
      if (artifacts.some((a) => a.name === artifact.name)) {
        artifact.stream.destroy();
        throw new StrongboxError("E_SOURCE", `"${source.name}" produced two artifacts named "${artifact.name}"`, {
          adapter: source.type,
        });
      }
      if (!(artifact.stream instanceof Readable))
        throw new StrongboxError("E_SOURCE", `artifact "${artifact.name}" has no readable stream`, {
          adapter: source.type,
        });
      const key = artifactKey(id, source.name, artifact.name, extensions);
      const progress = progressReporter(state, { phase: "backup", component: source.name, artifact: artifact.name });
      const live = destinations.filter((d) => !d.error);
      const stored = await storeArtifact(artifact.stream, key, state.transforms, live, {
        signal,
        allowPartial: state.allowPartialStorage,
        onBytes: progress.onBytes,
      });
      for (const d of live) {
        if (d.error) {
          state.emitter.emit("warning", {
            component: source.name,
            message: `storage ${d.storage.location} failed and was dropped from backup ${id}: ${d.error.message}`,
          });
        }
      }
      if (artifact.done) await artifact.done();
      progress.finish(stored.plainSize);
      const meta = { ...artifact.meta };
      artifacts.push({
        name: artifact.name,
        key,
        ...stored,
        transforms: transformRecords,
        ...(Object.keys(meta).length ? { meta } : {}),
      });
    }
  } catch (err) {
    throw fail(err, `backing up "${source.name}"`);
  }
  return {
    name: source.name,
    type: source.type,
    ...(stats?.version ? { version: stats.version } : {}),
    ...(stats ? { stats } : {}),
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    artifacts,
  };
}

/** Tag and pin markers first, the manifest LAST, on every destination still standing. */
async function writeManifest(
  state: ManagerState,
  destinations: Destination[],
  manifest: BackupManifest,
  signal: AbortSignal,
): Promise<void> {
  const body = serializeManifest(manifest);
  // Destinations dropped earlier (allowPartialStorage) keep no leftovers of this backup.
  await Promise.all(
    destinations.filter((d) => d.error).map((d) => deleteBackupObjects(d.storage, manifest.id).catch(() => undefined)),
  );
  await Promise.all(
    destinations
      .filter((d) => !d.error)
      .map(async (d) => {
        try {
          for (const tag of manifest.tags)
            await d.storage.put(tagKey(manifest.id, tag), Readable.from([Buffer.alloc(0)]), { signal, size: 0 });
          await d.storage.put(manifestKey(manifest.id), Readable.from([body]), { signal, size: body.length });
        } catch (err) {
          d.error = wrapError(
            err,
            "E_STORAGE",
            d.storage.type,
            `writing the manifest of ${manifest.id} to ${d.storage.location}`,
          );
          if (!state.allowPartialStorage) throw d.error;
          state.emitter.emit("warning", {
            message: `storage ${d.storage.location} failed and was dropped from backup ${manifest.id}: ${d.error.message}`,
          });
          await deleteBackupObjects(d.storage, manifest.id).catch(() => undefined);
        }
      }),
  );
  if (destinations.every((d) => d.error)) throw destinations[0]!.error!;
}
