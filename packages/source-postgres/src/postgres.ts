import type {
  BackupContext,
  OperationContext,
  RestoreContext,
  Source,
  SourceStats,
  TargetOverrides,
} from "@strongbox/core";
import { StrongboxError } from "@strongbox/core";
import { backupArtifacts } from "./backup.js";
import {
  ADAPTER,
  applyTarget,
  type ConnParams,
  databaseName,
  describeParams,
  resolveBaseParams,
} from "./connection.js";
import { type Queryable, serverVersion, withDb } from "./db.js";
import type { PostgresOptions } from "./options.js";
import { preview, type RestoreEnv, restore, restoreTest } from "./restore.js";
import { SnapshotRegistry } from "./snapshot.js";
import { collectStats } from "./stats.js";
import { toolVersion } from "./tools.js";
import { durationMs } from "./watchdog.js";

function checkOptions(options: PostgresOptions): void {
  if (!options || typeof options !== "object") {
    throw new StrongboxError(
      "E_CONFIG",
      'postgres() needs an options object with "connectionString", "client" or connection fields',
      { adapter: ADAPTER },
    );
  }
  for (const key of [
    "schemas",
    "excludeSchemas",
    "tables",
    "excludeTables",
    "excludeTableData",
    "pgDumpArgs",
    "pgDumpallArgs",
    "pgRestoreArgs",
    "commandPrefix",
  ] as const) {
    const v = options[key];
    if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== "string"))) {
      throw new StrongboxError("E_CONFIG", `postgres() option "${key}" must be an array of strings`, {
        adapter: ADAPTER,
      });
    }
  }
  if (options.lockTimeout !== undefined && Number.isNaN(durationMs(options.lockTimeout))) {
    throw new StrongboxError(
      "E_CONFIG",
      'postgres() option "lockTimeout" must be a duration such as "30s", "500ms" or "2min"',
      { adapter: ADAPTER },
    );
  }
  const t = options.rowCountExactThreshold;
  if (t !== undefined && !(typeof t === "number" && t >= 0)) {
    throw new StrongboxError("E_CONFIG", 'postgres() option "rowCountExactThreshold" must be a number ≥ 0', {
      adapter: ADAPTER,
    });
  }
  if (options.port !== undefined && !(Number.isInteger(options.port) && options.port > 0 && options.port < 65536)) {
    throw new StrongboxError("E_CONFIG", 'postgres() option "port" must be an integer between 1 and 65535', {
      adapter: ADAPTER,
    });
  }
}

/**
 * A PostgreSQL source: `pg_dump --format=custom` streamed out, `pg_restore` in one transaction
 * streamed in, and the `pg` driver for checks, row counts and previews.
 *
 * ```ts
 * const box = createStrongbox({ sources: [postgres({ connectionString: process.env.DATABASE_URL })], storage });
 * ```
 */
export function postgres(options: PostgresOptions): Source {
  checkOptions(options);
  const base = resolveBaseParams(options);
  const shared = options.client as Queryable | undefined;
  const env: RestoreEnv = { options, base, shared };
  const snapshots = new SnapshotRegistry();

  /** The user's client serves the configured database; any other target gets its own connection. */
  const sharedFor = (params: ConnParams) => (shared && params === base ? shared : undefined);
  const paramsFor = (target: TargetOverrides | undefined): ConnParams =>
    target && Object.keys(target).length > 0 ? applyTarget(base, target) : base;

  return {
    name: options.name ?? "postgres",
    type: ADAPTER,
    // Without --single-transaction a failed restore leaves a half-restored database: then core
    // must take a safety backup first, so the capability follows the option.
    capabilities: { pointInTime: true, atomicRestore: options.singleTransaction !== false, safetyBackup: true },

    async check(ctx: OperationContext): Promise<void> {
      const server = await withDb(base, (db) => serverVersion(db), { shared, signal: ctx.signal });
      const dump = await toolVersion(options, "pg_dump", ctx.signal);
      if (dump.major < server.major) {
        throw new StrongboxError(
          "E_SOURCE",
          `pg_dump ${dump.text} is older than the server (PostgreSQL ${server.text} at ${describeParams(base)}); pg_dump refuses to dump a newer server. ` +
            `Install the matching client (e.g. apt-get install postgresql-client-${server.major}) or set the "pgDumpPath" option to a pg_dump ≥ ${server.major}`,
          { adapter: ADAPTER, details: { pgDumpVersion: dump.text, serverVersion: server.text } },
        );
      }
      if (options.globals) await toolVersion(options, "pg_dumpall", ctx.signal);
      ctx.logger.debug("postgres check passed", {
        server: server.text,
        pgDump: dump.text,
        database: databaseName(base),
      });
    },

    async inspect(ctx: OperationContext & { target?: TargetOverrides; backupId?: string }): Promise<SourceStats> {
      const params = paramsFor(ctx.target);
      // Called as part of a backup: count in a snapshot that pg_dump will then dump.
      if (typeof ctx.backupId === "string")
        return snapshots.countInSnapshot(params, ctx.backupId, (db) => collectStats(db, options, ctx.signal));
      return withDb(params, (db) => collectStats(db, options, ctx.signal), {
        shared: sharedFor(params),
        signal: ctx.signal,
      });
    },

    backup(ctx: BackupContext) {
      return backupArtifacts(options, paramsFor(ctx.target), ctx, snapshots.take(ctx.backupId));
    },

    restore: (ctx: RestoreContext) => restore(env, ctx),
    preview: (ctx: RestoreContext) => preview(env, ctx),
    restoreTest: (ctx: RestoreContext) => restoreTest(env, ctx),

    async close(): Promise<void> {
      // Connections are opened per operation and ended after it; a user's client stays theirs.
      snapshots.releaseAll();
    },
  };
}
