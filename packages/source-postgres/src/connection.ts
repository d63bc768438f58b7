import { readFileSync } from "node:fs";
import { registerSecret, StrongboxError } from "@strongbox/core";
import type pg from "pg";
import type { PostgresOptions, PostgresTarget } from "./options.js";

export const ADAPTER = "postgres";

/**
 * Connection settings as libpq keywords (`host`, `port`, `user`, `password`, `dbname`, `sslmode`…).
 * One representation feeds both the `pg` driver and the command-line tools, so they always reach
 * the same server as the same user.
 */
export type ConnParams = Record<string, string>;

/** libpq keyword → environment variable read by pg_dump / pg_restore / psql. */
const ENV_BY_KEYWORD: Record<string, string> = {
  host: "PGHOST",
  hostaddr: "PGHOSTADDR",
  port: "PGPORT",
  dbname: "PGDATABASE",
  user: "PGUSER",
  password: "PGPASSWORD",
  passfile: "PGPASSFILE",
  service: "PGSERVICE",
  options: "PGOPTIONS",
  application_name: "PGAPPNAME",
  sslmode: "PGSSLMODE",
  requiressl: "PGREQUIRESSL",
  sslcompression: "PGSSLCOMPRESSION",
  sslcert: "PGSSLCERT",
  sslkey: "PGSSLKEY",
  sslrootcert: "PGSSLROOTCERT",
  sslcrl: "PGSSLCRL",
  sslcrldir: "PGSSLCRLDIR",
  sslsni: "PGSSLSNI",
  requirepeer: "PGREQUIREPEER",
  ssl_min_protocol_version: "PGSSLMINPROTOCOLVERSION",
  ssl_max_protocol_version: "PGSSLMAXPROTOCOLVERSION",
  gssencmode: "PGGSSENCMODE",
  krbsrvname: "PGKRBSRVNAME",
  gsslib: "PGGSSLIB",
  channel_binding: "PGCHANNELBINDING",
  connect_timeout: "PGCONNECT_TIMEOUT",
  client_encoding: "PGCLIENTENCODING",
  target_session_attrs: "PGTARGETSESSIONATTRS",
  load_balance_hosts: "PGLOADBALANCEHOSTS",
};

/** Every libpq variable cleared in the tools' environment, so a stray PG* of the parent cannot redirect them. */
const ALL_PG_ENV = [...Object.values(ENV_BY_KEYWORD), "PGSERVICEFILE", "PGSYSCONFDIR", "PGTZ", "PGDATESTYLE"];

/** Parses `postgres://…` URLs and `key=value` conninfo strings into libpq keywords. */
export function parseConnectionString(text: string): ConnParams {
  const trimmed = text.trim();
  if (/^postgres(ql)?:\/\//i.test(trimmed)) return parseUrl(trimmed);
  if (trimmed.includes("=")) return parseKeywordValue(trimmed);
  throw new StrongboxError("E_CONFIG", 'connectionString must be a "postgres://" URL or "key=value" pairs', {
    adapter: ADAPTER,
  });
}

function parseUrl(text: string): ConnParams {
  let url: URL;
  try {
    url = new URL(text);
  } catch (err) {
    // The message of URL errors repeats the input, which holds the password: keep it out.
    throw new StrongboxError("E_CONFIG", "connectionString is not a valid postgres:// URL", {
      adapter: ADAPTER,
      cause: undefined,
      details: { reason: (err as Error).name },
    });
  }
  const out: ConnParams = {};
  const dec = (s: string) => decodeURIComponent(s);
  if (url.hostname) out.host = dec(url.hostname).replace(/^\[(.*)\]$/, "$1");
  if (url.port) out.port = url.port;
  if (url.username) out.user = dec(url.username);
  if (url.password) out.password = dec(url.password);
  const db = url.pathname.replace(/^\//, "");
  if (db) out.dbname = dec(db);
  for (const [k, v] of url.searchParams) out[k === "database" ? "dbname" : k] = v;
  return out;
}

function parseKeywordValue(text: string): ConnParams {
  const out: ConnParams = {};
  const re = /\s*([A-Za-z_]+)\s*=\s*(?:'((?:\\.|[^'\\])*)'|(\S+))/g;
  let m: RegExpExecArray | null = re.exec(text);
  while (m !== null) {
    out[m[1]!] = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[3]!;
    m = re.exec(text);
  }
  return out;
}

/** Best-effort read of the settings a user's pg.Pool / pg.Client was made with. */
function paramsFromClient(client: pg.Pool | pg.Client): ConnParams {
  const c = client as unknown as {
    options?: Record<string, unknown>;
    connectionParameters?: Record<string, unknown>;
  };
  const src = c.connectionParameters ?? c.options ?? {};
  let out: ConnParams = {};
  if (typeof src.connectionString === "string") out = parseConnectionString(src.connectionString);
  const put = (k: string, v: unknown) => {
    if (typeof v === "string" && v !== "") out[k] = v;
    else if (typeof v === "number") out[k] = String(v);
  };
  put("host", src.host);
  put("port", src.port);
  put("user", src.user);
  put("password", src.password);
  put("dbname", src.database);
  return out;
}

