import { randomUUID } from "node:crypto";
import { type OperationContext, StrongboxError, wrapError } from "@strongbox/core";
import type { Cluster, Redis } from "ioredis";
import { type Connector, serverTime } from "./connection.js";
import { type Header, payloadRdbVersion } from "./format.js";
import type { RedisTarget } from "./options.js";
import type { ArtifactReader, EndRecord, KeyRecord } from "./reader.js";
import { isServerRefusal, restoreWithScript } from "./scripts.js";

const ADAPTER = "redis";
/** A batch is sent once it holds this many payload bytes, whatever its key count. */
const BATCH_BYTES = 8 * 1024 * 1024;

type Reply = [Error | null, unknown];

/**
 * Maps the backup's databases to the target's. With one db in the backup, `target.db` says where it
 * goes; with several, `dbMap` does (unmapped ones keep their number). A cluster has only db 0.
 */
export function dbMapper(
  header: Header,
  target: RedisTarget,
  topology: "standalone" | "cluster",
): (db: number) => number {
  const dbs = header.meta.databases;
  let map: (db: number) => number;
  if (target.dbMap) {
    const m = target.dbMap;
    map = (db) => m[db] ?? (target.db !== undefined && dbs.length <= 1 ? target.db : db);
  } else if (target.db !== undefined) {
    if (dbs.length > 1) {
      throw new StrongboxError(
        "E_CONFIG",
        `the backup holds databases ${dbs.join(", ")}; a single target "db" would merge them: give "dbMap" (e.g. { ${dbs.map((d) => `${d}: ${d}`).join(", ")} }) instead`,
        { adapter: ADAPTER },
      );
    }
    const d = target.db;
    map = () => d;
  } else if (topology === "cluster") {
    if (dbs.length > 1)
      throw new StrongboxError(
        "E_CONFIG",
        `the backup holds databases ${dbs.join(", ")} but a Redis Cluster has only db 0: restore one at a time with dbMap`,
        { adapter: ADAPTER },
      );
    map = () => 0;
  } else {
    map = (db) => db;
  }
  for (const db of dbs) {
    const t = map(db);
    if (!Number.isInteger(t) || t < 0 || t > 65535)
      throw new StrongboxError("E_CONFIG", `invalid target db ${String(t)} for db ${db}`, { adapter: ADAPTER });
    if (topology === "cluster" && t !== 0)
      throw new StrongboxError("E_CONFIG", `a Redis Cluster has only db 0 (db ${db} maps to ${t})`, {
        adapter: ADAPTER,
      });
  }
  return map;
}

/**
 * RDB version the target writes, read from a DUMP of a probe key that exists only inside one
 * MULTI/EXEC (created, dumped, deleted atomically, so no client ever sees it). INFO does not say.
 */
export async function targetRdbVersion(client: Redis | Cluster): Promise<number> {
  // Read-only first: DUMP of any existing key is written in the server's own RDB version. Writing
  // a probe key can be refused (maxmemory reached — e.g. after a failed restore, just when the
  // rollback needs this check).
  const existing = await client.randomkey();
  if (existing) {
    const payload = await client.dumpBuffer(existing);
    if (payload) return payloadRdbVersion(payload);
  }
  const key = `strongbox:rdb-probe:${randomUUID()}`;
  const res = (await client.multi().set(key, "1").dumpBuffer(key).del(key).exec()) as Reply[] | null;
  const [err, payload] = res?.[1] ?? [new Error("MULTI was discarded")];
  if (err) throw wrapError(err, "E_SOURCE", ADAPTER, "could not read the target's RDB version");
  return payloadRdbVersion(payload as Buffer);
}

export function tooOldError(
  dumpRdb: number,
  targetRdb: number,
  location: string,
  redisVersion: string,
): StrongboxError {
  return new StrongboxError(
    "E_SOURCE",
    `the target ${location} writes RDB version ${targetRdb}, older than the backup's RDB version ${dumpRdb} (Redis ${redisVersion}): RESTORE would refuse every key. Restore into a Redis at least as new as the source; nothing was written`,
    { adapter: ADAPTER, details: { dumpRdbVersion: dumpRdb, targetRdbVersion: targetRdb } },
  );
}

