import type { Command } from "commander";
import { withBox } from "../context.js";
import { usageError } from "../errors.js";
import { action } from "./shared.js";

export function deleteCommand(program: Command): void {
  program
    .command("delete")
    .alias("rm")
    .description("delete one backup from every storage")
    .argument("<id>", 'backup id (not "latest": deleting is never implicit)')
    .action(
      action(async ({ ui, globals }, [id]) => {
        if (id === "latest") throw usageError('delete needs an explicit backup id, not "latest" (see strongbox list)');
        await withBox(globals, ui, {}, async ({ box }) => {
          const result = await box.delete(id!);
          ui.result(result, () =>
            [`deleted ${result.id}`, ...result.skipped.map((s) => `  kept ${s.key}: ${s.reason}`)].join("\n"),
          );
        });
      }),
    );
}
