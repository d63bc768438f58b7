import { StrongboxError } from "../errors.js";

/**
 * Human units for configuration: sizes (`"50GB"`, `"1.5 GiB"`) and time spans (`"26h"`, `"7d"`).
 * Both accept a plain number too, so programs can pass exact values. Bad input is an `E_CONFIG`
 * error that repeats what was given, never a silent NaN.
 */

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  pb: 1e15,
  eb: 1e18,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
  pib: 2 ** 50,
  eib: 2 ** 60,
};

function configError(what: string, input: unknown, expected: string, field?: string): StrongboxError {
  const shown = typeof input === "string" ? JSON.stringify(input) : String(input);
  return new StrongboxError("E_CONFIG", `${field ? `${field}: ` : ""}invalid ${what} ${shown}; ${expected}`, {
    details: field ? { field } : undefined,
  });
}

/**
 * Bytes from a size: a non-negative whole number of bytes, or a string with a decimal (`KB`,
 * `MB`, `GB`, `TB`, `PB`, `EB`: powers of 1000) or binary (`KiB` … `EiB`: powers of 1024) unit,
 * case-insensitive, optional space and fraction: `"50GB"`, `"1.5 GiB"`, `"512mib"`, `"1024"`.
 * Bare `K`/`M`/`G` are refused on purpose: tools disagree on whether they mean 1000 or 1024.
 *
 * @param field Option name to put in the error message (e.g. `"maxTotalSize"`).
 * @throws StrongboxError `E_CONFIG` on anything else, negatives, or sizes beyond 2^53.
 */
export function parseSize(input: string | number, field?: string): number {
  const expected = 'use bytes or a unit like "50GB", "1.5 GiB" (KB/MB/GB/TB = 1000^n, KiB/MiB/GiB/TiB = 1024^n)';
  if (typeof input === "number") {
    if (!Number.isSafeInteger(input) || input < 0)
      throw configError("size", input, "a size in bytes must be a whole number ≥ 0", field);
    return input;
  }
  if (typeof input !== "string") throw configError("size", input, expected, field);
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i.exec(input);
  if (!m) throw configError("size", input, expected, field);
  const unit = (m[2] as string).toLowerCase() || "b";
  const factor = SIZE_UNITS[unit];
  if (factor === undefined) throw configError("size", input, expected, field);
  const bytes = Math.round(Number(m[1]) * factor);
  if (!Number.isSafeInteger(bytes)) throw configError("size", input, "it is larger than 2^53 bytes", field);
  return bytes;
}

const SPAN_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Milliseconds from a time span: a non-negative number of milliseconds, or a string of one or more
 * number+unit parts, `ms`, `s`, `m` (MINUTES), `h`, `d` (24 h), `w` (7 d): `"26h"`, `"7d"`,
 * `"90m"`, `"1w"`, `"1h30m"`, `"1.5h"`. Used for health `maxAge`, grace periods and timeouts.
 *
 * Note `m` is minutes here, unlike retention durations (`keepWithin: "6m"` is six MONTHS). Since
 * that mix-up can be costly (a one-minute grace period), an upper-case `M` is refused rather than
 * guessed. Other units are case-insensitive.
 *
 * @param field Option name to put in the error message (e.g. `"maxAge"`).
 * @throws StrongboxError `E_CONFIG` on anything else or a negative value.
 */
export function parseTimeSpan(input: string | number, field?: string): number {
  const expected = 'use milliseconds or e.g. "90m", "26h", "7d", "1w", "1h30m" (m = minutes)';
  if (typeof input === "number") {
    if (!Number.isFinite(input) || input < 0)
      throw configError("time span", input, "milliseconds must be a number ≥ 0", field);
    return Math.round(input);
  }
  if (typeof input !== "string") throw configError("time span", input, expected, field);
  const text = input.trim();
  if (text === "") throw configError("time span", input, expected, field);
  if (/^\d+(\.\d+)?$/.test(text)) {
    throw configError("time span", input, `a unit is required (${expected})`, field);
  }
  const re = /(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*/y;
  let total = 0;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw configError("time span", input, expected, field);
    const rawUnit = m[2] as string;
    if (rawUnit === "M" || rawUnit === "MIN") {
      throw configError(
        "time span",
        input,
        `"M" is ambiguous here: write "m" for minutes or use days ("30d") for months`,
        field,
      );
    }
    const factor = SPAN_UNITS[rawUnit.toLowerCase()];
    if (factor === undefined) throw configError("time span", input, expected, field);
    total += Number(m[1]) * factor;
    pos = re.lastIndex;
  }
  const ms = Math.round(total);
  if (!Number.isSafeInteger(ms)) throw configError("time span", input, "it is too large", field);
  return ms;
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/** `1536` → `"1.5 KiB"`, `0` → `"0 B"`: binary units, up to three significant digits. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const sign = bytes < 0 ? "-" : "";
  let v = Math.abs(bytes);
  let i = 0;
  while (v >= 1024 && i < BYTE_UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${sign}${Math.round(v)} B`;
  const digits = v < 10 ? 2 : v < 100 ? 1 : 0;
  // Rounding can reach 1024 (1023.99 MiB → "1024 MiB"): acceptable, and still exact enough.
  return `${sign}${Number(v.toFixed(digits))} ${BYTE_UNITS[i]}`;
}

/**
 * `3_723_000` → `"1h 2m"`, `1500` → `"1.5s"`, `250` → `"250ms"`, `90_000_000` → `"1d 1h"`: the two
 * largest units, for logs and CLI output.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const sign = ms < 0 ? "-" : "";
  const abs = Math.abs(ms);
  if (abs < 1000) return `${sign}${Math.round(abs)}ms`;
  if (abs < 60_000) return `${sign}${Number((abs / 1000).toFixed(abs < 10_000 ? 2 : 1))}s`;
  const parts: Array<[number, string]> = [
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "m"],
    [1000, "s"],
  ];
  const out: string[] = [];
  let rest = Math.round(abs / 1000) * 1000;
  for (const [size, unit] of parts) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0 || out.length > 0) out.push(`${n}${unit}`);
    if (out.length === 2) break;
  }
  // Drop a trailing zero part: "2h 0m" reads better as "2h".
  if (out.length === 2 && out[1]?.startsWith("0")) out.pop();
  return sign + out.join(" ");
}
