import type { Logger } from "../contracts/common.js";
import type { Source } from "../contracts/source.js";
import type { Storage } from "../contracts/storage.js";
import type { Transform } from "../contracts/transform.js";
import type { Notifier } from "../notify/types.js";
import type { RetentionPolicy } from "../retention/index.js";

export interface StrongboxOptions {
  /** What to back up. Names must be unique; they become component folders and manifest entries. */
  sources: Source[];
  /**
   * Where backups go. An array writes every backup to each destination from ONE read of each
   * source; reads (list, restore, verify) use the first storage that holds the backup.
   */
  storage: Storage | Storage[];
  /** Applied in order on backup (e.g. `[gzip(), encrypt({ recipients })]`), undone in reverse on restore. @default [] */
  transforms?: Transform[];
  /** Retention for `prune()`. Without one, prune removes no complete backup. */
  retention?: RetentionPolicy;
  /** How many sources are backed up at the same time. @default 2 */
  concurrency?: number;
  /**
   * With several storages: `false` fails the backup when any destination fails; `true` lets it
   * complete on the destinations that succeeded (each failure is reported as a warning).
   * @default false
   */
  allowPartialStorage?: boolean;
  /** How long an incomplete backup (no manifest) is left alone before prune removes it. @default "24h" */
  incompleteGracePeriod?: string | number;
  /** Run each source's `check()` before backing it up. @default true */
  preflight?: boolean;
  /** Receives redacted log lines. @default a stderr logger at "warn" */
  logger?: Logger;
  /**
   * Where outcome notifications go (`webhook()`, `slack()` or your own {@link Notifier}); each gets
   * failures only unless its `events` say otherwise. A notifier that fails or hangs never fails or
   * delays an operation: it is reported as a `warning` event.
   * @default []
   */
  notifiers?: Notifier[];
}
