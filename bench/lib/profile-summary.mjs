#!/usr/bin/env node
/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function, top N, and the
 * share of (idle) / (program) / (garbage collector). Only the main thread is profiled: zlib work
 * done on the libuv threadpool shows up as main-thread idle time, not as zlib frames.
 *
 * Usage: node profile-summary.mjs <file.cpuprofile> [top=15]
 */
import { readFileSync } from "node:fs";

const [file, topArg] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const deltas = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i]);
  const f = node.callFrame;
  const where = f.url
    ? `${f.url.replace(/^.*\/(packages|node_modules)\//, "$1/").replace(/^node:/, "node:")}:${f.lineNumber + 1}`
    : "";
  const name = `${f.functionName || "(anonymous)"} ${where}`.trim();
  self.set(name, (self.get(name) ?? 0) + (deltas[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 15));
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled on the main thread`);
for (const [name, us] of rows)
  console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1e3).toFixed(0).padStart(6)} ms  ${name}`);
