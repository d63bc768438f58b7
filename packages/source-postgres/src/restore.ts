import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { PassThrough } from "node:stream";
import type { RestoreContext, RestorePreview, RestoreResult, RestoreTestResult } from "@strongbox/core";
import { isStrongboxError, runConsumer, StrongboxError, throwIfAborted } from "@strongbox/core";
import { GLOBALS_ARTIFACT } from "./backup.js";
import {
  ADAPTER,
  applyTarget,
  type ConnParams,
  databaseName,
  describeParams,
  quoteIdent,
  toolConnection,
  withDatabase,
} from "./connection.js";
import { isMissingDatabase, type Queryable, sourceError, withDb } from "./db.js";
import type { PostgresOptions, PostgresTarget } from "./options.js";
import { allTables, countRows } from "./stats.js";
import { toolCommand } from "./tools.js";
import { durationMs, watchRestore } from "./watchdog.js";

/** What a restore needs besides its context. */
export interface RestoreEnv {
  options: PostgresOptions;
  base: ConnParams;
  /** The user's own client, valid for the configured database only. */
  shared?: Queryable;
}

/** pg_restore flags from the options: by default one transaction that replaces what the backup holds. */
export function pgRestoreArgs(options: PostgresOptions): string[] {
  const args: string[] = [];
  if (options.singleTransaction !== false) args.push("--single-transaction");
  if (options.exitOnError !== false) args.push("--exit-on-error");
  if (options.clean !== false) {
    args.push("--clean");
    if (options.ifExists !== false) args.push("--if-exists");
  }
  if (options.noOwner !== false) args.push("--no-owner");
  return [...args, ...(options.pgRestoreArgs ?? [])];
}

/** Runs `fn` on the maintenance database (`postgres`, else `template1`) of the server in `params`. */
async function withMaintenance<T>(
  params: ConnParams,
  fn: (db: Queryable) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  try {
    return await withDb(withDatabase(params, "postgres"), fn, { signal });
  } catch (err) {
    if (!isMissingDatabase(err)) throw err;
    return withDb(withDatabase(params, "template1"), fn, { signal });
  }
}

async function createDatabase(params: ConnParams, dbname: string, signal?: AbortSignal): Promise<void> {
  await withMaintenance(
    params,
    async (db) => {
      try {
        await db.query(`CREATE DATABASE ${quoteIdent(dbname)}`);
      } catch (err) {
        throw sourceError(err, `cannot create database "${dbname}"`);
      }
    },
    signal,
  );
}

export async function dropDatabase(params: ConnParams, dbname: string): Promise<void> {
  await withMaintenance(params, async (db) => {
    // FORCE (PostgreSQL 13+) ends sessions still connected, e.g. a counting query cut by an abort.
    await db
      .query(`DROP DATABASE IF EXISTS ${quoteIdent(dbname)} WITH (FORCE)`)
      .catch(async (err: { code?: string }) => {
        if (err.code !== "42601") throw err;
        await db.query(`DROP DATABASE IF EXISTS ${quoteIdent(dbname)}`);
      });
  });
}

/** Asks the target itself, so a role that may not connect to the maintenance database still restores. */
async function targetExists(params: ConnParams, signal?: AbortSignal): Promise<boolean> {
  try {
    return await withDb(params, async () => true, { signal });
  } catch (err) {
    if (isMissingDatabase(err)) return false;
    throw err;
  }
}

function dumpArtifact(ctx: RestoreContext): string {
  const name = ctx.component.artifacts.find((a) => a.name.endsWith(".dump"))?.name;
  if (!name)
    throw new StrongboxError("E_FORMAT", `component "${ctx.component.name}" has no ".dump" artifact to restore`, {
      adapter: ADAPTER,
    });
  return name;
}

/** How long a failed restore keeps reading the artifact to learn whether it was damaged. */
const VERDICT_MS = 30_000;

/**
 * Reads what is left of an artifact after pg_restore gave up on it, and returns the artifact's
 * own error if it has one (E_INTEGRITY, E_TRUNCATED, E_DECRYPT…). A damaged archive usually makes
 * pg_restore fail before core's checks reach the end of the stream; the user should hear "the
 * backup is damaged", not a confusing pg_restore message. Bounded in time: undefined if unsure.
 */
