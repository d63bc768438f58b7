import { randomUUID } from "node:crypto";
import { type Lock, type LockLease, StrongboxError, wrapError } from "@strongbox/core";
import { type Cluster, type RedisOptions as IORedisOptions, Redis } from "ioredis";
import { registerConfigSecrets } from "./connection.js";

const ADAPTER = "redis-lock";

/** Options of {@link redisLock}: give `url` (or `options`) or `client`. */
export interface RedisLockOptions {
  /** `redis://[:password@]host:port[/db]` or `rediss://…`. Its password is masked in every message. */
  url?: string;
  /** ioredis options for the connection the lock opens itself (merged over `url`). */
  options?: IORedisOptions;
  /** A ready ioredis `Redis` or `Cluster` to use instead; never closed by the lock. Its `keyPrefix` applies. */
  client?: Redis | Cluster;
}

/** Extends the lease only while the key still holds OUR token. */
const RENEW = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;
/** Deletes the key only while it still holds OUR token: an expired lease never frees its successor's lock. */
const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

/**
 * A {@link Lock} as a Redis lease: `SET name token NX PX ttl` takes it, and renewal and release
 * are Lua scripts that act only when the key still holds this lease's random token. A holder that
 * dies keeps the others out for at most `ttlMs`; the scheduler renews every third of it.
 *
 * One Redis primary is assumed (as the scheduler needs: at worst, a failover that loses the key lets
 * a second replica run the same backup — a duplicate, never a loss). The key is the lock name.
 */
export function redisLock(options: RedisLockOptions): Lock {
  if (!options || typeof options !== "object" || (!options.url && !options.client && !options.options)) {
    throw new StrongboxError("E_CONFIG", 'redisLock() needs "url" (redis://…), "options" or "client"', {
      adapter: ADAPTER,
    });
  }
  registerConfigSecrets(options);
  let own: Redis | undefined;
  let lastError: Error | undefined;

  const connection = async (): Promise<Redis | Cluster> => {
    if (options.client) return options.client;
    if (!own) {
      // Fail fast: a lock that cannot be reached must fail the run now, not retry forever.
      const base: IORedisOptions = {
        lazyConnect: true,
        maxRetriesPerRequest: 1,
        connectTimeout: 10_000,
        retryStrategy: (times: number) => (times > 3 ? null : Math.min(times * 200, 1000)),
        ...options.options,
      };
      own = options.url ? new Redis(options.url, base) : new Redis(base);
      own.on("error", (err: Error) => {
        lastError = err;
      });
    }
    if (own.status === "wait" || own.status === "end") {
      try {
        await own.connect();
      } catch (err) {
        throw lastError ?? err;
      }
    }
    return own;
  };

  return {
    type: "redis",
    async acquire(name, { ttlMs, signal }) {
      if (typeof name !== "string" || name === "")
        throw new StrongboxError("E_CONFIG", "lock name must be a non-empty string", { adapter: ADAPTER });
      const ttl = Math.ceil(ttlMs);
      if (!Number.isFinite(ttl) || ttl < 1)
        throw new StrongboxError("E_CONFIG", "ttlMs must be a positive number", { adapter: ADAPTER });
      if (signal?.aborted) throw new StrongboxError("E_ABORTED", "aborted", { adapter: ADAPTER });
      const token = randomUUID();
      let client: Redis | Cluster;
      let ok: string | null;
      try {
        client = await connection();
        ok = await client.set(name, token, "PX", ttl, "NX");
      } catch (err) {
        throw wrapError(err, "E_SOURCE", ADAPTER, `taking lock "${name}"`);
      }
      if (ok !== "OK") return undefined;
      let released = false;
      const lease: LockLease = {
        token,
        async renew() {
          if (released) return false;
          try {
            return Number(await client.eval(RENEW, 1, name, token, String(ttl))) === 1;
          } catch (err) {
            throw wrapError(err, "E_SOURCE", ADAPTER, `renewing lock "${name}"`);
          }
        },
        async release() {
          if (released) return;
          released = true;
          try {
            await client.eval(RELEASE, 1, name, token);
          } catch {
            // Unreachable: the lease then expires on its own after ttl, as designed.
          }
        },
      };
      if (signal?.aborted) {
        await lease.release();
        throw new StrongboxError("E_ABORTED", "aborted", { adapter: ADAPTER });
      }
      return lease;
    },
    async close() {
      const c = own;
      own = undefined;
      if (c) await c.quit().catch(() => c.disconnect());
    },
  };
}
