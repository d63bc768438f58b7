import type { Transform, TransformCallback } from "node:stream";

/** Calls `work` and then `callback`, with the error if `work` threw; nothing once destroyed. */
export function settle(stream: Transform, callback: TransformCallback, work: () => void): void {
  if (stream.destroyed) {
    callback();
    return;
  }
  try {
    work();
  } catch (err) {
    callback(err as Error);
    return;
  }
  callback();
}
