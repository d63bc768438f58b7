import type { Logger } from "../contracts/common.js";
import { redactSecrets } from "../errors.js";

const LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof LEVELS)[number];

/** Writes `level message {data}` lines to stderr, redacted. */
export function consoleLogger(level: LogLevel = "warn"): Logger {
  const min = LEVELS.indexOf(level);
  const make =
    (l: Exclude<LogLevel, "silent">) =>
    (message: string, data?: Record<string, unknown>): void => {
      if (LEVELS.indexOf(l) < min) return;
      const extra = data && Object.keys(data).length > 0 ? ` ${JSON.stringify(data)}` : "";
      process.stderr.write(`${new Date().toISOString()} ${l} ${redactSecrets(message + extra)}\n`);
    };
  return { debug: make("debug"), info: make("info"), warn: make("warn"), error: make("error") };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A logger that redacts before handing lines to a user-supplied logger. */
export function redactingLogger(inner: Logger): Logger {
  const wrap =
    (fn: Logger["info"]) =>
    (message: string, data?: Record<string, unknown>): void =>
      fn(
        redactSecrets(message),
        data ? (JSON.parse(redactSecrets(JSON.stringify(data))) as Record<string, unknown>) : undefined,
      );
  return {
    debug: wrap(inner.debug.bind(inner)),
    info: wrap(inner.info.bind(inner)),
    warn: wrap(inner.warn.bind(inner)),
    error: wrap(inner.error.bind(inner)),
  };
}
