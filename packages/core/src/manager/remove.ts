import type { DeleteResult, Storage } from "../contracts/storage.js";
import { wrapError } from "../errors.js";
import { manifestKey } from "../manifest/layout.js";

/**
 * Deletes every object of a backup from one storage. The manifest goes FIRST: if the rest fails
 * half-way, what is left is an incomplete backup (never restorable, collected by prune later),
 * never a "complete" backup with missing artifacts.
 */
export async function deleteBackupObjects(storage: Storage, id: string, signal?: AbortSignal): Promise<DeleteResult> {
  try {
    const skipped: NonNullable<DeleteResult["skipped"]> = [];
    const first = await storage.delete([manifestKey(id)]);
    if (first?.skipped?.length) return { skipped: first.skipped };
    const keys: string[] = [];
    for await (const obj of storage.list(`${id}/`, { signal })) keys.push(obj.key);
    for (let i = 0; i < keys.length; i += 1000) {
      const r = await storage.delete(keys.slice(i, i + 1000));
      if (r?.skipped) skipped.push(...r.skipped);
    }
    return skipped.length ? { skipped } : {};
  } catch (err) {
    throw wrapError(err, "E_STORAGE", storage.type, `deleting backup ${id} from ${storage.location}`);
  }
}
