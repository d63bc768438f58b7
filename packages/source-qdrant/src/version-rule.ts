import { StrongboxError } from "@strongbox/core";
import { ADAPTER } from "./http.js";

function majorMinor(v: string | undefined): [number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)/.exec(v ?? "");
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/**
 * Qdrant recovers a snapshot only when it was made by the same or the previous minor version.
 * Returns a warning for a one-minor gap (or unknown versions); throws E_SOURCE for anything
 * else unless forced.
 */
export function checkVersionGap(backup: string | undefined, server: string, force: boolean): string | undefined {
  const b = majorMinor(backup);
  const s = majorMinor(server);
  if (!b || !s)
    return `cannot compare Qdrant versions (backup ${backup ?? "unknown"}, server ${server || "unknown"}); the server decides`;
  if (b[0] === s[0] && b[1] === s[1]) return undefined;
  if (b[0] === s[0] && s[1] === b[1] + 1)
    return `backup made by Qdrant ${backup}, restoring on ${server}: one minor version apart, which Qdrant supports`;
  const message = `backup made by Qdrant ${backup} cannot be restored on Qdrant ${server}: Qdrant recovers snapshots only from the same or the previous minor version (${b[0]}.${b[1]} or ${b[0]}.${b[1] + 1} here); restore it on a server of those versions first, or pass force: true to try anyway`;
  if (!force)
    throw new StrongboxError("E_SOURCE", message, {
      adapter: ADAPTER,
      details: { backupVersion: backup, serverVersion: server },
    });
  return `forced: ${message}`;
}
