/**
 * A named mutual-exclusion lock shared by several processes (replicas of a service), so that one
 * scheduled backup runs once however many replicas schedule it. The scheduler acquires the lock
 * before a run, renews the lease while the run is in flight and releases it afterwards; a replica
 * that does not get the lock skips the run (reported as a skip with code `E_LOCKED`, not a failure).
 *
 * Implementations: `memoryLock()` (core: one process), `postgresLock()` (@strongbox/source-postgres:
 * a session advisory lock), `redisLock()` (@strongbox/source-redis: a lease key with a token).
 */

/** Options of {@link Lock.acquire}. */
export interface LockAcquireOptions {
  /**
   * How long the lease lasts unless renewed, in milliseconds. A holder that dies without releasing
   * blocks the others at most this long. Implementations whose lock lives exactly as long as the
   * holder's connection (PostgreSQL advisory locks) may ignore it, and say so.
   */
  ttlMs: number;
  /** Aborting it abandons the attempt; an implementation must not leave a lock behind when it fires. */
  signal?: AbortSignal;
}

/** A held lock. Valid until released, until it expires without renewal, or until its connection is lost. */
export interface LockLease {
  /** Unique per acquisition; identifies this holder (e.g. the value stored under the lock's key). */
  readonly token: string;
  /**
   * Extends the lease by the acquire `ttlMs` from now. Resolves `true` while this holder still owns
   * the lock, `false` when it has lost it (expired and taken by someone else, connection lost). It
   * never extends a lease that another holder owns. Rejects only on an unexpected backend error.
   */
  renew(): Promise<boolean>;
  /**
   * Gives the lock up, only if this holder still owns it: a lease that expired and was acquired by
   * someone else is left alone (token-checked). Idempotent; never rejects because the lock is gone.
   */
  release(): Promise<void>;
}

/**
 * The lock contract. `acquire()` never waits for a holder to finish: it either gets the lock now
 * or reports that someone else holds it.
 *
 * Errors: `acquire()` rejects with a `StrongboxError` when the backend is unreachable or refuses
 * (the scheduler then fails the run rather than run unprotected), with `E_ABORTED` when the signal
 * fired. Messages never contain a password.
 */
export interface Lock {
  /** Adapter id: "memory", "postgres", "redis". */
  readonly type: string;
  /**
   * Tries to take the lock `name` for `ttlMs`. Resolves to the lease, or `undefined` when another
   * holder has it. Two holders never both get a lease for the same name at the same time (except
   * after a lease expired without being renewed, which is what the TTL is for).
   */
  acquire(name: string, options: LockAcquireOptions): Promise<LockLease | undefined>;
  /** Closes connections the lock opened itself (never a client you passed in). */
  close?(): Promise<void>;
}
