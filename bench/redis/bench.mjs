#!/usr/bin/env node
/**
 * Redis benchmark: Strongbox's logical backup (SCAN + DUMP + PEXPIRETIME → keys.sbrd) and restore
 * (RESTORE … ABSTTL), against `redis-cli --rdb -` (a replication RDB) for the backup side.
 *
 *   pnpm build && node bench/redis/bench.mjs
 *
 * Environment:
 *   BENCH_REDIS_KEYS    keys to generate (mixed types)        default 1000000
 *   BENCH_DIR           where backup files go                 default the OS temp directory
 *
 * Starts its own two redis-server processes on random ports (nothing touches 6379), fills one with
 * 60% strings, 15% hashes, 10% lists, 10% sets, 5% sorted sets (10% of keys with a TTL), then
 * times each step while sampling this process' RSS. Prints a table and writes
 * bench/results/redis.json. Not run in CI.
 */
import { spawn } from "node:child_process";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const redisDist = join(root, "packages/source-redis/dist/index.js");
if (!existsSync(redisDist) || !existsSync(join(root, "packages/core/dist/index.js"))) {
  console.error("bench/redis: build the packages first (pnpm build)");
  process.exit(1);
}
const { redis } = await import(redisDist);
// ioredis is a dependency of the package, not of bench/: resolve it from there.
const { Redis } = createRequire(join(root, "packages/source-redis/package.json"))("ioredis");

const KEYS = Number(process.env.BENCH_REDIS_KEYS ?? 1_000_000);
const silent = { debug() {}, info() {}, warn() {}, error() {} };

async function freePort() {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    const ok = await new Promise((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
}

async function startRedis(dir) {
  const port = await freePort();
  const child = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--repl-diskless-sync-delay",
      "0",
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      if (out.includes("Ready to accept connections")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`redis-server exited ${code}`)));
  });
  child.stdout.resume();
  return { port, url: `redis://127.0.0.1:${port}`, stop: () => child.kill("SIGKILL") };
}

/** Runs fn while sampling RSS every 20 ms; returns its result, seconds and peak RSS (MB). */
async function measure(fn) {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  const t0 = process.hrtime.bigint();
  try {
    const result = await fn();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, seconds, peakRssMb: Math.round(peak / 1048576) };
  } finally {
    clearInterval(timer);
  }
}

async function seed(url) {
  const c = new Redis(url);
  const field = "x".repeat(20);
  for (let start = 0; start < KEYS; start += 10_000) {
    const p = c.pipeline();
    for (let i = start; i < Math.min(KEYS, start + 10_000); i++) {
      const r = i % 20;
      const key = `bench:${i}`;
      if (r < 12) p.set(key, `${field}${i}`.repeat(4));
      else if (r < 15) p.hset(key, "a", field, "b", i, "c", field, "d", i, "e", field);
      else if (r < 17) p.rpush(key, field, i, field, i, field);
      else if (r < 19) p.sadd(key, `a${i}`, `b${i}`, `c${i}`, `d${i}`, `e${i}`);
      else p.zadd(key, 1, "a", 2, "b", 3, "c", 4, "d", i, "e");
      if (i % 10 === 0) p.pexpire(key, 86_400_000 + i);
    }
    await p.exec();
  }
  const memory = /used_memory:(\d+)/.exec(await c.info("memory"))?.[1];
  c.disconnect();
  return Number(memory);
}

// Seeding runs in a child process, so the RSS measured below is the backup's and restore's alone.
if (process.argv[2] === "--seed") {
  const used = await seed(process.argv[3]);
  process.stdout.write(String(used));
  process.exit(0);
}

function seedInChild(url) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--seed", url], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.once("exit", (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`seeding exited ${code}`))));
  });
}