async function artifactVerdict(source: Readable, signal: AbortSignal): Promise<Error | undefined> {
  if (source.errored) return source.errored;
  if (source.readableEnded || source.destroyed) return undefined;
  source.unpipe();
  return new Promise((resolve) => {
    const finish = (err?: Error) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      source.destroy();
      resolve(err);
    };
    const onAbort = () => finish();
    const timer = setTimeout(() => finish(), VERDICT_MS);
    signal.addEventListener("abort", onAbort, { once: true });
    source.once("error", (err: Error) => finish(err));
    source.once("end", () => finish());
    source.resume();
  });
}

/** Feeds an artifact into pg_restore. The connection's database must exist. */
async function pgRestoreInto(env: RestoreEnv, params: ConnParams, ctx: RestoreContext): Promise<string[]> {
  const conn = toolConnection(params);
  // A unique session name lets the watchdog find pg_restore's backend.
  const appName = `strongbox-restore-${randomBytes(4).toString("hex")}`;
  conn.env.PGAPPNAME = appName;
  const lockTimeout = env.options.lockTimeout;
  const watch = await watchRestore(params, appName, {
    lockTimeoutMs: lockTimeout ? durationMs(lockTimeout) : undefined,
    signal: ctx.signal,
  });
  let failed = false;
  try {
    return await feedPgRestore(env, conn, ctx);
  } catch (err) {
    failed = true;
    if (watch.gaveUp && isStrongboxError(err, "E_SOURCE")) {
      throw new StrongboxError(
        "E_SOURCE",
        `restore into ${describeParams(params)} gave up after waiting ${lockTimeout} for a lock another session holds (lockTimeout); nothing was changed`,
        {
          adapter: ADAPTER,
          cause: err,
        },
      );
    }
    throw err;
  } finally {
    await watch.stop(failed);
  }
}

async function feedPgRestore(
  env: RestoreEnv,
  conn: ReturnType<typeof toolConnection>,
  ctx: RestoreContext,
): Promise<string[]> {
  // ctx.open() releases the artifact's last chunk only once its hashes checked out, so pg_restore
  // cannot reach the end of a bad archive and commit it.
  const source = await ctx.open(dumpArtifact(ctx));
  const guard = new PassThrough();
  // An error of the artifact stream destroys the relay, which makes runConsumer kill pg_restore
  // before it can see an end of input. pipe() rather than pipeline(): when pg_restore fails
  // first, the artifact must stay readable so artifactVerdict() can finish checking it.
  source.on("error", (err) => guard.destroy(err));
  source.pipe(guard);
  try {
    const { stderr } = await runConsumer(
      [...toolCommand(env.options, "pg_restore"), ...conn.args, ...pgRestoreArgs(env.options)],
      guard,
      {
        adapter: ADAPTER,
        env: conn.env,
        signal: ctx.signal,
      },
    );
    return stderr ? [`pg_restore: ${stderr}`] : [];
  } catch (err) {
    if (isStrongboxError(err, "E_SOURCE")) {
      const damaged = await artifactVerdict(source, ctx.signal);
      if (damaged) {
        ctx.logger.warn(`pg_restore failed on a damaged artifact; nothing was committed: ${(err as Error).message}`);
        throw damaged;
      }
    }
    source.destroy();
    throw withHint(err);
  }
}

/** pg_restore failures that have a known way out get it appended to the message. */
function withHint(err: unknown): unknown {
  if (!isStrongboxError(err, "E_SOURCE")) return err;
  let hint: string | undefined;
  if (/other objects depend on it/.test(err.message)) {
    hint =
      "objects created in the target since the backup depend on objects the backup replaces; nothing was changed. Drop them, or restore into a new database (targets: { <name>: { database, createDatabase: true } })";
  } else if (/out of shared memory|max_locks_per_transaction/.test(err.message)) {
    hint =
      "a single-transaction restore takes one lock per object: raise max_locks_per_transaction on the server; nothing was changed";
  }
  if (!hint) return err;
  return new StrongboxError("E_SOURCE", `${err.message} — ${hint}`, {
    adapter: ADAPTER,
    cause: err,
    details: err.details,
  });
}

