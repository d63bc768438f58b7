import { randomBytes } from "node:crypto";
import { isStrongboxError } from "@strongbox/core";
import { lockSuite } from "@strongbox/testkit";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { redisLock } from "../src/lock.js";
import { freePort, startRedis, type TestServer } from "./helpers/servers.js";

let server: TestServer;
let url: string;
let raw: Redis;

/** A throwaway redis-server with a password (to prove it never leaks). */
beforeAll(async () => {
  server = await startRedis(["--requirepass", "L0ckPassw0rd"]);
  url = `redis://:L0ckPassw0rd@127.0.0.1:${server.port}`;
  raw = new Redis(url);
});
afterAll(async () => {
  await raw?.quit();
  await server?.stop();
});

let cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  cleanups = [];
});

const lockName = () => `strongbox:test:${randomBytes(6).toString("hex")}`;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("redisLock()", () => {
  it("takes the lock with SET NX PX: the key holds the lease token with the ttl", async () => {
    const name = lockName();
    const a = redisLock({ url });
    const b = redisLock({ url });
    cleanups.push(
      () => a.close!(),
      () => b.close!(),
    );
    const lease = await a.acquire(name, { ttlMs: 5000 });
    expect(lease).toBeDefined();
    expect(await raw.get(name)).toBe(lease!.token);
    const pttl = await raw.pttl(name);
    expect(pttl).toBeGreaterThan(4000);
    expect(pttl).toBeLessThanOrEqual(5000);
    expect(await b.acquire(name, { ttlMs: 5000 })).toBeUndefined();
    await lease!.release();
    expect(await raw.exists(name)).toBe(0);
    const next = await b.acquire(name, { ttlMs: 5000 });
    expect(next).toBeDefined();
    await next!.release();
  });

  it("renewal extends only its own lease", async () => {
    const name = lockName();
    const lock = redisLock({ url });
    cleanups.push(() => lock.close!());
    const lease = await lock.acquire(name, { ttlMs: 400 });
    await pause(250);
    expect(await lease!.renew()).toBe(true);
    expect(await raw.pttl(name)).toBeGreaterThan(300);
    await pause(250);
    // 500 ms after acquiring with a 400 ms ttl: alive only thanks to the renewal.
    expect(await raw.get(name)).toBe(lease!.token);
    await lease!.release();
  });

  it("works on a client you pass (and leaves it open)", async () => {
    const name = lockName();
    const client = new Redis(url);
    cleanups.push(() => client.quit());
    const lock = redisLock({ client });
    const lease = await lock.acquire(name, { ttlMs: 2000 });
    expect(await raw.get(name)).toBe(lease!.token);
    await lease!.release();
    await lock.close!();
    expect(await client.ping()).toBe("PONG");
  });

  it("fails with E_SOURCE, without the password, when Redis is unreachable or refuses", async () => {
    const port = await freePort();
    const down = redisLock({ url: `redis://:An0therS3cret@127.0.0.1:${port}`, options: { connectTimeout: 1000 } });
    cleanups.push(() => down.close!());
    const err = await down.acquire(lockName(), { ttlMs: 1000 }).catch((e: unknown) => e);
    expect(isStrongboxError(err, "E_SOURCE")).toBe(true);
    expect((err as Error).message).toContain("[redis-lock]");
    expect((err as Error).message).not.toContain("An0therS3cret");
    const wrong = redisLock({ url: url.replace("L0ckPassw0rd", "wr0ngPassw0rd") });
    cleanups.push(() => wrong.close!());
    const err2 = await wrong.acquire(lockName(), { ttlMs: 1000 }).catch((e: unknown) => e);
    expect(isStrongboxError(err2)).toBe(true);
    expect((err2 as Error).message).not.toContain("wr0ngPassw0rd");
    expect(() => redisLock({} as never)).toThrow(/url/);
  });
});

lockSuite("redisLock", () => ({ lock: redisLock({ url }), other: redisLock({ url }), expires: true }));
