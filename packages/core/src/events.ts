import { EventEmitter } from "node:events";
import type { ProgressUpdate } from "./contracts/common.js";
import type { StrongboxError } from "./errors.js";
import type { BackupManifest } from "./manifest/types.js";
import type { RunRecord, RunTrigger, SkipReason } from "./schedule/types.js";

/** Every event a manager emits, with its payload. */
export interface StrongboxEvents {
  "backup:started": { id: string; components: string[] };
  "backup:completed": { id: string; manifest: BackupManifest; durationMs: number };
  "backup:failed": { id: string; error: StrongboxError; durationMs: number };
  "restore:started": { id: string; components: string[]; dryRun: boolean };
  "restore:completed": { id: string; components: string[]; durationMs: number };
  "restore:failed": { id: string; error: StrongboxError; rolledBack: boolean };
  "verify:completed": { id: string; ok: boolean; mode: string };
  "prune:completed": { removed: string[]; kept: number; dryRun: boolean };
  progress: ProgressUpdate;
  warning: { message: string; component?: string };
  /** A scheduled (or `runNow()`) run began: before its jitter wait and lock. */
  "schedule:run-started": { run: number; trigger: RunTrigger; scheduledAt?: Date };
  /** The run's backup was written (and verified and pruned when asked). */
  "schedule:run-completed": { run: number; trigger: RunTrigger; backupId: string; record: RunRecord };
  /** The run failed after its retries (or was aborted: `error.code === "E_ABORTED"`). */
  "schedule:run-failed": { run: number; trigger: RunTrigger; error: StrongboxError; record: RunRecord };
  /** A tick did not run: a run was in flight, another replica holds the lock, or its backup already exists. */
  "schedule:skipped": { trigger: RunTrigger; reason: SkipReason; message: string; scheduledAt?: Date; code?: string };
}

export type StrongboxEventName = keyof StrongboxEvents;

/** A typed EventEmitter. Listener exceptions are reported as warnings, never break a backup. */
export class TypedEmitter {
  readonly #emitter = new EventEmitter();

  constructor() {
    this.#emitter.setMaxListeners(100);
  }

  on<E extends StrongboxEventName>(event: E, listener: (payload: StrongboxEvents[E]) => void): this {
    this.#emitter.on(event, listener as (p: unknown) => void);
    return this;
  }

  once<E extends StrongboxEventName>(event: E, listener: (payload: StrongboxEvents[E]) => void): this {
    this.#emitter.once(event, listener as (p: unknown) => void);
    return this;
  }

  off<E extends StrongboxEventName>(event: E, listener: (payload: StrongboxEvents[E]) => void): this {
    this.#emitter.off(event, listener as (p: unknown) => void);
    return this;
  }

  emit<E extends StrongboxEventName>(event: E, payload: StrongboxEvents[E]): void {
    for (const listener of this.#emitter.listeners(event)) {
      try {
        (listener as (p: unknown) => void)(payload);
      } catch (err) {
        if (event !== "warning")
          this.emit("warning", { message: `a "${event}" listener threw: ${(err as Error).message}` });
      }
    }
  }
}
