import { formatBytes, formatDuration } from "@strongbox/core";

export { formatBytes, formatDuration };

/** A plain left-aligned text table; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** `2026-11-21 02:00:00Z` — seconds precision, UTC, readable in a table. */
export function formatTime(time: Date | string): string {
  const d = typeof time === "string" ? new Date(time) : time;
  return `${d.toISOString().slice(0, 19).replace("T", " ")}Z`;
}

/** "3h ago", for list output. */
export function ago(time: Date, now: Date = new Date()): string {
  const ms = now.getTime() - time.getTime();
  return ms < 0 ? "in the future" : `${formatDuration(ms)} ago`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
