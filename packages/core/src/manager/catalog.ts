import type { Storage } from "../contracts/storage.js";
import { isStrongboxError, StrongboxError, wrapError } from "../errors.js";
import { parseManifest } from "../manifest/codec.js";
import { assertBackupId, idTime, isBackupId, manifestKey } from "../manifest/layout.js";
import { type BackupManifest, type BackupSummary, MANIFEST_FILE } from "../manifest/types.js";
import type { ManagerState } from "./state.js";

/**
 * Builds backup summaries from ONE key listing of a storage — no manifest is read. Keys that do
 * not look like Strongbox's layout (foreign files under the same prefix) are ignored.
 */
export async function listStorage(storage: Storage, index: number, signal?: AbortSignal): Promise<BackupSummary[]> {
  const byId = new Map<string, BackupSummary>();
  try {
    for await (const obj of storage.list("", { signal })) {
      const slash = obj.key.indexOf("/");
      if (slash < 0) continue;
      const id = obj.key.slice(0, slash);
      if (!isBackupId(id)) continue;
      let s = byId.get(id);
      if (!s) {
        s = { id, time: idTime(id), complete: false, size: 0, components: [], tags: [], pinned: false, storages: [] };
        byId.set(id, s);
      }
      s.size += obj.size;
      const rest = obj.key.slice(slash + 1);
      const [first, second] = rest.split("/");
      if (rest === MANIFEST_FILE) {
        s.complete = true;
        s.storages = [index];
      } else if (rest === "pinned") s.pinned = true;
      else if (first === "tags" && second) s.tags.push(decodeURIComponent(second));
      else if (first && second && !s.components.includes(first)) s.components.push(first);
    }
  } catch (err) {
    throw wrapError(err, "E_STORAGE", storage.type, `listing ${storage.location}`);
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? 1 : -1));
}

export interface ListOptions {
  /** Include backups without a manifest (in progress, or failed and not yet cleaned). @default false */
  includeIncomplete?: boolean;
  /** Only list this storage (index in the manager's `storage` array). */
  storage?: number;
  signal?: AbortSignal;
}

/** Union of every storage's summaries, newest first. */
export async function listBackups(state: ManagerState, options: ListOptions = {}): Promise<BackupSummary[]> {
  const indexes =
    options.storage === undefined ? state.storages.map((_, i) => i) : [storageIndex(state, options.storage)];
  const merged = new Map<string, BackupSummary>();
  for (const i of indexes) {
    for (const s of await listStorage(state.storages[i]!, i, options.signal)) {
      const prev = merged.get(s.id);
      if (!prev) merged.set(s.id, s);
      else if (s.complete) {
        if (!prev.complete) merged.set(s.id, { ...s, storages: [...prev.storages, i] });
        else prev.storages.push(i);
      }
    }
  }
  return [...merged.values()]
    .filter((s) => options.includeIncomplete || s.complete)
    .sort((a, b) => (a.id < b.id ? 1 : -1));
}

export function storageIndex(state: ManagerState, index: number): number {
  if (!Number.isInteger(index) || index < 0 || index >= state.storages.length) {
    throw new StrongboxError("E_CONFIG", `storage index ${index} is out of range (0–${state.storages.length - 1})`);
  }
  return index;
}

/** Reads and validates one manifest. E_NOT_FOUND when the backup is missing or incomplete. */
export async function readManifest(storage: Storage, id: string, signal?: AbortSignal): Promise<BackupManifest> {
  let stream: NodeJS.ReadableStream;
  try {
    stream = await storage.get(manifestKey(id), { signal });
  } catch (err) {
    if (isStrongboxError(err, "E_NOT_FOUND")) {
      throw new StrongboxError(
        "E_NOT_FOUND",
        `backup ${id} not found in ${storage.location} (missing, deleted, or incomplete: it has no manifest)`,
        { cause: err },
      );
    }
    throw wrapError(err, "E_STORAGE", storage.type, `reading the manifest of ${id}`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > 16 * 1024 * 1024) throw new StrongboxError("E_FORMAT", `manifest of ${id} is over 16 MiB; refusing it`);
    chunks.push(chunk);
  }
  return await parseManifest(Buffer.concat(chunks), id);
}

/**
 * Resolves `id` ("latest" or a backup id) to a manifest and the storage that holds it: the first
 * storage (in configuration order, or the one asked for) with a complete copy.
 */
export async function findBackup(
  state: ManagerState,
  id: string,
  options: { storage?: number; signal?: AbortSignal } = {},
): Promise<{ manifest: BackupManifest; storage: Storage; storageIndex: number }> {
  const indexes =
    options.storage === undefined ? state.storages.map((_, i) => i) : [storageIndex(state, options.storage)];
  if (id === "latest") {
    const all = await listBackups(state, { storage: options.storage, signal: options.signal });
    const newest = all[0];
    if (!newest)
      throw new StrongboxError(
        "E_NOT_FOUND",
        `no complete backup in ${indexes.map((i) => state.storages[i]!.location).join(", ")}`,
      );
    id = newest.id;
  }
  assertBackupId(id);
  let lastError: unknown;
  for (const i of indexes) {
    const storage = state.storages[i]!;
    try {
      return { manifest: await readManifest(storage, id, options.signal), storage, storageIndex: i };
    } catch (err) {
      lastError = err;
      if (!isStrongboxError(err, "E_NOT_FOUND")) throw err;
    }
  }
  throw lastError;
}
