import { randomBytes } from "node:crypto";
import { isStrongboxError } from "@strongbox/core";
import { lockSuite } from "@strongbox/testkit";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { postgresLock } from "../src/lock.js";

const URL_ = "postgres://postgres@127.0.0.1:5432/postgres";
const lockName = () => `strongbox:test:${randomBytes(6).toString("hex")}`;

/** A raw session, to look at pg_locks the way an operator would. */
const raw = new pg.Pool({ connectionString: URL_, max: 3 });
afterAll(() => raw.end());

async function holders(name: string): Promise<number[]> {
  const r = await raw.query<{ pid: number }>(
    `WITH k AS (SELECT hashtext($1)::bigint AS key)
     SELECT pid FROM pg_locks, k WHERE locktype = 'advisory' AND granted AND objsubid = 1
       AND classid::bigint = ((k.key >> 32) & 4294967295) AND objid::bigint = (k.key & 4294967295)`,
    [name],
  );
  return r.rows.map((x) => x.pid);
}

let cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  cleanups = [];
});

describe("postgresLock()", () => {
  it("holds a session advisory lock that no other session can take or release", async () => {
    const name = lockName();
    const a = postgresLock({ connectionString: URL_ });
    const b = postgresLock({ connectionString: URL_ });
    cleanups.push(
      () => a.close!(),
      () => b.close!(),
    );
    const lease = await a.acquire(name, { ttlMs: 1000 });
    expect(lease).toBeDefined();
    const [pid] = await holders(name);
    expect(pid).toBeTypeOf("number");
    expect(await b.acquire(name, { ttlMs: 1000 })).toBeUndefined();
    // Another session cannot unlock it (advisory locks are owned by their session).
    const other = await raw.query("SELECT pg_advisory_unlock(hashtext($1)) AS ok", [name]);
    expect(other.rows[0].ok).toBe(false);
    expect(await holders(name)).toEqual([pid]);
    // ttl is irrelevant: still held (and renewable) long after a tiny ttl.
    await new Promise((r) => setTimeout(r, 50));
    expect(await lease!.renew()).toBe(true);
    await lease!.release();
    expect(await holders(name)).toEqual([]);
    expect(await lease!.renew()).toBe(false);
    await lease!.release(); // idempotent
    // The failed attempt of b left no session behind holding anything.
    const again = await b.acquire(name, { ttlMs: 1000 });
    expect(again).toBeDefined();
    await again!.release();
  });

  it("frees the lock when the holder's session dies; the lease then reports it lost", async () => {
    const name = lockName();
    const a = postgresLock({ connectionString: URL_ });
    const b = postgresLock({ connectionString: URL_ });
    cleanups.push(
      () => a.close!(),
      () => b.close!(),
    );
    const lease = await a.acquire(name, { ttlMs: 1000 });
    const [pid] = await holders(name);
    await raw.query("SELECT pg_terminate_backend($1)", [pid]);
    for (let i = 0; i < 50 && (await holders(name)).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await lease!.renew()).toBe(false);
    const taken = await b.acquire(name, { ttlMs: 1000 });
    expect(taken).toBeDefined();
    await lease!.release(); // must not throw, nor free b's lock
    expect((await holders(name)).length).toBe(1);
    await taken!.release();
  });

  it("takes a dedicated connection from a pg.Pool and refuses a lone pg.Client", async () => {
    const name = lockName();
    const pool = new pg.Pool({ connectionString: URL_, max: 4 });
    cleanups.push(() => pool.end());
    const lock = postgresLock({ client: pool });
    const first = await lock.acquire(name, { ttlMs: 1000 });
    expect(first).toBeDefined();
    expect(pool.totalCount - pool.idleCount).toBe(1);
    // Same pool, another pooled session: excluded like another replica.
    expect(await lock.acquire(name, { ttlMs: 1000 })).toBeUndefined();
    await first!.release();
    expect(pool.totalCount - pool.idleCount).toBe(0);
    expect(await holders(name)).toEqual([]);
    const client = new pg.Client({ connectionString: URL_ });
    expect(() => postgresLock({ client: client as never })).toThrow(/pg\.Pool/);
    expect(() => postgresLock({} as never)).toThrow(/connectionString/);
  });

  it("fails with E_SOURCE, without the password, when the server is unreachable", async () => {
    const lock = postgresLock({ connectionString: "postgres://app:Sup3rS3cretPw@127.0.0.1:1/app" });
    const err = await lock.acquire(lockName(), { ttlMs: 1000 }).catch((e: unknown) => e);
    expect(isStrongboxError(err, "E_SOURCE")).toBe(true);
    expect((err as Error).message).toContain("[postgres-lock]");
    expect((err as Error).message).not.toContain("Sup3rS3cretPw");
  });
});

lockSuite("postgresLock", () => ({
  lock: postgresLock({ connectionString: URL_ }),
  other: postgresLock({ connectionString: URL_ }),
  expires: false,
}));
