import type { BackupContext, SourceArtifact } from "@strongbox/core";
import { spawnProducer, throwIfAborted } from "@strongbox/core";
import { ADAPTER, type ConnParams, databaseName, toolConnection } from "./connection.js";
import type { PostgresOptions } from "./options.js";
import type { HeldSnapshot } from "./snapshot.js";
import { toolCommand } from "./tools.js";

export const GLOBALS_ARTIFACT = "globals.sql";

/** Artifact file name for a database: its name made safe for a storage key, plus ".dump". */
export function dumpArtifactName(dbname: string): string {
  const safe = dbname.replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^\.+/, "_");
  return `${safe || "database"}.dump`;
}

/** pg_dump's selection flags, in the order the options list them. */
export function pgDumpArgs(options: PostgresOptions): string[] {
  const args = ["--format=custom"];
  for (const s of options.schemas ?? []) args.push(`--schema=${s}`);
  for (const s of options.excludeSchemas ?? []) args.push(`--exclude-schema=${s}`);
  for (const t of options.tables ?? []) args.push(`--table=${t}`);
  for (const t of options.excludeTables ?? []) args.push(`--exclude-table=${t}`);
  for (const t of options.excludeTableData ?? []) args.push(`--exclude-table-data=${t}`);
  return [...args, ...(options.pgDumpArgs ?? [])];
}

/**
 * `pg_dump --format=custom` to stdout, streamed as it is written: no temporary file. A custom
 * archive restores selectively and through `pg_restore` alone. The child's exit status is checked
 * in `done()`, so a dump that dies after its last byte still fails the backup.
 */
export async function* backupArtifacts(
  options: PostgresOptions,
  params: ConnParams,
  ctx: BackupContext,
  snapshot?: HeldSnapshot,
): AsyncGenerator<SourceArtifact> {
  try {
    yield* artifacts(options, params, ctx, snapshot);
  } finally {
    snapshot?.release();
  }
}

async function* artifacts(
  options: PostgresOptions,
  params: ConnParams,
  ctx: BackupContext,
  snapshot?: HeldSnapshot,
): AsyncGenerator<SourceArtifact> {
  throwIfAborted(ctx.signal, ADAPTER);
  const dbname = databaseName(params);
  const conn = toolConnection(params);
  // The snapshot inspect() counted in, so the manifest's counts are exactly the dump's rows.
  const useSnapshot = snapshot !== undefined && snapshot.dbname === params.dbname;
  const dump = spawnProducer(
    [
      ...toolCommand(options, "pg_dump"),
      ...conn.args,
      ...pgDumpArgs(options),
      ...(useSnapshot ? [`--snapshot=${snapshot.id}`] : []),
    ],
    {
      adapter: ADAPTER,
      env: conn.env,
      signal: ctx.signal,
    },
  );
  // pg_dump imports the snapshot as it starts; the exporting transaction may end once it exits.
  if (snapshot) dump.done().then(snapshot.release, snapshot.release);
  ctx.logger.debug("pg_dump started", { database: dbname, snapshot: useSnapshot });
  try {
    yield {
      name: dumpArtifactName(dbname),
      stream: dump.stream,
      meta: { database: dbname, format: "pg_dump custom", countsFromDumpSnapshot: useSnapshot },
      done: async () => {
        const { stderr } = await dump.done();
        if (stderr) ctx.logger.warn(`pg_dump: ${stderr}`);
      },
    };
  } finally {
    // The consumer stopped early (error, abort, return()): do not leave pg_dump running.
    if (!dump.stream.readableEnded) dump.stream.destroy();
  }

  if (options.globals) {
    throwIfAborted(ctx.signal, ADAPTER);
    const g = toolConnection(params, { dbnameFlag: "--database" });
    const all = spawnProducer(
      [...toolCommand(options, "pg_dumpall"), ...g.args, "--globals-only", ...(options.pgDumpallArgs ?? [])],
      {
        adapter: ADAPTER,
        env: g.env,
        signal: ctx.signal,
      },
    );
    yield {
      name: GLOBALS_ARTIFACT,
      stream: all.stream,
      meta: { format: "pg_dumpall --globals-only" },
      done: async () => {
        const { stderr } = await all.done();
        if (stderr) ctx.logger.warn(`pg_dumpall: ${stderr}`);
      },
    };
  }
}
