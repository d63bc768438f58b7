import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { isStrongboxError, type Source, StrongboxError, type StrongboxErrorCode } from "@strongbox/core";
import { expect } from "vitest";

/** A fresh temp directory; remove it with `rm(dir, { recursive: true, force: true })`. */
export function tempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `sb-rel-${label}-`));
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}

export const sha256 = (b: Buffer | string): string => createHash("sha256").update(b).digest("hex");

/** Awaits `p`, expects it to reject with a StrongboxError of `code`, and returns the error. */
export async function expectCode(p: Promise<unknown>, code: StrongboxErrorCode): Promise<StrongboxError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught, "expected a rejection").toBeDefined();
  if (!isStrongboxError(caught)) throw new Error(`expected a StrongboxError ${code}, got: ${String(caught)}`);
  expect(caught.code, caught.message).toBe(code);
  expect(caught.message.startsWith("[strongbox] [")).toBe(true);
  return caught;
}

/** Every file under `dir` (relative path → contents' sha256), the native view of a directory. */
export async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(d: string, rel: string): Promise<void> {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      const r = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        out[`${r}/`] = "dir";
        await walk(path, r);
      } else out[r] = sha256(await readFile(path));
    }
  }
  await walk(dir, "");
  return out;
}

/** Every file and directory under `dir` with its permission bits. */
export async function modesUnder(dir: string): Promise<Array<{ path: string; dir: boolean; mode: number }>> {
  const out: Array<{ path: string; dir: boolean; mode: number }> = [];
  async function walk(d: string): Promise<void> {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      const mode = (await stat(path)).mode & 0o7777;
      out.push({ path, dir: entry.isDirectory(), mode });
      if (entry.isDirectory()) await walk(path);
    }
  }
  await walk(dir);
  return out;
}

/**
 * A tiny in-memory source: backs up `data()` as one artifact and restores into `restored`,
 * consuming the stream to its end before committing (so it is atomic, like a transaction).
 * Used where the point is the manager and storage, not a database.
 */
export function memorySource(name: string, data: () => Buffer | Readable): Source & { restored: Buffer | undefined } {
  const source = {
    name,
    type: "memory",
    capabilities: { atomicRestore: true, safetyBackup: false },
    restored: undefined as Buffer | undefined,
    async *backup() {
      const d = data();
      yield { name: "data.bin", stream: Buffer.isBuffer(d) ? Readable.from([d]) : d };
    },
    async restore(ctx: Parameters<Source["restore"]>[0]) {
      const parts: Buffer[] = [];
      for await (const chunk of await ctx.open("data.bin")) parts.push(chunk as Buffer);
      source.restored = Buffer.concat(parts);
      return {};
    },
  };
  return source;
}

/** Polls `cond` every `ms` until it holds or `timeout` passes. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeout = 10_000, ms = 20): Promise<void> {
  const end = Date.now() + timeout;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, ms));
  }
}

export { StrongboxError };
