#!/usr/bin/env node
/**
 * Pipeline benchmark: dump-like text from an EXTERNAL producer process → compression → age →
 * a file on local disk, with Strongbox and with the standard tools as shell pipelines, in the
 * same run, alternating, so that the machine's load affects all of them alike.
 *
 *   strongbox gzip-6 + age   createStrongbox().backup() with [gzip({ level: 6 }), encrypt()] → local()
 *   strongbox gzip-6 1 thr   the same with gzip({ threads: 1 }) (single-member, one core: the "before")
 *   strongbox zstd-3 + age   the same with [zstd({ level: 3 }), encrypt()]
 *   shell gzip -6 | age      producer | gzip -6 | age -r R > file
 *   shell zstd | age         producer | zstd -3 | age -r R > file
 *
 * Environment:
 *   BENCH_PIPELINE_MB      plaintext size per run, MiB               default 1024
 *   BENCH_PIPELINE_REPEAT  rounds (each round runs every case once)  default 3
 *   BENCH_PIPELINE_RSS_MB  a second, larger size run once by Strongbox
 *                          to show that peak RSS does not grow        default 4 × BENCH_PIPELINE_MB
 *                          (0 or "off" skips it)
 *   BENCH_DIR              where the files go                         default the OS temp directory
 * A quick run: BENCH_PIPELINE_MB=128 BENCH_PIPELINE_REPEAT=1 BENCH_PIPELINE_RSS_MB=off (< 1 min).
 */
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchDir, envNumber, loadPackage, printTable, runShell, spread, writeResult } from "../lib/common.mjs";

const MiB = 2 ** 20;
const sizeMiB = envNumber("BENCH_PIPELINE_MB", 1024);
const repeat = envNumber("BENCH_PIPELINE_REPEAT", 3);
const rssRaw = process.env.BENCH_PIPELINE_RSS_MB;
const rssMiB = rssRaw === "off" || rssRaw === "0" ? 0 : envNumber("BENCH_PIPELINE_RSS_MB", 4 * sizeMiB);
const bytes = Math.round(sizeMiB * MiB);

const { generateIdentity } = await loadPackage("core");
const { recipient } = generateIdentity();
const producer = join(benchDir, "lib", "dump-producer.mjs");
const runner = join(benchDir, "pipeline", "strongbox-run.mjs");
const work = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), "strongbox-bench-pipeline-"));

async function strongbox(label, compression, threads, size = bytes) {
  const dir = join(work, `${label.replace(/\W+/g, "-")}-${Date.now()}`);
  const args = [
    process.execPath,
    runner,
    String(size),
    dir,
    recipient,
    compression,
    ...(threads ? [String(threads)] : []),
  ];
  const { ms, cpuMs, stdout } = await runShell('"$@"', args);
  const out = JSON.parse(stdout.trim().split("\n").pop());
  await rm(dir, { recursive: true, force: true });
  if (out.plainBytes !== size) throw new Error(`${label}: stored ${out.plainBytes} plaintext bytes, expected ${size}`);
  return { ms, cpuMs, storedBytes: out.storedBytes, maxRssMiB: out.maxRssMiB };
}

async function shell(label, compressor) {
  const file = join(work, `${label.replace(/\W+/g, "-")}.age`);
  // pipefail: a failing stage fails the run instead of producing a short file.
  const script = `"${process.execPath}" "$1" "$2" | ${compressor} | age -r "$3" > "$4"`;
  const { ms, cpuMs } = await runShell(script, [producer, String(bytes), recipient, file]);
  const storedBytes = (await stat(file)).size;
  await rm(file, { force: true });
  return { ms, cpuMs, storedBytes };
}

const cases = [
  ["strongbox gzip-6 + age", () => strongbox("sb-gzip", "gzip")],
  ["strongbox gzip-6 (1 thread) + age", () => strongbox("sb-gzip-1", "gzip", 1)],
  ["strongbox zstd-3 + age", () => strongbox("sb-zstd", "zstd")],
  ["shell: producer | gzip -6 | age", () => shell("sh-gzip", "gzip -6")],
  ["shell: producer | zstd -3 | age", () => shell("sh-zstd", "zstd -3 -q")],
];
const results = Object.fromEntries(cases.map(([name]) => [name, []]));
try {
  console.log(`pipeline: ${sizeMiB} MiB per run, ${repeat} round(s), files in ${work}`);
  for (let round = 1; round <= repeat; round++) {
    for (const [name, fn] of cases) {
      const r = await fn();
      results[name].push(r);
      console.log(
        `  round ${round}: ${name.padEnd(36)} ${(r.ms / 1000).toFixed(2)} s wall, ${(r.cpuMs / 1000).toFixed(2)} s CPU${r.maxRssMiB ? `, peak RSS ${r.maxRssMiB.toFixed(0)} MiB` : ""}`,
      );
    }
  }
  let rssCheck;
  if (rssMiB > 0) {
    const big = await strongbox("sb-gzip-big", "gzip", undefined, Math.round(rssMiB * MiB));
    rssCheck = { sizeMiB: rssMiB, ms: big.ms, maxRssMiB: big.maxRssMiB };
    console.log(`  RSS check: strongbox gzip-6 + age on ${rssMiB} MiB: peak RSS ${big.maxRssMiB.toFixed(0)} MiB`);
  }

  const baseline = spread(results["shell: producer | gzip -6 | age"].map((r) => r.ms)).median;
  const cpuBaseline = spread(results["shell: producer | gzip -6 | age"].map((r) => r.cpuMs)).median;
  const rows = cases.map(([name]) => {
    const runs = results[name];
    const t = spread(runs.map((r) => r.ms));
    const cpu = spread(runs.map((r) => r.cpuMs));
    const rss = runs[0].maxRssMiB === undefined ? undefined : spread(runs.map((r) => r.maxRssMiB));
    return {
      case: name,
      "wall s (median)": (t.median / 1000).toFixed(2),
      "min–max s": `${(t.min / 1000).toFixed(2)}–${(t.max / 1000).toFixed(2)}`,
      "MB/s": (bytes / 1e6 / (t.median / 1000)).toFixed(1),
      "× gzip|age": (t.median / baseline).toFixed(2),
      "CPU s": (cpu.median / 1000).toFixed(2),
      "CPU × gzip|age": (cpu.median / cpuBaseline).toFixed(2),
      ratio: (bytes / runs[0].storedBytes).toFixed(2),
      "peak RSS MiB": rss ? `${rss.median.toFixed(0)} (${rss.min.toFixed(0)}–${rss.max.toFixed(0)})` : "",
    };
  });
  printTable(`pipeline — ${sizeMiB} MiB of dump-like text, ${repeat} round(s)`, rows);
  if (rssCheck) {
    const small = spread(results["strongbox gzip-6 + age"].map((r) => r.maxRssMiB)).median;
    console.log(
      `peak RSS: ${small.toFixed(0)} MiB at ${sizeMiB} MiB, ${rssCheck.maxRssMiB.toFixed(0)} MiB at ${rssMiB} MiB`,
    );
  }
  await writeResult("pipeline", {
    sizeMiB,
    repeat,
    rows,
    runs: results,
    rssCheck,
    targets: { wallVsShellGzipAge: 0.8, peakRssMiB: 150 },
  });
} finally {
  await rm(work, { recursive: true, force: true });
}
