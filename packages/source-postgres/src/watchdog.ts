import pg from "pg";
import { type ConnParams, toPgConfig } from "./connection.js";

/**
 * Watches pg_restore's server session from a second connection, found by its unique
 * application_name.
 * - `lockTimeout`: pg_restore starts every archive with `SET lock_timeout = 0`, so the setting
 *   cannot be passed in; instead the session is cancelled once it has waited on a lock that long.
 * - Failure and abort: pg_restore killed with SIGKILL (as when its input fails) leaves its backend
 *   running until it next talks to the client — and a backend queued for an exclusive lock blocks
 *   every reader of that table meanwhile. The session is terminated so it rolls back at once.
 */
export interface RestoreWatch {
  /** True when the watchdog cancelled the session for waiting on a lock too long. */
  readonly gaveUp: boolean;
  /** Ends the watch; with `terminate`, first ends pg_restore's session if it is still there. */
  stop(terminate?: boolean): Promise<void>;
}

const POLL_MS = 200;

export async function watchRestore(
  params: ConnParams,
  appName: string,
  opts: { lockTimeoutMs?: number; signal: AbortSignal },
): Promise<RestoreWatch> {
  const client = new pg.Client({ ...toPgConfig(params), application_name: `${appName}-watch` });
  client.on("error", () => {});
  let gaveUp = false;
  let waitingSince: number | undefined;
  let busy = false;
  try {
    await client.connect();
  } catch {
    // Best effort: without the watchdog the restore still runs, only without these two guards.
    return { gaveUp: false, stop: async () => {} };
  }
  const sessions = () =>
    client.query<{ pid: number; wait: string | null }>(
      "SELECT pid, wait_event_type AS wait FROM pg_catalog.pg_stat_activity WHERE application_name = $1",
      [appName],
    );
  const poll = async () => {
    if (busy || opts.lockTimeoutMs === undefined) return;
    busy = true;
    try {
      const rows = (await sessions()).rows;
      const waiting = rows.find((r) => r.wait === "Lock");
      if (!waiting) waitingSince = undefined;
      else if (waitingSince === undefined) waitingSince = Date.now();
      else if (Date.now() - waitingSince >= opts.lockTimeoutMs) {
        gaveUp = true;
        await client.query("SELECT pg_catalog.pg_cancel_backend($1)", [waiting.pid]);
      }
    } catch {
      // A failed poll is retried at the next tick.
    } finally {
      busy = false;
    }
  };
  const timer = opts.lockTimeoutMs === undefined ? undefined : setInterval(() => void poll(), POLL_MS);
  const onAbort = () => {
    void client
      .query(
        "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE application_name = $1",
        [appName],
      )
      .catch(() => {});
  };
  opts.signal.addEventListener("abort", onAbort, { once: true });
  return {
    get gaveUp() {
      return gaveUp;
    },
    async stop(terminate = false) {
      if (timer) clearInterval(timer);
      opts.signal.removeEventListener("abort", onAbort);
      if (terminate || opts.signal.aborted) {
        // pg_restore killed with SIGKILL (its input failed) cannot cancel its own query; a backend
        // queued for a lock would wait on, blocking the table's readers. End it.
        await client
          .query(
            "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE application_name = $1",
            [appName],
          )
          .catch(() => {});
      }
      await client.end().catch(() => {});
    },
  };
}

/** Parses "300ms", "30s", "2min", "1h" or a bare number of milliseconds. */
export function durationMs(text: string): number {
  const m = /^(\d+)\s*(ms|s|min|h)?$/.exec(text.trim());
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === "s" ? n * 1000 : m[2] === "min" ? n * 60_000 : m[2] === "h" ? n * 3_600_000 : n;
}
