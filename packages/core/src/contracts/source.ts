import type { Readable } from "node:stream";
import type { Logger, OperationContext, TargetOverrides } from "./common.js";

/**
 * Counts an adapter reports about its data, recorded in the manifest at backup time and compared
 * after a restore or a restore test. Keep it small: it lives in every manifest.
 */
export interface SourceStats {
  /** Server or tool version ("15.19", "7.0.15", "1.12.4"). */
  version?: string;
  /** Comparable counts, by name: "public.users" → rows, "db0" → keys, "docs" → points. */
  counts?: Record<string, number>;
  /** Names in `counts` that are estimates rather than exact (e.g. large tables). */
  estimated?: string[];
  /** Anything else worth recording (sizes, configs). Never secrets. */
  info?: Record<string, unknown>;
}

/** One stream of a component's backup: one stored file under `{id}/{component}/{name}{ext…}`. */
export interface SourceArtifact {
  /** File name within the component folder: "app.dump", "globals.sql", "docs.snapshot". */
  name: string;
  /** The data. Consumed fully by the pipeline before the next artifact is requested. */
  stream: Readable;
  /**
   * Small JSON-able facts recorded with the artifact in the manifest (never secrets). Read after
   * the stream ended and `done()` resolved, so a source may fill it in while streaming (counts).
   */
  meta?: Record<string, unknown>;
  /**
   * Called by the pipeline after the stream ended and was stored. Reject here to fail the backup
   * when the producer failed after its stdout closed (e.g. pg_dump exiting non-zero). Whatever it
   * resolves with is ignored.
   */
  done?: () => Promise<unknown>;
}

export interface BackupContext extends OperationContext {
  /** Id of the backup being made. */
  readonly backupId: string;
  /**
   * When set, back up this target instead of the configured one (same shape as restore
   * targets). Used for the safety backup taken before a restore overwrites a target.
   * Only passed to sources declaring `capabilities.safetyBackup`.
   */
  readonly target?: TargetOverrides;
}

export interface ArtifactRecord {
  name: string;
  key: string;
  size: number;
  sha256: string;
  plainSize: number;
  plainSha256: string;
  transforms: Array<{ id: string; [param: string]: unknown }>;
  meta?: Record<string, unknown>;
}

export interface ComponentRecord {
  name: string;
  type: string;
  version?: string;
  stats?: SourceStats;
  startedAt: string;
  durationMs: number;
  artifacts: ArtifactRecord[];
}

export interface RestoreContext extends OperationContext {
  readonly backupId: string;
  /** The component as recorded in the manifest (stats, artifacts). */
  readonly component: ComponentRecord;
  /** User overrides for this component (`{ database }`, `{ db }`, `{ directory }`…), `{}` if none. */
  readonly target: TargetOverrides;
  /** True when the user passed `force`: sources may skip confirmations such as "target not empty". */
  readonly force: boolean;
  /**
   * True when this is a dry run. `preview()` is also called right before a real restore (to report
   * what is overwritten and whether there is anything to protect with a safety backup); there,
   * `dryRun` is false and a source may skip work that only a dry run needs (reading artifacts).
   */
  readonly dryRun: boolean;
  /**
   * Opens an artifact as decoded plaintext. Integrity is checked while streaming: a mismatch or
   * decryption failure destroys the stream with `E_INTEGRITY` / `E_DECRYPT` / `E_TRUNCATED` at the
   * point it is detected (possibly only at the end) — so an atomic source must not commit before
   * the stream ended cleanly. Non-atomic sources are verified by core before `restore()` runs.
   */
  open(artifactName: string): Promise<Readable>;
}

export interface RestoreResult {
  /** What the target holds after the restore, when the source can tell cheaply. */
  stats?: SourceStats;
  warnings?: string[];
  /** Free-form facts for reports ("keys skipped as expired": 3). */
  details?: Record<string, unknown>;
}

/** What a restore would do, computed without changing anything. */
export interface RestorePreview {
  /** Where it would restore, human-readable and without secrets ("db app on 127.0.0.1:5432"). */
  target: string;
  /** Whether the target currently exists / holds data. */
  exists: boolean;
  /** What would be replaced: one entry per table / db / collection / path. */
  replaces: Array<{ name: string; current?: number; incoming?: number; unit?: string }>;
  notes?: string[];
}

export interface RestoreTestResult {
  ok: boolean;
  checks: Array<{ name: string; ok: boolean; expected?: unknown; actual?: unknown; message?: string }>;
}

export interface SourceCapabilities {
  /** A backup is one consistent point in time (pg_dump snapshot, Qdrant snapshot). */
  pointInTime?: boolean;
  /** `restore()` applies all-or-nothing by itself (a transaction, a swap). */
  atomicRestore?: boolean;
  /** `backup()` honours `ctx.target`, so core can take a safety backup of a restore target. */
  safetyBackup?: boolean;
}

/**
 * A data store Strongbox can back up and restore.
 *
 * Guarantees an implementation must give:
 * - `backup()` yields artifacts one at a time; each stream is bounded in memory and stops (child
 *   processes killed, connections released) when `ctx.signal` aborts. A failure of the producer —
 *   even after some bytes were streamed — must surface as an error (destroy the stream, or reject
 *   in `done()`), never as a short artifact that looks complete.
 * - `restore()` reads only through `ctx.open()`. If it is not atomic, it must leave the target
 *   consistent enough for core to roll back to the safety backup.
 * - Errors are `StrongboxError`s (`E_SOURCE` for the store or tool failing, `E_CONFIG` for bad
 *   options, `E_CONFLICT` for a target the options refuse to overwrite) whose messages are
 *   redacted (no passwords, no connection secrets).
 */
export interface Source {
  /** Component name, unique within a manager: "postgres", "sessions", "uploads". */
  readonly name: string;
  /** Adapter id: "postgres", "redis", "qdrant", "files". */
  readonly type: string;
  readonly capabilities?: SourceCapabilities;

  /** Preflight: reachable, tools present, versions compatible. Throws E_SOURCE with a fix hint. */
  check?(ctx: OperationContext): Promise<void>;
  /**
   * Counts recorded in the manifest and compared after restore. During a backup it receives the
   * backup's context (with `backupId`) right before `backup()` of the same id, so a source can
   * count inside the same snapshot it then dumps (postgres exports one for pg_dump --snapshot).
   */
  inspect?(ctx: OperationContext & { target?: TargetOverrides; backupId?: string }): Promise<SourceStats>;
  backup(ctx: BackupContext): AsyncIterable<SourceArtifact>;
  restore(ctx: RestoreContext): Promise<RestoreResult>;
  /** Dry run: what `restore()` with the same context would replace. Must change nothing. */
  preview?(ctx: RestoreContext): Promise<RestorePreview>;
  /**
   * Restore drill: restore into a scratch target (scratch database, db, collection, directory),
   * compare with `ctx.component.stats`, and remove the scratch target whatever happens.
   */
  restoreTest?(ctx: RestoreContext): Promise<RestoreTestResult>;
  /** Releases connections the source created itself. */
  close?(): Promise<void>;
}

export type { Logger };
