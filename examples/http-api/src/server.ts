/**
 * The backup/restore REST API of seed 002 on plain `node:http`, behind a bearer token:
 *
 *   POST   /api/system/backup                 create a backup            → 201 { backup_id, … }
 *   GET    /api/system/backups                list backups               → 200 { backups, total, storage_used_mb }
 *   GET    /api/system/backup/:id/download    the whole backup as a tar  → 200 application/x-tar (streamed)
 *   DELETE /api/system/backup/:id             delete a backup            → 200 { backup_id, deleted: true }
 *   POST   /api/system/restore                restore (confirm = the id) → 202 { restore_id, state: "running" }
 *   GET    /api/system/restore/status         running/last restore       → 200 { state, report?, error? }
 *
 * Errors are JSON `{ error: { code, message } }`; the StrongboxError code decides the status
 * (E_NOT_FOUND 404, E_CONFIG 400, E_LOCKED/E_CONFLICT 409, anything else 500). Run it with
 * `node src/server.ts` (see main() below for the environment variables).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import type { RestoreReport, Source, Strongbox, Transform } from "@strongbox/core";
import { createStrongbox, encrypt, gzip, isStrongboxError, local, StrongboxError } from "@strongbox/core";
import { files } from "@strongbox/source-files";
import { postgres } from "@strongbox/source-postgres";

// ---------------------------------------------------------------------------------------------
// Plumbing: bearer-token check, JSON bodies and answers, StrongboxError code → HTTP status.
// (One file on purpose: `node src/server.ts` runs it as is, with no build step.)
// ---------------------------------------------------------------------------------------------

/** An error answered as-is (status and code), for what is not a StrongboxError: 401, 405, 413, 415. */
class HttpError extends Error {
  // Plain fields, not constructor parameter properties: Node's type stripping does not support those.
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/**
 * Compares the request's bearer token with the configured one in constant time. Both sides are
 * hashed first so that `timingSafeEqual` always sees equal lengths: the time taken reveals
 * neither the token nor its length.
 */
function checkBearer(req: IncomingMessage, expected: Buffer): void {
  const header = req.headers.authorization ?? "";
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  const given = createHash("sha256")
    .update(match?.[1] ?? "")
    .digest();
  const want = createHash("sha256").update(expected).digest();
  // `&&` after the comparison, never before it: an absent header takes the same path as a wrong one.
  if (!(timingSafeEqual(given, want) && match)) {
    throw new HttpError(401, "E_UNAUTHORIZED", "a valid bearer token is required", {
      "www-authenticate": 'Bearer realm="strongbox"',
    });
  }
}

/** StrongboxError codes that are the client's doing, with their HTTP status; every other code is a 500. */
const STATUS_BY_CODE: Record<string, number> = {
  E_NOT_FOUND: 404,
  E_CONFIG: 400,
  E_LOCKED: 409,
  E_CONFLICT: 409,
};

function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  if (isStrongboxError(err)) return STATUS_BY_CODE[err.code] ?? 500;
  return 500;
}

