import type { PruneReport } from "@strongbox/core";
import type { Command } from "commander";
import { interruptSignal, withBox } from "../context.js";
import { EXIT } from "../exit-codes.js";
import { formatTime } from "../ui/format.js";
import { action } from "./shared.js";

function describePrune(report: PruneReport): string {
  const lines: string[] = [];
  for (const s of report.storages) {
    lines.push(`${s.storage}:`);
    for (const k of s.plan.keep) lines.push(`  keep    ${k.id}  ${formatTime(k.time)}  (${k.reasons.join(", ")})`);
    for (const r of s.plan.remove) lines.push(`  remove  ${r.id}  ${formatTime(r.time)}`);
    for (const r of s.incomplete) lines.push(`  remove  ${r.id}  ${formatTime(r.time)}  (${r.reason})`);
    for (const k of s.skipped) lines.push(`  skipped ${k.id}: ${k.key}: ${k.reason}`);
    for (const e of s.errors) lines.push(`  error   ${e.id}: ${e.message}`);
    const count = s.plan.remove.length + s.incomplete.length;
    lines.push(
      report.dryRun
        ? `  dry run: ${count} backup(s) would be removed, ${s.plan.keep.length} kept`
        : `  removed ${s.deleted.length} backup(s), kept ${s.plan.keep.length}`,
    );
  }
  return lines.join("\n");
}

export function pruneCommand(program: Command): void {
  program
    .command("prune")
    .description("apply the retention policy: remove the backups it does not keep")
    .option("--dry-run", "show what would be kept and removed; delete nothing")
    .action(
      action<{ dryRun?: boolean }>(async ({ ui, globals }, _args, o) => {
        return await withBox(globals, ui, {}, async ({ box, loaded }) => {
          if (!loaded.config.retention) ui.warn("no retention policy in the config: prune keeps every complete backup");
          const interrupt = interruptSignal();
          try {
            const report = await box.prune({ dryRun: o.dryRun === true, signal: interrupt.signal });
            ui.result(report, () => describePrune(report), { essential: o.dryRun === true });
            return report.storages.some((s) => s.errors.length > 0) ? EXIT.FAILED : EXIT.OK;
          } finally {
            interrupt.dispose();
          }
        });
      }),
    );
}