/** Per-target-db connections opened on demand (standalone) or the cluster client. */
class TargetConnections {
  private readonly dbs = new Map<number, Promise<Redis>>();
  /** Set once the server refused the batch script (ACL, proxy). */
  private noScript = false;
  constructor(
    private readonly connector: Connector,
    private readonly cluster: Cluster | undefined,
  ) {}

  db(db: number): Promise<Redis> {
    let c = this.dbs.get(db);
    if (!c) {
      c = this.connector.openDb(db);
      this.dbs.set(db, c);
    }
    return c;
  }

  /** Sends one command per entry; replies in order, errors as values (never rejects for one key). */
  async send(db: number, commands: Array<[string, ...Array<string | number | Buffer>]>): Promise<Reply[]> {
    if (this.cluster) {
      const cluster = this.cluster;
      // A cluster pipeline must stay within one node; single commands are routed by slot and
      // still travel together on each node's socket.
      return Promise.all(
        commands.map(([cmd, ...args]) =>
          cluster.callBuffer(cmd, ...args).then(
            (r): Reply => [null, r],
            (e: Error): Reply => [e, null],
          ),
        ),
      );
    }
    const conn = await this.db(db);
    const p = conn.pipeline();
    for (const [cmd, ...args] of commands) p.callBuffer(cmd, ...args);
    return ((await p.exec()) ?? []) as Reply[];
  }

  /** RESTORE a batch: one script call on a standalone server, else one command per key. */
  async restore(
    db: number,
    entries: Array<{ key: Buffer; ttl: number; payload: Buffer }>,
    replace: boolean,
    absolute: boolean,
  ): Promise<Reply[]> {
    if (!this.cluster && !this.noScript) {
      try {
        const errors = await restoreWithScript(await this.db(db), entries, replace, absolute);
        return errors.map((e): Reply => [e, e ? null : "OK"]);
      } catch (err) {
        if (!isServerRefusal(err)) throw err;
        this.noScript = true;
      }
    }
    return this.send(
      db,
      entries.map((e): [string, ...Array<string | number | Buffer>] => {
        const args: [string, ...Array<string | number | Buffer>] = ["RESTORE", e.key, e.ttl, e.payload];
        if (replace) args.push("REPLACE");
        if (absolute && e.ttl !== 0) args.push("ABSTTL");
        return args;
      }),
    );
  }

  async close(): Promise<void> {
    for (const c of this.dbs.values()) {
      try {
        this.connector.release(await c);
      } catch {
        // A connection that never opened has nothing to close.
      }
    }
    this.dbs.clear();
  }
}

export interface WalkOptions {
  mapDb: (db: number) => number;
  batchSize: number;
  concurrency: number;
  ctx: OperationContext;
}

/**
 * Reads every record, groups keys by target db into batches (by count and bytes), and hands each
 * batch to `handle` with at most `concurrency` in flight — the reader waits when Redis is slower, so
 * memory stays bounded by `concurrency` batches.
 */