/** The JSON error body. StrongboxError messages are already redacted; anything else stays private. */
function errorBody(err: unknown): { error: { code: string; message: string } } {
  if (err instanceof HttpError || isStrongboxError(err)) return { error: { code: err.code, message: err.message } };
  return { error: { code: "E_INTERNAL", message: "internal error" } };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

/**
 * Reads a small JSON object body (at most `limit` bytes; an empty body is `{}`). Bad JSON is the
 * client's error (E_CONFIG → 400), and so is anything that is not an object.
 */
async function readJson(req: IncomingMessage, limit = 64 * 1024): Promise<Record<string, unknown>> {
  const type = req.headers["content-type"];
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, "E_TOO_LARGE", `request body over ${limit} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  if (type && !/^application\/json\b/i.test(type))
    throw new HttpError(415, "E_UNSUPPORTED_MEDIA_TYPE", "request body must be application/json");
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new StrongboxError("E_CONFIG", "request body is not valid JSON", { adapter: "http-api" });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new StrongboxError("E_CONFIG", "request body must be a JSON object", { adapter: "http-api" });
  return value as Record<string, unknown>;
}

/** Optional string-array field (components, tags), or E_CONFIG naming the field. */
function stringArray(body: Record<string, unknown>, field: string): string[] | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string"))
    throw new StrongboxError("E_CONFIG", `"${field}" must be an array of strings`, { adapter: "http-api" });
  return v;
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string")
    throw new StrongboxError("E_CONFIG", `"${field}" must be a string`, { adapter: "http-api" });
  return v;
}

function optionalBoolean(body: Record<string, unknown>, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean")
    throw new StrongboxError("E_CONFIG", `"${field}" must be true or false`, { adapter: "http-api" });
  return v;
}

/** Bytes → MiB with one decimal, as the seed's `size_mb` fields. */
function mb(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}

// ---------------------------------------------------------------------------------------------
// The one restore that may run at a time, and what GET /api/system/restore/status reports. A
// restore replaces live data, so two at once (or a backup or delete racing one) would leave
// targets in a state nobody asked for: the API answers 409 instead.
// ---------------------------------------------------------------------------------------------

export type RestoreState = "idle" | "running" | "succeeded" | "failed";

export interface RestoreStatus {
  state: RestoreState;
  restore_id?: string;
  backup_id?: string;
  components?: string[];
  started_at?: string;
  finished_at?: string;
  /** Latest progress while running: component, artifact and plaintext bytes restored so far. */
  progress?: { component: string; artifact?: string; bytes: number; total_bytes?: number };
  /** The restore report (per component: what was overwritten, counts checked, safety backup id). */
  report?: RestoreReport;
  /** Why it failed; `rolled_back` says whether the safety backup was put back. */
  error?: { code: string; message: string; rolled_back: boolean };
}

class RestoreJob {
  private status: RestoreStatus = { state: "idle" };
  private running: Promise<void> | undefined;

  private readonly box: Strongbox;
  constructor(box: Strongbox) {
    this.box = box;
  }

  /** A copy of the current status (safe to serialise). */
  current(): RestoreStatus {
    return structuredClone(this.status);
  }

  /** The backup id being restored right now, if any. */
  busyWith(): string | undefined {
    return this.status.state === "running" ? this.status.backup_id : undefined;
  }

  /** Settles when the restore in flight (if any) has finished; used on shutdown. */
  async settled(): Promise<void> {
    await this.running;
  }

  /**
   * Starts restoring in the background and returns at once with its status; `E_LOCKED` when one
   * is already running. The caller has already checked that the backup exists and was confirmed.
   */
  start(backupId: string, components: string[] | undefined): RestoreStatus {
    if (this.status.state === "running") {
      throw new StrongboxError(
        "E_LOCKED",
        `restore ${this.status.restore_id} of ${this.status.backup_id} is still running; wait for it (GET /api/system/restore/status)`,
        { adapter: "http-api" },
      );
    }
    const restoreId = `restore_${new Date().toISOString().replace(/\D/g, "").slice(0, 14)}_${randomBytes(3).toString("hex")}`;
    this.status = {
      state: "running",
      restore_id: restoreId,
      backup_id: backupId,
      ...(components ? { components } : {}),
      started_at: new Date().toISOString(),
    };
    const status = this.status;
    const onProgress = (p: {
      phase: string;
      component: string;
      artifact?: string;
      bytes: number;
      totalBytes?: number;
    }) => {
      if (p.phase !== "restore") return;
      status.progress = {
        component: p.component,
        ...(p.artifact ? { artifact: p.artifact } : {}),
        bytes: p.bytes,
        ...(p.totalBytes !== undefined ? { total_bytes: p.totalBytes } : {}),
      };
    };
    let rolledBack = false;
    const onFailed = (e: { id: string; rolledBack: boolean }) => {
      if (e.id === backupId) rolledBack = e.rolledBack;
    };
    this.box.on("progress", onProgress).on("restore:failed", onFailed);
    this.running = this.box
      // `force`: the caller typed the backup id to confirm — that IS the consent to overwrite.
      // The safety backup (default "auto") still protects the current data and is rolled back to
      // if the restore fails.
      .restore(backupId, { ...(components ? { components } : {}), force: true })
      .then(
        (report) => {
          status.state = "succeeded";
          status.report = report;
        },
        (err: unknown) => {
          status.state = "failed";
          status.error = {
            code: isStrongboxError(err) ? err.code : "E_INTERNAL",
            message: isStrongboxError(err) ? err.message : "internal error",
            rolled_back: rolledBack,
          };
        },
      )
      .finally(() => {
        status.finished_at = new Date().toISOString();
        this.box.off("progress", onProgress).off("restore:failed", onFailed);
      });
    return this.current();
  }
}

// ---------------------------------------------------------------------------------------------
// The app.
// ---------------------------------------------------------------------------------------------

export interface AppOptions {
  /**
   * The bearer token every request must carry (`Authorization: Bearer <token>`). At least 16
   * characters; generate one with `openssl rand -hex 32`.
   */
  token: string;
}

export interface App {
  /** The `node:http` server (not listening until {@link App.listen}). */
  readonly server: Server;
  /** Starts listening; resolves to the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** Stops accepting requests and waits for open requests and the restore in flight to finish. */
  close(): Promise<void>;
}

const API = "/api/system";
const ADAPTER = "http-api";

export function createApp(box: Strongbox, options: AppOptions): App {
  if (typeof options?.token !== "string" || options.token.length < 16) {
    throw new StrongboxError("E_CONFIG", "createApp() needs a bearer token of at least 16 characters", {
      adapter: ADAPTER,
    });
  }
  const token = Buffer.from(options.token, "utf8");
  const restores = new RestoreJob(box);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Authentication comes before anything else, the body included: an unauthenticated request
    // learns nothing (not even whether a route or backup exists) and changes nothing.
    checkBearer(req, token);
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname.replace(/\/+$/, "");
    const method = req.method ?? "GET";
    const route = matchRoute(method, path);
    switch (route.name) {
      case "backup":
        return createBackup(req, res);
      case "list":
        return listBackups(res);
      case "download":
        return download(req, res, route.id);
      case "delete":
        return deleteBackup(res, route.id);
      case "restore":
        return startRestore(req, res);
      case "status":
        return sendJson(res, 200, restores.current());
    }
  };

  async function createBackup(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    const components = stringArray(body, "components");
    const tags = stringArray(body, "tags");
    const description = optionalString(body, "description");
    const busy = restores.busyWith();
    if (busy) {
      // A backup taken while a restore rewrites the data would capture a half-restored state.
      throw new StrongboxError("E_LOCKED", `a restore of ${busy} is running; back up after it finishes`, {
        adapter: ADAPTER,
      });
    }
    const manifest = await box.backup({
      ...(components ? { components } : {}),
      ...(tags ? { tags } : {}),
      ...(description ? { description } : {}),
    });
    const size = manifest.components.reduce((n, c) => n + c.artifacts.reduce((m, a) => m + a.size, 0), 0);
    sendJson(res, 201, {
      backup_id: manifest.id,
      created_at: manifest.startedAt,
      completed_at: manifest.completedAt,
      size_mb: mb(size),
      size_bytes: size,
      components: Object.fromEntries(manifest.components.map((c) => [c.name, true])),
      ...(manifest.description ? { description: manifest.description } : {}),
      tags: manifest.tags,
      status: "completed",
    });
  }

  async function listBackups(res: ServerResponse): Promise<void> {
    const backups = await box.list();
    const used = backups.reduce((n, b) => n + b.size, 0);
    sendJson(res, 200, {
      backups: backups.map((b) => ({
        backup_id: b.id,
        created_at: b.time.toISOString(),
        size_mb: mb(b.size),
        size_bytes: b.size,
        components: b.components,
        tags: b.tags,
        pinned: b.pinned,
      })),
      total: backups.length,
      storage_used_mb: mb(used),
      storage_used_bytes: used,
    });
  }

  async function download(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    // Resolve first, so a missing backup is a clean JSON 404 rather than a broken tar.
    const manifest = await box.get(id);
    const abort = new AbortController();
    // The client went away: stop reading from storage at once.
    res.once("close", () => {
      if (!res.writableFinished) abort.abort();
    });
    const tar = await box.export(manifest.id, { signal: abort.signal });
    res.writeHead(200, {
      "content-type": "application/x-tar",
      "content-disposition": `attachment; filename="${manifest.id}.tar"`,
      "cache-control": "no-store",
      "x-strongbox-backup-id": manifest.id,
    });
    req.resume();
    // Streamed with backpressure, never buffered: memory stays flat whatever the backup's size.
    // If storage fails midway (or a stored byte does not match its sha256), the connection is cut
    // so the client sees an incomplete download rather than a tar that looks whole.
    await pipeline(tar, res).catch(() => res.destroy());
  }

  async function deleteBackup(res: ServerResponse, id: string): Promise<void> {
    const manifest = await box.get(id);
    if (restores.busyWith() === manifest.id) {
      throw new StrongboxError("E_CONFLICT", `backup ${manifest.id} is being restored right now`, { adapter: ADAPTER });
    }
    const result = await box.delete(manifest.id);
    sendJson(res, 200, { backup_id: result.id, deleted: true, skipped: result.skipped });
  }

  async function startRestore(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    // `backupId` (and the seed's spelling, `backup_id`).
    const backupId = optionalString(body, "backupId") ?? optionalString(body, "backup_id");
    if (!backupId) throw new StrongboxError("E_CONFIG", '"backupId" is required', { adapter: ADAPTER });
    const components = stringArray(body, "components");
    const dryRun = optionalBoolean(body, "dryRun") ?? optionalBoolean(body, "dry_run") ?? false;
    const manifest = await box.get(backupId);
    const present = manifest.components.map((c) => c.name);
    const unknown = (components ?? []).filter((c) => !present.includes(c));
    if (unknown.length) {
      throw new StrongboxError(
        "E_CONFIG",
        `backup ${manifest.id} has no component ${unknown.map((c) => `"${c}"`).join(", ")} (it has: ${present.join(", ")})`,
        { adapter: ADAPTER },
      );
    }
    const selection = components?.length ? { components } : {};
    if (dryRun) {
      const report = await box.restore(manifest.id, { ...selection, dryRun: true });
      return sendJson(res, 200, { dry_run: true, backup_id: manifest.id, report });
    }
    if (body.confirm !== manifest.id) {
      // Seed 002 §9.1: say what would be overwritten, and ask for an explicit confirmation — the
      // backup id itself, so a confirmation typed for one backup can never restore another.
      const preview = await box.restore(manifest.id, { ...selection, dryRun: true });
      const error = new StrongboxError(
        "E_CONFIG",
        `a restore overwrites existing data: send "confirm": "${manifest.id}" (the backup id) to proceed`,
        { adapter: ADAPTER },
      );
      return sendJson(res, 400, {
        ...errorBody(error),
        warning: "This will overwrite existing data",
        affected: preview.components.map((c) => ({ component: c.name, preview: c.preview ?? null })),
        confirm_required: true,
      });
    }
    const status = restores.start(manifest.id, components?.length ? components : undefined);
    sendJson(res, 202, { ...status, status_url: `${API}/restore/status` }, { location: `${API}/restore/status` });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = statusOf(err);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // Unread request bodies (e.g. after a 401) are discarded, not parsed.
      req.resume();
      sendJson(res, status, errorBody(err), err instanceof HttpError ? err.headers : {});
    });
  });

  return {
    server,
    listen(port = 0, host = "127.0.0.1") {
      return new Promise((resolveUrl, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const addr = server.address() as AddressInfo;
          const shown = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
          resolveUrl(`http://${shown}:${addr.port}`);
        });
      });
    },
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      await Promise.all([closed, restores.settled()]);
    },
  };
}

