import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * Some tests run the BUILT code in a child process (the CLI binary, the examples). Build whatever
 * package is missing its dist or is older than its sources, once, before any test file starts.
 */
export default function setup(): void {
  const script = fileURLToPath(new URL("./scripts/build-if-stale.mjs", import.meta.url));
  execFileSync("flock", ["/tmp/strongbox-build-if-stale.lock", process.execPath, script], {
    stdio: ["ignore", "inherit", "inherit"],
    timeout: 300_000,
  });
}