/** The connection of the configured database, from whichever form the options use. */
export function resolveBaseParams(options: PostgresOptions): ConnParams {
  let out: ConnParams = {};
  if (options.connectionString) out = parseConnectionString(options.connectionString);
  else if (options.client) out = paramsFromClient(options.client);
  const put = (k: string, v: string | number | undefined) => {
    if (v !== undefined && v !== "") out[k] = String(v);
  };
  put("host", options.host);
  put("port", options.port);
  put("user", options.user);
  put("password", options.password);
  put("dbname", options.database);
  put("sslmode", options.sslMode);
  put("sslrootcert", options.sslRootCert);
  put("sslcert", options.sslCert);
  put("sslkey", options.sslKey);
  registerSecret(out.password);
  return out;
}

/**
 * Applies a restore/backup target: `{ connectionString }` replaces the connection, `{ database }`
 * keeps the server and user and switches database.
 */
export function applyTarget(
  base: ConnParams,
  target: PostgresTarget | Record<string, unknown> | undefined,
): ConnParams {
  const t = (target ?? {}) as PostgresTarget;
  if (t.connectionString !== undefined && typeof t.connectionString !== "string") {
    throw new StrongboxError("E_CONFIG", "target.connectionString must be a string", { adapter: ADAPTER });
  }
  if (t.database !== undefined && (typeof t.database !== "string" || t.database === "")) {
    throw new StrongboxError("E_CONFIG", "target.database must be a non-empty string", { adapter: ADAPTER });
  }
  let out = { ...base };
  if (t.connectionString) {
    out = parseConnectionString(t.connectionString);
    registerSecret(out.password);
  }
  if (t.database) out.dbname = t.database;
  return out;
}

/** Same server and user, another database (scratch, maintenance). */
export function withDatabase(params: ConnParams, dbname: string): ConnParams {
  return { ...params, dbname };
}

/** The database libpq would connect to: `dbname`, else the user name, else the OS user. */
export function databaseName(params: ConnParams): string {
  return params.dbname ?? params.user ?? process.env.PGDATABASE ?? process.env.PGUSER ?? process.env.USER ?? "postgres";
}

/** "database \"app\" on 127.0.0.1:5432" — no user, no password. */
export function describeParams(params: ConnParams): string {
  const host = params.host ?? params.hostaddr ?? "local socket";
  return `database "${databaseName(params)}" on ${host}${params.port ? `:${params.port}` : ""}`;
}

/**
 * Arguments and environment for a tool. Host, port, user and database are arguments (they are
 * not secret, and they survive a `commandPrefix` such as `docker exec`); the password and every
 * other setting go through the environment, never argv.
 */
export function toolConnection(
  params: ConnParams,
  opts: { dbnameFlag?: string } = {},
): { args: string[]; env: Record<string, string | undefined> } {
  const env: Record<string, string | undefined> = {};
  for (const name of ALL_PG_ENV) env[name] = undefined;
  const args: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (k === "host") args.push("--host", v);
    else if (k === "port") args.push("--port", v);
    else if (k === "user") args.push("--username", v);
    else if (k === "dbname") continue;
    else if (ENV_BY_KEYWORD[k]) env[ENV_BY_KEYWORD[k]] = v;
  }
  if (params.dbname !== undefined) {
    // A name holding "=" or starting with a URI scheme would be read as a connection string.
    const db = /=|^postgres(ql)?:/i.test(params.dbname)
      ? `dbname='${params.dbname.replace(/['\\]/g, "\\$&")}'`
      : params.dbname;
    args.push(`${opts.dbnameFlag ?? "--dbname"}=${db}`);
  }
  // Never prompt: a missing password must fail at once, not hang on a terminal nobody watches.
  args.push("--no-password");
  return { args, env };
}

/** Settings for the `pg` driver. */
export function toPgConfig(params: ConnParams): pg.ClientConfig {
  const config: pg.ClientConfig = {
    host: params.host ?? params.hostaddr,
    port: params.port ? Number(params.port) : undefined,
    user: params.user,
    password: params.password,
    database: params.dbname,
    application_name: params.application_name ?? "strongbox",
    connectionTimeoutMillis: params.connect_timeout ? Number(params.connect_timeout) * 1000 : 15_000,
  };
  const mode = params.sslmode;
  if (mode === "disable" || mode === undefined) {
    if (mode === "disable") config.ssl = false;
  } else if (mode === "require" || mode === "prefer" || mode === "allow") {
    // libpq does not check the certificate in these modes, unless a root certificate is given.
    config.ssl = params.sslrootcert ? sslFiles(params, true) : { rejectUnauthorized: false };
  } else {
    config.ssl = sslFiles(params, true);
    if (mode === "verify-ca")
      (config.ssl as { checkServerIdentity?: () => undefined }).checkServerIdentity = () => undefined;
  }
  return config;
}

function sslFiles(params: ConnParams, reject: boolean): pg.ClientConfig["ssl"] {
  const read = (p: string | undefined) => (p ? readFileSync(p, "utf8") : undefined);
  return {
    rejectUnauthorized: reject,
    ca: read(params.sslrootcert),
    cert: read(params.sslcert),
    key: read(params.sslkey),
  };
}

/** Quotes an SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
