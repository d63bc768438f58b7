import { execFile } from "node:child_process";
import { redactSecrets, StrongboxError } from "@strongbox/core";
import { ADAPTER } from "./connection.js";
import type { PostgresOptions } from "./options.js";

export type ToolName = "pg_dump" | "pg_restore" | "pg_dumpall" | "psql";

/** The command words for a tool, with the user's prefix (`docker exec -i db`) in front. */
export function toolCommand(options: PostgresOptions, tool: ToolName): string[] {
  const path =
    tool === "pg_dump"
      ? options.pgDumpPath
      : tool === "pg_restore"
        ? options.pgRestorePath
        : tool === "pg_dumpall"
          ? options.pgDumpallPath
          : options.psqlPath;
  return [...(options.commandPrefix ?? []), path ?? tool];
}

/** Major version in PostgreSQL's numbering: 15 for "15.20", 9.6 for "9.6.24". */
export function majorOf(version: string): number {
  const m = /(\d+)(?:\.(\d+))?/.exec(version);
  if (!m) return Number.NaN;
  const first = Number(m[1]);
  return first >= 10 ? first : first + Number(m[2] ?? 0) / 10;
}

/** Runs `<tool> --version` → `{ text: "15.20", major: 15 }`; E_SOURCE with an install hint when missing. */
export function toolVersion(
  options: PostgresOptions,
  tool: ToolName,
  signal?: AbortSignal,
): Promise<{ text: string; major: number }> {
  const [cmd, ...args] = toolCommand(options, tool);
  return new Promise((resolve, reject) => {
    execFile(cmd!, [...args, "--version"], { timeout: 30_000, signal, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err) {
        const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
        const option =
          tool === "pg_dump"
            ? "pgDumpPath"
            : tool === "pg_restore"
              ? "pgRestorePath"
              : tool === "pg_dumpall"
                ? "pgDumpallPath"
                : "psqlPath";
        const text = missing
          ? `${tool} not found ("${cmd}"): install the PostgreSQL client tools (e.g. apt-get install postgresql-client) or set the "${option}" option`
          : `${tool} --version failed: ${redactSecrets(String(stderr || err.message).trim())}`;
        reject(new StrongboxError("E_SOURCE", text, { adapter: ADAPTER, cause: err }));
        return;
      }
      const m = /(\d+(?:\.\d+)+|\d+devel|\d+beta\d*|\d+rc\d*)/.exec(stdout);
      if (!m) {
        reject(
          new StrongboxError(
            "E_SOURCE",
            `cannot read the version of ${tool} from ${JSON.stringify(stdout.trim().slice(0, 200))}`,
            { adapter: ADAPTER },
          ),
        );
        return;
      }
      resolve({ text: m[1]!, major: majorOf(m[1]!) });
    });
  });
}
