// Builds every workspace package whose dist is missing or older than its sources. Tests that
// spawn the CLI or run an example as a child process load packages from dist, so vitest runs this
// once as its globalSetup; `pnpm test` builds everything first, which makes it a no-op there.
// Usage: node scripts/build-if-stale.mjs [package …]   (default: all of packages/*)
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const packages = fileURLToPath(new URL("../packages/", import.meta.url));

function newest(dir) {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

// Dependencies first: core, then the testkit, then adapters, the CLI last.
const order = (n) => (n === "core" ? 0 : n === "testkit" ? 1 : n === "cli" ? 3 : 2);
const names =
  process.argv.length > 2
    ? process.argv.slice(2)
    : readdirSync(packages).filter((n) => existsSync(join(packages, n, "tsup.config.ts")));
for (const name of names.sort((a, b) => order(a) - order(b))) {
  const dir = join(packages, name);
  const built = join(dir, "dist", name === "cli" ? "bin.js" : "index.js");
  const sourceTime = Math.max(newest(join(dir, "src")), statSync(join(dir, "package.json")).mtimeMs);
  if (existsSync(built) && statSync(built).mtimeMs >= sourceTime) continue;
  process.stderr.write(`[build-if-stale] building ${name}\n`);
  try {
    execFileSync("npx", ["tsup"], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    // Another package mid-edit may not build right now; an older dist still serves these tests.
    if (name === "cli" || !existsSync(built)) throw err;
    process.stderr.write(
      `[build-if-stale] building ${name} failed; using its existing dist: ${String(err.stderr ?? err).slice(0, 500)}\n`,
    );
  }
}
