import { lstat } from "node:fs/promises";
import { newWalkCounters, type WalkOptions, walk } from "./walk.js";

export interface TreeCount {
  exists: boolean;
  files: number;
  bytes: number;
  /** The first `sampleSize` file paths (relative), for reports. */
  sample: string[];
}

/** Counts regular files and their bytes under `root` (a file or a directory), as a backup would. */
export async function countTree(root: string, options: WalkOptions & { sampleSize?: number } = {}): Promise<TreeCount> {
  const result: TreeCount = { exists: false, files: 0, bytes: 0, sample: [] };
  if (!(await lstat(root).catch(() => undefined))) return result;
  result.exists = true;
  const limit = options.sampleSize ?? 0;
  for await (const item of walk(root, options, newWalkCounters())) {
    if (item.type !== "file") continue;
    result.files++;
    result.bytes += item.stats.size;
    if (result.sample.length < limit) result.sample.push(item.rel);
  }
  return result;
}
