import { VERSION } from "@strongbox/core";
import { Command, CommanderError } from "commander";
import { backupCommand } from "./commands/backup.js";
import { deleteCommand } from "./commands/delete.js";
import { exportCommand } from "./commands/export.js";
import { healthCommand } from "./commands/health.js";
import { initCommand } from "./commands/init.js";
import { keygenCommand } from "./commands/keygen.js";
import { listCommand } from "./commands/list.js";
import { pruneCommand } from "./commands/prune.js";
import { restoreCommand } from "./commands/restore.js";
import { scheduleCommand } from "./commands/schedule.js";
import { showCommand } from "./commands/show.js";
import { verifyCommand } from "./commands/verify.js";
import { EXIT, EXIT_CODES_HELP } from "./exit-codes.js";

export function createProgram(): Command {
  const program = new Command("strongbox")
    .description("Back up, verify, restore and prune PostgreSQL, Redis, Qdrant and files, from strongbox.config.*")
    .version(VERSION, "-V, --version")
    // Global options, accepted before or after the command name: `strongbox list --json`.
    .option("--config <file>", "config file (default: strongbox.config.{ts,mts,mjs,js,json} found upward from here)")
    .option("--json", "machine output: one JSON document on stdout")
    .option("-q, --quiet", "no progress, no notes; errors only (and the data of list/show)")
    .configureHelp({ showGlobalOptions: true })
    .addHelpText("after", `\n${EXIT_CODES_HELP}`)
    .showHelpAfterError('(run "strongbox --help" for usage)')
    .exitOverride();

  for (const register of [
    initCommand,
    keygenCommand,
    backupCommand,
    listCommand,
    showCommand,
    verifyCommand,
    restoreCommand,
    pruneCommand,
    deleteCommand,
    exportCommand,
    healthCommand,
    scheduleCommand,
  ]) {
    register(program);
  }
  for (const sub of program.commands) {
    sub.exitOverride();
    sub.showHelpAfterError(`(run "strongbox ${sub.name()} --help" for usage)`);
    sub.addHelpText("after", `\n${EXIT_CODES_HELP}`);
  }
  return program;
}

/** Runs the CLI and resolves to the exit code. */
export async function main(argv: string[] = process.argv): Promise<number> {
  const program = createProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version "fail" with exit code 0; usage mistakes are exit 2.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    throw err;
  }
  return typeof process.exitCode === "number" ? process.exitCode : EXIT.OK;
}
