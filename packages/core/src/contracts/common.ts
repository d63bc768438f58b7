/** Shared pieces of every operation context. */

export interface Logger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

export interface ProgressUpdate {
  phase: "backup" | "restore" | "verify" | "export";
  /** Component (source name) the update belongs to. */
  component: string;
  /** Artifact name within the component, when the update is about one. */
  artifact?: string;
  /** Plaintext bytes processed so far for this artifact. */
  bytes: number;
  /** Expected total, when known (e.g. on restore, from the manifest). */
  totalBytes?: number;
  /** Free-form step description from an adapter ("restoring table x", "12000 keys"). */
  message?: string;
}

export interface OperationContext {
  /** Aborting it must stop the work promptly: streams destroyed, child processes killed. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Adapters may report steps; byte counts are reported by the pipeline itself. */
  progress(update: { artifact?: string; bytes?: number; totalBytes?: number; message?: string }): void;
}

/** Per-component overrides given by the user at restore time (`targets: { postgres: { database } }`). */
export type TargetOverrides = Record<string, unknown>;
