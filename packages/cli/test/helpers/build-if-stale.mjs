// Builds the packages the CLI binary loads from dist (core, the adapters the tests use, the CLI
// itself) when their dist is missing or older than their sources. `pnpm test` builds everything
// first; `vitest run` alone does not. Run under flock: test files start in parallel.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const packages = fileURLToPath(new URL("../../../", import.meta.url));

function newest(dir) {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

for (const name of process.argv.slice(2)) {
  const dir = join(packages, name);
  const built = join(dir, "dist", name === "cli" ? "bin.js" : "index.js");
  const sourceTime = Math.max(newest(join(dir, "src")), statSync(join(dir, "package.json")).mtimeMs);
  if (existsSync(built) && statSync(built).mtimeMs >= sourceTime) continue;
  process.stderr.write(`[cli tests] building ${name}\n`);
  try {
    execFileSync("npx", ["tsup"], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    // Another package mid-edit may not build right now; an older dist still serves these tests.
    if (name === "cli" || !existsSync(built)) throw err;
    process.stderr.write(
      `[cli tests] building ${name} failed; using its existing dist: ${String(err.stderr ?? err).slice(0, 500)}\n`,
    );
  }
}
