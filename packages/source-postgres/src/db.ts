import { redactSecrets, StrongboxError } from "@strongbox/core";
import pg from "pg";
import { ADAPTER, type ConnParams, describeParams, toPgConfig } from "./connection.js";

/** Something that runs SQL: a user's Pool / Client or one of our own short-lived clients. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** PostgreSQL's "database does not exist" error. */
export function isMissingDatabase(err: unknown): boolean {
  const e = err as { code?: string; details?: { pgCode?: string } } | undefined;
  return e?.code === "3D000" || e?.details?.pgCode === "3D000";
}

/** Turns a driver error into E_SOURCE, redacted, naming the target (never the user or password). */
export function sourceError(err: unknown, what: string, params?: ConnParams): StrongboxError {
  if (err instanceof StrongboxError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  const where = params ? ` (${describeParams(params)})` : "";
  return new StrongboxError("E_SOURCE", `${what}${where}: ${redactSecrets(msg)}`, {
    adapter: ADAPTER,
    details: { pgCode: (err as { code?: string })?.code },
  });
}

/**
 * Opens a client on `params`, runs `fn`, and always ends the client. When `shared` is given (the
 * user's own Pool/Client for the configured database) it is used instead and left open.
 */
export async function withDb<T>(
  params: ConnParams,
  fn: (db: Queryable) => Promise<T>,
  opts: { shared?: Queryable; signal?: AbortSignal; what?: string } = {},
): Promise<T> {
  if (opts.shared) return fn(opts.shared);
  const client = new pg.Client(toPgConfig(params));
  // A dropped connection emits 'error' on the client; without a listener it would crash the process.
  client.on("error", () => {});
  const onAbort = () => {
    void client.end().catch(() => {});
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    try {
      await client.connect();
    } catch (err) {
      throw sourceError(err, "cannot connect to PostgreSQL", params);
    }
    return await fn(client);
  } catch (err) {
    // Ending the client on abort makes the running query fail with a connection error: say why.
    if (opts.signal?.aborted)
      throw new StrongboxError("E_ABORTED", `${opts.what ?? "query"}: aborted`, { adapter: ADAPTER, cause: err });
    throw err;
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    await client.end().catch(() => {});
  }
}

/** Server version: `{ text: "15.20", major: 15 }`. */
export async function serverVersion(db: Queryable): Promise<{ text: string; major: number }> {
  const res = await db.query<{ v: string; n: string }>(
    "SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS n",
  );
  const row = res.rows[0]!;
  const num = Number(row.n);
  return {
    text: row.v.split(" ")[0]!,
    major: num >= 100000 ? Math.floor(num / 10000) : Math.floor(num / 10000) + (Math.floor(num / 100) % 100) / 10,
  };
}
