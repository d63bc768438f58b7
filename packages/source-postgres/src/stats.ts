import type { SourceStats } from "@strongbox/core";
import { quoteIdent } from "./connection.js";
import type { Queryable } from "./db.js";
import { serverVersion } from "./db.js";
import type { PostgresOptions } from "./options.js";

export interface TableRef {
  schema: string;
  table: string;
  /** Planner estimate (`reltuples`); -1 when the table was never analyzed. */
  estimate: number;
}

/** Ordinary tables holding data (partitions included, partitioned parents not: their rows live in the partitions). */
const TABLES_SQL = `
SELECT n.nspname AS schema, c.relname AS "table", c.reltuples::float8 AS estimate
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
  AND NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_depend d
    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2`;

/**
 * A psql-style pattern (as pg_dump takes: `*`, `?`, `"Quoted"`, optional `schema.` part) as
 * regular expressions. Unquoted letters fold to lower case, as in PostgreSQL.
 */
export function compilePattern(pattern: string, schemaOnly = false): { schema?: RegExp; name: RegExp } {
  // Regex source of each part (schema, name), built character by character.
  const parts: string[] = [""];
  const add = (re: string) => {
    parts[parts.length - 1] += re;
  };
  const literal = (ch: string) => ch.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  let quoted = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '"') {
      if (quoted && pattern[i + 1] === '"') {
        add('"');
        i++;
      } else quoted = !quoted;
    } else if (quoted) add(literal(ch));
    else if (ch === "." && !schemaOnly && parts.length === 1) parts.push("");
    else if (ch === "*") add(".*");
    else if (ch === "?") add(".");
    else add(literal(ch.toLowerCase()));
  }
  const toRe = (src: string) => new RegExp(`^${src}$`, "s");
  if (parts.length === 2) return { schema: toRe(parts[0]!), name: toRe(parts[1]!) };
  return { name: toRe(parts[0]!) };
}

function matchesTable(t: TableRef, patterns: string[] | undefined): boolean {
  return (patterns ?? []).some((p) => {
    const re = compilePattern(p);
    return re.name.test(t.table) && (re.schema ? re.schema.test(t.schema) : true);
  });
}

function matchesSchema(schema: string, patterns: string[] | undefined): boolean {
  return (patterns ?? []).some((p) => compilePattern(p, true).name.test(schema));
}

/** Tables whose rows the dump will hold, following pg_dump's selection rules. */
export async function dumpedTables(
  db: Queryable,
  options: PostgresOptions,
): Promise<{ tables: TableRef[]; withoutData: TableRef[] }> {
  const res = await db.query<TableRef>(TABLES_SQL);
  const selected = res.rows.filter((t) => {
    // As in pg_dump, --table wins over --schema / --exclude-schema.
    if (options.tables?.length) {
      if (!matchesTable(t, options.tables)) return false;
    } else {
      if (options.schemas?.length && !matchesSchema(t.schema, options.schemas)) return false;
      if (matchesSchema(t.schema, options.excludeSchemas)) return false;
    }
    return !matchesTable(t, options.excludeTables);
  });
  const withoutData = selected.filter((t) => matchesTable(t, options.excludeTableData));
  return { tables: selected.filter((t) => !withoutData.includes(t)), withoutData };
}

/** All user tables of a database (for previews of a target, whatever the backup's filters). */
export async function allTables(db: Queryable): Promise<TableRef[]> {
  return (await db.query<TableRef>(TABLES_SQL)).rows;
}

export function tableKey(t: { schema: string; table: string }): string {
  return `${t.schema}.${t.table}`;
}

/** Row counts: exact up to `threshold` rows by the planner's estimate, the estimate above it. */
export async function countRows(
  db: Queryable,
  tables: TableRef[],
  threshold: number,
  signal?: AbortSignal,
): Promise<{ counts: Record<string, number>; estimated: string[] }> {
  const counts: Record<string, number> = {};
  const estimated: string[] = [];
  for (const t of tables) {
    signal?.throwIfAborted();
    if (t.estimate > threshold) {
      counts[tableKey(t)] = Math.round(t.estimate);
      estimated.push(tableKey(t));
    } else {
      const res = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${quoteIdent(t.schema)}.${quoteIdent(t.table)}`,
      );
      counts[tableKey(t)] = Number(res.rows[0]!.n);
    }
  }
  return { counts, estimated };
}

/** What `inspect()` records in the manifest. */
export async function collectStats(
  db: Queryable,
  options: PostgresOptions,
  signal?: AbortSignal,
): Promise<SourceStats> {
  const version = await serverVersion(db);
  const { tables, withoutData } = await dumpedTables(db, options);
  const { counts, estimated } = await countRows(db, tables, options.rowCountExactThreshold ?? 1_000_000, signal);
  const size = await db.query<{ size: string; db: string }>(
    "SELECT pg_database_size(current_database())::text AS size, current_database() AS db",
  );
  const info: Record<string, unknown> = {
    database: size.rows[0]!.db,
    databaseSize: Number(size.rows[0]!.size),
    tableCount: tables.length + withoutData.length,
  };
  if (withoutData.length > 0) info.tablesWithoutData = withoutData.map(tableKey);
  return { version: version.text, counts, estimated, info };
}
