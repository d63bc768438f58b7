import { chmod, readdir, rm, rmdir, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  type ArtifactRecord,
  isStrongboxError,
  type RestoreContext,
  type RestoreResult,
  StrongboxError,
  throwIfAborted,
} from "@strongbox/core";
import {
  applyMerge,
  type MergePlan,
  makeStaging,
  planMerge,
  removeDestination,
  resolveDestination,
  swapIn,
} from "./commit.js";
import { type ExtractStats, extractTar } from "./extract.js";
import type { ArtifactMeta } from "./layout.js";
import type { RestoreSettings } from "./settings.js";
import { ADAPTER, sourceError } from "./walk.js";

interface Staged {
  record: ArtifactRecord;
  meta: ArtifactMeta;
  base: string;
  dest: string;
  staging: string;
  /** What to move into place: the staging directory itself, or the one file in it. */
  content: string;
  stats?: ExtractStats;
  plan?: MergePlan;
}

/** Removes `top` and the directories below it, bottom-up, as long as they are empty. */
async function removeEmptyDirs(top: string): Promise<void> {
  const entries = await readdir(top, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return;
  for (const e of entries) if (e.isDirectory()) await removeEmptyDirs(join(top, e.name));
  await rmdir(top).catch(() => {});
}

/**
 * Restores every artifact of the component: all are extracted into staging first, merge plans
 * are computed next (read-only), and only then is anything at a destination changed.
 */
export async function restoreFiles(ctx: RestoreContext, settings: RestoreSettings): Promise<RestoreResult> {
  const staged: Staged[] = [];
  const createdParents: string[] = [];
  const warnings: string[] = [];
  let committed = false;
  try {
    // 1. Extract every artifact into staging. Nothing at any destination changes yet, so a
    //    corrupt or hostile artifact (even the last one) leaves every destination untouched.
    for (const d of settings.destinations) {
      throwIfAborted(ctx.signal, ADAPTER);
      const dest = await resolveDestination(d.dest);
      const { staging, createdParent } = await makeStaging(dest);
      if (createdParent) createdParents.push(createdParent);
      const entry: Staged = { ...d, dest, staging, content: staging };
      staged.push(entry);
      if (d.meta.missing) continue;
      const input = await ctx.open(d.record.name);
      entry.stats = await extractTar(input, staging, {
        signal: ctx.signal,
        logger: ctx.logger,
        preserveOwner: settings.preserveOwner,
        allowExternalSymlinks: settings.allowExternalSymlinks,
        label: `restore of ${d.record.name}`,
      });
      warnings.push(...entry.stats.warnings);
      if (d.meta.kind === "file") {
        const [only, ...rest] = entry.stats.topLevel;
        if (!only || rest.length > 0 || entry.stats.directories > 0) {
          throw new StrongboxError(
            "E_FORMAT",
            `${d.record.name} should hold exactly one file, found ${entry.stats.topLevel.length} top-level entries`,
            { adapter: ADAPTER },
          );
        }
        entry.content = join(staging, only);
      } else if (!entry.stats.rootEntry) {
        // Foreign tar without a "./" entry: keep the current directory's mode rather than mkdtemp's 0700.
        const current = await stat(dest).catch(() => undefined);
        await chmod(staging, current?.isDirectory() ? current.mode & 0o7777 : 0o755);
      }
    }
    // 2. Merge plans are computed for every artifact (read-only; `fail` throws here) before any commit.
    if (settings.mode === "merge") {
      for (const s of staged) if (!s.meta.missing) s.plan = await planMerge(s.content, s.dest, settings.existing);
    }
    throwIfAborted(ctx.signal, ADAPTER);
    // 3. Commit with renames.
    for (const s of staged) {
      if (s.meta.missing) {
        if (settings.mode === "replace") await removeDestination(s.dest, ctx.logger);
      } else if (s.plan) {
        await applyMerge(s.plan, settings.existing === "overwrite", ctx.logger);
      } else {
        await swapIn(s.content, s.dest, ctx.logger);
      }
    }
    committed = true;
  } catch (err) {
    throw isStrongboxError(err) ? err : sourceError("restore", staged.at(-1)?.dest ?? ctx.component.name, err);
  } finally {
    await Promise.all(staged.map((s) => rm(s.staging, { recursive: true, force: true }).catch(() => {})));
    // Parent directories this restore created only to hold staging go too when it failed
    // (rmdir, not rm -r: if anything else landed there meanwhile, it stays).
    if (!committed) for (const dir of createdParents.reverse()) await removeEmptyDirs(dir);
  }
  const counts: Record<string, number> = {};
  const details: Record<string, unknown> = { mode: settings.mode, destinations: staged.map((s) => s.dest) };
  for (const s of staged) {
    counts[`${s.base}.files`] = s.stats?.files ?? 0;
    counts[`${s.base}.bytes`] = s.stats?.bytes ?? 0;
    if (s.plan) details[`${s.base}.existing`] = s.plan.existing.length;
  }
  if (settings.mode === "merge") details.existing = settings.existing;
  // After a merge the destination holds more than the backup: its counts would not compare.
  return { stats: settings.mode === "replace" ? { counts } : undefined, warnings, details };
}
