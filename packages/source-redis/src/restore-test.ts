import { createHash } from "node:crypto";
import { type RestoreContext, type RestoreTestResult, StrongboxError } from "@strongbox/core";
import type { Redis } from "ioredis";
import { type Connector, keyspaceCounts, serverInfo } from "./connection.js";
import { type Header, payloadTypeName, unorderedPayloadCount } from "./format.js";
import type { ResolvedOptions } from "./options.js";
import type { ArtifactReader, KeyRecord } from "./reader.js";
import { printableKey, restoreKeys } from "./restore.js";

const ADAPTER = "redis";

/**
 * Restore drill: restores into the highest-numbered EMPTY dbs of the server (as many as the backup
 * has), then compares per-db key counts with what was restored, checks every record is accounted
 * for (restored, expired or duplicate), and compares a reservoir sample of values — raw DUMP bytes
 * when the RDB versions match, type and cardinality for hash-table sets and hashes (their DUMP order
 * depends on the process). The scratch dbs are emptied again whatever happens.
 */
export async function runRestoreTest(
  connector: Connector,
  reader: ArtifactReader,
  header: Header,
  opts: ResolvedOptions,
  ctx: RestoreContext,
): Promise<RestoreTestResult> {
  const scratch: number[] = [];
  try {
    if (connector.topology === "cluster") {
      throw new StrongboxError(
        "E_CONFIG",
        'a restore test needs scratch databases, which a Redis Cluster does not have: pass targets: { redis: { url: "redis://scratch-host:6379" } } pointing at a standalone Redis',
        { adapter: ADAPTER },
      );
    }
    const control = (await connector.control()) as Redis;
    // Highest-numbered empty dbs, as many as the backup has; emptied again at the end.
    let total = 16;
    try {
      const [, n] = (await control.config("GET", "databases")) as [string, string];
      total = Number(n) || 16;
    } catch {
      // CONFIG is often disabled on managed Redis; 16 is the default.
    }
    const used = keyspaceCounts(await serverInfo(control, "keyspace"));
    for (let db = total - 1; db >= 0 && scratch.length < header.meta.databases.length; db--)
      if (!used.get(db)) scratch.push(db);
    if (scratch.length < header.meta.databases.length) {
      throw new StrongboxError(
        "E_CONFIG",
        `a restore test needs ${header.meta.databases.length} empty databases on ${connector.location}; only ${scratch.length} are empty: pass a scratch server as targets: { redis: { url } }`,
        { adapter: ADAPTER },
      );
    }
    const map = new Map(header.meta.databases.map((db, i) => [db, scratch[i]!]));
    const sample: Array<{
      key: Buffer;
      db: number;
      sha: string;
      type: string | undefined;
      count: number | undefined;
    }> = [];
    let seen = 0;
    const out = await restoreKeys({
      connector,
      reader,
      header,
      mapDb: (db) => map.get(db) ?? scratch[0]!,
      flush: false,
      ttlMode: "absolute",
      replace: false,
      batchSize: opts.batchSize,
      concurrency: opts.restoreConcurrency,
      ctx,
      onKey: (rec: KeyRecord, db: number) => {
        // Reservoir sample: every restored key has the same chance, memory stays at sampleSize.
        seen++;
        const slot = seen <= opts.sampleSize ? seen - 1 : Math.floor(Math.random() * seen);
        if (slot < opts.sampleSize && rec.key.length <= 4096) {
          sample[slot] = {
            key: Buffer.from(rec.key),
            db,
            sha: sha(rec.payload),
            type: payloadTypeName(rec.payload),
            count: unorderedPayloadCount(rec.payload),
          };
        }
      },
    });
    const checks: RestoreTestResult["checks"] = [];
    for (const [src, db] of map) {
      const conn = await connector.openDb(db);
      try {
        const actual = await conn.dbsize();
        const label = `db${src}`;
        const inBackup = out.end.meta.keys[label] ?? 0;
        const restored = out.restored[`db${db}`] ?? 0;
        checks.push({
          name: `keys in ${label}`,
          ok: actual === restored,
          expected: restored,
          actual,
          message: `${inBackup} records in the backup, ${restored} restored into scratch db${db} (expired and duplicate records left out)`,
        });
      } finally {
        connector.release(conn);
      }
    }
    checks.push({
      name: "records",
      ok: out.restoredTotal + out.skippedExpired + out.duplicates === out.end.keyRecords,
      expected: out.end.keyRecords,
      actual: out.restoredTotal + out.skippedExpired + out.duplicates,
    });
    const sameRdb = out.targetRdbVersion === header.rdbVersion;
    const byDb = new Map<number, typeof sample>();
    for (const s of sample) if (s) byDb.set(s.db, [...(byDb.get(s.db) ?? []), s]);
    let bad = 0;
    const failures: string[] = [];
    for (const [db, items] of byDb) {
      const conn = await connector.openDb(db);
      try {
        const p = conn.pipeline();
        for (const s of items) {
          p.dumpBuffer(s.key);
          p.type(s.key);
          if (s.count !== undefined) p.call(s.type === "set" ? "SCARD" : "HLEN", s.key);
        }
        const res = ((await p.exec()) ?? []) as Array<[Error | null, unknown]>;
        let i = 0;
        for (const s of items) {
          const dump = res[i++]?.[1] as Buffer | null;
          const type = res[i++]?.[1] as string;
          const count = s.count !== undefined ? Number(res[i++]?.[1]) : undefined;
          let ok = dump != null && (s.type === undefined || s.type === type);
          // Hash-table sets and hashes dump in bucket order, which differs between processes.
          if (ok && sameRdb) ok = s.count !== undefined ? count === s.count : sha(dump!) === s.sha;
          if (!ok) {
            bad++;
            if (failures.length < 5) failures.push(printableKey(s.key));
          }
        }
      } finally {
        connector.release(conn);
      }
    }
    const sampled = sample.filter(Boolean).length;
    checks.push({
      name: "sampled values",
      ok: bad === 0,
      expected: sampled,
      actual: sampled - bad,
      message: bad
        ? `values differ for ${failures.join(", ")}`
        : sameRdb
          ? "restored values equal the backup"
          : "types match (target RDB version differs, so bytes are not compared)",
    });
    return { ok: checks.every((c) => c.ok), checks };
  } finally {
    await reader.close().catch(() => {});
    for (const db of scratch) {
      try {
        const conn = await connector.openDb(db);
        await conn.flushdb();
        connector.release(conn);
      } catch (err) {
        ctx.logger.warn(`could not empty scratch db ${db} on ${connector.location}`, { error: String(err) });
      }
    }
  }
}

function sha(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}
