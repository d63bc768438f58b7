import { type Command, InvalidArgumentError } from "commander";
import { CliError, describeError, formatError } from "../errors.js";
import { EXIT, type ExitCode } from "../exit-codes.js";
import { type GlobalOptions, Ui } from "../ui/output.js";

export interface CommandContext {
  ui: Ui;
  globals: GlobalOptions;
}

type Handler<O> = (ctx: CommandContext, args: string[], options: O) => Promise<ExitCode | undefined> | Promise<void>;

/**
 * Wraps a command's handler: builds the Ui from the global options, turns any error into
 * `error [E_CODE]: message` on stderr (and `{ "error": … }` on stdout with --json) and sets the
 * process exit code. Stack traces only with STRONGBOX_DEBUG=1.
 */
export function action<O extends object>(handler: Handler<O>) {
  return async (...raw: unknown[]): Promise<void> => {
    const command = raw[raw.length - 1] as Command;
    const options = raw[raw.length - 2] as O;
    const args = raw.slice(0, -2) as string[];
    const globals = command.optsWithGlobals() as GlobalOptions;
    const ui = new Ui(globals);
    try {
      const code = await handler({ ui, globals }, args, options);
      process.exitCode = code ?? EXIT.OK;
    } catch (err) {
      process.exitCode = reportError(err, ui);
    }
  };
}

export function reportError(err: unknown, ui: Ui): ExitCode {
  const { exitCode, code, message } = describeError(err);
  if (ui.json) {
    ui.streams.stdout.write(`${JSON.stringify({ error: { code: code ?? null, message, exitCode } }, null, 2)}\n`);
  }
  ui.streams.stderr.write(`${formatError(err, process.env.STRONGBOX_DEBUG === "1")}\n`);
  return exitCode;
}

/** Option parser for repeatable, comma-separable values: `--component a --component b,c`. */
export function collect(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(",")
      .map((v) => v.trim())
      .filter(Boolean),
  ];
}

/** Option parser for repeatable values that may contain commas (`--target files.directory=/a,b`). */
export function repeat(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer.`);
    return n;
  };
}

export { CliError };
