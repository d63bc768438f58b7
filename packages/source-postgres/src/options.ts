import type pg from "pg";

/** libpq SSL modes, as in `sslmode=` / `PGSSLMODE`. */
export type PostgresSslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";

/**
 * Options of {@link postgres}. Give the connection in ONE of three ways: `connectionString`,
 * `client` (a `pg.Pool` / `pg.Client` you already have), or the separate fields (`host`, `port`,
 * `user`, `password`, `database`, `ssl*`). Fields given next to a `connectionString` override it.
 */
export interface PostgresOptions {
  /**
   * Component name in manifests, unique within a manager.
   * @default "postgres"
   */
  name?: string;
  /**
   * libpq connection string: `postgres://user:password@host:5432/app?sslmode=require` or
   * `host=db user=app dbname=app`. Its password reaches the dump tools through `PGPASSWORD`,
   * never their argument list.
   */
  connectionString?: string;
  /**
   * A ready `pg.Pool` or connected `pg.Client`, used for checks, stats and previews. The dump
   * tools get their connection settings from it (host, port, user, password, database) unless
   * other connection options are given. Never ended by Strongbox.
   */
  client?: pg.Pool | pg.Client;
  /** Server host name, IP address or Unix socket directory. @default libpq's default (PGHOST or the local socket) */
  host?: string;
  /** Server port. @default 5432 */
  port?: number;
  /** Role to connect as. @default libpq's default (PGUSER or the OS user) */
  user?: string;
  /** Password. Passed to child processes through `PGPASSWORD` only, and masked in every message. */
  password?: string;
  /** Database to back up (and to restore into when no target is given). @default the user name, as libpq does */
  database?: string;
  /** `sslmode` for the server connection (`PGSSLMODE` for the tools). @default libpq's default ("prefer") */
  sslMode?: PostgresSslMode;
  /** Path of the CA certificate file (`sslrootcert` / `PGSSLROOTCERT`). */
  sslRootCert?: string;
  /** Path of the client certificate file (`sslcert` / `PGSSLCERT`). */
  sslCert?: string;
  /** Path of the client private key file (`sslkey` / `PGSSLKEY`). */
  sslKey?: string;

  /** Dump only these schemas (`pg_dump --schema`, psql patterns such as `"app_*"`). @default all */
  schemas?: string[];
  /** Leave these schemas out (`pg_dump --exclude-schema`). @default none */
  excludeSchemas?: string[];
  /** Dump only these tables (`pg_dump --table`, e.g. `"public.users"`, `"audit.*"`). @default all */
  tables?: string[];
  /** Leave these tables out (`pg_dump --exclude-table`). @default none */
  excludeTables?: string[];
  /** Dump the definition but not the rows of these tables (`pg_dump --exclude-table-data`), e.g. big logs. @default none */
  excludeTableData?: string[];
  /**
   * Also back up roles and tablespaces with `pg_dumpall --globals-only`, as a second artifact
   * `globals.sql`. Reading role password hashes needs a superuser; otherwise add
   * `"--no-role-passwords"` to {@link PostgresOptions.pgDumpallArgs}.
   * @default false
   */
  globals?: boolean;
  /**
   * On restore, replay `globals.sql` (when the backup has one) with `psql` before the database.
   * Not atomic: roles that already exist are reported as warnings and left as they are.
   * @default false
   */
  restoreGlobals?: boolean;
  /** Extra `pg_dump` arguments, appended after Strongbox's own (e.g. `["--no-comments"]`). @default [] */
  pgDumpArgs?: string[];
  /** Extra `pg_dumpall` arguments for {@link PostgresOptions.globals}. @default [] */
  pgDumpallArgs?: string[];
  /** Extra `pg_restore` arguments (e.g. `["--no-privileges"]`). @default [] */
  pgRestoreArgs?: string[];
  /** `pg_dump` executable. Point it at a newer client when the server is newer than the PATH one. @default "pg_dump" */
  pgDumpPath?: string;
  /** `pg_restore` executable. @default "pg_restore" */
  pgRestorePath?: string;
  /** `pg_dumpall` executable (for {@link PostgresOptions.globals}). @default "pg_dumpall" */
  pgDumpallPath?: string;
  /** `psql` executable (for {@link PostgresOptions.restoreGlobals}). @default "psql" */
  psqlPath?: string;
  /**
   * Words put before every tool command, to run the tools elsewhere, e.g.
   * `["docker", "exec", "-i", "-e", "PGPASSWORD", "db"]`. Host, port, user and database are passed
   * as arguments; the password and SSL settings as environment variables of the prefix command,
   * so with `docker exec` list them with `-e NAME` (no value: docker copies it from its own env).
   * @default []
   */
  commandPrefix?: string[];
  /**
   * Tables whose planner estimate (`pg_class.reltuples`) is above this many rows are counted by
   * that estimate instead of `count(*)`, and listed in `stats.estimated`.
   * @default 1000000
   */
  rowCountExactThreshold?: number;
  /**
   * Create the restore target database when it does not exist (also settable per restore as
   * `targets: { postgres: { database, createDatabase: true } }`). A database created by a restore
   * that then fails is dropped again.
   * @default false
   */
  createDatabase?: boolean;
  /** Run the whole restore in one transaction (`--single-transaction`): a failure changes nothing. @default true */
  singleTransaction?: boolean;
  /** Stop at the first error (`--exit-on-error`). @default true */
  exitOnError?: boolean;
  /** Drop the objects of the backup before recreating them (`--clean`). @default true */
  clean?: boolean;
  /** With `clean`, use `DROP … IF EXISTS` (`--if-exists`) so a fresh database restores too. @default true */
  ifExists?: boolean;
  /** Do not restore object ownership (`--no-owner`): objects belong to the restoring user. @default true */
  noOwner?: boolean;
  /**
   * Give up a restore that waits longer than this for a lock (`lock_timeout`, e.g. `"30s"`), instead
   * of queueing behind the application's open transactions indefinitely. Nothing is changed then.
   * @default no limit
   */
  lockTimeout?: string;
  /** Run `ANALYZE` after a restore, as PostgreSQL recommends, so the planner and row estimates are right. @default true */
  analyzeAfterRestore?: boolean;
  /** Relative tolerance for estimated row counts in a restore test. @default 0.1 */
  estimateTolerance?: number;
}

/** What a restore target may hold (`box.restore(id, { targets: { postgres: {...} } })`). */
export interface PostgresTarget {
  /** Restore into this database on the same server. */
  database?: string;
  /** Restore into the database of this connection string (another server, another user). */
  connectionString?: string;
  /** Create the database when it does not exist. */
  createDatabase?: boolean;
}
