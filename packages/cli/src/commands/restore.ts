import { isAbsolute, resolve } from "node:path";
import { type RestoreReport, redactSecrets, type TargetOverrides } from "@strongbox/core";
import type { Command } from "commander";
import { interruptSignal, withBox } from "../context.js";
import { CliError, usageError } from "../errors.js";
import { EXIT } from "../exit-codes.js";
import { formatDuration, formatTime } from "../ui/format.js";
import { ProgressView } from "../ui/progress.js";
import { confirmRestore } from "../ui/prompt.js";
import { action, collect, repeat } from "./shared.js";

// Target keys that name a folder: resolved against the working directory, as users expect.
const PATH_KEYS = new Set(["directory"]);

/**
 * `--target postgres.database=copy --target redis.db=2` → `{ postgres: { database: "copy" }, redis: { db: 2 } }`.
 * Integers and true/false are converted; everything else stays a string.
 */
export function parseTargets(entries: string[], cwd: string = process.cwd()): Record<string, TargetOverrides> {
  const targets: Record<string, TargetOverrides> = {};
  for (const entry of entries) {
    const match = /^([^.=]+)\.([^=]+)=(.*)$/s.exec(entry);
    if (!match)
      throw usageError(`--target "${entry}" must look like component.key=value (e.g. postgres.database=copy)`);
    const [, component, key, raw] = match as unknown as [string, string, string, string];
    let value: unknown = raw;
    if (/^-?\d+$/.test(raw)) value = Number(raw);
    else if (raw === "true" || raw === "false") value = raw === "true";
    else if (PATH_KEYS.has(key) && !isAbsolute(raw)) value = resolve(cwd, raw);
    targets[component] = { ...targets[component], [key]: value };
  }
  return targets;
}

/** What a restore will overwrite, from the dry run's previews. */
export function describePlan(report: RestoreReport, header: string): string {
  const lines = [header];
  for (const c of report.components) {
    const p = c.preview;
    const target = Object.keys(c.target).length > 0 ? ` (target ${redactSecrets(JSON.stringify(c.target))})` : "";
    if (!p) {
      lines.push(`  ${c.name} (${c.type})${target}: the source gives no preview`);
      continue;
    }
    lines.push(
      `  ${c.name} (${c.type}) → ${p.target}${p.exists ? " [exists: will be overwritten]" : " [new]"}${target}`,
    );
    for (const r of p.replaces.slice(0, 20)) {
      const unit = r.unit ? ` ${r.unit}` : "";
      const now = r.current === undefined ? "" : `${r.current}${unit} now`;
      const incoming = r.incoming === undefined ? "" : `${r.incoming}${unit} from the backup`;
      lines.push(`      ${r.name}${now || incoming ? `: ${[now, incoming].filter(Boolean).join(" → ")}` : ""}`);
    }
    if (p.replaces.length > 20) lines.push(`      … and ${p.replaces.length - 20} more`);
    for (const note of p.notes ?? []) lines.push(`      note: ${note}`);
  }
  return lines.join("\n");
}

function describeResult(report: RestoreReport): string {
  const lines = [`restored backup ${report.id} in ${formatDuration(report.durationMs)}`];
  for (const c of report.components) {
    const bad = (c.checks ?? []).filter((k) => !k.ok);
    const safety = c.safetyBackupId ? `, safety backup ${c.safetyBackupId}` : "";
    lines.push(`  ${c.name} (${c.type}): done in ${formatDuration(c.durationMs)}${safety}`);
    for (const k of bad)
      lines.push(`      count mismatch ${k.name}: expected ${k.expected}, got ${k.actual ?? "nothing"}`);
  }
  return lines.join("\n");
}

interface RestoreFlags {
  component?: string[];
  target?: string[];
  dryRun?: boolean;
  force?: boolean;
  safetyBackup?: boolean;
}

export function restoreCommand(program: Command): void {
  program
    .command("restore")
    .description("restore a backup (asks for confirmation on a terminal; --force otherwise)")
    .argument("<id>", 'backup id, or "latest"')
    .option("--component <name>", "only this component (repeatable, or comma-separated)", collect)
    .option(
      "--target <component.key=value>",
      "restore somewhere else: postgres.database=copy, redis.db=2, files.directory=/tmp/x (repeatable)",
      repeat,
    )
    .option("--dry-run", "show what would be restored and overwritten; change nothing")
    .option("--force", "do not ask for confirmation, and overwrite targets that are not empty")
    .option("--no-safety-backup", "do not back up what the restore overwrites first")
    .action(
      action<RestoreFlags>(async ({ ui, globals }, [id], o) => {
        const targets = parseTargets(o.target ?? []);
        const base = {
          ...(o.component ? { components: o.component } : {}),
          ...(Object.keys(targets).length > 0 ? { targets } : {}),
        };
        return await withBox(globals, ui, { decrypt: true }, async ({ box }) => {
          const manifest = await box.get(id!);
          const plan = await box.restore(manifest.id, { ...base, dryRun: true });
          const header = `backup ${manifest.id} (${formatTime(manifest.startedAt)}, host ${manifest.host}) — ${
            o.dryRun ? "a restore would write" : "restoring"
          }:`;
          if (o.dryRun) {
            ui.result(plan, () => describePlan(plan, header), { essential: true });
            return EXIT.OK;
          }
          const stdin = ui.streams.stdin;
          if (!o.force) {
            if (stdin.isTTY !== true) {
              throw usageError(
                `refusing to restore ${manifest.id} without confirmation: stdin is not a terminal; pass --force to restore anyway (run with --dry-run to see what it overwrites)`,
              );
            }
            // The user must see what they are confirming, even with --quiet or --json.
            ui.streams.stderr.write(`${describePlan(plan, header)}\n`);
            if (!(await confirmRestore(stdin, ui.streams.stderr, manifest.id))) {
              throw new CliError("E_DECLINED", "restore cancelled; nothing was changed", EXIT.FAILED);
            }
          } else if (ui.chatty) {
            ui.streams.stderr.write(`${describePlan(plan, header)}\n`);
          }
          const progress = new ProgressView(ui).attach(box);
          const interrupt = interruptSignal();
          try {
            const report = await box.restore(manifest.id, {
              ...base,
              force: true,
              ...(o.safetyBackup === false ? { safetyBackup: false } : {}),
              signal: interrupt.signal,
            });
            progress.done();
            ui.result(report, () => describeResult(report));
            const mismatched = report.components.some((c) => (c.checks ?? []).some((k) => !k.ok));
            return mismatched ? EXIT.FAILED : EXIT.OK;
          } finally {
            progress.stop();
            interrupt.dispose();
          }
        });
      }),
    );
}
