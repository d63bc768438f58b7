import type { HealthOptions } from "@strongbox/core";
import type { Command } from "commander";
import { withBox } from "../context.js";
import { EXIT } from "../exit-codes.js";
import { table } from "../ui/format.js";
import { action, positiveInt } from "./shared.js";

export function healthCommand(program: Command): void {
  program
    .command("health")
    .description(
      "check the newest backup's age, total size and count against the config's limits (exit 3 when unhealthy)",
    )
    .option("--max-age <span>", 'override health.maxAge ("26h", "2d")')
    .option("--max-total-size <size>", 'override health.maxTotalSize ("50GB")')
    .option("--min-count <n>", "override health.minCount", positiveInt("--min-count"))
    .action(
      action<{ maxAge?: string; maxTotalSize?: string; minCount?: number }>(async ({ ui, globals }, _args, o) => {
        return await withBox(globals, ui, {}, async ({ box, loaded }) => {
          const limits = loaded.config.health ?? {};
          const options: HealthOptions = {
            ...limits,
            ...(o.maxAge !== undefined ? { maxAge: o.maxAge } : {}),
            ...(o.maxTotalSize !== undefined ? { maxTotalSize: o.maxTotalSize } : {}),
            ...(o.minCount !== undefined ? { minCount: o.minCount } : {}),
          };
          const report = await box.health(options);
          ui.result(report, () =>
            [
              report.healthy ? "healthy" : "UNHEALTHY",
              table(
                ["", "CHECK", "STORAGE", "DETAIL"],
                report.checks.map((c) => [c.ok ? "ok" : "FAIL", c.name, c.storage, c.message]),
              ),
            ].join("\n"),
          );
          return report.healthy ? EXIT.OK : EXIT.UNHEALTHY;
        });
      }),
    );
}
