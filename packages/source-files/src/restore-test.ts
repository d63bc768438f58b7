import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isStrongboxError, type RestoreContext, type RestoreTestResult, throwIfAborted } from "@strongbox/core";
import { countTree } from "./count.js";
import { extractTar } from "./extract.js";
import { artifactBase } from "./layout.js";
import { metaOf } from "./settings.js";
import { ADAPTER } from "./walk.js";

/**
 * Restore drill: extracts every artifact into a temporary directory, counts files and bytes on
 * disk, compares them with what the backup recorded, and removes the directory whatever happens.
 */
export async function restoreTestFiles(ctx: RestoreContext): Promise<RestoreTestResult> {
  const checks: RestoreTestResult["checks"] = [];
  const scratch = await mkdtemp(join(tmpdir(), "strongbox-files-restore-test-"));
  try {
    for (const record of ctx.component.artifacts) {
      throwIfAborted(ctx.signal, ADAPTER);
      const meta = metaOf(record);
      const base = artifactBase(record.name);
      const dir = join(scratch, base);
      await mkdir(dir);
      try {
        await extractTar(await ctx.open(record.name), dir, {
          signal: ctx.signal,
          logger: ctx.logger,
          preserveOwner: false,
          // A scratch directory: links are never followed while extracting, and it is deleted after.
          allowExternalSymlinks: true,
          label: `restore test of ${record.name}`,
        });
      } catch (err) {
        if (isStrongboxError(err, "E_ABORTED")) throw err;
        checks.push({ name: `${base}.extract`, ok: false, message: (err as Error).message });
        continue;
      }
      checks.push({ name: `${base}.extract`, ok: true });
      // Counted natively from disk, as a user's own `find` would.
      const actual = await countTree(dir, { signal: ctx.signal });
      for (const unit of ["files", "bytes"] as const) {
        // The artifact's own counts are exact for what was stored; inspect() ran a moment earlier.
        const expected =
          typeof meta[unit] === "number" ? (meta[unit] as number) : ctx.component.stats?.counts?.[`${base}.${unit}`];
        const got = unit === "files" ? actual.files : actual.bytes;
        checks.push({
          name: `${base}.${unit}`,
          ok: expected === undefined || expected === got,
          expected,
          actual: got,
        });
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true }).catch(() => {});
  }
  return { ok: checks.length > 0 && checks.every((c) => c.ok), checks };
}
