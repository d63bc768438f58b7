import { randomUUID } from "node:crypto";
import type { Lock, LockLease } from "../contracts/lock.js";
import { throwIfAborted } from "../errors.js";

/**
 * A {@link Lock} inside one process: schedules that share the SAME `memoryLock()` instance never
 * run at the same time. For tests and single-process services; replicas need `postgresLock()` or
 * `redisLock()`. Leases expire after `ttlMs` unless renewed, like the Redis lock.
 */
export function memoryLock(): Lock {
  const held = new Map<string, { token: string; expiresAt: number }>();
  const current = (name: string) => {
    const h = held.get(name);
    if (h && h.expiresAt <= Date.now()) {
      held.delete(name);
      return undefined;
    }
    return h;
  };
  return {
    type: "memory",
    async acquire(name, { ttlMs, signal }): Promise<LockLease | undefined> {
      throwIfAborted(signal, "memory-lock");
      if (current(name)) return undefined;
      const token = randomUUID();
      held.set(name, { token, expiresAt: Date.now() + ttlMs });
      return {
        token,
        async renew() {
          const h = current(name);
          if (h?.token !== token) return false;
          h.expiresAt = Date.now() + ttlMs;
          return true;
        },
        async release() {
          if (current(name)?.token === token) held.delete(name);
        },
      };
    },
  };
}
