import type { ComponentRecord } from "../contracts/source.js";

export const MANIFEST_FORMAT = "strongbox/1";
export const MANIFEST_FILE = "manifest.json";

/**
 * `{id}/manifest.json` — written LAST; its presence makes a backup complete. Holds everything
 * needed to verify and restore, and never a secret.
 */
export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  id: string;
  status: "completed";
  startedAt: string;
  completedAt: string;
  durationMs: number;
  tags: string[];
  description?: string;
  host: string;
  tool: { name: "strongbox"; version: string };
  /** Present on the safety backup core takes before a restore overwrites something. */
  safetyFor?: { backupId: string; components: string[] };
  components: ComponentRecord[];
}

/** What `list()` knows about a backup from key listings alone. */
export interface BackupSummary {
  id: string;
  /** Time encoded in the id. */
  time: Date;
  /** True when manifest.json is present. Incomplete backups are never restorable. */
  complete: boolean;
  /** Total stored bytes of every object under the backup. */
  size: number;
  components: string[];
  tags: string[];
  pinned: boolean;
  /** Index of each storage (in the manager's `storage` array) that holds a complete copy. */
  storages: number[];
}
