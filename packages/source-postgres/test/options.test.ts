import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConnectionString, postgres } from "@strongbox/source-postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compilePattern } from "../src/stats.js";
import {
  backupToDir,
  createDb,
  ctx,
  dropDb,
  removeBackup,
  restoreCtx,
  type StoredBackup,
  sql,
  uniqueName,
  urlFor,
} from "./helpers.js";

describe("connection strings and patterns (no server)", () => {
  it("parses URLs with encoded credentials, sockets and libpq parameters", () => {
    expect(
      parseConnectionString(
        "postgres://u%40x:p%3Aw%2Fd@db.example.com:6543/my%20db?sslmode=verify-full&sslrootcert=/ca.pem",
      ),
    ).toEqual({
      host: "db.example.com",
      port: "6543",
      user: "u@x",
      password: "p:w/d",
      dbname: "my db",
      sslmode: "verify-full",
      sslrootcert: "/ca.pem",
    });
    expect(parseConnectionString("postgresql:///app?host=/var/run/postgresql")).toEqual({
      dbname: "app",
      host: "/var/run/postgresql",
    });
    expect(
      parseConnectionString("host=localhost port=5433 dbname=app user=me password='it''s \\'x\\'' sslmode=require"),
    ).toMatchObject({
      host: "localhost",
      port: "5433",
      dbname: "app",
      user: "me",
      sslmode: "require",
    });
  });

  it("rejects bad options with E_CONFIG, never echoing a password", () => {
    expect(() => parseConnectionString("mysql-ish nonsense")).toThrow(expect.objectContaining({ code: "E_CONFIG" }));
    const err = (() => {
      try {
        parseConnectionString("postgres://u:hunter2secret@[bad/db");
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toMatchObject({ code: "E_CONFIG" });
    expect(err?.message).not.toContain("hunter2secret");
    expect(() => postgres({ connectionString: urlFor("x"), tables: "public.t" as unknown as string[] })).toThrow(
      /array of strings/,
    );
    expect(() => postgres({ host: "h", port: 70000 })).toThrow(/port/);
  });

  it("declares atomicRestore only while restores run in one transaction", () => {
    expect(postgres({ connectionString: urlFor("x") }).capabilities).toEqual({
      pointInTime: true,
      atomicRestore: true,
      safetyBackup: true,
    });
    expect(postgres({ connectionString: urlFor("x"), singleTransaction: false }).capabilities?.atomicRestore).toBe(
      false,
    );
    expect(postgres({ connectionString: urlFor("x") }).name).toBe("postgres");
    expect(postgres({ connectionString: urlFor("x"), name: "main" }).name).toBe("main");
  });

  it("matches tables as pg_dump patterns do", () => {
    const p = compilePattern("app.user*");
    expect(p.schema!.test("app") && p.name.test("users")).toBe(true);
    expect(p.name.test("Users")).toBe(false);
    expect(compilePattern('"MixedCase"."T.x"').name.test("T.x")).toBe(true);
    expect(compilePattern('"MixedCase"."T.x"').schema!.test("MixedCase")).toBe(true);
    expect(compilePattern("Audit", true).name.test("audit")).toBe(true);
    expect(compilePattern("lo?s").name.test("logs")).toBe(true);
  });
});

describe("selection options, snapshot-consistent counts, command prefix (real server)", () => {
  const db = uniqueName("opt_src");
  const copies: string[] = [];
  const backups: StoredBackup[] = [];
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sbt-pgopt-"));
    await createDb(db);
    await sql(
      db,
      `CREATE SCHEMA app; CREATE SCHEMA logs; CREATE SCHEMA scratch;
       CREATE TABLE app.users (id int PRIMARY KEY); INSERT INTO app.users SELECT generate_series(1, 10);
       CREATE TABLE app.sessions (id int); INSERT INTO app.sessions SELECT generate_series(1, 30);
       CREATE TABLE logs.events (id int); INSERT INTO logs.events SELECT generate_series(1, 50);
       CREATE TABLE scratch.tmp (id int); INSERT INTO scratch.tmp VALUES (1);`,
    );
  });

  afterAll(async () => {
    for (const b of backups) await removeBackup(b);
    for (const c of [db, ...copies]) await dropDb(c);
    await rm(dir, { recursive: true, force: true });
  });

  async function roundTrip(options: Parameters<typeof postgres>[0], prepare?: (copy: string) => Promise<void>) {
    const source = postgres({ connectionString: urlFor(db), ...options });
    const stats = await source.inspect!(ctx());
    const backup = await backupToDir(source, { stats });
    backups.push(backup);
    const copy = uniqueName("opt_copy");
    copies.push(copy);
    if (prepare) await prepare(copy);
    await source.restore(restoreCtx(backup, { database: copy, createDatabase: true }));
    const tables = await sql<{ t: string }>(
      copy,
      "SELECT schemaname || '.' || relname AS t FROM pg_stat_user_tables ORDER BY 1",
    );
    return { stats, copy, tables: tables.map((r) => r.t) };
  }

  it("schemas / excludeTables / excludeTableData shape both the dump and the counts", async () => {
    const r = await roundTrip({
      schemas: ["app", "logs"],
      excludeTables: ["app.sessions"],
      excludeTableData: ["logs.*"],
    });
    expect(r.tables).toEqual(["app.users", "logs.events"]);
    expect(await sql(r.copy, "SELECT count(*)::int AS n FROM logs.events")).toEqual([{ n: 0 }]);
    expect(r.stats.counts).toEqual({ "app.users": 10 });
    expect(r.stats.info).toMatchObject({ tablesWithoutData: ["logs.events"], tableCount: 2 });
  });

  it("tables and excludeSchemas", async () => {
    const r = await roundTrip({ excludeSchemas: ["scratch", "logs"] });
    expect(r.tables).toEqual(["app.sessions", "app.users"]);
    expect(r.stats.counts).toEqual({ "app.sessions": 30, "app.users": 10 });
    // As with pg_dump itself, --table dumps the tables but not their schema: the target must have it.
    const t = await roundTrip({ tables: ["app.u*"] }, async (copy) => {
      await createDb(copy);
      await sql(copy, "CREATE SCHEMA app");
    });
    expect(t.tables).toEqual(["app.users"]);
    expect(t.stats.counts).toEqual({ "app.users": 10 });
  });

  it("counts taken by inspect() during a backup are exactly what pg_dump dumps, even with writes in between", async () => {
    const source = postgres({ connectionString: urlFor(db), schemas: ["app"] });
    const backupId = "20261122T010000Z-snapsh";
    const stats = await source.inspect!({ ...ctx(), backupId } as never);
    await sql(db, "INSERT INTO app.users SELECT generate_series(11, 15)");
    const backup = await backupToDir(source, { stats, backupId });
    backups.push(backup);
    expect(backup.component.artifacts[0]!.meta).toMatchObject({ countsFromDumpSnapshot: true });
    const copy = uniqueName("opt_snap");
    copies.push(copy);
    await source.restore(restoreCtx(backup, { database: copy, createDatabase: true }));
    expect(await sql(copy, "SELECT count(*)::int AS n FROM app.users")).toEqual([{ n: 10 }]);
    expect(stats.counts!["app.users"]).toBe(10);
    // No session is left holding the snapshot.
    const holders = () =>
      sql(
        db,
        "SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'strongbox' AND pid <> pg_backend_pid()",
        [db],
      );
    for (let i = 0; i < 50 && (await holders()).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await holders()).toEqual([]);
    await sql(db, "DELETE FROM app.users WHERE id > 10");
  });

  it("commandPrefix runs every tool through the prefix", async () => {
    const log = join(dir, "prefix.log");
    const prefix = join(dir, "prefix.sh");
    await writeFile(prefix, `#!/bin/sh\necho "$1" >> '${log}'\nexec "$@"\n`);
    await chmod(prefix, 0o755);
    const r = await roundTrip({ commandPrefix: [prefix], schemas: ["app"] });
    expect(r.tables).toEqual(["app.sessions", "app.users"]);
    expect((await readFile(log, "utf8")).trim().split("\n")).toEqual(["pg_dump", "pg_restore"]);
  });
});
