import pg from "pg";
import { type ConnParams, toPgConfig } from "./connection.js";
import { type Queryable, sourceError } from "./db.js";

/** An exported snapshot, held open by a transaction until pg_dump has used it. */
export interface HeldSnapshot {
  id: string;
  /** Database the snapshot belongs to: pg_dump can only import it there. */
  dbname: string | undefined;
  release(): void;
}

/** How long an exported snapshot waits for its pg_dump before it is let go. */
const HOLD_MS = 2 * 60_000;

/**
 * Makes the row counts in the manifest describe exactly the rows in the dump. The manager calls
 * `inspect()` and then `backup()` with the same backup id; `inspect()` counts inside a
 * REPEATABLE READ transaction whose snapshot it exports (`pg_export_snapshot()`), and `backup()`
 * hands that snapshot to `pg_dump --snapshot`. Without this, rows written between the two calls
 * would make a restore test on a busy database report false mismatches.
 */
export class SnapshotRegistry {
  private readonly held = new Map<string, HeldSnapshot>();

  /** Runs `fn` in a transaction whose snapshot is exported and kept for `backupId`. */
  async countInSnapshot<T>(params: ConnParams, backupId: string, fn: (db: Queryable) => Promise<T>): Promise<T> {
    const client = new pg.Client(toPgConfig(params));
    // The session may be cut (idle_in_transaction_session_timeout) while it waits: not an error here.
    client.on("error", () => {});
    try {
      await client.connect();
    } catch (err) {
      throw sourceError(err, "cannot connect to PostgreSQL", params);
    }
    let keep = false;
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      let id: string;
      try {
        id = (await client.query<{ id: string }>("SELECT pg_catalog.pg_export_snapshot() AS id")).rows[0]!.id;
      } catch {
        // Some servers cannot export snapshots (e.g. older standbys): count without one.
        await client.query("ROLLBACK");
        return await fn(client);
      }
      const result = await fn(client);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        clearTimeout(timer);
        if (this.held.get(backupId) === entry) this.held.delete(backupId);
        void client.end().catch(() => {});
      };
      const timer = setTimeout(release, HOLD_MS);
      timer.unref();
      const entry: HeldSnapshot = { id, dbname: params.dbname, release };
      this.held.get(backupId)?.release();
      this.held.set(backupId, entry);
      keep = true;
      return result;
    } finally {
      if (!keep) await client.end().catch(() => {});
    }
  }

  /** The snapshot kept for this backup, if any; the caller must `release()` it. */
  take(backupId: string): HeldSnapshot | undefined {
    const entry = this.held.get(backupId);
    this.held.delete(backupId);
    return entry;
  }

  releaseAll(): void {
    for (const entry of [...this.held.values()]) entry.release();
  }
}
