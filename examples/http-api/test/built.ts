import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const packagesDir = fileURLToPath(new URL("../../../packages/", import.meta.url));

/**
 * The example runs as a child process on the BUILT packages (`node src/x.ts` imports
 * `@strongbox/*` through their `exports`, i.e. `dist/`). `pnpm test` builds first; a bare
 * `vitest run` may not have, so build whatever is missing — or lacks an export the example needs —
 * with tsup. The flock keeps two test files from building one package at the same time.
 */
export async function ensureBuilt(packages: Record<string, string[]>): Promise<void> {
  for (const [pkg, exportsNeeded] of Object.entries(packages)) {
    const dir = `${packagesDir}${pkg}`;
    const entry = `${dir}/dist/index.js`;
    const fresh = () =>
      existsSync(entry) && exportsNeeded.every((name) => new RegExp(`\\b${name}\\b`).test(readFileSync(entry, "utf8")));
    if (fresh()) continue;
    await run(
      "flock",
      [
        `/tmp/strongbox-build-${pkg}.lock`,
        "sh",
        "-c",
        `test -f dist/index.js${exportsNeeded.map((n) => ` && grep -qw ${n} dist/index.js`).join("")} || npx tsup`,
      ],
      {
        cwd: dir,
        timeout: 120_000,
      },
    );
    if (!fresh())
      throw new Error(`packages/${pkg}/dist is missing ${exportsNeeded.join(", ") || "index.js"} after building`);
  }
}
