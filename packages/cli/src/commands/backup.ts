import type { BackupManifest } from "@strongbox/core";
import type { Command } from "commander";
import { interruptSignal, withBox } from "../context.js";
import { formatBytes, formatDuration } from "../ui/format.js";
import { ProgressView } from "../ui/progress.js";
import { action, collect } from "./shared.js";

export function summarizeManifest(m: BackupManifest): string {
  const lines = [`backup ${m.id} completed in ${formatDuration(m.durationMs)}`];
  for (const c of m.components) {
    const stored = c.artifacts.reduce((n, a) => n + a.size, 0);
    const plain = c.artifacts.reduce((n, a) => n + a.plainSize, 0);
    lines.push(
      `  ${c.name} (${c.type}): ${c.artifacts.length} artifact(s), ${formatBytes(plain)} → ${formatBytes(stored)} stored`,
    );
  }
  return lines.join("\n");
}

export function backupCommand(program: Command): void {
  program
    .command("backup")
    .description("back up every source (or --component) to every storage")
    .option("--component <name>", "only this component (repeatable, or comma-separated)", collect)
    .option("--tag <tag>", "tag the backup (repeatable)", collect)
    .option("--description <text>", "a note stored in the manifest")
    .action(
      action<{ component?: string[]; tag?: string[]; description?: string }>(async ({ ui, globals }, _args, o) => {
        await withBox(globals, ui, {}, async ({ box }) => {
          const progress = new ProgressView(ui).attach(box);
          const interrupt = interruptSignal();
          box.on("backup:started", (e) => ui.note(`backup ${e.id} started: ${e.components.join(", ")}`));
          try {
            const manifest = await box.backup({
              ...(o.component ? { components: o.component } : {}),
              ...(o.tag ? { tags: o.tag } : {}),
              ...(o.description ? { description: o.description } : {}),
              signal: interrupt.signal,
            });
            progress.done();
            ui.result(manifest, () => summarizeManifest(manifest));
          } finally {
            progress.stop();
            interrupt.dispose();
          }
        });
      }),
    );
}
