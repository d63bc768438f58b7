import { redactSecrets } from "@strongbox/core";
import { EXIT, type ExitCode } from "./exit-codes.js";

/**
 * An error of the command itself (usage, config, confirmation). Printed like a StrongboxError,
 * `error [E_USAGE]: message`, and mapped to its own exit code.
 */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: ExitCode = EXIT.USAGE,
  ) {
    super(message);
  }
}

/** A usage or configuration mistake: exit 2. */
export function usageError(message: string): CliError {
  return new CliError("E_USAGE", message, EXIT.USAGE);
}

/** An invalid config file: exit 2, code E_CONFIG like the SDK's own config errors. */
export function configError(message: string): CliError {
  return new CliError("E_CONFIG", message, EXIT.USAGE);
}

interface CodedError {
  name: string;
  code: string;
  message: string;
  stack?: string;
}

/**
 * StrongboxError is recognised by shape, not `instanceof`: a config file loaded with jiti may
 * import its own copy of @strongbox/core.
 */
function isCoded(err: unknown): err is CodedError {
  return (
    typeof err === "object" &&
    err !== null &&
    ((err as { name?: unknown }).name === "StrongboxError" || err instanceof CliError) &&
    typeof (err as { code?: unknown }).code === "string"
  );
}

/** What a failure means for the process: exit code, stable code and a one-line, secret-free message. */
export function describeError(err: unknown): { exitCode: ExitCode; code: string | undefined; message: string } {
  if (err instanceof CliError) return { exitCode: err.exitCode, code: err.code, message: redactSecrets(err.message) };
  if (isCoded(err)) {
    // The CLI is strongbox itself: the "[strongbox] " prefix adds nothing here; the adapter tag stays.
    const message = redactSecrets(err.message).replace(/^\[strongbox\] /, "");
    return { exitCode: err.code === "E_CONFIG" ? EXIT.USAGE : EXIT.FAILED, code: err.code, message };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { exitCode: EXIT.FAILED, code: undefined, message: redactSecrets(message) };
}

/** `error [E_CODE]: message` (+ the redacted stack and causes with STRONGBOX_DEBUG=1). */
export function formatError(err: unknown, debug: boolean): string {
  const { code, message } = describeError(err);
  let text = code ? `error [${code}]: ${message}` : `error: ${message}`;
  if (debug) {
    let current: unknown = err;
    let depth = 0;
    while (current instanceof Error && depth < 5) {
      if (current.stack) text += `\n${redactSecrets(current.stack)}`;
      current = current.cause;
      depth++;
      if (current !== undefined) text += "\ncaused by:";
    }
  }
  return text;
}