export async function walkBatches(
  reader: ArtifactReader,
  opts: WalkOptions,
  accept: (rec: KeyRecord) => boolean,
  handle: (db: number, batch: KeyRecord[]) => Promise<void>,
): Promise<EndRecord> {
  const inflight: Array<Promise<void>> = [];
  let firstError: unknown;
  const track = (p: Promise<void>) => {
    const guarded = p.catch((err: unknown) => {
      firstError ??= err;
    });
    inflight.push(guarded);
  };
  let batch: KeyRecord[] = [];
  let batchDb = -1;
  let bytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    track(handle(batchDb, batch));
    batch = [];
    bytes = 0;
    while (inflight.length >= opts.concurrency) await inflight.shift();
    if (firstError) throw firstError;
  };
  let end: EndRecord | undefined;
  try {
    for await (const rec of reader.records()) {
      if (rec.kind === "end") {
        end = rec;
        break;
      }
      if (opts.ctx.signal.aborted)
        throw new StrongboxError("E_ABORTED", "restore aborted", { adapter: ADAPTER, cause: opts.ctx.signal.reason });
      if (!accept(rec)) continue;
      const db = opts.mapDb(rec.db);
      if (db !== batchDb) {
        await flush();
        batchDb = db;
      }
      batch.push(rec);
      bytes += rec.payload.length + rec.key.length;
      if (batch.length >= opts.batchSize || bytes >= BATCH_BYTES) await flush();
    }
    await flush();
  } finally {
    await Promise.all(inflight);
  }
  if (firstError) throw firstError;
  if (!end) throw new StrongboxError("E_TRUNCATED", "artifact ended without its end record", { adapter: ADAPTER });
  return end;
}

export interface RestorePlan {
  connector: Connector;
  reader: ArtifactReader;
  header: Header;
  mapDb: (db: number) => number;
  flush: boolean;
  ttlMode: "absolute" | "relative";
  /** false: RESTORE without REPLACE, counting BUSYKEY as duplicates (restore tests into empty dbs). */
  replace: boolean;
  batchSize: number;
  concurrency: number;
  ctx: OperationContext;
  /** Called for each key actually sent, with its target db. */
  onKey?: (rec: KeyRecord, db: number) => void;
}

export interface RestoreOutcome {
  restored: Record<string, number>;
  restoredTotal: number;
  skippedExpired: number;
  duplicates: number;
  targetRdbVersion: number;
  end: EndRecord;
}

export async function restoreKeys(plan: RestorePlan): Promise<RestoreOutcome> {
  const { connector, header, ctx } = plan;
  const control = await connector.control();
  const cluster = connector.topology === "cluster" ? (control as Cluster) : undefined;
  const targetRdb = await targetRdbVersion(control);
  if (header.rdbVersion > targetRdb)
    throw tooOldError(header.rdbVersion, targetRdb, connector.location, header.meta.redisVersion);
  // Expiry decisions use the target's clock, which is the one RESTORE … ABSTTL will use.
  const offset = (await serverTime(control)) - Date.now();
  const targets = new TargetConnections(connector, cluster);
  const outcome: RestoreOutcome = {
    restored: {},
    restoredTotal: 0,
    skippedExpired: 0,
    duplicates: 0,
    targetRdbVersion: targetRdb,
    end: undefined as unknown as EndRecord,
  };
  try {
    if (plan.flush) {
      if (cluster) await Promise.all((await connector.masters()).map((m) => m.flushdb()));
      else for (const db of new Set(header.meta.databases.map(plan.mapDb))) await (await targets.db(db)).flushdb();
    }
    let lastReport = 0;
    outcome.end = await walkBatches(
      plan.reader,
      { mapDb: plan.mapDb, batchSize: plan.batchSize, concurrency: plan.concurrency, ctx },
      (rec) => {
        const v = payloadRdbVersion(rec.payload);
        if (v > targetRdb) throw tooOldError(v, targetRdb, connector.location, header.meta.redisVersion);
        if (rec.expireAt === 0) return true;
        const now = Date.now() + offset;
        const left = plan.ttlMode === "absolute" ? rec.expireAt - now : rec.expireAt - rec.clock;
        if (left <= 0) {
          outcome.skippedExpired++;
          return false;
        }
        return true;
      },
      async (db, batch) => {
        const absolute = plan.ttlMode === "absolute";
        const entries = batch.map((rec) => ({
          key: rec.key,
          // 0 = no expiry (with or without ABSTTL).
          ttl: rec.expireAt === 0 ? 0 : absolute ? rec.expireAt : Math.max(1, rec.expireAt - rec.clock),
          payload: rec.payload,
        }));
        const replies = await targets.restore(db, entries, plan.replace, absolute);
        let ok = 0;
        replies.forEach(([err], i) => {
          if (!err) {
            ok++;
            plan.onKey?.(batch[i]!, db);
            return;
          }
          if (!plan.replace && err.message.startsWith("BUSYKEY")) {
            outcome.duplicates++;
            return;
          }
          const key = printableKey(batch[i]!.key);
          if (/payload version or checksum/i.test(err.message)) {
            throw new StrongboxError(
              "E_SOURCE",
              `RESTORE of key ${key} refused by ${connector.location}: the payload's RDB version is newer than the target's, or the payload is damaged`,
              { adapter: ADAPTER, cause: err },
            );
          }
          throw wrapError(
            err,
            "E_SOURCE",
            ADAPTER,
            `RESTORE of key ${key} into db ${db} on ${connector.location} failed`,
          );
        });
        const label = `db${db}`;
        outcome.restored[label] = (outcome.restored[label] ?? 0) + ok;
        outcome.restoredTotal += ok;
        if (outcome.restoredTotal - lastReport >= 10_000) {
          lastReport = outcome.restoredTotal;
          ctx.progress({ message: `${outcome.restoredTotal} keys restored` });
        }
      },
    );
    return outcome;
  } catch (err) {
    throw wrapError(err, "E_SOURCE", ADAPTER, `restore into ${connector.location} failed`);
  } finally {
    await targets.close();
  }
}

