#!/usr/bin/env node
/**
 * PostgreSQL benchmark: Strongbox backup (pg_dump → gzip → age → local disk) and restore, against
 * the same work done with the standard tools alone.
 *
 *   pnpm build && node bench/postgres/bench.mjs
 *
 * Environment:
 *   BENCH_PG_URL       admin connection (needs CREATEDB)   default postgres://postgres@127.0.0.1:5432/postgres
 *   BENCH_PG_SIZE_MB   approximate database size to build   default 1024
 *   BENCH_DIR          where backup files go                default the OS temp directory
 *   BENCH_KEEP_DB      set to keep the generated database afterwards
 *
 * The database is built with `pgbench -i` (scale ≈ size / 15 MB) plus a table of random-looking
 * text, so that compression has something realistic to chew on. Prints a table and writes
 * bench/results/postgres.json. Not run in CI.
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const coreDist = join(root, "packages/core/dist/index.js");
const pgDist = join(root, "packages/source-postgres/dist/index.js");
if (!existsSync(coreDist) || !existsSync(pgDist)) {
  console.error("bench/postgres: build the packages first (pnpm build)");
  process.exit(1);
}
const { createStrongbox, encrypt, generateIdentity, gzip, local } = await import(coreDist);
const { postgres } = await import(pgDist);

const run = promisify(execFile);
const adminUrl = new URL(process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres");
const sizeMb = Number(process.env.BENCH_PG_SIZE_MB ?? 1024);
const dbName = `strongbox_bench_${randomBytes(3).toString("hex")}`;
const urlFor = (db) => {
  const u = new URL(adminUrl);
  u.pathname = `/${db}`;
  return u.toString();
};
const connArgs = [
  "-h",
  adminUrl.hostname || "127.0.0.1",
  "-p",
  adminUrl.port || "5432",
  "-U",
  decodeURIComponent(adminUrl.username || "postgres"),
];
// Passwords go through the environment, never argv.
const env = { ...process.env, ...(adminUrl.password ? { PGPASSWORD: decodeURIComponent(adminUrl.password) } : {}) };

function sh(script, args = []) {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-o", "pipefail", "-c", script, "bash", ...args], {
      stdio: ["ignore", "ignore", "pipe"],
      env,
    });
    let err = "";
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${script} exited ${code}: ${err.slice(-2000)}`)),
    );
  });
}

async function psql(db, sql) {
  const { stdout } = await run("psql", [...connArgs, "-d", db, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql], {
    env,
    maxBuffer: 1 << 24,
  });
  return stdout.trim();
}

/** Wall time of fn, and the peak RSS of this process while it ran (sampled every 25 ms). */
async function measure(fn) {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 25);
  const t0 = performance.now();
  try {
    const result = await fn();
    return {
      seconds: (performance.now() - t0) / 1000,
      peakRssMb: Math.round(Math.max(peak, process.memoryUsage.rss()) / 1048576),
      result,
    };
  } finally {
    clearInterval(timer);
  }
}

const mb = (bytes) => Math.round((bytes / 1048576) * 10) / 10;
const dir = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), "strongbox-bench-pg-"));
const restoreDbs = [];

