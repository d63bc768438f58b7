import type { TypedEmitter } from "../events.js";
import { formatDuration } from "../util/units.js";

const SIGNALS = ["SIGTERM", "SIGINT"] as const;

/**
 * Graceful shutdown on SIGTERM/SIGINT: the first signal stops the schedule and waits for the run
 * in flight (up to the grace period, then aborts it); a second one aborts at once. When no other
 * code listens for the signal, the process then exits with code 0 — what would have happened
 * without a handler, minus the half-finished backup.
 *
 * @returns a function that removes the handlers.
 */
export function installSignalHandlers(
  stop: (options?: { abort?: boolean }) => Promise<void>,
  graceMs: number,
  emitter: TypedEmitter,
): () => void {
  let stopping = false;
  const uninstall = () => {
    for (const sig of SIGNALS) process.off(sig, onSignal);
  };
  function onSignal(sig: NodeJS.Signals): void {
    if (stopping) {
      emitter.emit("warning", { message: `received ${sig} again: aborting the run in flight` });
      void stop({ abort: true });
      return;
    }
    stopping = true;
    emitter.emit("warning", {
      message: `received ${sig}: stopping the schedule (the run in flight gets up to ${formatDuration(graceMs)})`,
    });
    void stop().finally(() => {
      uninstall();
      if (process.listenerCount(sig) === 0) process.exit(0);
    });
  }
  for (const sig of SIGNALS) process.on(sig, onSignal);
  return uninstall;
}
