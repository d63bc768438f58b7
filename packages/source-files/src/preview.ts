import { lstat } from "node:fs/promises";
import { join } from "node:path";
import { type RestoreContext, type RestorePreview, throwIfAborted } from "@strongbox/core";
import { resolveDestination } from "./commit.js";
import { countTree } from "./count.js";
import { entrySegments } from "./entry-names.js";
import type { RestoreSettings } from "./settings.js";
import { drainEntry, readTar } from "./tar-input.js";
import { ADAPTER } from "./walk.js";

const PREVIEW_NAMES = 20;

/**
 * What a restore with these settings would do, changing nothing: in replace mode, every current
 * file at a destination goes (counted, first names listed); in merge mode, the archive's listing is
 * read to find which incoming files already exist.
 */
export async function previewFiles(ctx: RestoreContext, settings: RestoreSettings): Promise<RestorePreview> {
  const replaces: RestorePreview["replaces"] = [];
  const notes: string[] = [];
  let anyExists = false;
  for (const d of settings.destinations) {
    throwIfAborted(ctx.signal, ADAPTER);
    const dest = await resolveDestination(d.dest);
    const incoming = typeof d.meta.files === "number" ? d.meta.files : ctx.component.stats?.counts?.[`${d.base}.files`];
    // Replace removes everything there, so it is counted; a merge only needs to know it exists.
    const current =
      settings.mode === "replace"
        ? await countTree(dest, { signal: ctx.signal, sampleSize: PREVIEW_NAMES })
        : { exists: (await lstat(dest).catch(() => undefined)) !== undefined, files: 0, bytes: 0, sample: [] };
    anyExists ||= current.exists;
    if (settings.mode === "replace") {
      replaces.push({ name: dest, current: current.files, incoming, unit: "files" });
      if (d.meta.missing)
        notes.push(`${dest}: did not exist when backed up; it would be removed (${current.files} files)`);
      else if (current.exists) {
        notes.push(
          `${dest}: replaced as a whole — ${current.files} current files (${current.bytes} bytes) removed or replaced${current.sample.length ? `: ${current.sample.join(", ")}${current.files > current.sample.length ? ", …" : ""}` : ""}`,
        );
      } else notes.push(`${dest}: does not exist; it would be created`);
      continue;
    }
    // Merge: which incoming files already exist needs the archive's listing (read, not applied).
    // Only a dry run pays for that read; before a real restore, knowing the destination exists is enough.
    const existing: string[] = [];
    let existingCount = 0;
    if (!ctx.dryRun) {
      replaces.push({ name: dest, incoming, unit: "files" });
      if (current.exists) notes.push(`${dest}: merge into the existing directory`);
      continue;
    }
    if (!d.meta.missing && current.exists) {
      const input = await ctx.open(d.record.name);
      for await (const entry of readTar(input, ctx.signal, `preview of ${d.record.name}`)) {
        const segments = entrySegments(entry.header.name);
        await drainEntry(entry);
        if (entry.header.type === "directory" || segments.length === 0) continue;
        const at = d.meta.kind === "file" ? dest : join(dest, ...segments);
        if (await lstat(at).catch(() => undefined)) {
          existingCount++;
          if (existing.length < PREVIEW_NAMES) existing.push(d.meta.kind === "file" ? dest : segments.join("/"));
        }
      }
    }
    replaces.push({ name: dest, current: existingCount, incoming, unit: "files" });
    const verb =
      settings.existing === "overwrite"
        ? "overwritten"
        : settings.existing === "skip"
          ? "kept (skipped)"
          : "conflicts (the restore would fail with E_CONFLICT)";
    notes.push(
      `${dest}: merge — ${existingCount} existing files would be ${verb}${existing.length ? `: ${existing.join(", ")}${existingCount > existing.length ? ", …" : ""}` : ""}`,
    );
  }
  return { target: settings.destinations.map((d) => d.dest).join(", "), exists: anyExists, replaces, notes };
}
