import { Readable } from "node:stream";
import { type BackupContext, StrongboxError, wrapError } from "@strongbox/core";
import type { Cluster, Redis } from "ioredis";
import { type Connector, serverInfo, serverTime, versionAtLeast } from "./connection.js";
import {
  type EndMeta,
  encodeClock,
  encodeEnd,
  encodeHeader,
  encodeKeyHead,
  type HeaderMeta,
  payloadRdbVersion,
} from "./format.js";
import { dumpWithScript, isServerRefusal } from "./scripts.js";

const ADAPTER = "redis";
/** Small framing pieces are merged into chunks of about this size; bigger values pass through uncopied. */
const CHUNK = 64 * 1024;

export interface BackupPlan {
  connector: Connector;
  /** Standalone: dbs to walk. Ignored for a cluster (db 0 of every master). */
  databases: number[];
  match: string | undefined;
  types: string[] | undefined;
  batchSize: number;
  scanCount: number;
  safety: boolean;
}

export interface BackupTotals {
  keys: Record<string, number>;
  keyRecords: number;
  skippedVanished: number;
  skippedByType: number;
  rdbVersion: number;
  redisVersion: string;
}

/** One SCAN walk: a db of a standalone server, or a cluster master. */
interface Unit {
  db: number;
  conn: Redis;
  /** Set on a cluster: keys that moved mid-backup (MOVED/ASK) are re-read through it. */
  cluster?: Cluster;
  /** Set once the server refused the batch script. */
  noScript?: boolean;
  release(): void;
}

interface DumpedKey {
  key: Buffer;
  expireAt: number;
  payload: Buffer;
}

/**
 * The `.sbrd` stream. Produced on demand: a batch is SCANned and DUMPed only when the consumer has
 * read the previous one (Readable.from pulls the generator only below its highWaterMark), so memory
 * stays at one batch whatever the dataset, and a slow storage slows the SCAN instead of filling RAM.
 */
export function backupStream(
  plan: BackupPlan,
  ctx: BackupContext,
): { stream: Readable; totals: Promise<BackupTotals> } {
  let resolveTotals!: (t: BackupTotals) => void;
  let rejectTotals!: (e: unknown) => void;
  const totals = new Promise<BackupTotals>((res, rej) => {
    resolveTotals = res;
    rejectTotals = rej;
  });
  totals.catch(() => {});
  const stream = Readable.from(produce(plan, ctx, resolveTotals, rejectTotals), {
    objectMode: false,
    highWaterMark: CHUNK,
  });
  const onAbort = () =>
    stream.destroy(new StrongboxError("E_ABORTED", "backup aborted", { adapter: ADAPTER, cause: ctx.signal.reason }));
  if (ctx.signal.aborted) onAbort();
  else ctx.signal.addEventListener("abort", onAbort, { once: true });
  stream.once("close", () => ctx.signal.removeEventListener("abort", onAbort));
  return { stream, totals };
}

