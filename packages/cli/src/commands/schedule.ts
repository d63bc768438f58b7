import type { ScheduleOptions, Strongbox } from "@strongbox/core";
import type { Command } from "commander";
import type { ScheduleConfig } from "../config/types.js";
import { withBox } from "../context.js";
import { CliError, configError } from "../errors.js";
import { EXIT } from "../exit-codes.js";
import { formatDuration, formatTime } from "../ui/format.js";
import { action } from "./shared.js";

/** The config's `schedule` as core's options: `verify: true` means "checksum". */
export function scheduleOptions(config: ScheduleConfig): ScheduleOptions {
  const { verify, ...rest } = config;
  return {
    ...rest,
    ...(verify !== undefined ? { verify: verify === true ? "checksum" : verify } : {}),
    // The command owns SIGINT/SIGTERM: it stops the schedule, then closes the manager.
    handleSignals: false,
  };
}

export function scheduleCommand(program: Command): void {
  program
    .command("schedule")
    .description(
      "run the config's schedule in the foreground until SIGINT/SIGTERM (the run in flight finishes, or is cleanly aborted after shutdownGrace)",
    )
    .action(
      action(async ({ ui, globals }) => {
        return await withBox(globals, ui, { decrypt: true }, async ({ box, loaded }) => {
          const schedule = loaded.config.schedule as ScheduleConfig | undefined;
          if (!schedule) throw configError('schedule: missing; add schedule: { cron: "0 2 * * *" } to the config');
          // Guards against an older @strongbox/core without the scheduler.
          if (typeof (box as Partial<Strongbox>).schedule !== "function") {
            throw new CliError(
              "E_UNSUPPORTED",
              "this version of @strongbox/core has no scheduler (box.schedule); upgrade @strongbox/core",
              EXIT.FAILED,
            );
          }
          const log = (text: string) => {
            if (!ui.quiet && !ui.json) ui.streams.stderr.write(`${new Date().toISOString()} ${text}\n`);
          };
          box.on("schedule:run-started", (e) => log(`run ${e.run} (${e.trigger}) started`));
          box.on("schedule:run-completed", (e) =>
            log(
              `run ${e.run} completed: backup ${e.backupId} in ${formatDuration(e.record.durationMs)}; next ${next()}`,
            ),
          );
          box.on("schedule:run-failed", (e) =>
            log(`run ${e.run} FAILED: [${e.error.code}] ${e.error.message}; next ${next()}`),
          );
          box.on("schedule:skipped", (e) => log(`skipped (${e.reason}): ${e.message}`));

          const handle = box.schedule(scheduleOptions(schedule));
          const next = () => {
            const at = handle.nextRun();
            return at ? formatTime(at) : "none";
          };
          log(
            `scheduler started (${schedule.cron}${schedule.timeZone ? `, ${schedule.timeZone}` : ""}); next run ${next()}`,
          );

          const signal = await new Promise<NodeJS.Signals>((resolve) => {
            const onSignal = (name: NodeJS.Signals) => {
              process.off("SIGINT", onSignal);
              process.off("SIGTERM", onSignal);
              resolve(name);
            };
            process.on("SIGINT", onSignal);
            process.on("SIGTERM", onSignal);
          });
          log(`${signal}: stopping (a run in flight finishes first; send it again to abort)`);
          const again = () => void handle.stop({ abort: true });
          process.once("SIGINT", again);
          process.once("SIGTERM", again);
          await handle.stop();
          process.off("SIGINT", again);
          process.off("SIGTERM", again);
          const last = handle.lastRun();
          ui.result({ stopped: true, lastRun: last ?? null }, () => "");
          log("scheduler stopped");
          return last?.status === "failed" ? EXIT.FAILED : EXIT.OK;
        });
      }),
    );
}
