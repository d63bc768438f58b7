import type { VerifyMode } from "@strongbox/core";
import { type Command, Option } from "commander";
import { interruptSignal, withBox } from "../context.js";
import { EXIT } from "../exit-codes.js";
import { formatDuration } from "../ui/format.js";
import { ProgressView } from "../ui/progress.js";
import { action, collect } from "./shared.js";

export function verifyCommand(program: Command): void {
  program
    .command("verify")
    .description("check a backup: stored checksums, a full decode, or a restore test (exit 1 on failure)")
    .argument("<id>", 'backup id, or "latest"')
    .addOption(
      new Option("--mode <mode>", "how deep to check")
        .choices(["checksum", "decode", "restore-test"])
        .default("checksum"),
    )
    .option("--component <name>", "only this component (repeatable)", collect)
    .action(
      action<{ mode: VerifyMode; component?: string[] }>(async ({ ui, globals }, [id], o) => {
        return await withBox(globals, ui, { decrypt: o.mode !== "checksum" }, async ({ box }) => {
          const progress = new ProgressView(ui).attach(box);
          const interrupt = interruptSignal();
          try {
            const result = await box.verify(id!, {
              mode: o.mode,
              ...(o.component ? { components: o.component } : {}),
              signal: interrupt.signal,
            });
            progress.done();
            ui.result(result, () => {
              const lines = [
                `${result.ok ? "ok" : "FAILED"}: backup ${result.id} (${result.mode}, ${formatDuration(result.durationMs)})`,
              ];
              for (const c of result.components) {
                lines.push(`  ${c.ok ? "ok  " : "FAIL"} ${c.name} (${c.mode})${c.note ? ` — ${c.note}` : ""}`);
                for (const a of c.artifacts) {
                  if (!a.ok) lines.push(`       ${a.key}: [${a.error?.code}] ${a.error?.message}`);
                }
                for (const check of c.restoreTest?.checks ?? []) {
                  if (!check.ok)
                    lines.push(
                      `       ${check.name}: ${check.message ?? `expected ${check.expected}, got ${check.actual}`}`,
                    );
                }
              }
              return lines.join("\n");
            });
            if (!result.ok) {
              // Also on stderr, so --quiet and --json runs (cron, CI) still say what failed.
              const bad = result.components.flatMap((c) => c.artifacts.filter((a) => !a.ok));
              const first = bad[0];
              ui.streams.stderr.write(
                `error [${first?.error?.code ?? "E_INTEGRITY"}]: backup ${result.id} failed verification (${result.mode})${
                  first ? `: ${first.key}: ${first.error?.message ?? "failed"}` : ""
                }${bad.length > 1 ? ` (and ${bad.length - 1} more)` : ""}\n`,
              );
            }
            return result.ok ? EXIT.OK : EXIT.FAILED;
          } finally {
            progress.stop();
            interrupt.dispose();
          }
        });
      }),
    );
}