async function* produce(
  plan: BackupPlan,
  ctx: BackupContext,
  resolve: (t: BackupTotals) => void,
  reject: (e: unknown) => void,
): AsyncGenerator<Buffer> {
  const { connector } = plan;
  const end: EndMeta = { keys: {}, skippedVanished: 0, skippedByType: 0, maxRdbVersion: 0 };
  let keyRecords = 0;
  let headerSent = false;
  let lastReport = 0;
  const typeSet = plan.types ? new Set(plan.types.map((t) => t.toLowerCase())) : undefined;
  try {
    const control = await connector.control();
    const controlNode = connector.topology === "cluster" ? (await connector.masters())[0]! : (control as Redis);
    const info = await serverInfo(controlNode, "server");
    const redisVersion = info.get("redis_version") ?? "unknown";
    const meta: HeaderMeta = {
      redisVersion,
      topology: connector.topology,
      databases: connector.topology === "cluster" ? [0] : plan.databases,
      startedAt: await serverTime(controlNode),
    };
    if (plan.match) meta.match = plan.match;
    if (plan.types) meta.types = plan.types;
    if (plan.safety) meta.safety = true;

    for await (const unit of units(plan)) {
      try {
        const unitInfo = await serverInfo(unit.conn, "server");
        // PEXPIRETIME (7.0+) reads the absolute expiry straight from the server; older servers get
        // TIME + PTTL from the same pipeline, which is as exact as the network allows.
        const absolute = versionAtLeast(unitInfo.get("redis_version") ?? "0", 7);
        let cursor = "0";
        let pending: Buffer[] = [];
        do {
          if (ctx.signal.aborted) throw new StrongboxError("E_ABORTED", "backup aborted", { adapter: ADAPTER });
          const args: Array<string | number> = [];
          if (plan.match) args.push("MATCH", plan.match);
          args.push("COUNT", plan.scanCount);
          // A single type filter can be done server-side (SCAN TYPE, Redis 6+).
          if (typeSet?.size === 1 && versionAtLeast(unitInfo.get("redis_version") ?? "0", 6))
            args.push("TYPE", [...typeSet][0]!);
          const [next, keys] = (await unit.conn.callBuffer("SCAN", cursor, ...args)) as [Buffer, Buffer[]];
          cursor = next.toString();
          pending = pending.concat(keys);
          while (pending.length >= plan.batchSize || (cursor === "0" && pending.length > 0)) {
            const batch = pending.slice(0, plan.batchSize);
            pending = pending.slice(plan.batchSize);
            const res = await dumpBatch(unit, batch, absolute, typeSet, end);
            const parts: Buffer[] = [];
            if (!headerSent && res.items.length > 0) {
              parts.push(encodeHeader(payloadRdbVersion(res.items[0]!.payload), meta));
              headerSent = true;
            }
            if (!headerSent) continue;
            parts.push(encodeClock(res.clock));
            for (const item of res.items) {
              const v = payloadRdbVersion(item.payload);
              if (v > end.maxRdbVersion) end.maxRdbVersion = v;
              parts.push(encodeKeyHead(unit.db, item.key, item.expireAt, item.payload.length), item.payload);
            }
            keyRecords += res.items.length;
            const label = `db${unit.db}`;
            end.keys[label] = (end.keys[label] ?? 0) + res.items.length;
            // (Not yield*: a destroyed stream throws into the generator, which an array iterator cannot take.)
            for (const chunk of coalesce(parts)) yield chunk;
            if (keyRecords - lastReport >= 10_000) {
              lastReport = keyRecords;
              ctx.progress({ message: `${keyRecords} keys` });
            }
          }
        } while (cursor !== "0");
      } finally {
        unit.release();
      }
    }
    const tail: Buffer[] = [];
    if (!headerSent) tail.push(encodeHeader(0, meta));
    tail.push(encodeEnd(keyRecords, end.skippedVanished + end.skippedByType, end));
    yield Buffer.concat(tail);
    resolve({
      keys: end.keys,
      keyRecords,
      skippedVanished: end.skippedVanished,
      skippedByType: end.skippedByType,
      rdbVersion: end.maxRdbVersion,
      redisVersion,
    });
  } catch (err) {
    const e = wrapError(err, "E_SOURCE", ADAPTER, `backup of ${connector.location} failed`);
    reject(e);
    throw e;
  } finally {
    await connector.close();
  }
}

async function* units(plan: BackupPlan): AsyncGenerator<Unit> {
  const { connector } = plan;
  if (connector.topology === "cluster") {
    const cluster = (await connector.control()) as Cluster;
    for (const conn of await connector.masters()) yield { db: 0, conn, cluster, release() {} };
    return;
  }
  // Opened one at a time as the walk reaches them, so only one dedicated connection is open.
  for (const db of plan.databases) {
    const conn = await connector.openDb(db);
    yield { db, conn, release: () => connector.release(conn) };
  }
}

