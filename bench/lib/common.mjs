/** Helpers shared by the benchmarks: loading the built packages, timing, tables, results. */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..");
export const root = join(benchDir, "..");

/** Imports a built workspace package (the benchmarks measure what users run: dist/, not src/). */
export async function loadPackage(name) {
  const file = join(root, "packages", name, "dist", "index.js");
  if (!existsSync(file)) {
    console.error(`bench: packages/${name} is not built; run \`pnpm build\` (or \`pnpm bench\`, which builds first)`);
    process.exit(1);
  }
  return import(file);
}

/** Reads a positive number from the environment, or the default. */
export function envNumber(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

/** Runs a command; resolves with wall time, exit code and captured output. */
export function runTimed(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.once("error", reject);
    child.once("close", (code, signal) => {
      const ms = performance.now() - started;
      if (code !== 0)
        reject(new Error(`${command} ${args.join(" ")} failed (${code ?? signal}): ${stderr.slice(-2000)}`));
      else resolve({ ms, stdout, stderr });
    });
  });
}

/**
 * Runs a bash script and measures wall time and the CPU time (user + sys) of everything it
 * started, grandchildren included (bash's `times` reports reaped descendants): on a shared,
 * loaded machine CPU seconds are steadier than wall seconds.
 */
export async function runShell(script, args = []) {
  const wrapped = `${script}\nrc=$?\ntimes >&2\nexit $rc`;
  const { ms, stdout, stderr } = await runTimed("bash", ["-o", "pipefail", "-c", wrapped, "bash", ...args]);
  const lines = stderr.trim().split("\n");
  const seconds = (t) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(t);
    return m ? Number(m[1]) * 60 + Number(m[2]) : Number.NaN;
  };
  const [user, sys] = (lines[lines.length - 1] ?? "").trim().split(/\s+/).map(seconds);
  return { ms, cpuMs: (user + sys) * 1000, stdout };
}

/** Median, min and max of a list of numbers. */
export function spread(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], runs: values };
}

/** The machine, recorded with every result: figures mean little without it. */
export function machine() {
  return {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    date: new Date().toISOString(),
  };
}

/** Prints rows (objects with the same keys) as an aligned text table. */
export function printTable(title, rows) {
  if (rows.length === 0) return;
  const keys = Object.keys(rows[0]);
  const cells = rows.map((r) => keys.map((k) => String(r[k] ?? "")));
  const widths = keys.map((k, i) => Math.max(k.length, ...cells.map((c) => c[i].length)));
  const line = (values) => values.map((v, i) => v.padEnd(widths[i])).join("  ");
  console.log(`\n${title}`);
  console.log(line(keys));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const c of cells) console.log(line(c));
}

/** Writes bench/results/<name>.json. */
export async function writeResult(name, result) {
  const dir = join(benchDir, "results");
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  await writeFile(file, `${JSON.stringify({ bench: name, machine: machine(), ...result }, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}