type Route = { name: "backup" | "list" | "restore" | "status" } | { name: "download" | "delete"; id: string };

const ROUTES: Array<{ pattern: RegExp; methods: string[]; route: (id: string) => Route }> = [
  { pattern: /^\/api\/system\/backup$/, methods: ["POST"], route: () => ({ name: "backup" }) },
  { pattern: /^\/api\/system\/backups$/, methods: ["GET"], route: () => ({ name: "list" }) },
  {
    pattern: /^\/api\/system\/backup\/([^/]+)\/download$/,
    methods: ["GET"],
    route: (id) => ({ name: "download", id }),
  },
  { pattern: /^\/api\/system\/backup\/([^/]+)$/, methods: ["DELETE"], route: (id) => ({ name: "delete", id }) },
  { pattern: /^\/api\/system\/restore$/, methods: ["POST"], route: () => ({ name: "restore" }) },
  { pattern: /^\/api\/system\/restore\/status$/, methods: ["GET"], route: () => ({ name: "status" }) },
];

function matchRoute(method: string, path: string): Route {
  for (const { pattern, methods, route } of ROUTES) {
    const m = pattern.exec(path);
    if (!m) continue;
    if (!methods.includes(method)) {
      throw new HttpError(405, "E_METHOD_NOT_ALLOWED", `${method} is not allowed on ${path}`, {
        allow: methods.join(", "),
      });
    }
    let id = "";
    try {
      id = decodeURIComponent(m[1] ?? "");
    } catch {
      throw new StrongboxError("E_NOT_FOUND", "malformed backup id in the path", { adapter: ADAPTER });
    }
    return route(id);
  }
  throw new StrongboxError("E_NOT_FOUND", `no route ${method} ${path}`, { adapter: ADAPTER });
}

