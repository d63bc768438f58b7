/** The `strongbox` command's exit codes. Stable: scripts and monitors rely on them. */
export const EXIT = {
  /** The command did what was asked. */
  OK: 0,
  /** The operation failed (source, storage, integrity, decryption…), or the user declined. */
  FAILED: 1,
  /** Bad usage or configuration: unknown option, invalid config, missing environment variable. */
  USAGE: 2,
  /** `strongbox health` found a failed check. */
  UNHEALTHY: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODES_HELP = `Exit codes:
  0  ok
  1  the operation failed (or a restore was declined)
  2  usage or configuration error (bad option, invalid config, missing environment variable)
  3  unhealthy (strongbox health)

Set STRONGBOX_DEBUG=1 to print stack traces.`;