/** Replays globals.sql with psql; errors (roles that exist already) become warnings. */
async function restoreGlobals(env: RestoreEnv, params: ConnParams, ctx: RestoreContext): Promise<string[]> {
  if (!ctx.component.artifacts.some((a) => a.name === GLOBALS_ARTIFACT))
    return ["restoreGlobals: this backup has no globals.sql"];
  const conn = toolConnection(params);
  const input = await ctx.open(GLOBALS_ARTIFACT);
  const { stderr } = await runConsumer(
    [...toolCommand(env.options, "psql"), ...conn.args, "-X", "--quiet", "--set=ON_ERROR_STOP=0"],
    input,
    {
      adapter: ADAPTER,
      env: conn.env,
      signal: ctx.signal,
    },
  );
  return stderr ? [`globals: ${stderr}`] : [];
}

function targetOf(ctx: RestoreContext): PostgresTarget {
  return (ctx.target ?? {}) as PostgresTarget;
}

function sharedFor(env: RestoreEnv, params: ConnParams): Queryable | undefined {
  return env.shared &&
    databaseName(params) === databaseName(env.base) &&
    params.host === env.base.host &&
    params.port === env.base.port
    ? env.shared
    : undefined;
}

/**
 * pg_restore in one transaction with `--clean --if-exists`: the objects the backup holds are
 * dropped and recreated, and any failure — a corrupt artifact, a dependency in the target, a
 * server error — rolls everything back. Objects of the target that are not in the backup stay.
 */
export async function restore(env: RestoreEnv, ctx: RestoreContext): Promise<RestoreResult> {
  throwIfAborted(ctx.signal, ADAPTER);
  const target = targetOf(ctx);
  const params = applyTarget(env.base, target);
  const dbname = databaseName(params);
  const mayCreate = target.createDatabase ?? env.options.createDatabase ?? false;
  let created = false;
  if (!(await targetExists(params, ctx.signal))) {
    if (!mayCreate) {
      throw new StrongboxError(
        "E_SOURCE",
        `restore target ${describeParams(params)} does not exist: create it, or pass createDatabase: true`,
        { adapter: ADAPTER },
      );
    }
    await createDatabase(params, dbname, ctx.signal);
    created = true;
    ctx.logger.info(`created database "${dbname}" for the restore`);
  }
  const warnings: string[] = [];
  try {
    if (env.options.restoreGlobals) warnings.push(...(await restoreGlobals(env, params, ctx)));
    ctx.progress({ message: `pg_restore into ${describeParams(params)}` });
    warnings.push(...(await pgRestoreInto(env, params, ctx)));
  } catch (err) {
    // Leave the server as it was: a database this restore created goes away with it.
    if (created) await dropDatabase(params, dbname).catch(() => {});
    throw err;
  }
  // pg_restore leaves the planner without statistics (and row estimates at -1) until ANALYZE runs.
  if (env.options.analyzeAfterRestore !== false) {
    await withDb(params, (db) => db.query("ANALYZE"), { shared: sharedFor(env, params), signal: ctx.signal }).catch(
      (err: unknown) => warnings.push(`ANALYZE after the restore failed: ${(err as Error).message}`),
    );
  }
  return { warnings, details: { database: dbname, createdDatabase: created } };
}

