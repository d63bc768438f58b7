import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { StrongboxError } from "../src/errors.js";
import { gzip } from "../src/transforms/gzip.js";
import { chunks, failure, run } from "./fixtures/streams.js";

const encode = (data: Buffer, level?: number) =>
  run(chunks(data, 10_000), gzip(level === undefined ? {} : { level }).encode());
const decode = (data: Buffer, size = 10_000) => run(chunks(data, size), gzip().decode({ id: "gzip", level: 6 }));

describe("gzip()", () => {
  it("describes itself without secrets and validates the level", () => {
    const t = gzip();
    expect(t.id).toBe("gzip");
    expect(t.extension).toBe(".gz");
    expect(t.describe()).toEqual({ id: "gzip", level: 6 });
    expect(gzip({ level: 1 }).describe()).toEqual({ id: "gzip", level: 1 });
    for (const level of [-1, 10, 1.5, Number.NaN]) {
      expect(() => gzip({ level }), String(level)).toThrow(/"level" must be an integer from 0 to 9/);
    }
  });

  it("writes standard gzip at the requested level", async () => {
    const text = Buffer.from("a fairly compressible line of a database dump, row 42\n".repeat(20_000));
    const fast = await encode(text, 1);
    const best = await encode(text, 9);
    const stored = await encode(text, 0);
    expect(gunzipSync(fast).equals(text)).toBe(true);
    expect(gunzipSync(best).equals(text)).toBe(true);
    expect(best.length).toBeLessThan(fast.length);
    expect(stored.length).toBeGreaterThan(text.length);
    expect(fast.subarray(0, 2).toString("hex")).toBe("1f8b");
  });

  it("decodes multi-member input fully, across chunk boundaries (gunzip semantics)", async () => {
    const parts = [randomBytes(100_000), Buffer.alloc(0), Buffer.from("third member\n".repeat(1000))];
    const members = await Promise.all(parts.map((p) => encode(p)));
    const joined = Buffer.concat(members);
    const want = Buffer.concat(parts);
    for (const size of [13, 65_536, joined.length]) {
      expect((await decode(joined, size)).equals(want), `chunk size ${size}`).toBe(true);
    }
    const small = Buffer.concat([await encode(Buffer.from("one")), await encode(Buffer.from("two"))]);
    expect((await decode(small, 1)).toString(), "byte-at-a-time across the member boundary").toBe("onetwo");
    // Members from another compressor (zlib one-shot, GNU gzip with a file name header) too.
    const foreign = Buffer.concat([
      gzipSync(Buffer.from("zlib ")),
      execFileSync("gzip", ["-c", "-n", "-9"], { input: "gnu gzip" }),
    ]);
    expect((await decode(foreign)).toString()).toBe("zlib gnu gzip");
  });

  it("classifies damaged input: E_TRUNCATED, E_FORMAT, E_INTEGRITY", async () => {
    const data = randomBytes(200_000);
    const good = await encode(data);

    const truncated = await failure(decode(good.subarray(0, good.length - 100)));
    expect(truncated.code).toBe("E_TRUNCATED");
    expect(truncated.message).toMatch(/^\[strongbox\] \[gzip\] decode failed: the gzip data ends early/);
    expect((await failure(decode(Buffer.alloc(0)))).code).toBe("E_TRUNCATED");

    const notGzip = await failure(decode(Buffer.from("PGDMP custom dump, not gzip")));
    expect(notGzip.code).toBe("E_FORMAT");
    expect(notGzip.message).toContain("starts with 5047");

    const crc = Buffer.from(good);
    crc[crc.length - 6]! ^= 0xff;
    expect((await failure(decode(crc))).code).toBe("E_INTEGRITY");

    const body = Buffer.from(good);
    body[Math.floor(body.length / 2)]! ^= 0x01;
    expect((await failure(decode(body))).code).toBe("E_INTEGRITY");

    const method = Buffer.from(good);
    method[2] = 0x07;
    expect((await failure(decode(method))).code).toBe("E_INTEGRITY");

    const trailing = await failure(decode(Buffer.concat([good, Buffer.from("junk after the end")])));
    expect(trailing.code).toBe("E_INTEGRITY");
    expect(trailing.message).toMatch(/trailing data/);
  });

  it("refuses a record of another transform", () => {
    expect(() => gzip().decode({ id: "age" })).toThrow(/cannot decode a "age" record/);
  });

  it("passes upstream errors through unchanged instead of blaming gzip", async () => {
    const upstream = new StrongboxError("E_SOURCE", "pg_dump exited 1", { adapter: "postgres" });
    const source = new Readable({
      read() {
        this.destroy(upstream);
      },
    });
    expect(await failure(run(source, gzip().encode()))).toBe(upstream);

    const plain = new Error("disk read failed");
    const err = await run(
      new Readable({
        read() {
          this.destroy(plain);
        },
      }),
      gzip().decode({ id: "gzip" }),
    ).catch((e: unknown) => e);
    expect(err).toBe(plain);
  });

  it("maps an abort to E_ABORTED", async () => {
    const controller = new AbortController();
    const endless = new Readable({
      read() {
        this.push(randomBytes(65_536));
      },
    });
    const stage = gzip().encode();
    const done = pipeline(endless, stage, new Writable({ write: (_c, _e, cb) => cb() }), { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await done.catch(() => {});
    // pipeline rejects with its own AbortError; the stage a consumer holds reports E_ABORTED.
    expect(stage.errored).toBeInstanceOf(StrongboxError);
    expect((stage.errored as StrongboxError).code).toBe("E_ABORTED");
  });
});
