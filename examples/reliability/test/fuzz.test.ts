/**
 * Random bytes fed to every decoder Strongbox runs on stored data: gzip, age, zstd, the Redis
 * framed format reader, tar extraction of the files source, and manifest parsing. A fixed seed
 * (so failures replay) and a time budget per decoder (RELIABILITY_FUZZ_MS, default 1500 ms).
 * Every input must end in success or a StrongboxError — never another error type, a crash, or a
 * hang (each input gets 5 s).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type ComponentRecord,
  encrypt,
  generateIdentity,
  gzip,
  hasNativeZstd,
  isStrongboxError,
  newBackupId,
  parseManifest,
  serializeManifest,
  silentLogger,
  type Transform,
  zstd,
} from "@strongbox/core";
import { files } from "@strongbox/source-files";
import { ArtifactReader } from "@strongbox/source-redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunked, fuzzInput, rng } from "./support/fuzz.js";
import { removeDir, tempDir } from "./support/helpers.js";

const BUDGET_MS = Number(process.env.RELIABILITY_FUZZ_MS ?? 1500);
const SEED = Number(process.env.RELIABILITY_FUZZ_SEED ?? 0x5eed);
const PER_INPUT_MS = 5_000;

async function encodeSample(t: Transform, plain: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from([plain]),
    t.encode(),
    new Writable({
      write: (c, _e, cb) => {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

const sink = () => new Writable({ write: (_c, _e, cb) => cb() });

/**
 * Runs `decode` on fuzz inputs until the budget is spent; returns counts, throws on the first
 * input that produced a non-Strongbox error or hung (with the seed and case number to replay).
 */
async function fuzz(
  name: string,
  sample: Buffer,
  decode: (input: Buffer, next: () => number) => Promise<unknown>,
): Promise<{ cases: number; ok: number; codes: Record<string, number> }> {
  const next = rng(SEED ^ [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7));
  const codes: Record<string, number> = {};
  let cases = 0;
  let ok = 0;
  const end = Date.now() + BUDGET_MS;
  while (Date.now() < end) {
    const input = fuzzInput(next, sample);
    cases++;
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`HANG: case ${cases} did not settle in ${PER_INPUT_MS} ms`)),
        PER_INPUT_MS,
      );
    });
    try {
      await Promise.race([decode(input, next), hang]);
      ok++;
    } catch (err) {
      if (!isStrongboxError(err)) {
        throw new Error(
          `${name}: case ${cases} (seed ${SEED}) ended with a ${(err as Error)?.constructor?.name}: ${String((err as Error)?.stack ?? err)}\ninput (base64, ${input.length} bytes): ${input.subarray(0, 512).toString("base64")}`,
        );
      }
      codes[err.code] = (codes[err.code] ?? 0) + 1;
    } finally {
      clearTimeout(timer);
    }
  }
  console.info(`[fuzz] ${name}: ${cases} inputs in ${BUDGET_MS} ms — ${ok} decoded, errors ${JSON.stringify(codes)}`);
  return { cases, ok, codes };
}

const plain = Buffer.from(
  Array.from({ length: 400 }, (_, i) => `line ${i}: the quick brown fox ${i * 7919}\n`).join(""),
);

