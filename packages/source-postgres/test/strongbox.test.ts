import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStrongbox, encrypt, generateIdentity, gzip, local } from "@strongbox/core";
import { postgres } from "@strongbox/source-postgres";
import { sourceSuite } from "@strongbox/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, dbExists, dropDb, fingerprint, run, sql, uniqueName, urlFor } from "./helpers.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

const SEED = `
DROP SCHEMA IF EXISTS app CASCADE;
CREATE SCHEMA app;
CREATE TYPE app.kind AS ENUM ('a', 'b');
CREATE TABLE app.items (id serial PRIMARY KEY, kind app.kind, doc jsonb, raw bytea);
INSERT INTO app.items (kind, doc, raw) SELECT CASE WHEN i % 2 = 0 THEN 'a'::app.kind ELSE 'b' END, jsonb_build_object('i', i, 'ü', repeat('x', i % 7)), decode(md5(i::text), 'hex') FROM generate_series(1, 2000) i;
CREATE VIEW app.a_items AS SELECT id FROM app.items WHERE kind = 'a';
`;

const suiteDb = uniqueName("suite");
const altDb = uniqueName("suite_alt");

sourceSuite("postgres", async () => {
  await createDb(suiteDb);
  return {
    source: postgres({ connectionString: urlFor(suiteDb) }),
    seed: async () => {
      await sql(suiteDb, SEED);
    },
    snapshot: () => fingerprint(suiteDb),
    mutate: async () => {
      await sql(
        suiteDb,
        "DELETE FROM app.items WHERE id % 3 = 0; UPDATE app.items SET doc = '{}' WHERE id < 10; SELECT nextval('app.items_id_seq'); INSERT INTO app.items (kind) VALUES ('a')",
      );
    },
    altTarget: {
      target: { database: altDb, createDatabase: true },
      snapshot: async () => {
        const fp = await fingerprint(altDb);
        return fp;
      },
      cleanup: () => dropDb(altDb),
    },
    cleanup: () => dropDb(suiteDb),
  };
});

describe("postgres through createStrongbox with gzip + age", () => {
  const db = uniqueName("box_src");
  const restored = uniqueName("box_copy");
  const byHand = uniqueName("box_hand");
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sbt-pgbox-"));
    await createDb(db);
    await sql(
      db,
      `${SEED} CREATE TABLE public.big AS SELECT i AS id, md5(i::text) AS v FROM generate_series(1, 50000) i;`,
    );
  });

  afterAll(async () => {
    for (const d of [db, restored, byHand]) await dropDb(d);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("backs up, verifies by restore test, restores into another database, and the age | gunzip | pg_restore recipe works", async () => {
    const { identity, recipient } = generateIdentity();
    const box = createStrongbox({
      sources: [postgres({ connectionString: urlFor(db) })],
      storage: local({ directory: dir }),
      transforms: [gzip(), encrypt({ recipients: [recipient], identities: [identity] })],
      logger: quiet,
    });
    try {
      const before = await fingerprint(db);
      const manifest = await box.backup();
      const component = manifest.components[0]!;
      expect(component.stats?.counts).toMatchObject({ "app.items": 2000, "public.big": 50000 });
      expect(component.artifacts[0]!.key).toBe(`${manifest.id}/postgres/${db}.dump.gz.age`);
      expect(component.artifacts[0]!.meta).toMatchObject({ database: db, countsFromDumpSnapshot: true });

      const verified = await box.verify(manifest.id, { mode: "restore-test" });
      expect(verified.ok, JSON.stringify(verified)).toBe(true);
      expect(
        await sql("postgres", "SELECT datname FROM pg_database WHERE datname LIKE 'strongbox_restore_test_%'"),
      ).toEqual([]);

      const dry = await box.restore(manifest.id, { dryRun: true, targets: { postgres: { database: restored } } });
      expect(dry.components[0]!.preview).toMatchObject({ exists: false });
      expect(await dbExists(restored)).toBe(false);

      const report = await box.restore(manifest.id, {
        targets: { postgres: { database: restored, createDatabase: true } },
      });
      expect(report.components[0]!.checks?.every((c) => c.ok)).toBe(true);
      expect(await fingerprint(restored)).toEqual(before);

      // Standard tools only: the key, age, gunzip and pg_restore.
      const keyFile = join(dir, "key.txt");
      await writeFile(keyFile, `${identity}\n`, { mode: 0o600 });
      await createDb(byHand);
      const file = join(dir, component.artifacts[0]!.key);
      await run("sh", [
        "-c",
        'age -d -i "$1" "$2" | gunzip | pg_restore --no-owner -h 127.0.0.1 -U postgres -d "$3"',
        "sh",
        keyFile,
        file,
        byHand,
      ]);
      expect(await fingerprint(byHand)).toEqual(before);
    } finally {
      await box.close();
    }
  });

  it("a pg_dump that dies after writing part of the dump fails the backup and leaves nothing behind", async () => {
    // Writes the first 200 KB of a real dump, closes stdout, then is killed: only its exit status tells.
    const dying = join(dir, "dying-pg_dump.sh");
    await writeFile(dying, '#!/bin/bash\npg_dump "$@" | head -c 200000\nkill -9 $$\n', { mode: 0o755 });
    const store = join(dir, "dying-store");
    const box = createStrongbox({
      sources: [postgres({ connectionString: urlFor(db), pgDumpPath: dying })],
      storage: local({ directory: store }),
      transforms: [gzip()],
      preflight: false,
      logger: quiet,
    });
    try {
      const err = await box.backup().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "E_SOURCE", message: expect.stringContaining("SIGKILL") });
      expect(await box.list({ includeIncomplete: true })).toEqual([]);
      expect(await readdir(store).catch(() => [])).toEqual([]);
    } finally {
      await box.close();
    }
  });
});
