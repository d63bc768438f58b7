/**
 * A stand-in for Qdrant's REST API, written from the OpenAPI schema shipped in
 * `@qdrant/js-client-rest` (dist/types/openapi/generated_schema.d.ts): same paths, query
 * parameters, `{ result, status: "ok", time }` envelopes and `{ status: { error }, time }` error
 * bodies, multipart upload field `snapshot`, `SnapshotDescription { name, creation_time, size,
 * checksum }`. Points live in memory; snapshots are real tar files (see snapshot-file.ts),
 * generated as they are downloaded; uploads are parsed as streams (busboy, tar-stream).
 */
import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { pipeline } from "node:stream";
import busboy from "busboy";
import { describeFile, packSnapshot, type SnapshotContent, type StoredPoint, unpackSnapshot } from "./snapshot-file.js";

interface Collection {
  config: Record<string, unknown>;
  points: Map<string, StoredPoint>;
  padding: number;
  /** Status answers still to give as "yellow" before "green" (to exercise waiting). */
  yellowPolls: number;
}

interface Snapshot {
  content: SnapshotContent;
  size: number;
  checksum: string;
  creation_time: string;
}

export interface StandInFaults {
  /** Destroy the socket after this many bytes of a snapshot download. */
  dropDownloadAfter?: number;
  /** Report a wrong checksum when creating snapshots. */
  lieChecksum?: boolean;
  /** Answer the next `times` requests matching with this status (a transient failure). */
  fail?: { method: string; path: RegExp; status: number; times: number };
  /** Reject every upload with HTTP 400 and this Qdrant-style error text, after reading it. */
  rejectUploads?: string;
  /** Report "yellow" this many times after a recovery before "green". */
  yellowAfterRecover?: number;
}

export interface StandInOptions {
  version?: string;
  apiKey?: string;
  /** Serve https with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
}

export interface StandIn {
  url: string;
  version: string;
  faults: StandInFaults;
  /** Every request seen: "METHOD /path?query". */
  log: string[];
  collections: Map<string, Collection>;
  snapshots: Map<string, Map<string, Snapshot>>;
  /** Makes a collection's snapshots carry `bytes` of generated padding (a big snapshot without big memory). */
  setPadding(collection: string, bytes: number): void;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const notFound = (c: string) => new HttpError(404, `Not found: Collection \`${c}\` doesn't exist!`);

function idKey(id: unknown): string {
  if (typeof id === "number" && Number.isInteger(id) && id >= 0) return `n:${String(id).padStart(20, "0")}`;
  if (typeof id === "string" && /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(id))
    return `u:${id.toLowerCase()}`;
  throw new HttpError(
    400,
    `Format error in JSON body: value ${JSON.stringify(id)} is not a valid point ID, valid values are either an unsigned integer or a UUID`,
  );
}

function vectorSizes(config: Record<string, unknown>): number | Record<string, number> | undefined {
  const vectors = (config.params as { vectors?: unknown } | undefined)?.vectors as Record<string, unknown> | undefined;
  if (!vectors) return undefined;
  if (typeof vectors.size === "number") return vectors.size;
  return Object.fromEntries(Object.entries(vectors).map(([k, v]) => [k, (v as { size: number }).size]));
}

function checkVector(config: Record<string, unknown>, vector: unknown): void {
  const sizes = vectorSizes(config);
  if (typeof sizes === "number") {
    if (!Array.isArray(vector)) throw new HttpError(400, "Wrong input: Not existing vector name error: ");
    if (vector.length !== sizes)
      throw new HttpError(400, `Wrong input: Vector dimension error: expected dim: ${sizes}, got ${vector.length}`);
  } else if (sizes) {
    for (const [name, v] of Object.entries((vector ?? {}) as Record<string, unknown>)) {
      if (!(name in sizes)) throw new HttpError(400, `Wrong input: Not existing vector name error: ${name}`);
      if (!Array.isArray(v) || v.length !== sizes[name])
        throw new HttpError(
          400,
          `Wrong input: Vector dimension error: expected dim: ${sizes[name]}, got ${Array.isArray(v) ? v.length : 0}`,
        );
    }
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 32 << 20) throw new HttpError(413, "Payload too large");
    parts.push(c as Buffer);
  }
  const text = Buffer.concat(parts).toString("utf8");
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `Json deserialize error: ${(err as Error).message}`);
  }
}

