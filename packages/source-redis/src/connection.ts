import { registerSecret, StrongboxError, wrapError } from "@strongbox/core";
import { type Cluster, type RedisOptions as IORedisOptions, Redis } from "ioredis";

const ADAPTER = "redis";

/**
 * Defaults for connections Strongbox opens itself: fail fast instead of ioredis' retry-forever, so a
 * server that goes away mid-backup fails the backup within seconds. User options win.
 */
const OWN_DEFAULTS: IORedisOptions = {
  lazyConnect: true,
  maxRetriesPerRequest: 1,
  connectTimeout: 10_000,
  retryStrategy: (times: number) => (times > 3 ? null : Math.min(times * 200, 1000)),
};

type AnyClient = Redis | Cluster;

const lastErrors = new WeakMap<Redis, Error>();

export function isCluster(client: AnyClient): client is Cluster {
  // Duck-typed: the user's ioredis copy may not be ours, so `instanceof` would lie.
  return (client as { isCluster?: boolean }).isCluster === true;
}

/** Registers every password a configuration carries, so no message or log can show it. */
export function registerConfigSecrets(config: { url?: string; options?: IORedisOptions; client?: AnyClient }): void {
  if (config.url) registerUrlSecret(config.url);
  registerOptionSecrets(config.options);
  const client = config.client;
  if (client) {
    if (isCluster(client)) registerOptionSecrets(client.options.redisOptions);
    else registerOptionSecrets(client.options);
  }
}

export function registerUrlSecret(url: string): void {
  try {
    const u = new URL(url);
    if (u.password) {
      registerSecret(u.password);
      registerSecret(decodeURIComponent(u.password));
    }
  } catch {
    // A malformed URL is reported by ioredis/our checks; nothing to register.
  }
}

function registerOptionSecrets(o: IORedisOptions | undefined): void {
  if (!o) return;
  registerSecret(o.password);
  registerSecret(o.sentinelPassword);
}

/** Where the work happens: one standalone/Sentinel server (dbs) or a cluster (masters). */
export interface Connector {
  readonly topology: "standalone" | "cluster";
  /** Human-readable, secret-free location: "127.0.0.1:6379", "cluster via 10.0.0.1:7000". */
  readonly location: string;
  /** Connection for server-wide commands (INFO, TIME). Do not SELECT on it. */
  control(): Promise<AnyClient>;
  /** A dedicated connection to one db (standalone only); close it with `release()`. */
  openDb(db: number): Promise<Redis>;
  /** Master nodes (cluster only). Owned by the cluster client: do not close them. */
  masters(): Promise<Redis[]>;
  release(conn: Redis): void;
  /** Closes what this connector opened (never a user's client). */
  close(): Promise<void>;
}

export interface ConnectionConfig {
  url?: string;
  options?: IORedisOptions;
  client?: AnyClient;
}

export function createConnector(config: ConnectionConfig): Connector {
  if (config.client && isCluster(config.client)) return clusterConnector(config.client);
  return standaloneConnector(config);
}

function describeOptions(o: IORedisOptions | undefined): string {
  if (!o) return "redis";
  if (o.sentinels && o.sentinels.length > 0) return `sentinel master "${o.name ?? "mymaster"}"`;
  if (o.path) return o.path;
  return `${o.host ?? "127.0.0.1"}:${o.port ?? 6379}`;
}

