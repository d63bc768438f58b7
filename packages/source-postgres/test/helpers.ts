import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import type { ComponentRecord, OperationContext, RestoreContext, Source, SourceStats } from "@strongbox/core";
import { silentLogger } from "@strongbox/core";
import pg from "pg";

export const run = promisify(execFile);
export const HOST = "127.0.0.1";
export const PORT = 5432;
export const ADMIN_URL = `postgres://postgres@${HOST}:${PORT}/postgres`;
export const urlFor = (db: string) => `postgres://postgres@${HOST}:${PORT}/${encodeURIComponent(db)}`;

export function uniqueName(prefix: string): string {
  return `sbt_${prefix}_${randomBytes(4).toString("hex")}`;
}

/** Runs SQL through a fresh raw `pg` client: the native way tests check results. */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(
  db: string,
  text: string,
  values?: unknown[],
): Promise<R[]> {
  const client = new pg.Client({ host: HOST, port: PORT, user: "postgres", database: db });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export async function createDb(name: string): Promise<void> {
  await sql("postgres", `CREATE DATABASE "${name}"`);
}

export async function dropDb(name: string): Promise<void> {
  await sql("postgres", `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

export async function dbExists(name: string): Promise<boolean> {
  return (await sql("postgres", "SELECT 1 FROM pg_database WHERE datname = $1", [name])).length > 0;
}

export function ctx(): OperationContext {
  return { signal: new AbortController().signal, logger: silentLogger, progress() {} };
}

export interface StoredBackup {
  dir: string;
  files: Record<string, string>;
  stats?: SourceStats;
  component: ComponentRecord;
}

/** Runs `source.backup()` like the pipeline would: each artifact to a file, then its `done()`. */
export async function backupToDir(
  source: Source,
  opts: { signal?: AbortSignal; target?: Record<string, unknown>; stats?: SourceStats; backupId?: string } = {},
): Promise<StoredBackup> {
  const dir = await mkdtemp(join(tmpdir(), "sbt-pg-"));
  const files: Record<string, string> = {};
  const artifacts: ComponentRecord["artifacts"] = [];
  const c = {
    ...ctx(),
    signal: opts.signal ?? new AbortController().signal,
    backupId: opts.backupId ?? "20261122T000000Z-aaaaaa",
    target: opts.target,
  };
  for await (const a of source.backup(c)) {
    const file = join(dir, a.name);
    await pipeline(a.stream, createWriteStream(file));
    await a.done?.();
    files[a.name] = file;
    const size = (await stat(file)).size;
    artifacts.push({
      name: a.name,
      key: a.name,
      size,
      sha256: "",
      plainSize: size,
      plainSha256: "",
      transforms: [],
      meta: a.meta,
    });
  }
  const component: ComponentRecord = {
    name: source.name,
    type: source.type,
    stats: opts.stats,
    startedAt: new Date().toISOString(),
    durationMs: 0,
    artifacts,
  };
  return { dir, files, stats: opts.stats, component };
}

/** A restore context reading artifacts from `backup`, optionally through a custom opener. */
export function restoreCtx(
  backup: StoredBackup,
  target: Record<string, unknown> = {},
  open?: (name: string) => Promise<Readable>,
): RestoreContext {
  return {
    ...ctx(),
    backupId: "20261122T000000Z-aaaaaa",
    component: backup.component,
    target,
    force: false,
    dryRun: false,
    open:
      open ??
      (async (name: string) => {
        const file = backup.files[name];
        if (!file) throw new Error(`no artifact ${name}`);
        return createReadStream(file);
      }),
  };
}

export async function removeBackup(b: StoredBackup | undefined): Promise<void> {
  if (b) await rm(b.dir, { recursive: true, force: true });
}

/**
 * Everything a restore must reproduce, read with raw SQL: per-table ordered checksums, sequence
 * states, materialized view contents, large objects, extensions.
 */
export async function fingerprint(db: string): Promise<Record<string, unknown>> {
  const client = new pg.Client({ host: HOST, port: PORT, user: "postgres", database: db });
  await client.connect();
  try {
    const out: Record<string, unknown> = {};
    const rels = await client.query<{ schema: string; name: string; kind: string }>(
      `SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r','m','S','v') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' ORDER BY 1, 2`,
    );
    for (const r of rels.rows) {
      const q = `"${r.schema.replace(/"/g, '""')}"."${r.name.replace(/"/g, '""')}"`;
      if (r.kind === "S") {
        const s = await client.query(`SELECT last_value::text, is_called FROM ${q}`);
        out[`seq ${r.schema}.${r.name}`] = s.rows[0];
      } else {
        const s = await client.query(
          `SELECT count(*)::int AS n, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS md5 FROM ${q} t`,
        );
        out[`${r.kind} ${r.schema}.${r.name}`] = s.rows[0];
      }
    }
    out.largeObjects = (
      await client.query("SELECT oid::text, md5(lo_get(oid)) FROM pg_largeobject_metadata ORDER BY oid")
    ).rows;
    out.extensions = (await client.query("SELECT extname, extversion FROM pg_extension ORDER BY 1")).rows;
    out.comments = (
      await client.query(
        "SELECT objoid::regclass::text AS obj, objsubid, description FROM pg_description WHERE classoid = 'pg_class'::regclass ORDER BY 1, 2",
      )
    ).rows;
    return out;
  } finally {
    await client.end();
  }
}

/** `pg_dump --schema-only` minus the lines that differ between any two dumps (per-run restrict keys). */
export async function schemaDump(db: string): Promise<string> {
  const { stdout } = await run(
    "pg_dump",
    ["--schema-only", "--no-owner", "-h", HOST, "-p", String(PORT), "-U", "postgres", "-d", db],
    { maxBuffer: 64 << 20 },
  );
  return stdout
    .split("\n")
    .filter((l) => !l.startsWith("\\restrict") && !l.startsWith("\\unrestrict"))
    .join("\n");
}

/** The database most dump tools trip over: see the list. `bigRows` rows in app.events. */
export function richSchemaSql(bigRows: number, extensions = true): string {
  const sqlText = `
CREATE EXTENSION citext;
CREATE EXTENSION pg_trgm;
CREATE SCHEMA app;
CREATE SCHEMA audit;
CREATE SCHEMA "Ünïcødé ✓";
COMMENT ON SCHEMA app IS 'application data';
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN app.positive AS integer CHECK (VALUE > 0);
CREATE SEQUENCE app.invoice_no START 1000 INCREMENT 7;
CREATE SEQUENCE app.never_used;
SELECT nextval('app.invoice_no'), nextval('app.invoice_no'), nextval('app.invoice_no');
CREATE TABLE app.users (
  id bigserial PRIMARY KEY,
  email citext UNIQUE NOT NULL,
  name text,
  mood app.mood,
  score app.positive,
  tags text[],
  matrix int[][],
  profile jsonb,
  balance numeric,
  created timestamptz,
  avatar bytea
);
COMMENT ON TABLE app.users IS 'people 👋 and their «data»';
COMMENT ON COLUMN app.users.email IS 'case-insensitive';
CREATE INDEX users_name_trgm ON app.users USING gin (name gin_trgm_ops);
CREATE TABLE audit.log (id serial PRIMARY KEY, user_id bigint, at timestamptz DEFAULT '2000-01-01T00:00:00Z', what text);
CREATE FUNCTION audit.on_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO audit.log (user_id, what) VALUES (NEW.id, 'insert ' || NEW.email);
  RETURN NEW;
END $$;
CREATE TRIGGER users_audit AFTER INSERT ON app.users FOR EACH ROW EXECUTE FUNCTION audit.on_user();
CREATE FUNCTION app.add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
INSERT INTO app.users (email, name, mood, score, tags, matrix, profile, balance, created, avatar) VALUES
  ('Alice@Example.com', 'Alice', 'happy', 1, '{a,"b c",NULL,"ü"}', '{{1,2},{3,4}}', '{"a":[1,2,{"b":null}],"ü":"✓","n":1.5e300}', 'NaN', 'infinity', (SELECT decode(string_agg(lpad(to_hex(i), 2, '0'), ''), 'hex') FROM generate_series(0, 255) i)),
  ('bob@example.com', 'Bob 😀 中文 עברית', 'sad', 2147483647, '{}', NULL, '[]', '-0.000000000000000000000000000001', '-infinity', '\\x00'),
  ('carol@example.com', E'tab\\tnew\\nline \\\\ quote''s', 'ok', 3, NULL, '{{0,-1},{2147483647,-2147483648}}', '{"deep":{"deeper":{"deepest":[true,false,null]}}}', '123456789012345678901234567890.123456789012345678901234567890', '1970-01-01 00:00:00+00', ''),
  ('dave@example.com', NULL, NULL, NULL, NULL, NULL, 'null', 'Infinity', '2026-03-29 01:30:00 Europe/Paris', NULL),
  ('eve@example.com', 'Eve', 'happy', 5, '{x}', NULL, '{"big": 12345678901234567890}', '-Infinity', '2026-11-22 12:34:56.789123+09', '\\xdeadbeef');
CREATE VIEW app.happy_users AS SELECT id, email FROM app.users WHERE mood = 'happy';
CREATE MATERIALIZED VIEW app.mood_counts AS SELECT mood, count(*) AS n FROM app.users GROUP BY mood;
CREATE TABLE "Ünïcødé ✓"."Tâble ✓" (id int PRIMARY KEY, "naïve column" text);
INSERT INTO "Ünïcødé ✓"."Tâble ✓" VALUES (1, 'Ελληνικά'), (2, '日本語のテキスト'), (3, '🚀🚀🚀'), (4, 'العربية');
CREATE TABLE app.docs (id int PRIMARY KEY, body oid);
INSERT INTO app.docs VALUES (1, lo_from_bytea(0, (SELECT decode(string_agg(lpad(to_hex(i % 256), 2, '0'), ''), 'hex') FROM generate_series(0, 99999) i)));
CREATE TABLE app.measurements (at date NOT NULL, v float8) PARTITION BY RANGE (at);
CREATE TABLE app.measurements_2025 PARTITION OF app.measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE app.measurements_2026 PARTITION OF app.measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO app.measurements SELECT d::date, extract(doy FROM d) / 7.0 FROM generate_series('2025-06-01'::date, '2026-06-01', '1 day') d;
CREATE TABLE app.events (id int PRIMARY KEY, at timestamptz NOT NULL, payload text);
INSERT INTO app.events SELECT i, '2026-01-01T00:00:00Z'::timestamptz + i * interval '1 second', md5(i::text) FROM generate_series(1, ${bigRows}) i;
`;
  if (extensions) return sqlText;
  return sqlText
    .replace(/^CREATE EXTENSION .*$/gm, "")
    .replace("email citext", "email text")
    .replace(/^CREATE INDEX users_name_trgm .*$/m, "");
}

/** Whether the contrib extensions the rich schema uses are installed on the server. */
export async function contribAvailable(): Promise<boolean> {
  const rows = await sql("postgres", "SELECT name FROM pg_available_extensions WHERE name IN ('citext', 'pg_trgm')");
  return rows.length === 2;
}
