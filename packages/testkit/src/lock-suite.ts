import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import {
  createStrongbox,
  isStrongboxError,
  type Lock,
  local,
  type Schedule,
  type Source,
  type StrongboxEvents,
  silentLogger,
} from "@strongbox/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { skipWithReason } from "./helpers.js";

export interface LockFixture {
  /** The lock under test. */
  lock: Lock;
  /** A second, independent instance on the same backend: another replica. */
  other: Lock;
  /** Leases end after `ttlMs` unless renewed (false for locks tied to a session, like PostgreSQL's). */
  expires: boolean;
  cleanup?(): Promise<void>;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lockName = () => `strongbox:suite:${randomBytes(6).toString("hex")}`;

/**
 * The conformance suite for a `Lock` (packages/core/src/contracts/lock.ts): mutual exclusion
 * between replicas, token-checked renew and release, expiry, abort — and two schedulers racing
 * on the same ticks making exactly one backup per tick.
 */
export function lockSuite(
  name: string,
  factory: () => Promise<LockFixture> | LockFixture,
  options: { timeoutMs?: number } = {},
): void {
  const timeout = options.timeoutMs ?? 30_000;
  describe(`lockSuite: ${name}`, () => {
    let fx: LockFixture;
    beforeAll(async () => {
      fx = await factory();
    }, timeout);
    afterAll(async () => {
      await fx?.lock.close?.();
      await fx?.other.close?.();
      await fx?.cleanup?.();
    }, timeout);

    it(
      "gives a name to one holder at a time, and to the next once released",
      async () => {
        const n = lockName();
        const lease = await fx.lock.acquire(n, { ttlMs: 5000 });
        expect(lease, "the first acquire gets the lock").toBeDefined();
        expect(
          await fx.other.acquire(n, { ttlMs: 5000 }),
          "another replica is refused while it is held",
        ).toBeUndefined();
        expect(await fx.lock.acquire(n, { ttlMs: 5000 }), "the same instance is refused too").toBeUndefined();
        expect(
          await fx.other.acquire(lockName(), { ttlMs: 5000 }).then((l) => l?.release().then(() => true)),
          "other names are free",
        ).toBe(true);
        expect(await lease!.renew(), "renew while held").toBe(true);
        await lease!.release();
        await lease!.release();
        const next = await fx.other.acquire(n, { ttlMs: 5000 });
        expect(next, "free again after release").toBeDefined();
        expect(next!.token).not.toBe(lease!.token);
        await next!.release();
      },
      timeout,
    );

    it(
      "a lease that expired can neither renew nor release its successor's lock",
      async (ctx) => {
        if (!fx.expires)
          return skipWithReason(
            ctx,
            `lockSuite: ${name}`,
            "token-checked release after expiry",
            "leases of this lock do not expire",
          );
        const n = lockName();
        const old = await fx.lock.acquire(n, { ttlMs: 150 });
        expect(old).toBeDefined();
        await pause(300);
        const current = await fx.other.acquire(n, { ttlMs: 5000 });
        expect(current, "an expired lease frees the name").toBeDefined();
        expect(await old!.renew()).toBe(false);
        await old!.release();
        expect(await fx.lock.acquire(n, { ttlMs: 5000 }), "the successor still holds it").toBeUndefined();
        await current!.release();
      },
      timeout,
    );

    it(
      "renewal keeps a lease alive past its ttl",
      async (ctx) => {
        if (!fx.expires)
          return skipWithReason(ctx, `lockSuite: ${name}`, "renewal past the ttl", "leases of this lock do not expire");
        const n = lockName();
        const lease = await fx.lock.acquire(n, { ttlMs: 400 });
        await pause(250);
        expect(await lease!.renew()).toBe(true);
        await pause(250);
        expect(await fx.other.acquire(n, { ttlMs: 400 }), "alive only thanks to the renewal").toBeUndefined();
        await lease!.release();
      },
      timeout,
    );

    it(
      "rejects with E_ABORTED when the signal already fired, and leaves no lock behind",
      async () => {
        const n = lockName();
        const controller = new AbortController();
        controller.abort();
        const err = await fx.lock.acquire(n, { ttlMs: 5000, signal: controller.signal }).catch((e: unknown) => e);
        expect(isStrongboxError(err, "E_ABORTED"), `expected E_ABORTED, got ${String(err)}`).toBe(true);
        const lease = await fx.other.acquire(n, { ttlMs: 5000 });
        expect(lease).toBeDefined();
        await lease!.release();
      },
      timeout,
    );

    it(
      "two schedulers racing on the same ticks make exactly one backup per tick",
      async () => {
        const dir = await mkdtemp(join(tmpdir(), "strongbox-lock-suite-"));
        const schedules: Schedule[] = [];
        try {
          const n = lockName();
          const source: Source = {
            name: "data",
            type: "test",
            async *backup() {
              await pause(150);
              yield { name: "blob", stream: Readable.from([randomBytes(10_000)]) };
            },
            async restore() {
              return {};
            },
          };
          const replica = (lock: Lock) => {
            const box = createStrongbox({
              sources: [source],
              storage: local({ directory: dir }),
              logger: silentLogger,
            });
            const seen = {
              completed: [] as Array<StrongboxEvents["schedule:run-completed"]>,
              skipped: [] as Array<StrongboxEvents["schedule:skipped"]>,
              failed: [] as Array<StrongboxEvents["schedule:run-failed"]>,
            };
            box.on("schedule:run-completed", (e) => seen.completed.push(e));
            box.on("schedule:skipped", (e) => seen.skipped.push(e));
            box.on("schedule:run-failed", (e) => seen.failed.push(e));
            schedules.push(box.schedule({ cron: "* * * * * *", catchUp: false, lock, lockName: n, lockTtl: "5s" }));
            return seen;
          };
          const a = replica(fx.lock);
          const b = replica(fx.other);
          const end = Date.now() + 10_000;
          while (a.completed.length + b.completed.length < 2 && Date.now() < end) await pause(20);
          await Promise.all(schedules.map((s) => s.stop()));
          const completed = [...a.completed, ...b.completed];
          expect(completed.length).toBeGreaterThanOrEqual(2);
          const ticks = completed.map((c) => c.record.scheduledAt!.getTime());
          expect(new Set(ticks).size, "no tick ran twice").toBe(ticks.length);
          const onDisk = (await readdir(dir)).filter((d) => /^\d{8}T/.test(d)).sort();
          expect(onDisk).toEqual(completed.map((c) => c.backupId).sort());
          expect([...a.failed, ...b.failed]).toEqual([]);
          expect([...a.skipped, ...b.skipped].every((s) => s.reason === "locked" || s.reason === "already-done")).toBe(
            true,
          );
        } finally {
          await Promise.all(schedules.map((s) => s.stop({ abort: true })));
          await rm(dir, { recursive: true, force: true });
        }
      },
      timeout,
    );
  });
}
