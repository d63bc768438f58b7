import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { postgres } from "@strongbox/source-postgres";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupToDir, ctx, removeBackup, restoreCtx, run, type StoredBackup } from "./helpers.js";

/**
 * A throwaway cluster with password (SCRAM) authentication, so wrong passwords really fail and
 * role changes (globals) touch nobody else's server. ~1–2 s to start.
 */
const BIN = "/usr/lib/postgresql/15/bin";
const PASSWORD = "p@ss:w/rd é'\"#?&=%";
const canRun = process.getuid?.() === 0;
if (!canRun)
  console.warn(
    "auth.test: skipped — starting a private PostgreSQL cluster needs root (initdb via runuser as postgres)",
  );

describe.skipIf(!canRun)("postgres with password authentication (private cluster)", () => {
  let dir: string;
  let port: number;
  const backups: StoredBackup[] = [];
  const url = (password: string, db = "postgres") =>
    `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`;
  const asPostgres = (args: string[]) => run("runuser", ["-u", "postgres", "--", ...args]);
  const q = async (text: string, db = "postgres") => {
    const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", password: PASSWORD, database: db });
    await c.connect();
    try {
      return (await c.query(text)).rows;
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sbt-pgauth-"));
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    await chown(dir, Number(stdout), Number(gid));
    await mkdir(join(dir, "sock"));
    await chown(join(dir, "sock"), Number(stdout), Number(gid));
    await writeFile(join(dir, "pw"), PASSWORD);
    await chown(join(dir, "pw"), Number(stdout), Number(gid));
    await chmod(join(dir, "pw"), 0o600);
    await asPostgres([
      `${BIN}/initdb`,
      "-D",
      join(dir, "data"),
      "-U",
      "postgres",
      "-A",
      "scram-sha-256",
      `--pwfile=${join(dir, "pw")}`,
      "--no-sync",
      "-E",
      "UTF8",
      "--locale=C",
    ]);
    port = 20000 + Math.floor(Math.random() * 20000);
    await asPostgres([
      `${BIN}/pg_ctl`,
      "-D",
      join(dir, "data"),
      "-w",
      "-l",
      join(dir, "log"),
      "-o",
      `-p ${port} -c listen_addresses=127.0.0.1 -k ${join(dir, "sock")} -c fsync=off`,
      "start",
    ]);
    await q("CREATE DATABASE app");
    await q(
      "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'row ' || i FROM generate_series(1, 100) i;",
      "app",
    );
  }, 60_000);

  afterAll(async () => {
    for (const b of backups) await removeBackup(b);
    if (dir) {
      await asPostgres([`${BIN}/pg_ctl`, "-D", join(dir, "data"), "-m", "immediate", "stop"]).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a wrong password fails check() and backup() with E_SOURCE, and no message shows it", async () => {
    const wrong = "not-the-password-123";
    const source = postgres({ connectionString: url(wrong, "app") });
    const c = await source.check!(ctx()).catch((e: unknown) => e);
    expect(c).toMatchObject({ code: "E_SOURCE", message: expect.stringContaining("password authentication failed") });
    const b = await backupToDir(source).catch((e: unknown) => e);
    expect(b).toMatchObject({ code: "E_SOURCE", message: expect.stringContaining("password authentication failed") });
    for (const e of [c, b]) {
      expect(String((e as Error).message)).not.toContain(wrong);
      expect(JSON.stringify((e as { details?: unknown }).details ?? {})).not.toContain(wrong);
    }
  });

  it("the right password reaches pg_dump and pg_restore through the environment, never argv", async () => {
    const wrapper = join(dir, "pg_dump-wrapper.sh");
    const argvFile = join(dir, "argv");
    await writeFile(wrapper, `#!/bin/sh\nprintf '%s\\n' "$@" > '${argvFile}'\nexec pg_dump "$@"\n`);
    await chmod(wrapper, 0o755);
    const source = postgres({ connectionString: url(PASSWORD, "app"), pgDumpPath: wrapper, createDatabase: true });
    await source.check!(ctx());
    const stats = await source.inspect!(ctx());
    expect(stats.counts).toEqual({ "public.t": 100 });
    const backup = await backupToDir(source, { stats });
    backups.push(backup);
    const argv = await readFile(argvFile, "utf8");
    expect(argv).toContain("--host");
    expect(argv).not.toContain(PASSWORD);
    expect(argv).not.toContain(encodeURIComponent(PASSWORD));
    await source.restore(restoreCtx(backup, { database: "copy" }));
    expect(await q("SELECT count(*)::int AS n, sum(id)::int AS s FROM t", "copy")).toEqual([{ n: 100, s: 5050 }]);
    const drill = await source.restoreTest!(restoreCtx(backup));
    expect(drill.ok).toBe(true);
  });

  it("the same works from separate connection fields and from a ready pg.Pool", async () => {
    const fields = postgres({ host: "127.0.0.1", port, user: "postgres", password: PASSWORD, database: "app" });
    await fields.check!(ctx());
    const pool = new pg.Pool({
      host: "127.0.0.1",
      port,
      user: "postgres",
      password: PASSWORD,
      database: "app",
      max: 2,
    });
    try {
      const fromPool = postgres({ client: pool });
      expect((await fromPool.inspect!(ctx())).counts).toEqual({ "public.t": 100 });
      const backup = await backupToDir(fromPool);
      backups.push(backup);
      expect(Object.keys(backup.files)).toEqual(["app.dump"]);
    } finally {
      await pool.end();
    }
  });

  it("globals: roles go into globals.sql and come back with restoreGlobals", async () => {
    await q("CREATE ROLE strongbox_reader LOGIN PASSWORD 'reader-secret' CONNECTION LIMIT 7");
    const source = postgres({ connectionString: url(PASSWORD, "app"), globals: true, restoreGlobals: true });
    const backup = await backupToDir(source);
    backups.push(backup);
    expect(Object.keys(backup.files)).toEqual(["app.dump", "globals.sql"]);
    const globals = await readFile(backup.files["globals.sql"]!, "utf8");
    expect(globals).toContain("CREATE ROLE strongbox_reader");
    await q("DROP ROLE strongbox_reader");
    const result = await source.restore(restoreCtx(backup));
    expect(
      await q("SELECT rolname, rolconnlimit, rolcanlogin FROM pg_roles WHERE rolname = 'strongbox_reader'"),
    ).toEqual([{ rolname: "strongbox_reader", rolconnlimit: 7, rolcanlogin: true }]);
    // The role "postgres" already existed: reported, not fatal.
    expect(result.warnings?.join("\n")).toContain("already exists");
  });
});
