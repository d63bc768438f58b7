// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${ENV} references in config strings are what these tests are about.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { strongbox, tempDir } from "./helpers/cli.js";

const ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres";
const suffix = `${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const DB = `strongbox_cli_${suffix}`;
const COPY = `${DB}_copy`;

async function admin<T>(fn: (c: pg.Client) => Promise<T>, database = "postgres"): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN.replace(/\/postgres$/, `/${database}`) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const count = (database: string) =>
  admin(async (c) => Number((await c.query("select count(*)::int as n from items")).rows[0].n), database);

let reachable = true;
try {
  await admin((c) => c.query("select 1"));
} catch (err) {
  reachable = false;
  console.warn(`skipping the CLI PostgreSQL tests: no server on 127.0.0.1:5432 (${(err as Error).message})`);
}

// The real server, through the built binary: a uniquely named database, dropped afterwards.
describe.skipIf(!reachable)("strongbox with the postgres source", () => {
  const tmp = tempDir("pg");
  const cwd = tmp.dir;
  const env = { STRONGBOX_TEST_PG_URL: `postgresql://postgres@127.0.0.1:5432/${DB}` };
  const run = (args: string[]) => strongbox([...args, "--config", "strongbox.config.json"], { cwd, env });
  let id = "";

  beforeAll(async () => {
    await admin((c) => c.query(`create database ${DB}`));
    await admin(async (c) => {
      await c.query("create table items (id int primary key, name text not null)");
      await c.query("insert into items select g, 'item ' || g from generate_series(1, 1000) g");
    }, DB);
    writeFileSync(
      join(cwd, "strongbox.config.json"),
      JSON.stringify({
        sources: [{ type: "postgres", name: "pg", connectionString: "${STRONGBOX_TEST_PG_URL}" }],
        storage: { type: "local", directory: "./backups" },
        transforms: [{ type: "gzip" }],
      }),
    );
  });

  afterAll(async () => {
    await admin(async (c) => {
      for (const db of [DB, COPY]) await c.query(`drop database if exists ${db} with (force)`);
    });
    tmp.cleanup();
  });

  it("backs up the database", async () => {
    const r = await run(["backup", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const manifest = JSON.parse(r.stdout);
    id = manifest.id;
    expect(manifest.components[0]).toMatchObject({ name: "pg", type: "postgres" });
    expect(manifest.components[0].stats.counts["public.items"]).toBe(1000);
  });

  it("restore --dry-run previews the tables it would replace and changes nothing", async () => {
    await admin((c) => c.query("delete from items where id > 400"), DB);
    const r = await run(["restore", "latest", "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("pg (postgres) →");
    expect(r.stdout).toContain("public.items");
    expect(await count(DB)).toBe(400);
  });

  it("refuses without --force when stdin is not a terminal, then restores with --force", async () => {
    const refused = await run(["restore", id]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("pass --force");
    expect(await count(DB)).toBe(400);

    const r = await run(["restore", id, "--force", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).components[0].name).toBe("pg");
    expect(await count(DB)).toBe(1000);
    const last = await admin(async (c) => (await c.query("select name from items where id = 1000")).rows[0].name, DB);
    expect(last).toBe("item 1000");
  });

  it("restores into another database with --target", async () => {
    const r = await run([
      "restore",
      id,
      "--force",
      "--target",
      `pg.database=${COPY}`,
      "--target",
      "pg.createDatabase=true",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(await count(COPY)).toBe(1000);
  });

  it("never prints a password given in a --target connection string", async () => {
    const target = `pg.connectionString=postgresql://postgres:sekret-pw-123@127.0.0.1:5432/${COPY}`;
    const human = await run(["restore", id, "--dry-run", "--target", target]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(COPY);
    const json = await run(["restore", id, "--dry-run", "--json", "--target", target]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout).dryRun).toBe(true);
    for (const r of [human, json]) expect(r.stdout + r.stderr).not.toContain("sekret-pw-123");
  });

  it("verify --mode restore-test restores into a scratch database and compares counts", async () => {
    const r = await run(["verify", "latest", "--mode", "restore-test", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.ok).toBe(true);
    expect(result.components[0].mode).toBe("restore-test");
  });
});
