/**
 * The source dies in the middle of a backup: a throwaway redis-server SIGKILLed mid-SCAN,
 * pg_dump SIGKILLed mid-dump (when PostgreSQL is reachable), a Qdrant snapshot download cut
 * (the package's stand-in server). Each backup must fail with E_SOURCE, leave no manifest and no
 * object at all on the storage (checked with fs), and leave the earlier backup restorable.
 */
import { randomBytes } from "node:crypto";
import { chmod, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createStrongbox, gzip, local, type Source, silentLogger } from "@strongbox/core";
import { postgres } from "@strongbox/source-postgres";
import { qdrant } from "@strongbox/source-qdrant";
import { redis } from "@strongbox/source-redis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nativeClient, seedCollections } from "../../../packages/source-qdrant/test/helpers.js";
import { type StandIn, startStandIn } from "../../../packages/source-qdrant/test/stand-in/server.js";
import { startRedis, type TestServer } from "../../../packages/source-redis/test/helpers/servers.js";
import { expectCode, removeDir, tempDir, waitFor } from "./support/helpers.js";

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

/** Bytes in upload temp files under `dir`. */
async function inFlightBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (!e.isFile() || !e.name.startsWith(".strongbox-tmp-")) continue;
    total += (await stat(join(e.parentPath, e.name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/**
 * Backs up `source` once (the earlier backup), then again while `kill` runs once `afterBytes` of
 * the new backup have landed in the storage's upload temp file (0: before it starts); expects
 * E_SOURCE and that the storage holds exactly the earlier backup.
 */
async function dieMidStream(
  root: string,
  source: Source,
  kill: () => Promise<void> | void,
  afterBytes: number,
  before?: () => Promise<void>,
): Promise<{ message: string; earlier: string }> {
  const store = join(root, "store");
  const box = createStrongbox({
    sources: [source],
    storage: local({ directory: store }),
    transforms: [gzip({ level: 1 })],
    logger: silentLogger,
  });
  const earlier = await box.backup();
  const earlierFiles = await filesUnder(store);
  await before?.();
  // Progress events are throttled (every 250 ms), so watch the bytes actually landing on disk
  // instead: the in-flight upload is a `.strongbox-tmp-*` file in the store.
  let killed = false;
  if (afterBytes === 0) {
    killed = true;
    await kill();
  }
  const watch = setInterval(() => {
    void inFlightBytes(store).then((n) => {
      if (!killed && n >= afterBytes && n > 0) {
        killed = true;
        void kill();
      }
    });
  }, 3);
  const t0 = Date.now();
  const err = await expectCode(box.backup(), "E_SOURCE").finally(() => clearInterval(watch));
  expect(killed, "the fault was injected mid-stream").toBe(true);
  expect(Date.now() - t0).toBeLessThan(20_000);
  // Natively: exactly the earlier backup's files — no manifest, no artifact, no temp file.
  expect(await filesUnder(store)).toEqual(earlierFiles);
  expect((await box.list({ includeIncomplete: true })).map((s) => s.id)).toEqual([earlier.id]);
  expect((await box.verify(earlier.id, { mode: "decode" })).ok).toBe(true);
  await box.close();
  return { message: err.message, earlier: earlier.id };
}

describe("Redis connection dropped mid-backup (redis-server SIGKILLed)", () => {
  let server: TestServer;
  let root: string;
  beforeAll(async () => {
    root = await tempDir("src-redis");
    server = await startRedis();
    const c = server.client();
    // One value for every key: the stored artifact is ~400 KB gzipped, read from 20 MB of data.
    const value = randomBytes(512).toString("hex");
    for (let b = 0; b < 20; b++) {
      const p = c.pipeline();
      for (let i = 0; i < 1000; i++) p.set(`k:${b}:${i}`, value);
      await p.exec();
    }
    c.disconnect();
  });
  afterAll(async () => {
    await server?.stop();
    await removeDir(root);
  });

  it("fails with E_SOURCE, stores nothing, earlier backup intact", async () => {
    const source = redis({ name: "cache", url: server.url, batchSize: 100, scanCount: 100 });
    const { message } = await dieMidStream(root, source, () => void server.process.kill("SIGKILL"), 64 << 10);
    expect(message).toMatch(/\[redis\]|connection|closed|ECONNRE/i);
  });
});

async function postgresReachable(): Promise<boolean> {
  const c = new pg.Client({
    connectionString: "postgres://postgres@127.0.0.1:5432/postgres",
    connectionTimeoutMillis: 2000,
  });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

const pgUp = await postgresReachable();
if (!pgUp)
  console.warn("[reliability] PostgreSQL on 127.0.0.1:5432 is not reachable: the pg_dump-killed case is skipped");

describe.skipIf(!pgUp)("pg_dump SIGKILLed mid-dump", () => {
  let root: string;
  const db = `sb_rel_${randomBytes(4).toString("hex")}`;
  const admin = () => new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/postgres" });
  beforeAll(async () => {
    root = await tempDir("src-pg");
    const a = admin();
    await a.connect();
    await a.query(`create database ${db}`);
    await a.end();
    const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:5432/${db}` });
    await c.connect();
    // ~25 MB of incompressible-ish rows: pg_dump takes long enough to be killed half-way.
    await c.query("create table t (id int primary key, v text)");
    await c.query(
      "insert into t select g, md5(g::text) || md5((g*7)::text) || md5((g*13)::text) from generate_series(1, 250000) g",
    );
    await c.end();
  });
  afterAll(async () => {
    const a = admin();
    await a.connect();
    await a.query(`drop database if exists ${db} with (force)`).catch(() => {});
    await a.end();
    await removeDir(root);
  });

  it("fails with E_SOURCE, stores nothing, earlier backup intact", async () => {
    // A wrapper that records pg_dump's pid (exec keeps it), so the test kills exactly its own child.
    const pidFile = join(root, "pg_dump.pid");
    const wrapper = join(root, "pg_dump-wrapper.sh");
    await writeFile(wrapper, `#!/bin/sh\necho $$ > '${pidFile}'\nexec pg_dump "$@"\n`);
    await chmod(wrapper, 0o700);
    const source = postgres({
      name: "db",
      connectionString: `postgres://postgres@127.0.0.1:5432/${db}`,
      pgDumpPath: wrapper,
    });
    const { message } = await dieMidStream(
      root,
      source,
      async () => {
        const pid = Number(await readFile(pidFile, "utf8"));
        process.kill(pid, "SIGKILL");
      },
      256 << 10,
      () => writeFile(pidFile, ""),
    );
    expect(message).toMatch(/pg_dump/);
  });
});

describe("Qdrant snapshot download cut (stand-in server)", () => {
  let server: StandIn;
  let root: string;
  beforeAll(async () => {
    root = await tempDir("src-qdrant");
    server = await startStandIn();
    await seedCollections(nativeClient(server.url), [{ name: "docs", dim: 8, points: 300 }]);
    server.setPadding("docs", 4 << 20);
  });
  afterAll(async () => {
    await server?.close();
    await removeDir(root);
  });

  it("fails with E_SOURCE, stores nothing, earlier backup intact", async () => {
    const source = qdrant({ name: "vectors", url: server.url, collections: ["docs"], retryDelayMs: 5 });
    const { message } = await dieMidStream(
      root,
      source,
      () => {
        server.faults.dropDownloadAfter = 1 << 20;
      },
      0,
      async () => {
        server.faults.dropDownloadAfter = 1 << 20;
      },
    );
    delete server.faults.dropDownloadAfter;
    expect(message).toMatch(/broke off|download/);
    await waitFor(() => (server.snapshots.get("docs")?.size ?? 0) === 0, 5_000);
  });
});