/**
 * Starts the API from the environment:
 *   STRONGBOX_API_TOKEN  bearer token (required, ≥ 16 characters)
 *   PORT / HOST          where to listen                       default 8080 / 127.0.0.1
 *   BACKUP_DIR           local backup directory                default ./backups
 *   UPLOADS_DIR          a directory to back up (component "uploads")
 *   DATABASE_URL         a PostgreSQL database to back up (component "postgres")
 *   AGE_RECIPIENT        encrypt backups to this age public key (optional; gzip always)
 *   AGE_IDENTITY_FILE    age identity file, needed to restore encrypted backups
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<App> {
  const sources: Source[] = [];
  if (env.DATABASE_URL) sources.push(postgres({ name: "postgres", connectionString: env.DATABASE_URL }));
  if (env.UPLOADS_DIR) sources.push(files({ name: "uploads", paths: [resolve(env.UPLOADS_DIR)] }));
  if (sources.length === 0) throw new StrongboxError("E_CONFIG", "set DATABASE_URL and/or UPLOADS_DIR");
  const transforms: Transform[] = [gzip()];
  if (env.AGE_RECIPIENT) {
    const identities = env.AGE_IDENTITY_FILE
      ? readFileSync(env.AGE_IDENTITY_FILE, "utf8")
          .split("\n")
          .filter((l) => l.startsWith("AGE-SECRET-KEY-1"))
      : [];
    transforms.push(encrypt({ recipients: env.AGE_RECIPIENT.split(","), identities }));
  }
  const box = createStrongbox({
    sources,
    storage: local({ directory: resolve(env.BACKUP_DIR ?? "backups") }),
    transforms,
  });
  const app = createApp(box, { token: env.STRONGBOX_API_TOKEN ?? "" });
  const url = await app.listen(Number(env.PORT ?? 8080), env.HOST ?? "127.0.0.1");
  console.log(`strongbox API listening on ${url}`);
  const shutdown = (signal: string) => {
    console.log(`${signal}: closing (waiting for open requests and a running restore)`);
    void app.close().then(() => box.close());
  };
  process.once("SIGTERM", shutdown).once("SIGINT", shutdown);
  return app;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err instanceof StrongboxError ? `${err.code}: ${err.message}` : err);
    process.exit(1);
  });
}
