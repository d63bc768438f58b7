import { pipeline } from "node:stream";
import {
  type BackupContext,
  type OperationContext,
  type RestoreContext,
  type RestorePreview,
  type RestoreResult,
  type RestoreTestResult,
  type Source,
  type SourceArtifact,
  type SourceStats,
  StrongboxError,
  spawnProducer,
  type TargetOverrides,
  wrapError,
} from "@strongbox/core";
import type { Cluster, Redis } from "ioredis";
import { backupStream } from "./backup.js";
import {
  type Connector,
  createConnector,
  keyspaceCounts,
  registerConfigSecrets,
  registerUrlSecret,
  serverInfo,
} from "./connection.js";
import type { Header } from "./format.js";
import type { RedisOptions, RedisTarget, ResolvedOptions } from "./options.js";
import { cliConnection, RdbEofStripper } from "./rdb.js";
import { ArtifactReader } from "./reader.js";
import { dbMapper, previewKeys, restoreKeys } from "./restore.js";
import { runRestoreTest } from "./restore-test.js";

const ADAPTER = "redis";
/** Artifact names: the framed key dump (mode "scan") and the replication RDB (mode "rdb"). */
export const KEYS_ARTIFACT = "keys.sbrd";
export const RDB_ARTIFACT = "dump.rdb";

function resolve(o: RedisOptions): ResolvedOptions {
  const positive = (name: string, v: number | undefined, d: number) => {
    if (v === undefined) return d;
    if (!Number.isInteger(v) || v < 1)
      throw new StrongboxError("E_CONFIG", `redis() option "${name}" must be a positive integer (got ${String(v)})`, {
        adapter: ADAPTER,
      });
    return v;
  };
  const mode = o.mode ?? "scan";
  if (mode !== "scan" && mode !== "rdb")
    throw new StrongboxError("E_CONFIG", `redis() option "mode" must be "scan" or "rdb" (got ${String(mode)})`, {
      adapter: ADAPTER,
    });
  const ttlMode = o.ttlMode ?? "absolute";
  if (ttlMode !== "absolute" && ttlMode !== "relative")
    throw new StrongboxError("E_CONFIG", `redis() option "ttlMode" must be "absolute" or "relative"`, {
      adapter: ADAPTER,
    });
  const flush = o.flush ?? "none";
  if (flush !== "none" && flush !== "db")
    throw new StrongboxError("E_CONFIG", `redis() option "flush" must be "none" or "db"`, { adapter: ADAPTER });
  if (o.databases && !o.databases.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new StrongboxError("E_CONFIG", 'redis() option "databases" must list db numbers (0, 1, …)', {
      adapter: ADAPTER,
    });
  }
  return {
    name: o.name ?? "redis",
    mode,
    match: o.match,
    types: o.types,
    databases: o.databases ? [...new Set(o.databases)].sort((a, b) => a - b) : urlDb(o.url),
    batchSize: positive("batchSize", o.batchSize, 1000),
    scanCount: positive("scanCount", o.scanCount, 1000),
    ttlMode,
    flush,
    restoreConcurrency: positive("restoreConcurrency", o.restoreConcurrency, 4),
    sampleSize: o.sampleSize ?? 100,
    redisCli: o.redisCli ?? "redis-cli",
    redisCliArgs: o.redisCliArgs ?? [],
  };
}

/** `redis://host/3` names db 3: back up that db only (unless `databases` says otherwise). */
function urlDb(url: string | undefined): number[] | undefined {
  if (!url) return undefined;
  try {
    const m = /^\/(\d+)\/?$/.exec(new URL(url).pathname);
    return m ? [Number(m[1])] : undefined;
  } catch {
    return undefined;
  }
}

function asTarget(t: TargetOverrides | undefined): RedisTarget {
  const target = (t ?? {}) as RedisTarget;
  if (target.db !== undefined && (!Number.isInteger(target.db) || target.db < 0)) {
    throw new StrongboxError("E_CONFIG", `redis target "db" must be a db number (got ${String(target.db)})`, {
      adapter: ADAPTER,
    });
  }
  if (target.url) registerUrlSecret(target.url);
  return target;
}

/**
 * A Redis source: logical backups key by key (SCAN + DUMP + PEXPIRETIME, pipelined) into the
 * documented `.sbrd` format, restored with `RESTORE … REPLACE ABSTTL`; or, with `mode: "rdb"`, a
 * point-in-time RDB file through replication.
 *
 * A SCAN-based backup is not a point-in-time snapshot (see README): keys written during the backup
 * may or may not be in it, and a multi-key invariant can be seen half-updated.
 */
