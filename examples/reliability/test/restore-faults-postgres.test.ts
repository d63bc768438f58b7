/**
 * Faults during a PostgreSQL restore (when the machine's PostgreSQL is reachable): a backup
 * damaged at its very end (the stored sha256 edited, so every byte decodes and only the final
 * check fails), a flipped bit, and the wrong age key — each a distinct error code, and the target
 * database unchanged, compared with raw SQL. PostgreSQL restores atomically (one transaction), so
 * core does not verify first: the source itself must not commit before the stream ended cleanly.
 */
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type BackupManifest,
  createStrongbox,
  encrypt,
  generateIdentity,
  gzip,
  local,
  type StrongboxErrorCode,
  silentLogger,
} from "@strongbox/core";
import { postgres } from "@strongbox/source-postgres";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectCode, removeDir, tempDir } from "./support/helpers.js";

const URL_BASE = "postgres://postgres@127.0.0.1:5432";

async function reachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: `${URL_BASE}/postgres`, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}
const up = await reachable();
if (!up)
  console.warn(
    "[reliability] PostgreSQL on 127.0.0.1:5432 is not reachable: the postgres restore-fault cases are skipped",
  );

async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(db: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: `${URL_BASE}/${db}` });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

describe.skipIf(!up)("PostgreSQL restore faults leave the target database untouched", () => {
  const suffix = randomBytes(4).toString("hex");
  const sourceDb = `sb_rel_src_${suffix}`;
  const targetDb = `sb_rel_tgt_${suffix}`;
  const key = generateIdentity();
  let root: string;
  let manifest: BackupManifest;

  /** The whole target natively: every table with its row count and an md5 of its rows. */
  async function targetState(): Promise<unknown> {
    const tables = await sql<{ t: string }>(
      targetDb,
      "select tablename as t from pg_tables where schemaname = 'public' order by 1",
    );
    const out: Record<string, unknown> = {};
    for (const { t } of tables)
      out[t] = (
        await sql(
          targetDb,
          `select count(*)::int as n, md5(coalesce(string_agg(x::text, ',' order by x::text), '')) as h from "${t}" x`,
        )
      )[0];
    return out;
  }

  const box = (identity = key.identity) =>
    createStrongbox({
      sources: [postgres({ name: "db", connectionString: `${URL_BASE}/${sourceDb}` })],
      storage: local({ directory: join(root, "store") }),
      transforms: [gzip(), encrypt({ recipients: [key.recipient], identities: [identity] })],
      logger: silentLogger,
    });

  beforeAll(async () => {
    root = await tempDir("pg-restore");
    await sql("postgres", `create database ${sourceDb}`);
    await sql("postgres", `create database ${targetDb}`);
    await sql(sourceDb, "create table items (id int primary key, v text)");
    await sql(sourceDb, "insert into items select g, md5(g::text) from generate_series(1, 20000) g");
    await sql(targetDb, "create table items (id int primary key, v text)");
    await sql(targetDb, "insert into items values (1, 'precious'), (2, 'also precious')");
    await sql(targetDb, "create table other (k text)");
    await sql(targetDb, "insert into other values ('kept')");
    manifest = await box().backup();
  });
  afterAll(async () => {
    for (const db of [sourceDb, targetDb])
      await sql("postgres", `drop database if exists ${db} with (force)`).catch(() => {});
    await removeDir(root);
  });

  async function damagedRestore(
    damage: (file: string, manifestFile: string) => Promise<void>,
    code: StrongboxErrorCode,
  ) {
    const file = join(root, "store", manifest.components[0]!.artifacts[0]!.key);
    const manifestFile = join(root, "store", manifest.id, "manifest.json");
    const saved = [await readFile(file), await readFile(manifestFile)] as const;
    const before = await targetState();
    await damage(file, manifestFile);
    try {
      await expectCode(box().restore(manifest.id, { targets: { db: { database: targetDb } }, force: true }), code);
      expect(await targetState()).toEqual(before);
    } finally {
      await writeFile(file, saved[0]);
      await writeFile(manifestFile, saved[1]);
    }
  }

  it("the stored sha256 edited (fails only after the last byte) → E_INTEGRITY, nothing committed", async () => {
    await damagedRestore(async (_file, manifestFile) => {
      const m = JSON.parse(await readFile(manifestFile, "utf8")) as BackupManifest;
      const a = m.components[0]!.artifacts[0]!;
      a.sha256 = (a.sha256[0] === "0" ? "1" : "0") + a.sha256.slice(1);
      await writeFile(manifestFile, JSON.stringify(m));
    }, "E_INTEGRITY");
  });

  it("a flipped bit in the middle → E_INTEGRITY, nothing committed", async () => {
    await damagedRestore(async (file) => {
      const b = await readFile(file);
      b[Math.floor(b.length / 2)]! ^= 0x04;
      await writeFile(file, b);
    }, "E_INTEGRITY");
  });

  it("the wrong age key → E_DECRYPT, nothing committed", async () => {
    const before = await targetState();
    await expectCode(
      box(generateIdentity().identity).restore(manifest.id, { targets: { db: { database: targetDb } }, force: true }),
      "E_DECRYPT",
    );
    expect(await targetState()).toEqual(before);
  });

  it("the undamaged backup then restores into the same target (control)", async () => {
    await box().restore(manifest.id, { targets: { db: { database: targetDb } }, force: true });
    expect((await sql(targetDb, "select count(*)::int as n from items"))[0]!.n).toBe(20000);
  });
});
