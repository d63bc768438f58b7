import type { Cluster, RedisOptions as IORedisOptions, Redis } from "ioredis";

/** Options of {@link redis}. Give exactly one of `url`, `client` or `options`. */
export interface RedisOptions {
  /**
   * Component name in manifests; unique within a manager.
   * @default "redis"
   */
  name?: string;
  /**
   * Connection URL: `redis://[[user]:password@]host[:port][/db]`, `rediss://` for TLS. The password
   * is registered as a secret and never logged.
   */
  url?: string;
  /**
   * A ready ioredis client — `Redis` (standalone or Sentinel) or `Cluster`. Strongbox never closes
   * it and never changes its selected db: it opens its own connections with `duplicate()` for the
   * work, and closes those.
   */
  client?: Redis | Cluster;
  /**
   * ioredis options for a standalone or Sentinel connection (`host`, `port`, `username`, `password`,
   * `tls`, `sentinels` + `name`, …). Passwords are registered as secrets.
   */
  options?: IORedisOptions;
  /**
   * `"scan"`: a logical backup (SCAN + DUMP + PTTL) into the `.sbrd` format, restorable by
   * `restore()` into any Redis of the same or a newer RDB version, any db, any topology.
   * `"rdb"`: a point-in-time RDB file through replication (`redis-cli --rdb -`); needs `redis-cli`
   * and a server that allows `SYNC` (managed services often do not). Restorable only as a file:
   * `restore()` refuses it and explains how.
   * @default "scan"
   */
  mode?: "scan" | "rdb";
  /**
   * SCAN MATCH glob; only matching keys are backed up.
   * @default undefined (every key)
   */
  match?: string;
  /**
   * Key types to keep ("string", "hash", "list", "set", "zset", "stream", or a module type name).
   * @default undefined (every type)
   */
  types?: string[];
  /**
   * Logical databases to back up (standalone only).
   * @default the db in `url`'s path (`redis://host/3` → [3]); otherwise every db that holds keys, from INFO keyspace
   */
  databases?: number[];
  /**
   * Keys per pipelined DUMP/PEXPIRETIME batch, and per RESTORE batch. Memory is bounded by one batch
   * (its largest values) on backup and by `restoreConcurrency` batches on restore.
   * @default 1000
   */
  batchSize?: number;
  /**
   * COUNT hint given to SCAN.
   * @default 1000
   */
  scanCount?: number;
  /**
   * Restore expiries as recorded (`"absolute"`: a key that expired at 10:00 still expires at 10:00,
   * and keys whose time has passed are skipped) or as the time that was left when the key was backed
   * up (`"relative"`: 5 minutes left at backup → 5 minutes after restore).
   * @default "absolute"
   */
  ttlMode?: "absolute" | "relative";
  /**
   * `"db"`: FLUSHDB every target database before restoring into it, so the target equals the backup.
   * `"none"`: keep keys that are not in the backup (backed-up keys still replace existing ones).
   * Overridable per restore with `targets: { redis: { flush } }`.
   * @default "none"
   */
  flush?: "none" | "db";
  /**
   * RESTORE batches in flight at once (bounded so a fast artifact reader cannot outrun Redis).
   * @default 4
   */
  restoreConcurrency?: number;
  /**
   * Keys whose restored value is compared with the backup by `restoreTest()`.
   * @default 100
   */
  sampleSize?: number;
  /**
   * `redis-cli` executable used by `mode: "rdb"`.
   * @default "redis-cli"
   */
  redisCli?: string;
  /**
   * Extra `redis-cli` arguments for `mode: "rdb"` (e.g. `["--tls", "--cacert", "/etc/ca.pem"]`).
   * Never put a password here: it would show in `ps`; the password goes through `REDISCLI_AUTH`.
   * @default []
   */
  redisCliArgs?: string[];
}

/** Restore-time overrides: `box.restore(id, { targets: { redis: { … } } })`. */
export interface RedisTarget {
  /**
   * Database to restore into. With several databases in the backup, use `dbMap` instead (a `db`
   * then is an E_CONFIG error, since merging databases is rarely what anyone wants).
   */
  db?: number;
  /** Source db → target db, e.g. `{ 0: 5, 1: 6 }`. Unmapped databases keep their number. */
  dbMap?: Record<string | number, number>;
  /** Restore into another server (standalone); its password is registered as a secret. */
  url?: string;
  /** Overrides {@link RedisOptions.flush} for this restore. */
  flush?: "none" | "db";
  /** Overrides {@link RedisOptions.ttlMode} for this restore. */
  ttlMode?: "absolute" | "relative";
}

export interface ResolvedOptions {
  name: string;
  mode: "scan" | "rdb";
  match: string | undefined;
  types: string[] | undefined;
  databases: number[] | undefined;
  batchSize: number;
  scanCount: number;
  ttlMode: "absolute" | "relative";
  flush: "none" | "db";
  restoreConcurrency: number;
  sampleSize: number;
  redisCli: string;
  redisCliArgs: string[];
}