function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 6379}`;
  } catch {
    return "redis";
  }
}

/** `redis://h:6379/0` with db 1 → `redis://h:6379/1`: the URL's own db must not override a target db. */
function urlWithDb(url: string, db: number | undefined): string {
  if (db === undefined) return url;
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

function standaloneConnector(config: ConnectionConfig): Connector {
  const user = config.client as Redis | undefined;
  const location = user
    ? describeOptions(user.options)
    : config.url
      ? describeUrl(config.url)
      : describeOptions(config.options);
  let controlConn: Redis | undefined;

  const make = (db: number | undefined): Redis => {
    const override: IORedisOptions = { keyPrefix: "" };
    if (db !== undefined) override.db = db;
    let conn: Redis;
    if (user) conn = user.duplicate(override);
    // ioredis lets a db parsed from the URL win over the options object: put the db into the URL.
    else if (config.url)
      conn = new Redis(urlWithDb(config.url, db), { ...OWN_DEFAULTS, ...config.options, ...override });
    else conn = new Redis({ ...OWN_DEFAULTS, ...config.options, ...override });
    // Errors surface through the commands' promises; without a listener ioredis prints them. The
    // last one is kept: a failed connect() only says "Connection is closed", the reason is here.
    conn.on("error", (err: Error) => lastErrors.set(conn, err));
    return conn;
  };

  const ready = async (conn: Redis): Promise<Redis> => {
    if (conn.status === "wait") {
      try {
        await conn.connect();
      } catch (err) {
        conn.disconnect();
        throw wrapError(lastErrors.get(conn) ?? err, "E_SOURCE", ADAPTER, `cannot connect to ${location}`);
      }
    }
    return conn;
  };

  return {
    topology: "standalone",
    location,
    async control() {
      if (user) {
        if (user.status === "wait") await ready(user);
        return user;
      }
      // A connection that failed or was closed is not reused: ioredis would queue commands on it.
      if (!controlConn || controlConn.status === "end") controlConn = make(undefined);
      try {
        return await ready(controlConn);
      } catch (err) {
        controlConn = undefined;
        throw err;
      }
    },
    async openDb(db) {
      return ready(make(db));
    },
    async masters() {
      throw new StrongboxError("E_CONFIG", "not a cluster", { adapter: ADAPTER });
    },
    release(conn) {
      conn.disconnect();
    },
    async close() {
      controlConn?.disconnect();
      controlConn = undefined;
    },
  };
}

function clusterConnector(cluster: Cluster): Connector {
  if (cluster.options.keyPrefix || cluster.options.redisOptions?.keyPrefix) {
    throw new StrongboxError(
      "E_CONFIG",
      "a Cluster client with keyPrefix cannot be backed up key by key (DUMP would prefix the scanned keys again): pass a client without keyPrefix",
      { adapter: ADAPTER },
    );
  }
  const startup = (cluster as unknown as { startupNodes?: Array<{ host?: string; port?: number }> }).startupNodes?.[0];
  const location = `cluster via ${startup?.host ?? "?"}:${startup?.port ?? "?"}`;
  const ensure = async (): Promise<void> => {
    if (cluster.status === "wait") {
      try {
        await cluster.connect();
      } catch (err) {
        throw wrapError(err, "E_SOURCE", ADAPTER, `cannot connect to ${location}`);
      }
    }
  };
  return {
    topology: "cluster",
    location,
    async control() {
      await ensure();
      return cluster;
    },
    async openDb(db) {
      if (db !== 0)
        throw new StrongboxError("E_CONFIG", `Redis Cluster has only db 0 (asked for db ${db})`, { adapter: ADAPTER });
      throw new StrongboxError("E_CONFIG", "use masters() on a cluster", { adapter: ADAPTER });
    },
    async masters() {
      await ensure();
      const nodes = cluster.nodes("master");
      if (nodes.length === 0)
        throw new StrongboxError("E_SOURCE", `${location}: no master nodes known`, { adapter: ADAPTER });
      return nodes;
    },
    release() {},
    async close() {},
  };
}

/** Parses `INFO` text into key → value, across sections. */
export function parseInfo(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith("#")) continue;
    const i = line.indexOf(":");
    if (i > 0) map.set(line.slice(0, i), line.slice(i + 1));
  }
  return map;
}

/** `db3:keys=10,expires=2,avg_ttl=0` → Map(3 → 10). */
export function keyspaceCounts(info: Map<string, string>): Map<number, number> {
  const out = new Map<number, number>();
  for (const [k, v] of info) {
    const m = /^db(\d+)$/.exec(k);
    const keys = /keys=(\d+)/.exec(v);
    if (m && keys) out.set(Number(m[1]), Number(keys[1]));
  }
  return out;
}

export async function serverInfo(client: Redis, section?: string): Promise<Map<string, string>> {
  const text = section ? await client.info(section) : await client.info();
  return parseInfo(String(text));
}

/** `TIME` → Unix ms. */
export async function serverTime(client: Redis | Cluster): Promise<number> {
  const [s, us] = (await client.time()) as [string | number, string | number];
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/** "7.0.15" ≥ "7.0.0"? */
export function versionAtLeast(version: string, major: number, minor = 0): boolean {
  const [a = 0, b = 0] = version.split(".").map((x) => Number.parseInt(x, 10));
  return a > major || (a === major && b >= minor);
}
