#!/usr/bin/env node
/**
 * Runs the benchmarks, each as its own process (a clean heap and its own peak RSS), one after the
 * other so they do not compete for the cores. `pnpm bench` builds the packages first.
 *
 *   pnpm bench                                  every benchmark
 *   BENCH_ONLY=pipeline,retention pnpm bench    some of them
 *   BENCH_QUICK=1 pnpm bench                    small sizes: pipeline + retention + list in < 1 min
 *
 * Each prints its table and writes bench/results/<name>.json. Sizes: see each script's header
 * (bench/pipeline/bench.mjs, bench/retention/bench.mjs, bench/list/bench.mjs; postgres and redis
 * have their own). Benchmarks are not run in CI.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { benchDir } from "./lib/common.mjs";

const all = ["pipeline", "retention", "list", "postgres", "redis"];
const only = process.env.BENCH_ONLY?.split(",")
  .map((s) => s.trim())
  .filter(Boolean);
const unknown = (only ?? []).filter((name) => !all.includes(name));
if (unknown.length > 0) {
  console.error(`bench: unknown benchmark(s) ${unknown.join(", ")}; known: ${all.join(", ")}`);
  process.exit(2);
}
const quick = process.env.BENCH_QUICK === "1";
// A quick run: small enough for < 1 min in total, still every code path.
const quickEnv = {
  BENCH_PIPELINE_MB: "96",
  BENCH_PIPELINE_REPEAT: "1",
  BENCH_PIPELINE_RSS_MB: "off",
  BENCH_RETENTION_REPEAT: "5",
  BENCH_LIST_BACKUPS: "1000",
  BENCH_LIST_REPEAT: "1",
};
const selected = only ?? (quick ? ["pipeline", "retention", "list"] : all);

const outcomes = [];
for (const name of selected) {
  const script = [join(benchDir, name, "bench.mjs")].find((file) => existsSync(file));
  if (!script) {
    console.warn(`\n== ${name}: skipped (no bench/${name}/bench.mjs)`);
    outcomes.push({ name, status: "skipped" });
    continue;
  }
  console.log(`\n== ${name}`);
  const started = performance.now();
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [script], {
      stdio: "inherit",
      env: { ...(quick ? quickEnv : {}), ...process.env },
    });
    child.once("close", (c) => resolve(c ?? 1));
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  outcomes.push({ name, status: code === 0 ? "ok" : `failed (exit ${code})`, seconds });
}

console.log("\n== summary");
for (const o of outcomes) {
  console.log(
    `${o.name.padEnd(10)} ${o.status}${o.seconds ? ` in ${o.seconds} s` : ""}${o.status === "ok" ? ` → bench/results/${o.name}.json` : ""}`,
  );
}
if (outcomes.some((o) => o.status.startsWith("failed"))) process.exitCode = 1;