function coalesce(parts: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let small: Buffer[] = [];
  let size = 0;
  for (const p of parts) {
    if (p.length >= CHUNK) {
      if (small.length) out.push(Buffer.concat(small, size));
      small = [];
      size = 0;
      out.push(p);
      continue;
    }
    small.push(p);
    size += p.length;
    if (size >= CHUNK) {
      out.push(Buffer.concat(small, size));
      small = [];
      size = 0;
    }
  }
  if (small.length) out.push(Buffer.concat(small, size));
  return out;
}

function isRedirect(err: Error | null | undefined): boolean {
  return !!err && /^(MOVED|ASK) /.test(err.message);
}

async function dumpBatch(
  unit: Unit,
  keys: Buffer[],
  absolute: boolean,
  types: Set<string> | undefined,
  end: EndMeta,
): Promise<{ clock: number; items: DumpedKey[] }> {
  let wanted = keys;
  if (types && types.size > 0) {
    const p = unit.conn.pipeline();
    for (const k of keys) p.type(k);
    const res = (await p.exec()) ?? [];
    wanted = [];
    res.forEach(([err, t], i) => {
      if (err && !isRedirect(err)) throw failed("TYPE", err);
      if (t === "none") end.skippedVanished++;
      else if (err || types.has(String(t))) wanted.push(keys[i]!);
      else end.skippedByType++;
    });
  }
  if (wanted.length > 0 && !unit.cluster && !unit.noScript) {
    try {
      const { clock, entries } = await dumpWithScript(unit.conn, wanted, absolute);
      const items: DumpedKey[] = [];
      entries.forEach((e, i) => {
        if (e.payload === null || e.ttl === -2) {
          end.skippedVanished++;
          return;
        }
        items.push({
          key: wanted[i]!,
          expireAt: e.ttl < 0 ? 0 : absolute ? e.ttl : e.clock + e.ttl,
          payload: e.payload,
        });
      });
      return { clock, items };
    } catch (err) {
      if (!isServerRefusal(err)) throw failed("EVAL (batched DUMP)", err as Error);
      // Scripts refused (ACL, proxy): the pipelined path below does the same, command by command.
      unit.noScript = true;
    }
  }
  const p = unit.conn.pipeline();
  p.time();
  for (const k of wanted) {
    p.dumpBuffer(k);
    if (absolute) p.call("PEXPIRETIME", k);
    else p.pttl(k);
  }
  const res = (await p.exec()) ?? [];
  const [timeErr, time] = res[0] ?? [new Error("no reply")];
  if (timeErr) throw failed("TIME", timeErr);
  const [s, us] = time as [string, string];
  const clock = Number(s) * 1000 + Math.floor(Number(us) / 1000);
  const items: DumpedKey[] = [];
  for (let i = 0; i < wanted.length; i++) {
    const key = wanted[i]!;
    let [dErr, payload] = res[1 + 2 * i] ?? [];
    let [tErr, ttl] = res[2 + 2 * i] ?? [];
    if ((isRedirect(dErr) || isRedirect(tErr)) && unit.cluster) {
      // The slot moved during the backup: ask the cluster, which follows the redirection.
      payload = await unit.cluster.dumpBuffer(key);
      ttl = absolute ? await unit.cluster.call("PEXPIRETIME", key) : await unit.cluster.pttl(key);
      dErr = tErr = null;
    }
    if (dErr) throw failed("DUMP", dErr);
    if (tErr) throw failed(absolute ? "PEXPIRETIME" : "PTTL", tErr);
    const t = Number(ttl);
    // null payload: gone before DUMP; -2: gone right after it. Either way not in the backup.
    if (payload === null || payload === undefined || t === -2) {
      end.skippedVanished++;
      continue;
    }
    const expireAt = t < 0 ? 0 : absolute ? t : clock + t;
    items.push({ key, expireAt, payload: payload as Buffer });
  }
  return { clock, items };
}

/** Plain error: produce() wraps it once, naming the server. */
function failed(command: string, err: Error): Error {
  return new Error(`${command} failed: ${err.message}`, { cause: err });
}
