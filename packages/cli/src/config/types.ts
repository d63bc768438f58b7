import type { LogLevel, Notifier, RetentionPolicy, ScheduleOptions, Source, Storage, Transform } from "@strongbox/core";

/**
 * A source described by data instead of code, mapped to its adapter's factory. Every field other
 * than `type` is passed to the factory as an option (see each adapter's README).
 */
export type SourceSpec =
  | ({ type: "files"; name?: string; paths: string[]; exclude?: string[] } & Record<string, unknown>)
  | ({ type: "postgres"; name?: string; connectionString?: string } & Record<string, unknown>)
  | ({ type: "redis"; name?: string; url?: string } & Record<string, unknown>)
  | ({ type: "qdrant"; name?: string; url: string; apiKey?: string } & Record<string, unknown>);

/** A storage described by data: `local`, `s3`, `gcs` or `azure`. Other fields go to the factory. */
export type StorageSpec =
  | ({ type: "local"; directory: string } & Record<string, unknown>)
  | ({ type: "s3"; bucket: string; prefix?: string; region?: string; endpoint?: string } & Record<string, unknown>)
  | ({ type: "gcs"; bucket: string; prefix?: string } & Record<string, unknown>)
  | ({ type: "azure" | "azureBlob"; container?: string; prefix?: string; connectionString?: string } & Record<
      string,
      unknown
    >);

/** A transform described by data. */
export type TransformSpec =
  | { type: "gzip" /** zlib level 0–9. @default 6 */; level?: number }
  | {
      type: "zstd";
      /** zstd level 1–22. @default 3 */
      level?: number;
      /** `"native"` (node:zlib), `"binary"` (the zstd CLI) or `"auto"`. @default "auto" */
      engine?: "auto" | "native" | "binary";
      /** Path of the zstd binary. @default "zstd" */
      binary?: string;
    }
  | {
      type: "age" | "encrypt";
      /** `age1…` public keys to encrypt to. */
      recipients?: string[];
      /** Name of the environment variable holding the passphrase to encrypt with (instead of recipients). */
      passphraseEnv?: string;
      /** scrypt work factor (log2 N) for passphrase encryption. @default 18 */
      workFactor?: number;
    };

/** A notifier described by data: a JSON webhook or a Slack-compatible incoming webhook. */
export type NotifierSpec =
  | {
      type: "webhook";
      /** Endpoint receiving a JSON POST per event (treated as a secret). */
      url: string;
      /** Extra request headers (values treated as secrets). */
      headers?: Record<string, string>;
      /** Event types to send, or "all". @default failures only */
      events?: string[] | "all";
      timeoutMs?: number;
      name?: string;
    }
  | {
      type: "slack" /** Incoming-webhook URL (a secret). */;
      webhookUrl: string;
      events?: string[] | "all";
      timeoutMs?: number;
      name?: string;
    };

/** Health limits used by `strongbox health`. */
export interface HealthConfig {
  /** Newest complete backup must be younger than this ("26h", "2d"). */
  maxAge?: string | number;
  /** Total stored size must stay under this ("50GB"). */
  maxTotalSize?: string | number;
  /** At least this many complete backups. */
  minCount?: number;
}

/**
 * What `strongbox schedule` passes to `box.schedule()`: core's ScheduleOptions (see
 * @strongbox/core docs/scheduling.md), minus what the CLI owns (signals, abort), and with
 * `verify: true` accepted as "checksum" for JSON configs.
 */
export type ScheduleConfig = Omit<ScheduleOptions, "signal" | "handleSignals" | "verify"> & {
  verify?: ScheduleOptions["verify"] | true;
};

/** The contents of `strongbox.config.{ts,mts,mjs,js,json}`. */
export interface StrongboxConfig {
  /** What to back up: adapter instances (`postgres({...})`) or declarative objects (`{ type: "postgres", … }`). */
  sources: Array<Source | SourceSpec>;
  /** Where backups go: one storage or several (each backup is written to all). */
  storage: Storage | StorageSpec | Array<Storage | StorageSpec>;
  /** Applied in order on backup, undone in reverse on restore. @default [] */
  transforms?: Array<Transform | TransformSpec>;
  /** Where outcome notifications go: `webhook()` / `slack()` instances or `{ type: "webhook", url }` objects. */
  notifiers?: Array<Notifier | NotifierSpec>;
  /** Retention policy applied by `strongbox prune` (restic `forget` semantics). */
  retention?: RetentionPolicy;
  /** Limits checked by `strongbox health`. */
  health?: HealthConfig;
  /** The schedule run by `strongbox schedule`. */
  schedule?: ScheduleConfig;
  /** age identity file (`age-keygen` format) used to decrypt on restore, verify --mode decode, etc. */
  identityFile?: string;
  /** Name of the environment variable holding the age passphrase used to decrypt. */
  passphraseEnv?: string;
  /** How many sources are backed up at the same time. @default 2 */
  concurrency?: number;
  /** With several storages, let a backup complete on the ones that succeeded. @default false */
  allowPartialStorage?: boolean;
  /** How long an incomplete backup is left alone before prune removes it. @default "24h" */
  incompleteGracePeriod?: string | number;
  /** Run each source's preflight check before backing it up. @default true */
  preflight?: boolean;
  /** Log level of the SDK's log lines on stderr. @default "warn" */
  logLevel?: LogLevel;
}

/** Identity function that gives a config file types and editor completion. */
export function defineConfig<T extends StrongboxConfig>(config: T): T {
  return config;
}
