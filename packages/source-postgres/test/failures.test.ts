import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createStrongbox, local, type SourceArtifact, StrongboxError, silentLogger } from "@strongbox/core";
import { postgres } from "@strongbox/source-postgres";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  backupToDir,
  createDb,
  ctx,
  dbExists,
  dropDb,
  fingerprint,
  removeBackup,
  restoreCtx,
  type StoredBackup,
  sql,
  uniqueName,
  urlFor,
} from "./helpers.js";

const src = uniqueName("fail_src");
const dst = uniqueName("fail_dst");
let dir: string;
let backup: StoredBackup | undefined;

/** A pg_dump / pg_restore stand-in that records its pid and argv, then runs the real tool. */
async function wrapper(tool: string): Promise<{ path: string; pidFile: string; argvFile: string }> {
  const path = join(dir, `${tool}-wrapper.sh`);
  const pidFile = join(dir, `${tool}.pid`);
  const argvFile = join(dir, `${tool}.argv`);
  await writeFile(path, `#!/bin/sh\necho $$ > '${pidFile}'\nprintf '%s\\n' "$@" > '${argvFile}'\nexec ${tool} "$@"\n`);
  await chmod(path, 0o755);
  return { path, pidFile, argvFile };
}

async function fakeTool(name: string, script: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${script}\n`);
  await chmod(path, 0o755);
  return path;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(cond: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Consumes an artifact as the pipeline does: the stream, then done(). */
async function consume(a: SourceArtifact): Promise<void> {
  await pipeline(a.stream, new PassThrough().resume());
  await a.done?.();
}

describe("postgres failures (real server)", () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sbt-pgfail-"));
    await createDb(src);
    // ~6 MB of poorly compressible rows, so a dump cannot fit in a pipe buffer.
    await sql(
      src,
      `CREATE TABLE t (id int PRIMARY KEY, v text);
       INSERT INTO t SELECT i, md5(i::text) || md5((i * 7)::text) FROM generate_series(1, 80000) i;
       CREATE TABLE small (id int PRIMARY KEY, s text); INSERT INTO small VALUES (1, 'one'), (2, 'two');`,
    );
    backup = await backupToDir(postgres({ connectionString: urlFor(src) }));
  });

  afterAll(async () => {
    await removeBackup(backup);
    await rm(dir, { recursive: true, force: true });
    await dropDb(src);
    await dropDb(dst);
  });

  it("a missing database fails the backup with E_SOURCE and pg_dump's message", async () => {
    const source = postgres({ connectionString: urlFor(uniqueName("missing")) });
    const err = await backupToDir(source).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StrongboxError);
    expect(err).toMatchObject({
      code: "E_SOURCE",
      message: expect.stringMatching(/^\[strongbox\] \[postgres\] pg_dump exited with code 1: .*does not exist/s),
    });
    await expect(source.check!(ctx())).rejects.toMatchObject({
      code: "E_SOURCE",
      message: expect.stringContaining("does not exist"),
    });
  });

  it("pg_dump killed mid-stream fails the backup (no artifact that looks complete)", async () => {
    const w = await wrapper("pg_dump");
    const source = postgres({ connectionString: urlFor(src), pgDumpPath: w.path });
    const it = source.backup({ ...ctx(), backupId: "x" })[Symbol.asyncIterator]();
    const { value: a } = (await it.next()) as { value: SourceArtifact };
    const first = await new Promise<Buffer>((resolve) => a.stream.once("data", resolve));
    a.stream.pause();
    expect(first.length).toBeGreaterThan(0);
    const pid = Number((await readFile(w.pidFile, "utf8")).trim());
    process.kill(pid, "SIGKILL");
    a.stream.resume();
    const err = await consume(a).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_SOURCE", message: expect.stringContaining("SIGKILL") });
  });

  it("abort kills pg_dump and fails with E_ABORTED", async () => {
    const w = await wrapper("pg_dump");
    const source = postgres({ connectionString: urlFor(src), pgDumpPath: w.path });
    const ac = new AbortController();
    const it = source.backup({ ...ctx(), signal: ac.signal, backupId: "x" })[Symbol.asyncIterator]();
    const { value: a } = (await it.next()) as { value: SourceArtifact };
    await new Promise((resolve) => a.stream.once("data", resolve));
    a.stream.pause();
    const pid = Number((await readFile(w.pidFile, "utf8")).trim());
    ac.abort();
    a.stream.resume();
    const err = await consume(a).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_ABORTED" });
    await waitFor(() => !alive(pid));
    await it.return?.(undefined);
  });

  it("check() names both versions and the fix when pg_dump is older than the server", async () => {
    const old = await fakeTool("old_pg_dump", 'echo "pg_dump (PostgreSQL) 12.3"');
    const err = await postgres({ connectionString: urlFor(src), pgDumpPath: old }).check!(ctx()).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "E_SOURCE" });
    const msg = (err as Error).message;
    expect(msg).toContain("pg_dump 12.3");
    expect(msg).toMatch(/PostgreSQL 1\d\.\d+/);
    expect(msg).toMatch(/postgresql-client-1\d/);
    expect(msg).toContain("pgDumpPath");
    const missing = await postgres({ connectionString: urlFor(src), pgDumpPath: join(dir, "nope") }).check!(
      ctx(),
    ).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: "E_SOURCE", message: expect.stringContaining("not found") });
    await expect(postgres({ connectionString: urlFor(src) }).check!(ctx())).resolves.toBeUndefined();
  });

  describe("restore failures leave the target unchanged", () => {
    let before: Record<string, unknown>;
    const source = () => postgres({ connectionString: urlFor(src) });
    const dumpName = `${src}.dump`;

    beforeAll(async () => {
      await createDb(dst);
      await sql(
        dst,
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'target data'); CREATE TABLE small (x int); INSERT INTO small VALUES (9);",
      );
      before = await fingerprint(dst);
    });

    it("an artifact with flipped bytes: pg_restore fails, nothing committed", async () => {
      const bytes = await readFile(backup!.files[dumpName]!);
      for (let i = Math.floor(bytes.length / 2); i < bytes.length / 2 + 64; i++) bytes[i] = bytes[i]! ^ 0xa5;
      const err = await source()
        .restore(restoreCtx(backup!, { database: dst }, async () => Readable.from([bytes])))
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "E_SOURCE", message: expect.stringContaining("pg_restore") });
      expect(await fingerprint(dst)).toEqual(before);
    });

    it("when pg_restore trips over damaged bytes before the integrity check ends, the integrity error is what surfaces", async () => {
      const bytes = await readFile(backup!.files[dumpName]!);
      for (let i = bytes.length >> 2; i < (bytes.length >> 2) + 100; i++) bytes[i] = bytes[i]! ^ 0x5a;
      const open = async () =>
        Readable.from(
          (async function* () {
            // A slow storage: pg_restore fails on the damaged bytes while more are still coming.
            for (let i = 0; i < bytes.length; i += 16384) {
              yield bytes.subarray(i, i + 16384);
              if (i > bytes.length >> 2) await new Promise((r) => setTimeout(r, 5));
            }
            throw new StrongboxError("E_INTEGRITY", "sha256 of the artifact does not match the manifest");
          })(),
        );
      const err = await source()
        .restore(restoreCtx(backup!, { database: dst }, open))
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "E_INTEGRITY", message: expect.stringContaining("sha256") });
      expect(await fingerprint(dst)).toEqual(before);
    });

    it("an artifact stream failing half way (E_INTEGRITY): the error surfaces, nothing committed", async () => {
      const bytes = await readFile(backup!.files[dumpName]!);
      const open = async () =>
        Readable.from(
          (async function* () {
            yield bytes.subarray(0, bytes.length >> 1);
            throw new StrongboxError("E_INTEGRITY", "sha256 mismatch");
          })(),
        );
      const err = await source()
        .restore(restoreCtx(backup!, { database: dst }, open))
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "E_INTEGRITY" });
      expect(await fingerprint(dst)).toEqual(before);
    });

    it("an artifact whose integrity error comes only after its last byte: still nothing committed", async () => {
      // Through core: the stored bytes are intact, only the manifest's plaintext sha256 differs,
      // so the mismatch is known only once the last byte went by. Core holds that last chunk back
      // until the hash checks out, so pg_restore never reaches the end of the archive to commit.
      const storeDir = await mkdtemp(join(tmpdir(), "pg-late-integrity-"));
      try {
        const box = createStrongbox({
          sources: [postgres({ name: "pg", connectionString: urlFor(src) })],
          storage: local({ directory: storeDir }),
          logger: silentLogger,
        });
        const m = await box.backup();
        const manifestPath = join(storeDir, m.id, "manifest.json");
        const manifest = JSON.parse(await readFile(manifestPath, "utf8"));
        manifest.components[0].artifacts[0].plainSha256 = "0".repeat(64);
        await writeFile(manifestPath, JSON.stringify(manifest));
        const err = await box
          .restore(m.id, { targets: { pg: { database: dst } }, safetyBackup: false })
          .catch((e: unknown) => e);
        expect(err).toMatchObject({ code: "E_INTEGRITY" });
        expect(await fingerprint(dst)).toEqual(before);
      } finally {
        await rm(storeDir, { recursive: true, force: true });
      }
    });

    it("pg_restore failing mid-way (after the data load): rolled back", async () => {
      await sql(
        dst,
        `CREATE FUNCTION public.no_indexes() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no index today'; END $$;
         CREATE EVENT TRIGGER no_indexes ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION public.no_indexes();`,
      );
      try {
        const before2 = await fingerprint(dst);
        const err = await source()
          .restore(restoreCtx(backup!, { database: dst }))
          .catch((e: unknown) => e);
        expect(err).toMatchObject({ code: "E_SOURCE", message: expect.stringContaining("no index today") });
        expect(await fingerprint(dst)).toEqual(before2);
      } finally {
        await sql(dst, "DROP EVENT TRIGGER no_indexes; DROP FUNCTION public.no_indexes();");
      }
      expect(await fingerprint(dst)).toEqual(before);
    });

    it("lockTimeout: a restore blocked by an open transaction gives up instead of waiting, changing nothing", async () => {
      const holder = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: dst });
      holder.on("error", () => {});
      await holder.connect();
      try {
        await holder.query("BEGIN; SELECT count(*) FROM small");
        const t0 = Date.now();
        const err = await postgres({ connectionString: urlFor(src), lockTimeout: "300ms" })
          .restore(restoreCtx(backup!, { database: dst }))
          .catch((e: unknown) => e);
        expect(err).toMatchObject({
          code: "E_SOURCE",
          message: expect.stringContaining("gave up after waiting 300ms for a lock"),
        });
        expect(Date.now() - t0).toBeLessThan(20_000);
        await holder.query("ROLLBACK");
      } finally {
        await holder.end();
      }
      expect(await fingerprint(dst)).toEqual(before);
      expect(() => postgres({ connectionString: urlFor(src), lockTimeout: "5s; DROP" })).toThrow(/lockTimeout/);
    });

    it("aborting a restore that is queued for a lock ends its server session too (no lingering lock request)", async () => {
      const holder = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: dst });
      holder.on("error", () => {});
      await holder.connect();
      const restoring = () =>
        sql<{ wait: string | null }>(
          "postgres",
          "SELECT wait_event_type AS wait FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'strongbox-restore-%' AND application_name NOT LIKE '%-watch'",
          [dst],
        );
      try {
        await holder.query("BEGIN; SELECT count(*) FROM small");
        const ac = new AbortController();
        const c = { ...restoreCtx(backup!, { database: dst }), signal: ac.signal };
        const pending = source()
          .restore(c)
          .catch((e: unknown) => e);
        await waitFor(async () => (await restoring()).some((r) => r.wait === "Lock"));
        ac.abort();
        expect(await pending).toMatchObject({ code: "E_ABORTED" });
        // The holder still has its transaction open, yet the queued session is gone.
        await waitFor(async () => (await restoring()).length === 0, 5000);
        await holder.query("ROLLBACK");
      } finally {
        await holder.end();
      }
      expect(await fingerprint(dst)).toEqual(before);
    });

    it("an aborted restore kills pg_restore, fails with E_ABORTED and commits nothing", async () => {
      const w = await wrapper("pg_restore");
      const ac = new AbortController();
      const bytes = await readFile(backup!.files[dumpName]!);
      const open = async () =>
        Readable.from(
          (async function* () {
            yield bytes.subarray(0, bytes.length >> 1);
            // Abort once pg_restore is really running (its wrapper wrote its pid).
            await waitFor(async () => (await readFile(w.pidFile, "utf8").catch(() => "")).trim() !== "");
            ac.abort();
            await new Promise((r) => setTimeout(r, 100));
            yield bytes.subarray(bytes.length >> 1);
          })(),
        );
      const c = { ...restoreCtx(backup!, { database: dst }, open), signal: ac.signal };
      const err = await postgres({ connectionString: urlFor(src), pgRestorePath: w.path })
        .restore(c)
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "E_ABORTED" });
      const pid = Number((await readFile(w.pidFile, "utf8")).trim());
      await waitFor(() => !alive(pid));
      expect(await fingerprint(dst)).toEqual(before);
    });

    it("a failed restore into a database it created drops that database again", async () => {
      const fresh = uniqueName("fail_new");
      const open = async () => Readable.from([Buffer.from("PGDMP but not really a dump")]);
      const err = await source()
        .restore(restoreCtx(backup!, { database: fresh, createDatabase: true }, open))
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "E_SOURCE" });
      expect(await dbExists(fresh)).toBe(false);
    });
  });
});
