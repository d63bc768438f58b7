import { postgres } from "@strongbox/source-postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  backupToDir,
  contribAvailable,
  createDb,
  ctx,
  dbExists,
  dropDb,
  fingerprint,
  removeBackup,
  restoreCtx,
  richSchemaSql,
  run,
  type StoredBackup,
  schemaDump,
  sql,
  uniqueName,
  urlFor,
} from "./helpers.js";

const BIG_ROWS = 200_000;
const src = uniqueName("rt_src");
const dst = uniqueName("rt_dst");
const created = uniqueName("rt_new");
const raw = uniqueName("rt_raw");

describe("postgres round trip (real server)", () => {
  let backup: StoredBackup | undefined;
  let sourceFp: Record<string, unknown>;
  let sourceSchema: string;

  beforeAll(async () => {
    await createDb(src);
    const contrib = await contribAvailable();
    if (!contrib)
      console.warn(
        "roundtrip.test: contrib extensions citext / pg_trgm are not installed (apt-get install postgresql-contrib); the round trip runs without them",
      );
    await sql(src, richSchemaSql(BIG_ROWS, contrib));
    sourceFp = await fingerprint(src);
    sourceSchema = await schemaDump(src);
  });

  afterAll(async () => {
    await removeBackup(backup);
    for (const db of [src, dst, created, raw]) await dropDb(db);
  });

  it("inspect() reports version, exact counts, estimates past the threshold, size and table count", async () => {
    await sql(src, "ANALYZE app.events");
    const source = postgres({ connectionString: urlFor(src), rowCountExactThreshold: 100_000 });
    const stats = await source.inspect!(ctx());
    expect(stats.version).toMatch(/^\d+\.\d+/);
    expect(stats.counts!["app.users"]).toBe(5);
    expect(stats.counts!["Ünïcødé ✓.Tâble ✓"]).toBe(4);
    expect(stats.counts!["app.measurements_2025"]! + stats.counts!["app.measurements_2026"]!).toBe(366);
    expect(stats.counts).not.toHaveProperty("app.measurements"); // partitioned parent: rows live in partitions
    expect(stats.estimated).toEqual(["app.events"]);
    expect(Math.abs(stats.counts!["app.events"]! - BIG_ROWS)).toBeLessThan(BIG_ROWS * 0.05);
    expect(stats.info).toMatchObject({ database: src, tableCount: 7 });
    expect(stats.info!.databaseSize).toBeGreaterThan(1_000_000);
    const exact = await postgres({ connectionString: urlFor(src) }).inspect!(ctx());
    expect(exact.counts!["app.events"]).toBe(BIG_ROWS);
    expect(exact.estimated).toEqual([]);
  });

  it("backs up with pg_dump and restores everything into another database, identical by checksums and schema dump", async () => {
    const source = postgres({ connectionString: urlFor(src) });
    const stats = await source.inspect!(ctx());
    backup = await backupToDir(source, { stats });
    expect(Object.keys(backup.files)).toEqual([`${src}.dump`]);
    await createDb(dst);
    const result = await source.restore(restoreCtx(backup, { database: dst }));
    expect(result.details).toMatchObject({ database: dst, createdDatabase: false });
    expect((await source.inspect!({ ...ctx(), target: { database: dst } })).counts).toEqual(stats.counts);
    expect(await fingerprint(dst)).toEqual(sourceFp);
    expect(await schemaDump(dst)).toBe(sourceSchema);
  });

  it("restores over a changed, non-empty database: same data again, extra tables kept, extensions and large objects fine", async () => {
    const source = postgres({ connectionString: urlFor(src) });
    await sql(
      dst,
      `INSERT INTO app.users (email) VALUES ('mallory@example.com');
       DELETE FROM app.events WHERE id <= 1000;
       UPDATE "Ünïcødé ✓"."Tâble ✓" SET "naïve column" = 'changed';
       SELECT nextval('app.invoice_no'); SELECT nextval('app.never_used');
       SELECT lo_unlink(body) FROM app.docs; SELECT lo_from_bytea(0, '\\x0102');
       REFRESH MATERIALIZED VIEW app.mood_counts;
       CREATE TABLE public.added_later (x int); INSERT INTO public.added_later VALUES (42);`,
    );
    await source.restore(restoreCtx(backup!, { database: dst }));
    const fp = await fingerprint(dst);
    expect(fp["r public.added_later"]).toEqual({ n: 1, md5: expect.any(String) });
    delete fp["r public.added_later"];
    // The stray large object made after the backup is not in the dump and stays, like any object the backup does not hold.
    const los = fp.largeObjects as Array<{ oid: string }>;
    const expectedLos = sourceFp.largeObjects as Array<{ oid: string }>;
    expect(los.length).toBe(expectedLos.length + 1);
    expect(los.filter((l) => expectedLos.some((e) => e.oid === l.oid))).toEqual(expectedLos);
    fp.largeObjects = expectedLos;
    expect(fp).toEqual(sourceFp);
  });

  it("a table added since the backup inside one of its schemas makes --clean fail: rolled back, nothing changed", async () => {
    const source = postgres({ connectionString: urlFor(src) });
    await sql(
      dst,
      "CREATE TABLE app.added_in_app (x int); INSERT INTO app.users (email) VALUES ('trudy@example.com');",
    );
    const before = await fingerprint(dst);
    const err = await source.restore(restoreCtx(backup!, { database: dst })).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: "E_SOURCE",
      message: expect.stringMatching(
        /cannot drop schema app because other objects depend on it.*restore into a new database/s,
      ),
    });
    expect(await fingerprint(dst)).toEqual(before);
    await sql(dst, "DROP TABLE app.added_in_app");
  });

  it("creates a missing target with createDatabase, and refuses without it", async () => {
    const source = postgres({ connectionString: urlFor(src) });
    const err = await source.restore(restoreCtx(backup!, { database: created })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_SOURCE", message: expect.stringContaining("createDatabase") });
    expect(await dbExists(created)).toBe(false);
    const result = await source.restore(restoreCtx(backup!, { database: created, createDatabase: true }));
    expect(result.details).toMatchObject({ createdDatabase: true });
    expect(await fingerprint(created)).toEqual(sourceFp);
  });

  it("preview() lists current vs incoming rows and touches nothing", async () => {
    const source = postgres({ connectionString: urlFor(src) });
    const stats = await source.inspect!(ctx());
    const b = { ...backup!, component: { ...backup!.component, stats } };
    await sql(created, "DELETE FROM app.users WHERE email = 'eve@example.com'");
    const before = await fingerprint(created);
    const p = await source.preview!({ ...restoreCtx(b, { database: created }), dryRun: true });
    expect(p.exists).toBe(true);
    expect(p.target).toContain(created);
    expect(p.replaces).toContainEqual({ name: "app.users", current: 4, incoming: 5, unit: "rows" });
    // Right before a real restore, estimates are enough (and cheap).
    const quick = await source.preview!(restoreCtx(b, { database: created }));
    expect(quick.replaces.map((r) => r.name)).toEqual(p.replaces.map((r) => r.name));
    expect(quick.notes?.join("\n")).toContain("estimated current counts");
    expect(await fingerprint(created)).toEqual(before);
    const missing = await source.preview!({ ...restoreCtx(b, { database: uniqueName("nope") }), dryRun: true });
    expect(missing.exists).toBe(false);
    expect(missing.replaces).toContainEqual({ name: "app.users", current: undefined, incoming: 5, unit: "rows" });
  });

  it("restoreTest() restores into a scratch database, compares counts and drops it", async () => {
    const source = postgres({ connectionString: urlFor(src), rowCountExactThreshold: 100_000 });
    await sql(src, "ANALYZE app.events");
    const stats = await source.inspect!(ctx());
    const good = await source.restoreTest!(restoreCtx({ ...backup!, component: { ...backup!.component, stats } }));
    expect(good.ok).toBe(true);
    expect(good.checks).toContainEqual(
      expect.objectContaining({ name: "rows app.events", ok: true, message: expect.stringContaining("estimated") }),
    );
    expect(good.checks).toContainEqual({ name: "rows app.users", ok: true, expected: 5, actual: 5 });
    const wrong = { ...stats, counts: { ...stats.counts, "app.users": 6 } };
    const bad = await source.restoreTest!(
      restoreCtx({ ...backup!, component: { ...backup!.component, stats: wrong } }),
    );
    expect(bad.ok).toBe(false);
    expect(bad.checks).toContainEqual({ name: "rows app.users", ok: false, expected: 6, actual: 5 });
    const left = await sql("postgres", "SELECT datname FROM pg_database WHERE datname LIKE 'strongbox_restore_test_%'");
    expect(left).toEqual([]);
  });

  it("the artifact restores with plain pg_restore (standard-tools recipe)", async () => {
    await createDb(raw);
    await run("pg_restore", [
      "--no-owner",
      "-h",
      "127.0.0.1",
      "-U",
      "postgres",
      "-d",
      raw,
      backup!.files[`${src}.dump`]!,
    ]);
    expect(await fingerprint(raw)).toEqual(sourceFp);
  });
});