try {
  // --- Build the database -------------------------------------------------------------------
  console.log(`building ${dbName} (~${sizeMb} MB)…`);
  const build = await measure(async () => {
    await psql("postgres", `CREATE DATABASE ${dbName}`);
    // pgbench data is very compressible (blank-padded); a third of the size is md5 text instead.
    const scale = Math.max(1, Math.round((sizeMb * 0.67) / 15));
    await run("pgbench", [...connArgs, "-i", "-q", "-s", String(scale), dbName], { env, maxBuffer: 1 << 24 });
    const rows = Math.round((sizeMb * 0.33 * 1048576) / 110);
    await psql(
      dbName,
      `CREATE TABLE notes AS SELECT i AS id, md5(i::text) || md5((i * 31)::text) AS body, now() - i * interval '1 second' AS at FROM generate_series(1, ${rows}) i; ANALYZE`,
    );
  });
  const dbBytes = Number(await psql(dbName, "SELECT pg_database_size(current_database())"));
  console.log(`  ${mb(dbBytes)} MB in ${build.seconds.toFixed(1)} s`);

  const { identity, recipient } = generateIdentity();
  const keyFile = join(dir, "key.txt");
  await writeFile(keyFile, `${identity}\n`, { mode: 0o600 });
  const store = join(dir, "store");
  await mkdir(store);
  const box = createStrongbox({
    sources: [postgres({ connectionString: urlFor(dbName), createDatabase: true })],
    storage: local({ directory: store }),
    transforms: [gzip(), encrypt({ recipients: [recipient], identities: [identity] })],
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });

  // --- Backups ------------------------------------------------------------------------------
  console.log("backup: strongbox (pg_dump -Fc → gzip → age → local disk)…");
  const ours = await measure(() => box.backup());
  const artifact = ours.result.components[0].artifacts[0];
  const oursFile = join(store, artifact.key);

  // The part of our backup spent before pg_dump starts: preflight and per-table row counts.
  const probe = postgres({ connectionString: urlFor(dbName) });
  const quietCtx = {
    signal: new AbortController().signal,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    progress() {},
  };
  const inspectOnly = await measure(async () => {
    await probe.check(quietCtx);
    await probe.inspect(quietCtx);
  });

  console.log("backup: pg_dump -Fc > file…");
  const plainFile = join(dir, "plain.dump");
  const plain = await measure(() => sh(`pg_dump ${connArgs.join(" ")} -Fc -d "$1" > "$2"`, [dbName, plainFile]));

  console.log("backup: pg_dump -Fc | gzip | age > file…");
  const pipeFile = join(dir, "pipe.dump.gz.age");
  const piped = await measure(() =>
    sh(`pg_dump ${connArgs.join(" ")} -Fc -d "$1" | gzip | age -r "$2" > "$3"`, [dbName, recipient, pipeFile]),
  );

  // --- Restores -----------------------------------------------------------------------------
  const flags = "--single-transaction --exit-on-error --clean --if-exists --no-owner";
  const fresh = async (label) => {
    const db = `${dbName}_${label}`;
    restoreDbs.push(db);
    return db;
  };

  console.log("restore: strongbox (local → age → gunzip → pg_restore, + ANALYZE and count check)…");
  const oursDb = await fresh("ours");
  const oursRestore = await measure(() =>
    box.restore(ours.result.id, { targets: { postgres: { database: oursDb, createDatabase: true } } }),
  );

  console.log(`restore: pg_restore ${flags} file…`);
  const plainDb = await fresh("plain");
  await psql("postgres", `CREATE DATABASE ${plainDb}`);
  const plainRestore = await measure(() =>
    sh(`pg_restore ${connArgs.join(" ")} ${flags} -d "$1" "$2"`, [plainDb, plainFile]),
  );

  console.log("restore: age -d | gunzip | pg_restore…");
  const pipeDb = await fresh("pipe");
  await psql("postgres", `CREATE DATABASE ${pipeDb}`);
  const pipeRestore = await measure(() =>
    sh(`age -d -i "$1" "$2" | gunzip | pg_restore ${connArgs.join(" ")} ${flags} -d "$3"`, [keyFile, pipeFile, pipeDb]),
  );

  const check = async (db) =>
    Number(await psql(db, "SELECT (SELECT count(*) FROM pgbench_accounts) + (SELECT count(*) FROM notes)"));
  const expectedRows = await check(dbName);
  for (const db of [oursDb, plainDb, pipeDb])
    if ((await check(db)) !== expectedRows) throw new Error(`row count mismatch in ${db}`);
  await box.close();

  // --- Report -------------------------------------------------------------------------------
  const rows = [
    {
      step: "backup",
      what: "strongbox: pg_dump | gzip | age → local",
      seconds: ours.seconds,
      bytes: (await stat(oursFile)).size,
      peakRssMb: ours.peakRssMb,
    },
    { step: "backup", what: "  of which check() + inspect() (row counts)", seconds: inspectOnly.seconds },
    { step: "backup", what: "pg_dump -Fc > file", seconds: plain.seconds, bytes: (await stat(plainFile)).size },
    {
      step: "backup",
      what: "pg_dump -Fc | gzip | age > file",
      seconds: piped.seconds,
      bytes: (await stat(pipeFile)).size,
    },
    {
      step: "restore",
      what: "strongbox restore (+ANALYZE, count check)",
      seconds: oursRestore.seconds,
      peakRssMb: oursRestore.peakRssMb,
    },
    { step: "restore", what: "pg_restore (same flags) < file", seconds: plainRestore.seconds },
    { step: "restore", what: "age -d | gunzip | pg_restore", seconds: pipeRestore.seconds },
  ];
  const base = { backup: plain.seconds, restore: plainRestore.seconds };
  console.log(
    `\nPostgreSQL ${await psql("postgres", "SHOW server_version")}, database ${mb(dbBytes)} MB, ${cpus().length} CPUs, ${Math.round(totalmem() / 1073741824)} GB RAM\n`,
  );
  console.log(
    `${"step".padEnd(8)} ${"what".padEnd(44)} ${"wall s".padStart(8)} ${"× tool".padStart(7)} ${"file MB".padStart(8)} ${"peak RSS MB".padStart(12)}`,
  );
  for (const r of rows) {
    const ratio = r.seconds / base[r.step];
    console.log(
      `${r.step.padEnd(8)} ${r.what.padEnd(44)} ${r.seconds.toFixed(2).padStart(8)} ${ratio.toFixed(2).padStart(7)} ${(r.bytes ? String(mb(r.bytes)) : "").padStart(8)} ${(r.peakRssMb ? String(r.peakRssMb) : "").padStart(12)}`,
    );
  }
  const result = {
    benchmark: "postgres",
    date: new Date().toISOString(),
    node: process.version,
    server: await psql("postgres", "SHOW server_version"),
    cpus: cpus().length,
    databaseBytes: dbBytes,
    requestedSizeMb: sizeMb,
    rows: rows.map((r) => ({
      ...r,
      seconds: Math.round(r.seconds * 1000) / 1000,
      ratioToTool: Math.round((r.seconds / base[r.step]) * 100) / 100,
    })),
    processPeakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  const out = join(root, "bench/results/postgres.json");
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwritten ${out}`);
} finally {
  for (const db of restoreDbs) await psql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => {});
  if (!process.env.BENCH_KEEP_DB)
    await psql("postgres", `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
  await rm(dir, { recursive: true, force: true });
}
