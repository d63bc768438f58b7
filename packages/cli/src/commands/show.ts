import type { BackupManifest } from "@strongbox/core";
import type { Command } from "commander";
import { withBox } from "../context.js";
import { formatBytes, formatDuration, formatTime } from "../ui/format.js";
import { action } from "./shared.js";

function describeManifest(m: BackupManifest): string {
  const lines = [
    `id:          ${m.id}`,
    `started:     ${formatTime(m.startedAt)}`,
    `completed:   ${formatTime(m.completedAt)} (${formatDuration(m.durationMs)})`,
    `host:        ${m.host}`,
    `tool:        ${m.tool.name} ${m.tool.version}`,
  ];
  if (m.tags.length > 0) lines.push(`tags:        ${m.tags.join(", ")}`);
  if (m.description) lines.push(`description: ${m.description}`);
  if (m.safetyFor) lines.push(`safety backup taken before restoring ${m.safetyFor.backupId}`);
  lines.push("components:");
  for (const c of m.components) {
    lines.push(`  ${c.name} (${c.type}${c.version ? ` ${c.version}` : ""}), ${formatDuration(c.durationMs)}`);
    for (const a of c.artifacts) {
      const chain = a.transforms.map((t) => t.id).join(" → ") || "none";
      lines.push(
        `    ${a.key}  ${formatBytes(a.plainSize)} → ${formatBytes(a.size)}  [${chain}]  sha256 ${a.sha256.slice(0, 16)}…`,
      );
    }
    const counts = Object.entries(c.stats?.counts ?? {});
    if (counts.length > 0) {
      const shown = counts.slice(0, 10).map(([k, v]) => `${k}=${v}`);
      lines.push(`    counts: ${shown.join(", ")}${counts.length > 10 ? `, … (${counts.length - 10} more)` : ""}`);
    }
  }
  return lines.join("\n");
}

export function showCommand(program: Command): void {
  program
    .command("show")
    .description("show a backup's manifest")
    .argument("<id>", 'backup id, or "latest"')
    .action(
      action(async ({ ui, globals }, [id]) => {
        await withBox(globals, ui, {}, async ({ box }) => {
          const manifest = await box.get(id!);
          ui.result(manifest, () => describeManifest(manifest), { essential: true });
        });
      }),
    );
}