/** What a restore would replace, table by table, without touching anything. */
export async function preview(env: RestoreEnv, ctx: RestoreContext): Promise<RestorePreview> {
  const target = targetOf(ctx);
  const params = applyTarget(env.base, target);
  const incoming = ctx.component.stats?.counts ?? {};
  const notes: string[] = [];
  let current: Record<string, number> | undefined;
  let currentEstimated: string[] = [];
  try {
    current = await withDb(
      params,
      async (db) => {
        const tables = await allTables(db);
        // Right before a real restore the preview is only a report: planner estimates will do.
        const threshold = ctx.dryRun === false ? 0 : (env.options.rowCountExactThreshold ?? 1_000_000);
        const counted = await countRows(db, tables, threshold, ctx.signal);
        currentEstimated = counted.estimated;
        return counted.counts;
      },
      { shared: sharedFor(env, params), signal: ctx.signal },
    );
  } catch (err) {
    if (!isMissingDatabase(err)) throw err;
  }
  const exists = current !== undefined;
  if (!exists) {
    const mayCreate = target.createDatabase ?? env.options.createDatabase ?? false;
    notes.push(
      mayCreate
        ? "the database does not exist and would be created"
        : "the database does not exist: the restore needs createDatabase: true",
    );
  }
  const replaces = Object.entries(incoming).map(([name, rows]) => ({
    name,
    current: current?.[name],
    incoming: rows,
    unit: "rows",
  }));
  const kept = Object.keys(current ?? {}).filter((n) => !(n in incoming));
  if (kept.length > 0)
    notes.push(`tables in the target but not in the backup are kept as they are: ${kept.join(", ")}`);
  if (env.options.clean === false)
    notes.push(
      "clean is off: existing objects are not dropped, so a restore into a non-empty database may fail (and roll back)",
    );
  if (currentEstimated.length > 0) notes.push(`estimated current counts: ${currentEstimated.join(", ")}`);
  if (ctx.component.stats?.estimated?.length)
    notes.push(`estimated incoming counts: ${ctx.component.stats.estimated.join(", ")}`);
  return { target: describeParams(params), exists, replaces, notes };
}

/** Restore drill: restore into a scratch database, compare row counts with the manifest, drop it. */
export async function restoreTest(env: RestoreEnv, ctx: RestoreContext): Promise<RestoreTestResult> {
  const t = targetOf(ctx);
  // The scratch database lives on the target's server when one is given, else the source's.
  const server = t.connectionString ? applyTarget(env.base, { connectionString: t.connectionString }) : env.base;
  const scratch = `strongbox_restore_test_${randomBytes(6).toString("hex")}`;
  const params = withDatabase(server, scratch);
  const checks: RestoreTestResult["checks"] = [];
  await createDatabase(params, scratch, ctx.signal);
  try {
    try {
      await pgRestoreInto(env, params, ctx);
      checks.push({ name: "pg_restore", ok: true, message: `restored into scratch database "${scratch}"` });
    } catch (err) {
      checks.push({ name: "pg_restore", ok: false, message: (err as Error).message });
      return { ok: false, checks };
    }
    const expected = ctx.component.stats;
    if (!expected?.counts) {
      checks.push({ name: "row counts", ok: true, message: "the manifest holds no row counts to compare" });
      return { ok: true, checks };
    }
    const tolerance = env.options.estimateTolerance ?? 0.1;
    const estimatedBefore = new Set(expected.estimated ?? []);
    await withDb(
      params,
      async (db) => {
        await db.query("ANALYZE");
        const tables = await allTables(db);
        const { counts, estimated } = await countRows(
          db,
          tables,
          env.options.rowCountExactThreshold ?? 1_000_000,
          ctx.signal,
        );
        const estimatedAfter = new Set(estimated);
        for (const [name, want] of Object.entries(expected.counts ?? {})) {
          const got = counts[name];
          if (got === undefined) {
            checks.push({ name: `rows ${name}`, ok: false, expected: want, message: "table missing after restore" });
            continue;
          }
          const approx = estimatedBefore.has(name) || estimatedAfter.has(name);
          const ok = approx ? Math.abs(got - want) <= Math.max(tolerance * Math.max(want, got), 1) : got === want;
          checks.push({
            name: `rows ${name}`,
            ok,
            expected: want,
            actual: got,
            ...(approx ? { message: `estimated, tolerance ${tolerance * 100}%` } : {}),
          });
        }
      },
      { signal: ctx.signal },
    );
    return { ok: checks.every((c) => c.ok), checks };
  } finally {
    await dropDatabase(params, scratch).catch((err: unknown) =>
      ctx.logger.warn(`could not drop scratch database "${scratch}": ${(err as Error).message}`),
    );
  }
}
