import type { QdrantClient } from "@qdrant/js-client-rest";
import { HttpStatusError, type QdrantHttp, toStrongbox } from "./http.js";

/** Qdrant's `SnapshotDescription`. */
export interface SnapshotDescription {
  name: string;
  creation_time?: string | null;
  size: number;
  checksum?: string | null;
}

/** The part of Qdrant's `CollectionInfo` this adapter reads. */
export interface CollectionInfo {
  status: "green" | "yellow" | "grey" | "red";
  points_count?: number | null;
  config?: { params?: { vectors?: unknown; sparse_vectors?: unknown } };
}

/**
 * The JSON calls the adapter makes. Two implementations: plain HTTP (undici, with retries), or a
 * user's `QdrantClient`. Snapshot files never go through here: they are streamed by QdrantHttp.
 */
export interface QdrantApi {
  version(signal: AbortSignal): Promise<string>;
  listCollections(signal: AbortSignal): Promise<string[]>;
  /** `undefined` when the collection does not exist. */
  collection(name: string, signal: AbortSignal): Promise<CollectionInfo | undefined>;
  /** Exact number of points (`POST /collections/{c}/points/count` with `exact: true`). */
  count(name: string, signal: AbortSignal): Promise<number>;
  createSnapshot(collection: string, signal: AbortSignal): Promise<SnapshotDescription>;
  deleteSnapshot(collection: string, snapshot: string, signal: AbortSignal): Promise<void>;
  deleteCollection(collection: string, signal: AbortSignal): Promise<void>;
}

const seg = encodeURIComponent;

export function httpApi(http: QdrantHttp): QdrantApi {
  return {
    async version(signal) {
      // `GET /` answers `{ title, version, commit }` without the usual `{ result }` envelope.
      const { result } = await http.call<{ version?: string }>({ method: "GET", path: "/", signal, raw: true });
      return String(result?.version ?? "");
    },
    async listCollections(signal) {
      const { result } = await http.call<{ collections: Array<{ name: string }> }>({
        method: "GET",
        path: "/collections",
        signal,
      });
      return (result?.collections ?? []).map((c) => c.name);
    },
    async collection(name, signal) {
      const { status, result } = await http.call<CollectionInfo>({
        method: "GET",
        path: `/collections/${seg(name)}`,
        signal,
        accept: [404],
      });
      return status === 404 ? undefined : result;
    },
    async count(name, signal) {
      const { result } = await http.call<{ count: number }>({
        method: "POST",
        path: `/collections/${seg(name)}/points/count`,
        json: { exact: true },
        signal,
      });
      return Number(result?.count ?? 0);
    },
    async createSnapshot(collection, signal) {
      const { result } = await http.call<SnapshotDescription>({
        method: "POST",
        path: `/collections/${seg(collection)}/snapshots`,
        query: { wait: "true" },
        signal,
        long: true,
      });
      if (!result?.name) throw new Error(`creating a snapshot of "${collection}" returned no snapshot description`);
      return result;
    },
    async deleteSnapshot(collection, snapshot, signal) {
      await http.call({
        method: "DELETE",
        path: `/collections/${seg(collection)}/snapshots/${seg(snapshot)}`,
        query: { wait: "true" },
        signal,
      });
    },
    async deleteCollection(collection, signal) {
      await http.call({ method: "DELETE", path: `/collections/${seg(collection)}`, signal });
    },
  };
}

/**
 * The same calls through a user's `QdrantClient` (its own timeouts and headers apply). Its
 * errors carry `status` and Qdrant's error body; they are mapped like ours.
 */
export function clientApi(client: QdrantClient, where: string): QdrantApi {
  const run = async <T>(what: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> => {
    signal.throwIfAborted();
    try {
      return await fn();
    } catch (err) {
      const e = err as { status?: number; data?: { status?: { error?: string } } };
      if (typeof e?.status === "number") {
        const text = e.data?.status?.error ?? "";
        throw toStrongbox(
          new HttpStatusError(
            e.status,
            text,
            `${what} on ${where} answered HTTP ${e.status}${text ? `: ${text}` : ""}`,
          ),
          what,
          where,
          signal,
        );
      }
      throw toStrongbox(err, what, where, signal);
    }
  };
  return {
    version: (signal) => run("GET /", signal, async () => String((await client.versionInfo()).version ?? "")),
    listCollections: (signal) =>
      run("GET /collections", signal, async () => (await client.getCollections()).collections.map((c) => c.name)),
    collection: (name, signal) =>
      run(`GET /collections/${name}`, signal, async () => {
        if (!(await client.collectionExists(name)).exists) return undefined;
        return (await client.getCollection(name)) as CollectionInfo;
      }),
    count: (name, signal) =>
      run(
        `POST /collections/${name}/points/count`,
        signal,
        async () => (await client.count(name, { exact: true })).count,
      ),
    createSnapshot: (collection, signal) =>
      run(`POST /collections/${collection}/snapshots`, signal, async () => {
        const d = await client.createSnapshot(collection, { wait: true });
        if (!d?.name) throw new Error(`creating a snapshot of "${collection}" returned no snapshot description`);
        return d as SnapshotDescription;
      }),
    deleteSnapshot: (collection, snapshot, signal) =>
      run(`DELETE /collections/${collection}/snapshots/${snapshot}`, signal, async () => {
        await client.deleteSnapshot(collection, snapshot, { wait: true });
      }),
    deleteCollection: (collection, signal) =>
      run(`DELETE /collections/${collection}`, signal, async () => {
        await client.deleteCollection(collection);
      }),
  };
}