describe(`fuzzing every decoder (seed ${SEED}, ${BUDGET_MS} ms each)`, () => {
  let root: string;
  beforeAll(async () => {
    root = await tempDir("fuzz");
  });
  afterAll(() => removeDir(root));

  it("gzip", async () => {
    const t = gzip();
    const sample = await encodeSample(t, plain);
    const r = await fuzz("gzip", sample, (input, next) =>
      pipeline(chunked(next, input), t.decode(t.describe()), sink()),
    );
    expect(r.cases).toBeGreaterThan(50);
  });

  it("age (X25519 identity)", async () => {
    const { identity, recipient } = generateIdentity();
    const enc = encrypt({ recipients: [recipient], identities: [identity] });
    const sample = await encodeSample(enc, plain);
    const r = await fuzz("age", sample, (input, next) =>
      pipeline(chunked(next, input), enc.decode(enc.describe()), sink()),
    );
    expect(r.cases).toBeGreaterThan(10);
    // Authenticated encryption: a mutated file must never decode.
    expect(r.ok).toBe(0);
  });

  it.skipIf(!hasNativeZstd())("zstd", async () => {
    const t = zstd();
    const sample = await encodeSample(t, plain);
    const r = await fuzz("zstd", sample, (input, next) =>
      pipeline(chunked(next, input), t.decode(t.describe()), sink()),
    );
    expect(r.cases).toBeGreaterThan(50);
  });

  it("the Redis framed format reader (.sbrd)", async () => {
    const { startRedis } = await import("../../../packages/source-redis/test/helpers/servers.js");
    const { redis } = await import("@strongbox/source-redis");
    // A real artifact from a real server as the mutation sample.
    const server = await startRedis();
    let sample: Buffer;
    try {
      const c = server.client();
      await c.mset({ a: "1", b: "two", c: "three" });
      await c.hset("h", { x: "1" });
      c.disconnect();
      const source = redis({ url: server.url });
      const parts: Buffer[] = [];
      for await (const a of source.backup({
        signal: new AbortController().signal,
        logger: silentLogger,
        progress() {},
        backupId: "x",
      })) {
        for await (const chunk of a.stream) parts.push(chunk as Buffer);
        await a.done?.();
      }
      await source.close?.();
      sample = Buffer.concat(parts);
    } finally {
      await server.stop();
    }
    const r = await fuzz("redis reader", sample, async (input, next) => {
      const reader = new ArtifactReader(chunked(next, input));
      try {
        await reader.readHeader();
        for await (const _ of reader.records()) {
          // consume
        }
      } finally {
        await reader.close();
      }
    });
    expect(r.cases).toBeGreaterThan(50);
  });

  it("tar extraction (files source restore)", async () => {
    // A real files-source artifact as the sample.
    const srcDir = await mkdtemp(join(root, "src-"));
    const { writeFile, mkdir } = await import("node:fs/promises");
    await mkdir(join(srcDir, "sub"));
    await writeFile(join(srcDir, "a.txt"), "alpha");
    await writeFile(join(srcDir, "sub/b.txt"), plain);
    const source = files({ name: "f", paths: [srcDir] });
    const parts: Buffer[] = [];
    let meta: Record<string, unknown> = {};
    for await (const a of source.backup({
      signal: new AbortController().signal,
      logger: silentLogger,
      progress() {},
      backupId: "x",
    })) {
      for await (const chunk of a.stream) parts.push(chunk as Buffer);
      await a.done?.();
      meta = a.meta ?? {};
    }
    const sample = Buffer.concat(parts);
    const r = await fuzz("tar extraction", sample, async (input, next) => {
      const dest = await mkdtemp(join(tmpdir(), "sb-rel-fuzz-dest-"));
      const component: ComponentRecord = {
        name: "f",
        type: "files",
        startedAt: new Date().toISOString(),
        durationMs: 0,
        artifacts: [
          { name: "src.tar", key: "k", size: 0, sha256: "", plainSize: 0, plainSha256: "", transforms: [], meta },
        ],
      };
      try {
        await source.restore({
          signal: new AbortController().signal,
          logger: silentLogger,
          progress() {},
          backupId: "x",
          component,
          target: { directory: join(dest, "out") },
          force: true,
          dryRun: false,
          open: async () => chunked(next, input),
        });
      } finally {
        await rm(dest, { recursive: true, force: true });
      }
    });
    expect(r.cases).toBeGreaterThan(20);
  });

  it("manifest parsing", async () => {
    const id = newBackupId();
    const sample = serializeManifest({
      format: "strongbox/1",
      id,
      status: "completed",
      startedAt: new Date().toISOString(),
      completedAt: new Date().toISOString(),
      durationMs: 12,
      tags: ["daily"],
      host: "h",
      tool: { name: "strongbox", version: "0.1.0" },
      components: [
        {
          name: "site",
          type: "files",
          startedAt: new Date().toISOString(),
          durationMs: 3,
          artifacts: [
            {
              name: "a.tar",
              key: `${id}/site/a.tar.gz`,
              size: 10,
              sha256: "0".repeat(64),
              plainSize: 20,
              plainSha256: "1".repeat(64),
              transforms: [{ id: "gzip", level: 6 }],
            },
          ],
        },
      ],
    });
    expect((await parseManifest(sample, id)).id).toBe(id);
    const r = await fuzz("manifest", sample, async (input) => parseManifest(input, id));
    expect(r.cases).toBeGreaterThan(100);
  });
});