export interface PreviewCounts {
  perDb: Map<number, { current: number; incoming: number; added: number; replaced: number }>;
  skippedExpired: number;
}

/** Counts, per target db, the keys a restore would add and replace (pipelined EXISTS). Writes nothing. */
export async function previewKeys(plan: Omit<RestorePlan, "flush" | "replace" | "onKey">): Promise<PreviewCounts> {
  const { connector, ctx } = plan;
  const control = await connector.control();
  const cluster = connector.topology === "cluster" ? (control as Cluster) : undefined;
  const offset = (await serverTime(control)) - Date.now();
  const targets = new TargetConnections(connector, cluster);
  const counts: PreviewCounts = { perDb: new Map(), skippedExpired: 0 };
  const entry = async (db: number) => {
    let e = counts.perDb.get(db);
    if (!e) {
      let current = 0;
      if (cluster) for (const m of await connector.masters()) current += await m.dbsize();
      else current = await (await targets.db(db)).dbsize();
      e = { current, incoming: 0, added: 0, replaced: 0 };
      counts.perDb.set(db, e);
    }
    return e;
  };
  try {
    for (const db of new Set(plan.header.meta.databases.map(plan.mapDb))) await entry(db);
    await walkBatches(
      plan.reader,
      { mapDb: plan.mapDb, batchSize: plan.batchSize, concurrency: plan.concurrency, ctx },
      (rec) => {
        if (rec.expireAt === 0) return true;
        const left = plan.ttlMode === "absolute" ? rec.expireAt - (Date.now() + offset) : rec.expireAt - rec.clock;
        if (left > 0) return true;
        counts.skippedExpired++;
        return false;
      },
      async (db, batch) => {
        const e = await entry(db);
        const replies = await targets.send(
          db,
          batch.map((r) => ["EXISTS", r.key]),
        );
        for (const [err, n] of replies) {
          if (err) throw wrapError(err, "E_SOURCE", ADAPTER, "EXISTS failed");
          e.incoming++;
          if (Number(n) > 0) e.replaced++;
          else e.added++;
        }
      },
    );
    return counts;
  } catch (err) {
    throw wrapError(err, "E_SOURCE", ADAPTER, `preview of ${connector.location} failed`);
  } finally {
    await targets.close();
  }
}

/** Key for messages: printable ASCII as is, anything else hex, cut at 100 characters. */
export function printableKey(key: Buffer): string {
  const text = key.toString("latin1");
  const s = /^[\x20-\x7e]*$/.test(text) ? JSON.stringify(text) : `0x${key.toString("hex")}`;
  return s.length > 100 ? `${s.slice(0, 100)}…` : s;
}