export function redis(options: RedisOptions): Source {
  if (!options || typeof options !== "object")
    throw new StrongboxError("E_CONFIG", 'redis() needs an options object with "url", "client" or "options"', {
      adapter: ADAPTER,
    });
  const given = [options.url, options.client, options.options].filter((x) => x !== undefined).length;
  if (given !== 1)
    throw new StrongboxError("E_CONFIG", `redis() needs exactly one of "url", "client" or "options" (got ${given})`, {
      adapter: ADAPTER,
    });
  if (options.url !== undefined && !/^rediss?:\/\//.test(options.url)) {
    throw new StrongboxError("E_CONFIG", 'redis() option "url" must start with redis:// or rediss://', {
      adapter: ADAPTER,
    });
  }
  registerConfigSecrets(options);
  const opts = resolve(options);
  let shared: Connector | undefined;
  const main = (): Connector => {
    shared ??= createConnector({ url: options.url, options: options.options, client: options.client });
    return shared;
  };
  /** The configured server, or the target's `url` (a fresh connector the caller must close). */
  const connectorFor = (target: RedisTarget): { connector: Connector; own: boolean } =>
    target.url ? { connector: createConnector({ url: target.url }), own: true } : { connector: main(), own: false };

  /**
   * Counts per db. For a restore target, the target's dbs are reported under the names the backup
   * used (dbMap { 0: 5 } → db5's count as "db0"), so core can compare them with the manifest.
   */
  const statsOf = async (connector: Connector, target?: RedisTarget): Promise<SourceStats> => {
    const nodes: Redis[] =
      connector.topology === "cluster" ? await connector.masters() : [(await connector.control()) as Redis];
    let counts: Record<string, number> = {};
    const all: Record<string, number> = {};
    let used = 0;
    let version = "unknown";
    for (const node of nodes) {
      const info = await serverInfo(node);
      version = info.get("redis_version") ?? version;
      used += Number(info.get("used_memory") ?? 0);
      for (const [db, n] of keyspaceCounts(info)) {
        all[`db${db}`] = (all[`db${db}`] ?? 0) + n;
        if (opts.databases && !opts.databases.includes(db)) continue;
        counts[`db${db}`] = (counts[`db${db}`] ?? 0) + n;
      }
    }
    if (target?.dbMap) {
      const mapped: Record<string, number> = {};
      for (const [from, to] of Object.entries(target.dbMap)) mapped[`db${from}`] = all[`db${to}`] ?? 0;
      counts = mapped;
    } else if (target?.db !== undefined && connector.topology === "standalone") {
      const label = opts.databases?.length === 1 ? `db${opts.databases[0]}` : `db${target.db}`;
      counts = { [label]: all[`db${target.db}`] ?? 0 };
    }
    const stats: SourceStats = {
      version,
      counts,
      info: { usedMemory: used, topology: connector.topology, mode: opts.mode },
    };
    // With a filter, INFO's whole-db counts are not what the backup holds.
    if (opts.match || opts.types) stats.estimated = Object.keys(counts);
    if (connector.topology === "cluster") (stats.info as Record<string, unknown>).masters = nodes.length;
    return stats;
  };

  /** dbs a backup walks: the chosen ones, or every db that has keys. */
  const databasesOf = async (connector: Connector, chosen: number[] | undefined): Promise<number[]> => {
    if (connector.topology === "cluster") return [0];
    if (chosen) return chosen;
    const info = await serverInfo((await connector.control()) as Redis, "keyspace");
    return [...keyspaceCounts(info).entries()]
      .filter(([, n]) => n > 0)
      .map(([db]) => db)
      .sort((a, b) => a - b);
  };

  const openArtifact = async (
    ctx: RestoreContext,
  ): Promise<{ reader: ArtifactReader; header: Awaited<ReturnType<ArtifactReader["readHeader"]>> }> => {
    const names = ctx.component.artifacts.map((a) => a.name);
    if (names.includes(RDB_ARTIFACT) && !names.includes(KEYS_ARTIFACT)) {
      throw new StrongboxError(
        "E_SOURCE",
        `this backup was taken with mode "rdb": an RDB file cannot be loaded into a running Redis. Restore it as a file: download ${RDB_ARTIFACT} (e.g. with box.export() or the CLI), stop the target Redis, copy it over the file named by CONFIG GET dir/dbfilename (with appendonly off, or rebuild the AOF afterwards), and start Redis again`,
        { adapter: ADAPTER },
      );
    }
    const name = names.includes(KEYS_ARTIFACT) ? KEYS_ARTIFACT : names[0];
    if (!name)
      throw new StrongboxError("E_NOT_FOUND", "the component has no artifact to restore", { adapter: ADAPTER });
    const reader = new ArtifactReader(await ctx.open(name));
    try {
      return { reader, header: await reader.readHeader() };
    } catch (err) {
      await reader.close().catch(() => {});
      throw err;
    }
  };

  /**
   * Preview right before a real restore (core asks, to decide on a safety backup): current key
   * counts of the target dbs and the backup's per-db counts, without walking the artifact.
   */
  const quickPreview = async (
    connector: Connector,
    header: Header,
    mapDb: (db: number) => number,
    flush: boolean,
    ctx: RestoreContext,
  ): Promise<RestorePreview> => {
    const perDb = (ctx.component.artifacts.find((a) => a.name === KEYS_ARTIFACT)?.meta?.perDb ?? {}) as Record<
      string,
      number
    >;
    const incoming = new Map<number, number>();
    for (const db of header.meta.databases)
      incoming.set(mapDb(db), (incoming.get(mapDb(db)) ?? 0) + (perDb[`db${db}`] ?? 0));
    const replaces: RestorePreview["replaces"] = [];
    let exists = false;
    for (const [db, n] of [...incoming].sort((a, b) => a[0] - b[0])) {
      let current = 0;
      if (connector.topology === "cluster") for (const m of await connector.masters()) current += await m.dbsize();
      else {
        const conn = await connector.openDb(db);
        try {
          current = await conn.dbsize();
        } finally {
          connector.release(conn);
        }
      }
      if (current > 0) exists = true;
      replaces.push({ name: `db${db}`, current, incoming: n, unit: "keys" });
    }
    const notes = [flush ? "target dbs are flushed first" : "keys not in the backup are kept (flush: none)"];
    return { target: connector.location, exists, replaces, notes };
  };

  const source: Source = {
    name: opts.name,
    type: "redis",
    capabilities: { pointInTime: opts.mode === "rdb", atomicRestore: false, safetyBackup: true },

    async check(ctx: OperationContext) {
      const connector = main();
      try {
        const control = await connector.control();
        await (control as Redis).ping();
        if (opts.mode === "rdb") {
          if (connector.topology === "cluster")
            throw new StrongboxError(
              "E_CONFIG",
              'mode "rdb" backs up one server: it does not support a Cluster client',
              { adapter: ADAPTER },
            );
          const run = spawnProducer([opts.redisCli, "--version"], { adapter: ADAPTER, signal: ctx.signal });
          run.stream.resume();
          await run.done();
        }
      } catch (err) {
        throw wrapError(err, "E_SOURCE", ADAPTER, `check of ${connector.location} failed`);
      }
    },

    async inspect(ctx) {
      const target = asTarget(ctx.target);
      const { connector, own } = connectorFor(target);
      try {
        return await statsOf(connector, ctx.target ? target : undefined);
      } catch (err) {
        throw wrapError(err, "E_SOURCE", ADAPTER, `inspect of ${connector.location} failed`);
      } finally {
        if (own) await connector.close();
      }
    },

    async *backup(ctx: BackupContext): AsyncIterable<SourceArtifact> {
      const target = ctx.target ? asTarget(ctx.target) : undefined;
      if (opts.mode === "rdb" && !target) {
        yield rdbArtifact(ctx);
        return;
      }
      const { connector, own } = target ? connectorFor(target) : { connector: main(), own: false };
      let databases: number[];
      try {
        if (target && connector.topology === "standalone") {
          // Safety backup: whole target dbs (no filters), so a rollback restores them exactly.
          const mapped = target.dbMap ? Object.values(target.dbMap) : target.db !== undefined ? [target.db] : [];
          const present = target.db !== undefined && !target.dbMap ? [] : await databasesOf(connector, undefined);
          databases = [...new Set([...mapped, ...present, ...(opts.databases ?? [])])].sort((a, b) => a - b);
        } else {
          databases = await databasesOf(connector, opts.databases);
        }
      } catch (err) {
        if (own) await connector.close();
        throw wrapError(err, "E_SOURCE", ADAPTER, `backup of ${connector.location} failed`);
      }
      // The stream closes only our own per-db connections; a shared connector stays for later calls.
      const plan = {
        connector: own ? connector : { ...connector, close: async () => {} },
        databases,
        match: target ? undefined : opts.match,
        types: target ? undefined : opts.types,
        batchSize: opts.batchSize,
        scanCount: opts.scanCount,
        safety: !!target,
      };
      const { stream, totals } = backupStream(plan, ctx);
      // done() both returns the final counts (the contract) and fills them into `meta`, which the
      // pipeline reads after done() — so they reach the manifest either way.
      const meta: Record<string, unknown> = { format: "sbrd/1", databases };
      yield {
        name: KEYS_ARTIFACT,
        stream,
        meta,
        done: async () => {
          const t = await totals;
          const extra = {
            keys: t.keyRecords,
            perDb: t.keys,
            skippedVanished: t.skippedVanished,
            skippedByType: t.skippedByType,
            rdbVersion: t.rdbVersion,
            redisVersion: t.redisVersion,
          };
          Object.assign(meta, extra);
          return extra;
        },
      };
    },

    async restore(ctx: RestoreContext): Promise<RestoreResult> {
      const target = asTarget(ctx.target);
      const { reader, header } = await openArtifact(ctx);
      const { connector, own } = connectorFor(target);
      try {
        const mapDb = dbMapper(header, target, connector.topology);
        // A safety backup is always restored with a flush: a rollback must give back exactly what was there.
        const flush = header.meta.safety ? true : (target.flush ?? opts.flush) === "db";
        const out = await restoreKeys({
          connector,
          reader,
          header,
          mapDb,
          flush,
          ttlMode: target.ttlMode ?? opts.ttlMode,
          replace: true,
          batchSize: opts.batchSize,
          concurrency: opts.restoreConcurrency,
          ctx,
        });
        const warnings: string[] = [];
        if (out.skippedExpired > 0)
          warnings.push(`${out.skippedExpired} keys were skipped because their expiry time has passed`);
        return {
          stats: await statsOf(connector, target),
          warnings,
          details: {
            keysRestored: out.restoredTotal,
            perDb: out.restored,
            skippedExpired: out.skippedExpired,
            flushed: flush,
            target: connector.location,
            sourceRdbVersion: header.rdbVersion,
            targetRdbVersion: out.targetRdbVersion,
          },
        };
      } finally {
        await reader.close().catch(() => {});
        if (own) await connector.close();
      }
    },

    async preview(ctx: RestoreContext): Promise<RestorePreview> {
      const target = asTarget(ctx.target);
      const { reader, header } = await openArtifact(ctx);
      const { connector, own } = connectorFor(target);
      try {
        const mapDb = dbMapper(header, target, connector.topology);
        // A safety backup is always restored with a flush: a rollback must give back exactly what was there.
        const flush = header.meta.safety ? true : (target.flush ?? opts.flush) === "db";
        if (ctx.dryRun === false) return await quickPreview(connector, header, mapDb, flush, ctx);
        const counts = await previewKeys({
          connector,
          reader,
          header,
          mapDb,
          ttlMode: target.ttlMode ?? opts.ttlMode,
          batchSize: opts.batchSize,
          concurrency: opts.restoreConcurrency,
          ctx,
        });
        const replaces: RestorePreview["replaces"] = [];
        const notes: string[] = [];
        let exists = false;
        for (const [db, c] of [...counts.perDb].sort((a, b) => a[0] - b[0])) {
          if (c.current > 0) exists = true;
          replaces.push({ name: `db${db}`, current: c.current, incoming: c.incoming, unit: "keys" });
          notes.push(
            flush
              ? `db${db}: flushed first (${c.current} keys removed), then ${c.incoming} keys restored`
              : `db${db}: ${c.added} keys would be added, ${c.replaced} replaced, ${c.current - c.replaced} other keys kept`,
          );
        }
        if (counts.skippedExpired > 0)
          notes.push(`${counts.skippedExpired} keys would be skipped: their expiry time has passed`);
        return { target: connector.location, exists, replaces, notes };
      } finally {
        await reader.close().catch(() => {});
        if (own) await connector.close();
      }
    },

    async restoreTest(ctx: RestoreContext): Promise<RestoreTestResult> {
      const target = asTarget(ctx.target);
      const { reader, header } = await openArtifact(ctx);
      const { connector, own } = target.url ? connectorFor(target) : { connector: main(), own: false };
      try {
        return await runRestoreTest(connector, reader, header, opts, ctx);
      } finally {
        if (own) await connector.close();
      }
    },

    async close() {
      await shared?.close();
      shared = undefined;
    },
  };

  const rdbArtifact = (ctx: BackupContext): SourceArtifact => {
    const client = options.client;
    if (client && (client as Cluster).isCluster)
      throw new StrongboxError("E_CONFIG", 'mode "rdb" backs up one server: it does not support a Cluster client', {
        adapter: ADAPTER,
      });
    const cli = cliConnection(options.url, options.options ?? (client as Redis | undefined)?.options);
    const run = spawnProducer([opts.redisCli, ...cli.args, ...opts.redisCliArgs, "--rdb", "-"], {
      adapter: ADAPTER,
      env: cli.env,
      signal: ctx.signal,
    });
    const strip = new RdbEofStripper();
    const meta: Record<string, unknown> = { format: "rdb" };
    pipeline(run.stream, strip, (err) => {
      if (err && !strip.destroyed) strip.destroy(err);
    });
    return {
      name: RDB_ARTIFACT,
      stream: strip,
      meta,
      done: async () => {
        await run.done();
        meta.eofMarkerStripped = strip.stripped;
        return { eofMarkerStripped: strip.stripped };
      },
    };
  };

  return source;
}
