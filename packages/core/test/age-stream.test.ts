/**
 * encrypt(): streaming behaviour — bounded memory on a large artifact, backpressure, abort, and
 * the age CLI reading a multi-megabyte stream of ours.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { encrypt, generateIdentity } from "../src/transforms/age/index.js";

const haveAge = spawnSync("age", ["--version"]).status === 0;
if (!haveAge) console.warn("age CLI streaming test skipped: `age` not on PATH (apt-get install -y age)");

const MiB = 1024 * 1024;

/**
 * V8 frees the 64 KiB output buffers lazily (external memory triggers a GC only after tens of MB),
 * so raw RSS mixes garbage with what the streams hold. Collecting every 8 MiB during the run makes
 * the figure measure retention: a stream that buffered its input would still show hundreds of MB.
 */
function exposeGc(): (() => void) | undefined {
  try {
    setFlagsFromString("--expose-gc");
    return runInNewContext("gc") as () => void;
  } catch {
    return undefined;
  }
}
const gc = exposeGc();
const me = generateIdentity();
const t = encrypt({ recipients: [me.recipient], identities: [me.identity] });

/**
 * Random data without holding it all: a few random blocks yielded in turn. Blocks are never
 * mutated after being yielded (the encoder may still hold views of them) and not copied, so the
 * memory figures below measure the transform rather than the test's own garbage.
 */
const BLOCKS = Array.from({ length: 7 }, () => randomBytes(256 * 1024));
function* source(total: number) {
  for (let i = 0, sent = 0; sent < total; i++) {
    const block = BLOCKS[i % BLOCKS.length]!;
    const piece = total - sent >= block.length ? block : block.subarray(0, total - sent);
    sent += piece.length;
    yield piece;
  }
}

describe("streaming", () => {
  it("200 MB round trip through encode → decode with bounded memory", async () => {
    const total = 200 * MiB;
    const inHash = createHash("sha256");
    const outHash = createHash("sha256");
    let outBytes = 0;
    gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const started = performance.now();
    try {
      await pipeline(
        Readable.from(source(total)),
        new PassThrough({
          transform(chunk: Buffer, _e, cb) {
            inHash.update(chunk);
            cb(null, chunk);
          },
        }),
        t.encode(),
        t.decode(t.describe()),
        new Writable({
          write(chunk: Buffer, _e, cb) {
            outHash.update(chunk);
            outBytes += chunk.length;
            if (outBytes % (8 * MiB) < chunk.length) {
              peak = Math.max(peak, process.memoryUsage().rss);
              gc?.();
            }
            cb();
          },
        }),
      );
    } finally {
      clearInterval(timer);
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `age 200 MiB encode+decode in one process: ${seconds.toFixed(2)} s (${(total / MiB / seconds).toFixed(0)} MiB/s through both), RSS growth ${((peak - base) / MiB).toFixed(1)} MiB${gc ? " (GC every 8 MiB)" : ""}`,
    );
    expect(outBytes).toBe(total);
    expect(outHash.digest("hex")).toBe(inHash.digest("hex"));
    expect(peak - base).toBeLessThan(100 * MiB);
  }, 60_000);

  it("respects backpressure: a stalled consumer stops the producer", async () => {
    const plain = randomBytes(64 * 1024);
    const sealed: Buffer[] = [];
    await pipeline(Readable.from(source(8 * MiB)), t.encode(), async (src: AsyncIterable<Buffer>) => {
      for await (const c of src) sealed.push(c);
    });
    const cipherText = Buffer.concat(sealed);
    for (const [stream, next] of [
      [t.encode(), () => plain],
      [t.decode({ id: "age" }), (i: number) => cipherText.subarray(i * 65536, (i + 1) * 65536)],
    ] as const) {
      // Nobody reads the output: write() must soon say stop, long before 8 MiB went in.
      let ok = true;
      let writes = 0;
      while (ok && writes < 120) {
        ok = stream.write(next(writes));
        writes++;
        await new Promise((r) => setImmediate(r));
      }
      expect(ok).toBe(false);
      expect(writes * 64 * 1024).toBeLessThan(1 * MiB);
      stream.destroy();
    }
  });

  it("abort: pipeline rejects promptly and nothing hangs", async () => {
    const controller = new AbortController();
    let written = 0;
    const done = pipeline(
      Readable.from(source(1024 * MiB)),
      t.encode(),
      t.decode({ id: "age" }),
      new Writable({
        write(chunk: Buffer, _e, cb) {
          written += chunk.length;
          if (written > 8 * MiB) controller.abort();
          cb();
        },
      }),
      { signal: controller.signal },
    );
    await expect(done).rejects.toMatchObject({ name: "AbortError" });
    expect(written).toBeLessThan(64 * MiB);
  });

  it.skipIf(!haveAge)("age -d reads a 24 MiB stream of ours from a pipe", async () => {
    const dir = mkdtempSync(join(tmpdir(), "strongbox-age-stream-"));
    try {
      const keyFile = join(dir, "key.txt");
      writeFileSync(keyFile, `${me.identity}\n`);
      const total = 24 * MiB + 123;
      const inHash = createHash("sha256");
      const child = spawn("age", ["-d", "-i", keyFile], { stdio: ["pipe", "pipe", "inherit"] });
      const outHash = createHash("sha256");
      child.stdout.on("data", (c: Buffer) => outHash.update(c));
      const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
      await pipeline(
        Readable.from(source(total)),
        new PassThrough({
          transform(chunk: Buffer, _e, cb) {
            inHash.update(chunk);
            cb(null, chunk);
          },
        }),
        t.encode(),
        child.stdin,
      );
      expect(await exited).toBe(0);
      expect(outHash.digest("hex")).toBe(inHash.digest("hex"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
