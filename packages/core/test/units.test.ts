import { StrongboxError } from "@strongbox/core";
import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, parseSize, parseTimeSpan } from "../src/util/units.js";

function configError(fn: () => unknown): StrongboxError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(StrongboxError);
    expect((e as StrongboxError).code).toBe("E_CONFIG");
    return e as StrongboxError;
  }
  throw new Error("expected an E_CONFIG error");
}

describe("parseSize", () => {
  it.each<[string | number, number]>([
    [0, 0],
    [1024, 1024],
    ["1024", 1024],
    ["512 B", 512],
    ["50GB", 50_000_000_000],
    ["50 gb", 50_000_000_000],
    ["1.5 GiB", 1_610_612_736],
    ["1.5gib", 1_610_612_736],
    ["1KB", 1000],
    ["1 KiB", 1024],
    ["2MB", 2_000_000],
    ["2 MiB", 2_097_152],
    ["3TB", 3e12],
    ["1TiB", 2 ** 40],
    ["1PB", 1e15],
    ["2PiB", 2 * 2 ** 50],
    [".5 KB", 500],
    ["0.3kb", 300],
    [" 7 mb ", 7_000_000],
  ])("%j → %d bytes", (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  it.each<unknown>([
    "",
    "GB",
    "50G",
    "50 gigabytes",
    "-1GB",
    "1,5GB",
    "1e3",
    "50GB extra",
    -1,
    1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    null,
    {},
    "99EiB",
  ])("refuses %j", (input) => {
    const err = configError(() => parseSize(input as string));
    if (typeof input === "string" && input !== "") expect(err.message).toContain(JSON.stringify(input));
  });

  it("names the option in its error", () => {
    expect(configError(() => parseSize("lots", "maxTotalSize")).message).toMatch(
      /^\[strongbox\] \[core\] maxTotalSize: invalid size "lots"/,
    );
  });
});

describe("parseTimeSpan", () => {
  it.each<[string | number, number]>([
    [0, 0],
    [1500, 1500],
    ["250ms", 250],
    ["30s", 30_000],
    ["90m", 5_400_000],
    ["90min", 5_400_000],
    ["26h", 93_600_000],
    ["26H", 93_600_000],
    ["7d", 604_800_000],
    ["1w", 604_800_000],
    ["1.5h", 5_400_000],
    ["1h30m", 5_400_000],
    ["1d 12h", 129_600_000],
    ["2hr", 7_200_000],
  ])("%j → %d ms", (input, ms) => {
    expect(parseTimeSpan(input)).toBe(ms);
  });

  it.each<unknown>(["", "7", "7 days", "1y", "-5m", "5x", "h", -1, Number.NaN, null, [], "1M"])(
    "refuses %j",
    (input) => {
      configError(() => parseTimeSpan(input as string));
    },
  );

  it("refuses an upper-case M, which someone may have meant as months", () => {
    expect(configError(() => parseTimeSpan("6M", "gracePeriod")).message).toContain('"M" is ambiguous');
  });
});

describe("formatBytes", () => {
  it.each<[number, string]>([
    [0, "0 B"],
    [1023, "1023 B"],
    [1024, "1 KiB"],
    [1536, "1.5 KiB"],
    [10 * 1024 * 1024 + 300 * 1024, "10.3 MiB"],
    [512 * 2 ** 20, "512 MiB"],
    [1_610_612_736, "1.5 GiB"],
    [50_000_000_000, "46.6 GiB"],
    [2 ** 40, "1 TiB"],
    [-2048, "-2 KiB"],
    [Number.NaN, "NaN"],
  ])("%d → %s", (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });
});

describe("formatDuration", () => {
  it.each<[number, string]>([
    [0, "0ms"],
    [250, "250ms"],
    [1500, "1.5s"],
    [12_340, "12.3s"],
    [60_000, "1m"],
    [62_000, "1m 2s"],
    [3_723_000, "1h 2m"],
    [7_200_000, "2h"],
    [90_000_000, "1d 1h"],
    [8 * 86_400_000 + 59_000, "8d"],
    [-1500, "-1.5s"],
  ])("%d ms → %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it("round-trips with parseTimeSpan for whole units", () => {
    for (const s of ["90m", "26h", "7d"])
      expect(parseTimeSpan(formatDuration(parseTimeSpan(s)).replace(" ", ""))).toBe(parseTimeSpan(s));
  });
});
