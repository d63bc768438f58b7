import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { gunzipSync, gzipSync } from "node:zlib";
import { gzip, StrongboxError } from "@strongbox/core";
import { transformSuite } from "@strongbox/testkit";
import { describe, expect, it } from "vitest";
import { END_MEMBER } from "../src/transforms/parallel/gzip-blocks.js";
import { OrderedBlocks } from "../src/transforms/parallel/ordered-blocks.js";
import { chunks, run } from "./fixtures/streams.js";

// The default on a multi-core machine is already parallel; these pin it so the file tests the
// parallel path everywhere (a one-core CI runner included).
// 80 000-byte blocks: small enough for many members in the suite's payloads, and not a divisor
// of them, so its "flip the middle byte" test lands in deflate data rather than on the padding
// bits of a stored block's header, which gzip (any gzip) does not protect.
transformSuite(
  "gzip (parallel, 4 threads, 80 000-byte blocks)",
  () => ({
    encoder: gzip({ threads: 4, blockSize: 80_000 }),
    externalDecode: ["gunzip", "-c"],
  }),
  { largeBytes: 16 * 1024 * 1024 },
);

/** Dump-like text: compressible, but every line different. */
function text(bytes: number): Buffer {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `${i}\tuser${i % 977}@example.com\t${(i * 7919) % 100_003}\t2024-01-01 00:00:${i % 60}\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join("")).subarray(0, bytes);
}

describe("gzip({ threads })", () => {
  it("validates threads and blockSize, and describes itself as plain gzip", () => {
    expect(gzip({ threads: 3 }).describe()).toEqual({ id: "gzip", level: 6 });
    expect(gzip({ threads: 1, level: 1 }).describe()).toEqual({ id: "gzip", level: 1 });
    for (const threads of [0, -1, 1.5, 2000]) {
      expect(() => gzip({ threads }), String(threads)).toThrow(/"threads" must be an integer from 1 to 1024/);
    }
    for (const blockSize of [1000, 65_535, 2 ** 30, 1.5]) {
      expect(() => gzip({ blockSize }), String(blockSize)).toThrow(/"blockSize" must be an integer/);
    }
  });

  it("writes one member per block, in input order, identical to compressing each block alone", async () => {
    const data = text(1_000_000);
    const blockSize = 64 * 1024;
    // Odd write sizes so that blocks are cut across writes.
    const out = await run(chunks(data, 10_007), gzip({ threads: 4, blockSize, level: 6 }).encode());
    const expected: Buffer[] = [];
    for (let i = 0; i < data.length; i += blockSize)
      expected.push(gzipSync(data.subarray(i, i + blockSize), { level: 6 }));
    // The first member announces the end member (FEXTRA "SB" = "m"), which closes the stream.
    const first = expected[0]!;
    const marked = Buffer.concat([
      Buffer.from([0x1f, 0x8b, 0x08, 0x04]),
      first.subarray(4, 10),
      Buffer.from([5, 0, 0x53, 0x42, 1, 0, 0x6d]),
      first.subarray(10),
    ]);
    expect(out.equals(Buffer.concat([marked, ...expected.slice(1), END_MEMBER])), "members in input order").toBe(true);
    // GNU gunzip reads the multi-member stream as one.
    expect(execFileSync("gunzip", ["-c"], { input: out, maxBuffer: 64 << 20 }).equals(data)).toBe(true);
    expect(gunzipSync(out).equals(data)).toBe(true);
    // And round-trips through our own decoder.
    const back = await run(chunks(out, 4096), gzip().decode({ id: "gzip", level: 6 }));
    expect(back.equals(data)).toBe(true);
  });

  it("detects a cut between two members (E_TRUNCATED), which gunzip alone cannot", async () => {
    const data = text(256 * 1024);
    const out = await run(chunks(data, 65_536), gzip({ threads: 2, blockSize: 64 * 1024 }).encode());
    // zlib is deterministic: the first two members are those blocks compressed alone (+ the
    // 7-byte FEXTRA field of the first), so this cut is exactly on a member boundary.
    const boundary =
      7 +
      gzipSync(data.subarray(0, 65_536), { level: 6 }).length +
      gzipSync(data.subarray(65_536, 131_072), { level: 6 }).length;
    const cut = out.subarray(0, boundary);
    const gnu = execFileSync("gunzip", ["-c"], { input: cut, maxBuffer: 64 << 20 });
    expect(gnu.equals(data.subarray(0, 128 * 1024)), "a valid gzip stream for gunzip").toBe(true);
    const err = await run(chunks(cut, 10_000), gzip().decode({ id: "gzip", level: 6 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StrongboxError);
    expect((err as StrongboxError).code).toBe("E_TRUNCATED");
    expect((err as StrongboxError).message).toMatch(/end member is missing/);
    // Without the end member only.
    const noEnd = out.subarray(0, out.length - END_MEMBER.length);
    const err2 = await run(chunks(noEnd, 777), gzip().decode({ id: "gzip" })).catch((e: unknown) => e);
    expect((err2 as StrongboxError).code).toBe("E_TRUNCATED");
  });

  it("keeps order when later blocks finish first", async () => {
    // Block i takes (n - i) ms: the last submitted finishes first.
    const delays = [40, 30, 20, 10, 0];
    let index = 0;
    const stage = new OrderedBlocks({
      blockSize: 4,
      inFlight: 5,
      encodeEmpty: false,
      work: async (block) => {
        const delay = delays[index++ % delays.length]!;
        await new Promise((resolve) => setTimeout(resolve, delay));
        return Buffer.from(`[${block.toString()}]`);
      },
    });
    const out = await run(Readable.from([Buffer.from("aaaabbbbccccddddeeeeff")]), stage);
    expect(out.toString()).toBe("[aaaa][bbbb][cccc][dddd][eeee][ff]");
  });

  it("writes a valid empty gzip for empty input, and threads: 1 writes a single member", async () => {
    const empty = await run(Readable.from([]), gzip({ threads: 4 }).encode());
    expect(empty.length).toBeGreaterThan(0);
    expect(execFileSync("gunzip", ["-c"], { input: empty }).length).toBe(0);
    const data = text(300_000);
    const single = await run(chunks(data, 65_536), gzip({ threads: 1, blockSize: 64 * 1024 }).encode());
    // One member: the gzip magic appears once at a member start (zlib's header is 1f8b0800…).
    const starts = single.toString("latin1").split("\x1f\x8b\x08\x00").length - 1;
    expect(starts).toBe(1);
    expect(gunzipSync(single).equals(data)).toBe(true);
  });

  it("holds a bounded number of blocks: a stalled reader stops the writer", async () => {
    const blockSize = 256 * 1024;
    const threads = 3;
    const stage = gzip({ threads, blockSize, level: 1 }).encode();
    let written = 0;
    const source = new Readable({
      read() {
        const chunk = randomBytes(64 * 1024);
        written += chunk.length;
        this.push(chunk);
      },
    });
    source.pipe(stage);
    // Nobody reads the output: wait until the writer has not moved for 200 ms.
    let last = -1;
    for (let i = 0; i < 40 && written !== last; i++) {
      last = written;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(written, "the writer stopped").toBe(last);
    // In flight + the block being filled + the streams' 64 KiB buffers (random data does not shrink).
    expect(written).toBeLessThan((threads + 2) * blockSize + 6 * 64 * 1024);
    source.unpipe(stage);
    source.destroy();
    stage.destroy();
  });

  it("maps an abort to E_ABORTED and emits nothing afterwards", async () => {
    const controller = new AbortController();
    const endless = new Readable({
      read() {
        this.push(randomBytes(65_536));
      },
    });
    const stage = gzip({ threads: 2, blockSize: 64 * 1024 }).encode();
    let after = 0;
    let aborted = false;
    const done = pipeline(
      endless,
      stage,
      new Writable({
        write: (chunk: Buffer, _e, cb) => {
          if (aborted) after += chunk.length;
          cb();
        },
      }),
      { signal: controller.signal },
    );
    setTimeout(() => {
      aborted = true;
      controller.abort();
    }, 50);
    await done.catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stage.errored).toBeInstanceOf(StrongboxError);
    expect((stage.errored as StrongboxError).code).toBe("E_ABORTED");
    expect(after).toBe(0);
  });

  it("passes an upstream error through unchanged and fails on a block that cannot be encoded", async () => {
    const upstream = new StrongboxError("E_SOURCE", "pg_dump exited 1", { adapter: "postgres" });
    let sent = 0;
    const source = new Readable({
      read() {
        if (sent++ < 40) this.push(randomBytes(65_536));
        else this.destroy(upstream);
      },
    });
    const err = await run(source, gzip({ threads: 2, blockSize: 64 * 1024 }).encode()).catch((e: unknown) => e);
    expect(err).toBe(upstream);

    const failing = new OrderedBlocks({
      blockSize: 4,
      inFlight: 2,
      encodeEmpty: false,
      work: async (block) => {
        if (block.toString() === "bbbb") throw new Error("boom");
        return block;
      },
      mapError: (e) => new StrongboxError("E_FORMAT", `mapped: ${e.message}`, { adapter: "gzip" }),
    });
    const failed = await run(Readable.from([Buffer.from("aaaabbbbcccc")]), failing).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(StrongboxError);
    expect((failed as StrongboxError).message).toMatch(/mapped: boom/);
  });
});
