import { randomUUID } from "node:crypto";
import { type Lock, type LockLease, registerSecret, StrongboxError, wrapError } from "@strongbox/core";
import pg from "pg";
import { parseConnectionString, toPgConfig } from "./connection.js";

const ADAPTER = "postgres-lock";

/** Options of {@link postgresLock}: give `connectionString` or `client`. */
export interface PostgresLockOptions {
  /**
   * Server to hold the lock on (`postgres://…` URL or `key=value` conninfo). Any database every
   * replica can reach works; the lock does not touch tables. Its password is masked in every message.
   */
  connectionString?: string;
  /**
   * A `pg.Pool` to take the lock's connection from. Each lease keeps one pooled connection checked
   * out for as long as it is held. A lone `pg.Client` is refused: advisory locks belong to a
   * session and are re-entrant within it, so two schedules sharing one session would both "win".
   */
  client?: pg.Pool;
}

interface Session {
  query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>>;
  /** `broken`: the session must not be reused (pool: destroy the connection). */
  close(broken?: boolean): Promise<void>;
  /** Set when the connection failed while the lease was held: the server has dropped the lock. */
  lost(): boolean;
}

/**
 * A {@link Lock} on PostgreSQL session-level advisory locks: `pg_try_advisory_lock(hashtext(name))`
 * on a connection dedicated to the lease, held until `release()` (unlock, then close).
 *
 * The lock lives exactly as long as that session, so `ttlMs` is not used: a holder that dies loses
 * its connection and the server frees the lock at once, and a live holder never loses it to a timer.
 * `renew()` checks that the session is still alive and still holds the lock. Names are hashed to
 * 32 bits with `hashtext`; two different names may (very rarely) collide, which only makes their
 * schedules take turns.
 */
export function postgresLock(options: PostgresLockOptions): Lock {
  if (!options || typeof options !== "object" || (!options.connectionString && !options.client)) {
    throw new StrongboxError("E_CONFIG", 'postgresLock() needs "connectionString" or "client" (a pg.Pool)', {
      adapter: ADAPTER,
    });
  }
  const pool = options.client;
  if (pool && !isPool(pool)) {
    throw new StrongboxError(
      "E_CONFIG",
      '"client" must be a pg.Pool: advisory locks are per session, so a single shared pg.Client cannot exclude itself',
      { adapter: ADAPTER },
    );
  }
  let config: pg.ClientConfig | undefined;
  if (!pool) {
    const params = parseConnectionString(options.connectionString!);
    registerSecret(params.password);
    config = { ...toPgConfig(params), application_name: params.application_name ?? "strongbox-lock" };
  }
  const active = new Set<LockLease>();

  const open = async (): Promise<Session> => {
    let failed = false;
    if (pool) {
      const client = await pool.connect();
      const onError = () => {
        failed = true;
      };
      client.on("error", onError);
      return {
        query: (text, values) => client.query(text, values),
        async close(broken) {
          client.off("error", onError);
          client.release(broken || failed);
        },
        lost: () => failed,
      };
    }
    const client = new pg.Client(config);
    // Without a listener a dropped connection would crash the process; here it just loses the lease.
    client.on("error", () => {
      failed = true;
    });
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    return {
      query: (text, values) => client.query(text, values),
      close: () => client.end().catch(() => undefined),
      lost: () => failed,
    };
  };

  return {
    type: "postgres",
    async acquire(name, { signal }) {
      if (typeof name !== "string" || name === "")
        throw new StrongboxError("E_CONFIG", "lock name must be a non-empty string", { adapter: ADAPTER });
      if (signal?.aborted) throw new StrongboxError("E_ABORTED", "aborted", { adapter: ADAPTER });
      let session: Session;
      try {
        session = await open();
      } catch (err) {
        throw wrapError(err, "E_SOURCE", ADAPTER, "cannot connect to PostgreSQL to take the lock");
      }
      let locked = false;
      try {
        const r = await session.query<{ locked: boolean }>("SELECT pg_try_advisory_lock(hashtext($1)) AS locked", [
          name,
        ]);
        locked = r.rows[0]?.locked === true;
        if (locked && signal?.aborted) throw new StrongboxError("E_ABORTED", "aborted", { adapter: ADAPTER });
      } catch (err) {
        // Closing the session frees a lock taken just before the abort.
        await session.close(true);
        throw wrapError(err, "E_SOURCE", ADAPTER, `taking advisory lock "${name}"`);
      }
      if (!locked) {
        await session.close();
        return undefined;
      }
      let released = false;
      const lease: LockLease = {
        token: randomUUID(),
        async renew() {
          if (released || session.lost()) return false;
          try {
            const r = await session.query<{ held: boolean }>(HELD_SQL, [name]);
            return r.rows[0]?.held === true;
          } catch {
            // The session is gone, and with it the lock.
            return false;
          }
        },
        async release() {
          if (released) return;
          released = true;
          active.delete(lease);
          let clean = false;
          try {
            if (!session.lost()) {
              await session.query("SELECT pg_advisory_unlock(hashtext($1))", [name]);
              clean = true;
            }
          } catch {
            // Destroying the connection below ends the session, which frees the lock anyway.
          }
          await session.close(!clean);
        },
      };
      active.add(lease);
      return lease;
    },
    async close() {
      await Promise.all([...active].map((l) => l.release()));
    },
  };
}

/**
 * Whether THIS session holds the advisory lock: a bigint key is stored in pg_locks as classid
 * (high 32 bits) and objid (low 32 bits) with objsubid 1.
 */
const HELD_SQL = `
  WITH k AS (SELECT hashtext($1)::bigint AS key)
  SELECT EXISTS (
    SELECT 1 FROM pg_locks, k
    WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND objsubid = 1
      AND classid::bigint = ((k.key >> 32) & 4294967295) AND objid::bigint = (k.key & 4294967295)
  ) AS held`;

function isPool(client: unknown): client is pg.Pool {
  const c = client as { connect?: unknown; totalCount?: unknown; idleCount?: unknown };
  return typeof c.connect === "function" && typeof c.totalCount === "number" && typeof c.idleCount === "number";
}