function boolParam(q: URLSearchParams, name: string, dflt: boolean): boolean {
  const v = q.get(name);
  if (v === null) return dflt;
  if (v === "true") return true;
  if (v === "false") return false;
  throw new HttpError(400, `Query deserialize error: ${name}: provided string was not \`true\` or \`false\``);
}

export async function startStandIn(options: StandInOptions = {}): Promise<StandIn> {
  const version = options.version ?? "1.12.4";
  const collections = new Map<string, Collection>();
  const snapshots = new Map<string, Map<string, Snapshot>>();
  const faults: StandInFaults = {};
  const log: string[] = [];
  let snapshotCounter = 0;

  const ok = (res: ServerResponse, result: unknown, started: number, status = 200) => {
    const body = JSON.stringify({ result, status: "ok", time: (performance.now() - started) / 1000 });
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  };
  const fail = (res: ServerResponse, status: number, error: string, started: number) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = JSON.stringify({ status: { error }, time: (performance.now() - started) / 1000 });
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  };
  const collectionOf = (name: string): Collection => {
    const c = collections.get(name);
    if (!c) throw notFound(name);
    return c;
  };
  const contentOf = (name: string, c: Collection): SnapshotContent => ({
    collection: name,
    version,
    config: structuredClone(c.config),
    points: [...c.points.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, p]) => structuredClone(p)),
    padding: c.padding,
  });
  const info = (c: Collection) => {
    let status = "green";
    if (c.yellowPolls > 0) {
      c.yellowPolls--;
      status = "yellow";
    }
    return {
      status,
      optimizer_status: "ok",
      indexed_vectors_count: 0,
      points_count: c.points.size,
      segments_count: 1,
      config: c.config,
      payload_schema: {},
    };
  };

  async function handle(req: IncomingMessage, res: ServerResponse, started: number): Promise<void> {
    const url = new URL(req.url ?? "/", "http://stand-in");
    const method = req.method ?? "GET";
    log.push(`${method} ${url.pathname}${url.search}`);
    // Qdrant's API-key middleware lets the root and the health probes through without a key.
    if (options.apiKey && !["/", "/healthz", "/readyz", "/livez"].includes(url.pathname)) {
      const given = req.headers["api-key"] ?? req.headers.authorization?.replace(/^Bearer /, "");
      if (given !== options.apiKey) {
        // Qdrant's auth middleware answers in plain text, not the JSON envelope.
        res.writeHead(401, { "content-type": "text/plain" });
        res.end(given ? "Invalid API key or JWT" : "Must provide an API key or an Authorization bearer token");
        return;
      }
    }
    const f = faults.fail;
    if (f && f.times > 0 && f.method === method && f.path.test(url.pathname)) {
      f.times--;
      req.resume();
      return fail(res, f.status, "Service internal error: injected failure", started);
    }
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const q = url.searchParams;

    if (parts.length === 0 && method === "GET")
      return void res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ title: "qdrant - vector search engine", version, commit: "stand-in" }));
    if (parts[0] !== "collections") throw new HttpError(404, "Not found");
    if (parts.length === 1 && method === "GET")
      return ok(res, { collections: [...collections.keys()].map((name) => ({ name })) }, started);
    const name = parts[1]!;
    const rest = parts.slice(2).join("/");

    if (rest === "") {
      if (method === "GET") return ok(res, info(collectionOf(name)), started);
      if (method === "DELETE") {
        const existed = collections.delete(name);
        return ok(res, existed, started);
      }
      if (method === "PUT") {
        const body = await readJson(req);
        if (collections.has(name)) throw new HttpError(409, `Wrong input: Collection \`${name}\` already exists!`);
        if (!/^[^/\\\0]{1,255}$/.test(name)) throw new HttpError(400, "Validation error in path parameters");
        if (!body.vectors && !body.sparse_vectors) throw new HttpError(400, "Wrong input: vectors config is required");
        collections.set(name, {
          config: {
            params: {
              vectors: body.vectors ?? {},
              shard_number: body.shard_number ?? 1,
              replication_factor: 1,
              write_consistency_factor: 1,
              on_disk_payload: true,
              ...(body.sparse_vectors ? { sparse_vectors: body.sparse_vectors } : {}),
            },
            hnsw_config: { m: 16, ef_construct: 100, full_scan_threshold: 10000 },
            optimizer_config: { deleted_threshold: 0.2, vacuum_min_vector_number: 1000, default_segment_number: 0 },
            wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
            quantization_config: null,
          },
          points: new Map(),
          padding: 0,
          yellowPolls: 0,
        });
        return ok(res, true, started);
      }
    }
    if (rest === "exists" && method === "GET") return ok(res, { exists: collections.has(name) }, started);

    if (rest === "points" && method === "PUT") {
      boolParam(q, "wait", false);
      const c = collectionOf(name);
      const body = await readJson(req);
      let incoming: StoredPoint[];
      if (Array.isArray(body.points)) {
        incoming = (body.points as Array<Record<string, unknown>>).map((p) => ({
          id: p.id as number | string,
          vector: p.vector,
          payload: (p.payload as Record<string, unknown>) ?? null,
        }));
      } else if (body.batch && typeof body.batch === "object") {
        const b = body.batch as {
          ids: Array<number | string>;
          vectors: unknown[];
          payloads?: Array<Record<string, unknown>>;
        };
        incoming = b.ids.map((id, i) => ({ id, vector: b.vectors[i], payload: b.payloads?.[i] ?? null }));
      } else throw new HttpError(400, "Format error in JSON body: data did not match any variant of untagged enum");
      // Validate all before applying any: an upsert batch is all-or-nothing.
      const keyed = incoming.map((p) => {
        checkVector(c.config, p.vector);
        return [idKey(p.id), p] as const;
      });
      for (const [k, p] of keyed) c.points.set(k, structuredClone(p));
      return ok(res, { operation_id: snapshotCounter++, status: "completed" }, started);
    }
    if (rest === "points/delete" && method === "POST") {
      const c = collectionOf(name);
      const body = await readJson(req);
      if (!Array.isArray(body.points)) throw new HttpError(400, "stand-in: only deleting by point ids is supported");
      for (const id of body.points) c.points.delete(idKey(id));
      return ok(res, { operation_id: snapshotCounter++, status: "completed" }, started);
    }
    if ((rest === "points/scroll" || rest === "points") && method === "POST") {
      const c = collectionOf(name);
      const body = await readJson(req);
      if (body.filter) throw new HttpError(400, "stand-in: filters are not supported");
      const withPayload = body.with_payload ?? true;
      const withVector = body.with_vector ?? false;
      const shape = (p: StoredPoint) => ({
        id: p.id,
        ...(withPayload ? { payload: p.payload ?? {} } : {}),
        ...(withVector ? { vector: p.vector } : {}),
      });
      if (rest === "points") {
        const ids = (body.ids as unknown[]) ?? [];
        return ok(
          res,
          ids.flatMap((id) => {
            const p = c.points.get(idKey(id));
            return p ? [shape(p)] : [];
          }),
          started,
        );
      }
      const limit = typeof body.limit === "number" ? body.limit : 10;
      const sorted = [...c.points.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const from = body.offset === undefined || body.offset === null ? undefined : idKey(body.offset);
      const page = sorted.filter(([k]) => from === undefined || k >= from);
      const points = page.slice(0, limit).map(([, p]) => shape(p));
      const next = page[limit]?.[1].id ?? null;
      return ok(res, { points, next_page_offset: next }, started);
    }
    if (rest === "points/count" && method === "POST") {
      const c = collectionOf(name);
      const body = await readJson(req);
      if (body.filter) throw new HttpError(400, "stand-in: filters are not supported");
      return ok(res, { count: c.points.size }, started);
    }

    if (rest === "snapshots" && method === "GET") {
      collectionOf(name);
      const list = [...(snapshots.get(name)?.entries() ?? [])].map(([n, s]) => ({
        name: n,
        creation_time: s.creation_time,
        size: s.size,
        checksum: s.checksum,
      }));
      return ok(res, list, started);
    }
    if (rest === "snapshots" && method === "POST") {
      boolParam(q, "wait", true);
      const c = collectionOf(name);
      const content = contentOf(name, c);
      const { size, checksum } = await describeFile(content);
      const now = new Date();
      const stamp = now.toISOString().slice(0, 19).replace(/[T:]/g, "-");
      const snapName = `${name}-${++snapshotCounter}-${stamp}.snapshot`;
      const snap: Snapshot = { content, size, checksum, creation_time: now.toISOString().slice(0, 19) };
      if (!snapshots.has(name)) snapshots.set(name, new Map());
      snapshots.get(name)!.set(snapName, snap);
      const reported = faults.lieChecksum ? createHash("sha256").update("not the file").digest("hex") : checksum;
      return ok(res, { name: snapName, creation_time: snap.creation_time, size, checksum: reported }, started);
    }
    if (parts.length === 4 && parts[2] === "snapshots" && parts[3] !== "upload") {
      collectionOf(name);
      const snapName = parts[3]!;
      const snap = snapshots.get(name)?.get(snapName);
      if (!snap) throw new HttpError(404, `Not found: Snapshot file \`${snapName}\` does not exist`);
      if (method === "DELETE") {
        snapshots.get(name)!.delete(snapName);
        return ok(res, true, started);
      }
      if (method === "GET") {
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": snap.size });
        const file = packSnapshot(snap.content);
        const dropAt = faults.dropDownloadAfter;
        if (dropAt === undefined) {
          pipeline(file, res, () => undefined);
          return;
        }
        let sent = 0;
        file.on("data", (chunk: Buffer) => {
          if (sent + chunk.length >= dropAt) {
            res.write(chunk.subarray(0, Math.max(0, dropAt - sent)), () => res.socket?.destroy());
            file.destroy();
            return;
          }
          sent += chunk.length;
          if (!res.write(chunk)) {
            file.pause();
            res.once("drain", () => file.resume());
          }
        });
        return;
      }
    }
    if (rest === "snapshots/upload" && method === "POST") return upload(req, res, name, q, started);
    throw new HttpError(404, "Not found");
  }

  async function upload(
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    q: URLSearchParams,
    started: number,
  ): Promise<void> {
    const wait = boolParam(q, "wait", true);
    const priority = q.get("priority") ?? "no_sync";
    if (!["no_sync", "snapshot", "replica"].includes(priority))
      throw new HttpError(
        400,
        `Query deserialize error: unknown variant \`${priority}\`, expected one of \`no_sync\`, \`snapshot\`, \`replica\``,
      );
    const expected = q.get("checksum");
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { files: 1 } });
    } catch (err) {
      req.resume();
      throw new HttpError(400, `Bad request: ${(err as Error).message}`);
    }
    let parsed: Promise<{ content: SnapshotContent; sha256: string }> | undefined;
    bb.on("file", (field, stream) => {
      if (field !== "snapshot" || parsed) {
        stream.resume();
        return;
      }
      const hash = createHash("sha256");
      // The digest covers every byte of the file field, whatever the tar parser makes of it.
      stream.on("data", (chunk: Buffer) => hash.update(chunk));
      const ended = new Promise<void>((resolve, reject) => {
        stream.on("end", resolve);
        stream.on("error", reject);
      });
      const unpacked = unpackSnapshot(stream).catch((err: Error) => {
        stream.resume();
        throw new HttpError(400, `Wrong input: Failed to read snapshot archive: ${err.message}`);
      });
      parsed = Promise.all([unpacked, ended]).then(([content]) => ({ content, sha256: hash.digest("hex") }));
      parsed.catch(() => undefined);
    });
    const finished = new Promise<void>((resolve, reject) => {
      bb.on("close", resolve);
      bb.on("error", (err: Error) => reject(new HttpError(400, `Bad request: ${err.message}`)));
      req.on("aborted", () => reject(new Error("client aborted the upload")));
    });
    req.pipe(bb);
    await finished;
    if (!parsed) throw new HttpError(400, "Bad request: multipart form is missing the `snapshot` file field");
    const { content, sha256 } = await parsed;
    if (expected && expected.toLowerCase() !== sha256)
      throw new HttpError(400, `Wrong input: Snapshot checksum mismatch: expected ${expected}, got ${sha256}`);
    if (faults.rejectUploads) throw new HttpError(400, faults.rejectUploads);
    const points = new Map<string, StoredPoint>();
    for (const p of content.points) points.set(idKey(p.id), p);
    // The swap: the collection is replaced only now, after the whole file was read and checked.
    collections.set(name, {
      config: content.config,
      points,
      padding: content.padding,
      yellowPolls: faults.yellowAfterRecover ?? 0,
    });
    if (!wait) return ok(res, undefined, started, 202);
    return ok(res, true, started);
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    handle(req, res, started).catch((err: unknown) => {
      if (err instanceof HttpError) {
        req.resume();
        return fail(res, err.status, err.message, started);
      }
      if ((err as Error).message === "client aborted the upload") return;
      fail(res, 500, `Service internal error: ${(err as Error).message}`, started);
    });
  };
  const server: Server = options.tls ? createHttpsServer(options.tls, listener) : createServer(listener);
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
    version,
    faults,
    log,
    collections,
    snapshots,
    setPadding(collection, bytes) {
      collectionOf(collection).padding = bytes;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export { randomUUID };
