#!/usr/bin/env node
/**
 * ONE Strongbox backup, as a user would run it: an external producer process (a source built on
 * core's spawnProducer, like the pg_dump source) → the transforms → local() storage, through
 * createStrongbox().backup(). Run as its own process so that its peak RSS is its own.
 *
 * Usage: node strongbox-run.mjs <bytes> <directory> <recipient> <gzip|zstd> [gzip threads]
 * Prints one JSON line: { ms, maxRssMiB, storedBytes, plainBytes }.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const core = await import(join(here, "..", "..", "packages", "core", "dist", "index.js"));
const { createStrongbox, encrypt, gzip, local, silentLogger, spawnProducer, zstd } = core;

const [bytes, directory, recipient, compression = "gzip", threadsArg] = process.argv.slice(2);
const producer = join(here, "..", "lib", "dump-producer.mjs");

const source = {
  name: "dump",
  type: "bench",
  async *backup(ctx) {
    const run = spawnProducer([process.execPath, producer, bytes], { adapter: "bench", signal: ctx.signal });
    yield { name: "dump.sql", stream: run.stream, done: run.done };
  },
  async restore() {
    throw new Error("not used by the benchmark");
  },
};

const compressor =
  compression === "zstd"
    ? zstd({ level: 3 })
    : gzip({ level: 6, ...(threadsArg ? { threads: Number(threadsArg) } : {}) });
const box = createStrongbox({
  sources: [source],
  storage: local({ directory }),
  transforms: [compressor, encrypt({ recipients: [recipient] })],
  preflight: false,
  logger: silentLogger,
});
const started = performance.now();
if (process.env.BENCH_TRACE_MEMORY) {
  setInterval(() => {
    const m = process.memoryUsage();
    const mib = (n) => (n / 2 ** 20).toFixed(0);
    console.error(
      `rss ${mib(m.rss)} heapTotal ${mib(m.heapTotal)} heapUsed ${mib(m.heapUsed)} external ${mib(m.external)} arrayBuffers ${mib(m.arrayBuffers)}`,
    );
  }, 1000).unref();
}
const manifest = await box.backup();
const ms = performance.now() - started;
const artifact = manifest.components[0].artifacts[0];
console.log(
  JSON.stringify({
    ms,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    storedBytes: artifact.size,
    plainBytes: artifact.plainSize,
  }),
);
