import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { lstat, mkdir, mkdtemp, readdir, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type ArtifactRecord,
  type ComponentRecord,
  type RestoreContext,
  type Source,
  type SourceStats,
  silentLogger,
} from "@strongbox/core";

export const ctxBase = (signal: AbortSignal = new AbortController().signal) => ({
  signal,
  logger: silentLogger,
  progress() {},
});

export async function scratch(prefix = "sf-test-"): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs `source.backup()` the way the pipeline does: each artifact stored to `outDir/<name>` before the next. */
export async function backupTo(
  source: Source,
  outDir: string,
  target?: Record<string, unknown>,
): Promise<ComponentRecord> {
  await mkdir(outDir, { recursive: true });
  const artifacts: ArtifactRecord[] = [];
  const stats: SourceStats | undefined = await source.inspect?.({ ...ctxBase(), target });
  for await (const a of source.backup({ ...ctxBase(), backupId: "test", target })) {
    const file = join(outDir, a.name);
    await pipeline(a.stream, createWriteStream(file));
    const extra = await a.done?.();
    artifacts.push({
      name: a.name,
      key: a.name,
      size: 0,
      sha256: "",
      plainSize: 0,
      plainSha256: "",
      transforms: [],
      meta: { ...a.meta, ...(extra ?? {}) },
    });
  }
  return { name: source.name, type: source.type, stats, startedAt: new Date().toISOString(), durationMs: 0, artifacts };
}

export function restoreCtx(
  component: ComponentRecord,
  open: (name: string) => Promise<Readable>,
  target: Record<string, unknown> = {},
  signal?: AbortSignal,
  dryRun = false,
): RestoreContext {
  return { ...ctxBase(signal), backupId: "test", component, target, force: false, dryRun, open };
}

export const openFrom = (dir: string) => async (name: string) => createReadStream(join(dir, name));

export interface NodeInfo {
  path: string;
  type: "file" | "dir" | "symlink" | "other";
  mode: number;
  mtime: number;
  size?: number;
  sha256?: string;
  target?: string;
}

async function sha256(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** Native view of a tree: every entry with type, permission bits, mtime (whole seconds), content hash, link target. */
export async function snapshotTree(root: string, opts: { rootMeta?: boolean } = {}): Promise<NodeInfo[]> {
  const out: NodeInfo[] = [];
  const visit = async (dir: string, rel: string) => {
    for (const name of (await readdir(dir)).sort()) {
      const abs = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(abs);
      const base = { path: r, mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000) };
      if (st.isDirectory()) {
        await visit(abs, r);
        out.push({ ...base, type: "dir" });
      } else if (st.isFile()) out.push({ ...base, type: "file", size: st.size, sha256: await sha256(abs) });
      else if (st.isSymbolicLink()) out.push({ ...base, mode: 0, type: "symlink", target: await readlink(abs) });
      else out.push({ ...base, type: "other" });
    }
  };
  await visit(root, "");
  if (opts.rootMeta) {
    const st = await lstat(root);
    out.push({ path: ".", type: "dir", mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000) });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Paths (relative) of everything under `dir`, for "nothing was written here" checks. */
export async function listAll(dir: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (d: string, rel: string) => {
    for (const name of await readdir(d).catch(() => [] as string[])) {
      const r = rel ? `${rel}/${name}` : name;
      out.push(r);
      const st = await lstat(join(d, name));
      if (st.isDirectory()) await visit(join(d, name), r);
    }
  };
  await visit(dir, "");
  return out.sort();
}
