import type { Readable } from "node:stream";
import { Readable as ReadableStream } from "node:stream";
import { type StrongboxEventName, type StrongboxEvents, TypedEmitter } from "../events.js";
import { type HealthOptions, type HealthProbe, type HealthReport, runHealth } from "../health/health.js";
import { pinnedKey } from "../manifest/layout.js";
import type { BackupManifest, BackupSummary } from "../manifest/types.js";
import { attachNotifiers } from "../notify/dispatch.js";
import { createSchedule } from "../schedule/scheduler.js";
import type { Schedule, ScheduleOptions } from "../schedule/types.js";
import { type BackupOptions, runBackup } from "./backup.js";
import { findBackup, type ListOptions, listBackups } from "./catalog.js";
import { runExport } from "./export.js";
import type { StrongboxOptions } from "./options.js";
import { type PruneOptions, type PruneReport, runPrune } from "./prune.js";
import { deleteBackupObjects } from "./remove.js";
import { type RestoreOptions, type RestoreReport, runRestore } from "./restore.js";
import { createState } from "./state.js";
import { runVerify, type VerifyOptions, type VerifyResult } from "./verify.js";

/**
 * The manager: every operation on a set of sources, storages and transforms. Operations are
 * independent and can run concurrently (backups get distinct ids). A scheduler drives `backup`,
 * `prune` and `verify` from outside and registers its own health probe with `addHealthProbe`.
 */
export interface Strongbox {
  /** Backs up every source (or `components`) and resolves to the manifest once it is written. */
  backup(options?: BackupOptions): Promise<BackupManifest>;
  /** Complete backups (and incomplete ones on request), newest first, from key listings alone. */
  list(options?: ListOptions): Promise<BackupSummary[]>;
  /** The manifest of a backup id or `"latest"`. E_NOT_FOUND when missing or incomplete. */
  get(id: string, options?: { storage?: number; signal?: AbortSignal }): Promise<BackupManifest>;
  verify(id: string, options?: VerifyOptions): Promise<VerifyResult>;
  restore(id: string, options?: RestoreOptions): Promise<RestoreReport>;
  prune(options?: PruneOptions): Promise<PruneReport>;
  /** Deletes a backup from every storage (manifest first). E_NOT_FOUND if no storage has it. */
  delete(
    id: string,
    options?: { signal?: AbortSignal },
  ): Promise<{ id: string; skipped: Array<{ key: string; reason: string }> }>;
  /** The whole backup as one tar stream, as stored (still encrypted). */
  export(id: string, options?: { storage?: number; signal?: AbortSignal }): Promise<Readable>;
  health(options?: HealthOptions): Promise<HealthReport>;
  /** Keeps a backup forever: retention never removes a pinned backup. */
  pin(id: string): Promise<void>;
  unpin(id: string): Promise<void>;
  addHealthProbe(probe: HealthProbe): void;
  /**
   * Starts backing up on a cron schedule (with retries, no overlap, catch-up, optional lock, verify
   * and prune). Keep the returned {@link Schedule} to stop it.
   */
  schedule(options: ScheduleOptions): Schedule;
  on<E extends StrongboxEventName>(event: E, listener: (payload: StrongboxEvents[E]) => void): Strongbox;
  once<E extends StrongboxEventName>(event: E, listener: (payload: StrongboxEvents[E]) => void): Strongbox;
  off<E extends StrongboxEventName>(event: E, listener: (payload: StrongboxEvents[E]) => void): Strongbox;
  /** Closes sources and storages (connections they opened themselves). */
  close(): Promise<void>;
}

export function createStrongbox(options: StrongboxOptions): Strongbox {
  const emitter = new TypedEmitter();
  const state = createState(options, emitter);
  const probes: HealthProbe[] = [];
  const schedules = new Set<Schedule>();
  const notifications = attachNotifiers(emitter, state.notifiers);

  const box: Strongbox = {
    backup: (o) => runBackup(state, o),
    list: (o) => listBackups(state, o),
    get: async (id, o) => (await findBackup(state, id, o)).manifest,
    verify: (id, o) => runVerify(state, id, o),
    restore: (id, o) => runRestore(state, id, o),
    prune: (o) => runPrune(state, o),
    async delete(id, o = {}) {
      const { manifest } = await findBackup(state, id, o);
      const skipped: Array<{ key: string; reason: string }> = [];
      for (const storage of state.storages) {
        const r = await deleteBackupObjects(storage, manifest.id, o.signal);
        if (r.skipped) skipped.push(...r.skipped);
      }
      return { id: manifest.id, skipped };
    },
    export: (id, o) => runExport(state, id, o),
    health: (o) => runHealth(state, o, probes),
    async pin(id) {
      const { manifest, storage } = await findBackup(state, id);
      await storage.put(pinnedKey(manifest.id), ReadableStream.from([Buffer.alloc(0)]), { size: 0 });
    },
    async unpin(id) {
      const { manifest } = await findBackup(state, id);
      for (const storage of state.storages) await storage.delete([pinnedKey(manifest.id)]);
    },
    addHealthProbe: (probe) => {
      probes.push(probe);
    },
    schedule(o) {
      const schedule = createSchedule(state, o, { addHealthProbe: box.addHealthProbe, notifications });
      schedules.add(schedule);
      return schedule;
    },
    on(event, listener) {
      emitter.on(event, listener);
      return box;
    },
    once(event, listener) {
      emitter.once(event, listener);
      return box;
    },
    off(event, listener) {
      emitter.off(event, listener);
      return box;
    },
    async close() {
      // Schedules first: a run in flight must not outlive the sources and storages it uses.
      await Promise.all([...schedules].map((s) => s.stop({ abort: true })));
      schedules.clear();
      await Promise.allSettled([
        ...[...state.sources.values()].map((s) => s.close?.()),
        ...state.storages.map((s) => s.close?.()),
      ]);
    },
  };
  return box;
}