const dir = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), "strongbox-bench-redis-"));
const [src, dst] = await Promise.all([startRedis(dir), startRedis(dir)]);
try {
  console.log(`bench/redis: ${KEYS} keys, ${cpus().length} CPUs, ${Math.round(totalmem() / 1073741824)} GB RAM`);
  const seeded = await measure(() => seedInChild(src.url));
  const baselineRssMb = Math.round(process.memoryUsage.rss() / 1048576);
  console.log(`seeded in ${seeded.seconds.toFixed(1)} s (used_memory ${(seeded.result / 1048576).toFixed(0)} MB)`);

  const ctx = { signal: new AbortController().signal, logger: silent, progress() {}, backupId: "bench" };
  const source = redis({ url: src.url });
  const sbrd = join(dir, "keys.sbrd");
  const backup = await measure(async () => {
    for await (const a of source.backup(ctx)) {
      await pipeline(a.stream, createWriteStream(sbrd));
      await a.done?.();
    }
    return (await stat(sbrd)).size;
  });

  const rdbFile = join(dir, "dump-cli.rdb");
  const rdb = await measure(
    () =>
      new Promise((resolve, reject) => {
        const child = spawn("redis-cli", ["-p", String(src.port), "--rdb", rdbFile], {
          stdio: ["ignore", "ignore", "pipe"],
        });
        child.once("exit", async (code) =>
          code === 0 ? resolve((await stat(rdbFile)).size) : reject(new Error(`redis-cli exited ${code}`)),
        );
      }),
  );

  const rdbMode = redis({ url: src.url, mode: "rdb" });
  const rdbOurs = join(dir, "dump.rdb");
  const rdbThroughUs = await measure(async () => {
    for await (const a of rdbMode.backup(ctx)) {
      await pipeline(a.stream, createWriteStream(rdbOurs));
      await a.done?.();
    }
    return (await stat(rdbOurs)).size;
  });

  const component = {
    name: "redis",
    type: "redis",
    startedAt: new Date().toISOString(),
    durationMs: 0,
    artifacts: [
      {
        name: "keys.sbrd",
        key: sbrd,
        size: backup.result,
        sha256: "",
        plainSize: backup.result,
        plainSha256: "",
        transforms: [],
      },
    ],
  };
  const restoreCtx = {
    ...ctx,
    component,
    target: { url: dst.url },
    force: true,
    open: async () => createReadStream(sbrd),
  };
  const restore = await measure(() => source.restore(restoreCtx));
  const check = new Redis(dst.url);
  const restoredKeys = await check.dbsize();
  check.disconnect();
  await source.close();
  await rdbMode.close();
  if (restoredKeys !== KEYS) throw new Error(`restored ${restoredKeys} keys, expected ${KEYS}`);

  const row = (step, r, bytes) => ({
    step,
    seconds: Number(r.seconds.toFixed(2)),
    keysPerSec: Math.round(KEYS / r.seconds),
    mbPerSec: Number((bytes / 1048576 / r.seconds).toFixed(1)),
    bytes,
    peakRssMb: r.peakRssMb,
  });
  const rows = [
    row("strongbox backup (scan → keys.sbrd)", backup, backup.result),
    row("redis-cli --rdb (reference)", rdb, rdb.result),
    row('strongbox backup (mode "rdb")', rdbThroughUs, rdbThroughUs.result),
    row("strongbox restore (RESTORE ABSTTL)", restore, backup.result),
  ];
  console.table(rows);
  console.log(`baseline RSS before the first step: ${baselineRssMb} MB`);
  console.log(
    "peakRssMb is this Node process (the redis-cli rows: the process waiting for the child), sampled every 20 ms.",
  );
  await mkdir(join(root, "bench/results"), { recursive: true });
  await writeFile(
    join(root, "bench/results/redis.json"),
    `${JSON.stringify({ date: new Date().toISOString(), keys: KEYS, node: process.version, cpus: cpus().length, baselineRssMb, rows }, null, 2)}\n`,
  );
  console.log("wrote bench/results/redis.json");
} finally {
  src.stop();
  dst.stop();
  await rm(dir, { recursive: true, force: true });
}
