import type { Command } from "commander";
import { withBox } from "../context.js";
import { ago, formatBytes, formatTime, table } from "../ui/format.js";
import { action } from "./shared.js";

export function listCommand(program: Command): void {
  program
    .command("list")
    .alias("ls")
    .description("list backups, newest first")
    .option("--incomplete", "include backups without a manifest (in progress or failed)")
    .action(
      action<{ incomplete?: boolean }>(async ({ ui, globals }, _args, o) => {
        await withBox(globals, ui, {}, async ({ box }) => {
          const backups = await box.list({ includeIncomplete: o.incomplete === true });
          ui.result(
            backups,
            () => {
              if (backups.length === 0) return "no backups";
              const now = new Date();
              return table(
                ["ID", "TIME", "AGE", "SIZE", "COMPONENTS", "TAGS"],
                backups.map((b) => [
                  b.id + (b.pinned ? " (pinned)" : "") + (b.complete ? "" : " (incomplete)"),
                  formatTime(b.time),
                  ago(b.time, now),
                  formatBytes(b.size),
                  b.components.join(","),
                  b.tags.join(","),
                ]),
              );
            },
            { essential: true },
          );
        });
      }),
    );
}
