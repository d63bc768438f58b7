import { StrongboxError } from "../errors.js";

/** Waits `ms`, or rejects with `E_ABORTED` as soon as the signal fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const aborted = () =>
      new StrongboxError("E_ABORTED", "aborted while waiting", { adapter: "schedule", cause: signal?.reason });
    if (signal?.aborted) return reject(aborted());
    const onAbort = () => {
      clearTimeout(timer);
      reject(aborted());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** A uniformly random whole number of milliseconds in [0, max]. */
export function randomDelay(maxMs: number): number {
  return maxMs > 0 ? Math.floor(Math.random() * (maxMs + 1)) : 0;
}
