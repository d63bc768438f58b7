/**
 * `transformSuite()` — every promise of the `Transform` contract (packages/core/src/contracts/transform.ts)
 * as vitest tests: exact round trips at the sizes that break block logic, bounded memory,
 * backpressure, damaged input rejected with the right code, and a standard tool that reads our output.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { type Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Transform, TransformRecord } from "@strongbox/core";
import { formatBytes } from "@strongbox/core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  chunked,
  expectStrongboxError,
  firstDifference,
  generatedStream,
  skipWithReason,
  watchRss,
} from "./helpers.js";
import type { TransformFixture, TransformSuiteOptions } from "./types.js";

const KiB = 1024;
const MiB = 1024 * KiB;
/** RSS growth allowed while a large payload flows through encode → decode. */
const MAX_RSS_GROWTH = 150 * MiB;
/** Bytes a producer may run ahead of a consumer that stopped reading, through encode + decode. */
const MAX_RUN_AHEAD = 4 * MiB;
/** Parameter names that must never carry a string value in a manifest record. */
const SECRET_NAMES = /secret|password|passphrase|private|identit|token|apikey|api_key|credential/i;

/**
 * Registers the transform conformance tests.
 *
 * @param name shown in the test report: `transformSuite: <name>`.
 * @param factory builds the fixture once: `encoder`, optional `decoder` and `externalDecode`.
 */
export function transformSuite(
  name: string,
  factory: () => TransformFixture | Promise<TransformFixture>,
  options: TransformSuiteOptions = {},
): void {
  const largeBytes = options.largeBytes ?? 64 * MiB;
  const timeout = options.timeoutMs ?? 300_000;

  describe(`transformSuite: ${name}`, () => {
    let fixture: TransformFixture | undefined;
    const encoder = (): Transform => {
      if (!fixture)
        throw new Error(`transformSuite(${name}): the factory did not produce a fixture (see the beforeAll error)`);
      return fixture.encoder;
    };
    const decoder = (): Transform => fixture?.decoder ?? encoder();
    const roundTrip = async (data: Buffer, chunk = 16 * KiB): Promise<Buffer> => {
      const encoded = await encode(encoder(), data, chunk);
      return decode(decoder(), encoder().describe(), encoded, chunk);
    };

    beforeAll(async () => {
      fixture = await factory();
    }, timeout);

    const sizes: Array<[string, () => Buffer]> = [
      ["0 bytes", () => Buffer.alloc(0)],
      ["1 byte", () => Buffer.from([0x42])],
      ["64 KiB - 1", () => randomBytes(64 * KiB - 1)],
      ["64 KiB", () => randomBytes(64 * KiB)],
      ["64 KiB + 1", () => randomBytes(64 * KiB + 1)],
      ["3 MiB of random data", () => randomBytes(3 * MiB)],
      ["3 MiB of repetitive data", () => Buffer.alloc(3 * MiB, "strongbox backup line 0123456789\n")],
    ];
    for (const [label, make] of sizes) {
      it(
        `round-trips ${label} exactly`,
        async () => {
          const data = make();
          const back = await roundTrip(data);
          expect(back.length, `${name}: decode(encode(${label})) length`).toBe(data.length);
          const at = firstDifference(back, data);
          expect(at, `${name}: decode(encode(${label})) differs from the input, first at offset ${at}`).toBe(-1);
        },
        timeout,
      );
    }

    it(
      "round-trips whatever the chunking of the input (1-byte and odd-sized writes)",
      async () => {
        const data = randomBytes(70_001);
        const encoded = await encode(encoder(), data, 1000);
        for (const chunk of [7, 65_537]) {
          const back = await decode(decoder(), encoder().describe(), encoded, chunk);
          expect(
            firstDifference(back, data),
            `${name}: decode with ${chunk}-byte input chunks, first difference at`,
          ).toBe(-1);
        }
        // Byte-at-a-time writes both ways, on a payload small enough to stay fast.
        const small = data.subarray(0, 3000);
        const bytewise = await encode(encoder(), small, 1);
        const back = await decode(decoder(), encoder().describe(), bytewise, 1);
        expect(firstDifference(back, small), `${name}: 1-byte writes to encode and decode, first difference at`).toBe(
          -1,
        );
      },
      timeout,
    );

    it(
      `streams a large payload (${formatBytes(largeBytes)}) through encode → decode with bounded memory`,
      async () => {
        const source = generatedStream(largeBytes);
        const hash = createHash("sha256");
        let size = 0;
        const watch = watchRss();
        try {
          await pipeline(
            source.stream,
            encoder().encode(),
            decoder().decode(encoder().describe()),
            new Writable({
              highWaterMark: 64 * KiB,
              write(chunk: Buffer, _encoding, callback) {
                hash.update(chunk);
                size += chunk.length;
                callback();
              },
            }),
          );
        } finally {
          const growth = watch.stop();
          expect(
            growth,
            `${name}: RSS grew ${formatBytes(growth)} while streaming ${formatBytes(largeBytes)}`,
          ).toBeLessThan(MAX_RSS_GROWTH);
        }
        expect(size, `${name}: decoded size of the ${formatBytes(largeBytes)} payload`).toBe(largeBytes);
        expect(hash.digest("hex"), `${name}: sha256 of the decoded ${formatBytes(largeBytes)} payload`).toBe(
          source.sha256(),
        );
      },
      timeout,
    );

    it(
      "decode(describe()) is symmetric, also after the record went through JSON (a manifest)",
      async () => {
        const record = encoder().describe();
        expect(encoder().describe(), `${name}: describe() is stable`).toEqual(record);
        const data = randomBytes(100_000);
        const encoded = await encode(encoder(), data);
        const fromManifest = JSON.parse(JSON.stringify(record)) as TransformRecord;
        const back = await decode(decoder(), fromManifest, encoded);
        expect(firstDifference(back, data), `${name}: decode(JSON round-tripped describe()) first difference at`).toBe(
          -1,
        );
      },
      timeout,
    );

    it(
      "describe() names the transform and holds no secret",
      () => {
        const t = encoder();
        const record = t.describe();
        expect(typeof t.id === "string" && t.id.length > 0, `${name}: transform.id is a non-empty string`).toBe(true);
        expect(record.id, `${name}: describe().id equals transform.id`).toBe(t.id);
        expect(t.extension, `${name}: extension starts with "."`).toMatch(/^\.[A-Za-z0-9._-]+$/);
        const json = JSON.stringify(record);
        expect(json, `${name}: describe() must not hold an age secret key`).not.toMatch(/AGE-SECRET-KEY-/i);
        for (const [param, value] of flatten(record)) {
          const secretLooking = SECRET_NAMES.test(param) && typeof value === "string" && value.length > 0;
          expect(
            secretLooking,
            `${name}: describe().${param} looks like a secret (${param} = "${String(value).slice(0, 4)}…")`,
          ).toBe(false);
        }
      },
      timeout,
    );

    it(
      "returns a new Duplex per call and works for concurrent artifacts",
      async () => {
        const t = encoder();
        const a = t.encode();
        const b = t.encode();
        const record = t.describe();
        const c = decoder().decode(record);
        const d = decoder().decode(record);
        expect(a, `${name}: encode() returned the same stream twice`).not.toBe(b);
        expect(c, `${name}: decode() returned the same stream twice`).not.toBe(d);
        for (const s of [a, b, c, d]) {
          expect(
            typeof s.write === "function" && typeof s.read === "function",
            `${name}: encode()/decode() return a Duplex`,
          ).toBe(true);
          s.destroy();
        }
        const payloads = Array.from({ length: 4 }, (_, i) => (i % 2 ? randomBytes(MiB + i) : Buffer.alloc(MiB + i, i)));
        const results = await Promise.all(payloads.map((p, i) => roundTrip(p, 8 * KiB + i * 1000)));
        results.forEach((back, i) => {
          expect(
            firstDifference(back, payloads[i]!),
            `${name}: concurrent round trip #${i} (${payloads[i]!.length} B) first difference at`,
          ).toBe(-1);
        });
      },
      timeout,
    );

    it(
      "respects backpressure: a stalled consumer stops the producer",
      async () => {
        const total = 12 * MiB;
        const source = generatedStream(total);
        let release!: () => void;
        const released = new Promise<void>((resolve) => {
          release = resolve;
        });
        const hash = createHash("sha256");
        let size = 0;
        const sink = new Writable({
          highWaterMark: 16 * KiB,
          write(chunk: Buffer, _encoding, callback) {
            hash.update(chunk);
            size += chunk.length;
            void released.then(() => callback());
          },
        });
        const done = pipeline(source.stream, encoder().encode(), decoder().decode(encoder().describe()), sink);
        // Watch the producer for at least 300 ms, until it has not moved for 150 ms (at most 3 s).
        const samples: number[] = [];
        for (let i = 0; i < 60; i++) {
          samples.push(source.produced());
          const recent = samples.slice(-4);
          if (i >= 6 && recent.every((n) => n === recent[0])) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const ahead = source.produced();
        release();
        await done;
        expect(ahead, `${name}: the producer ran ${formatBytes(ahead)} ahead of a stalled consumer`).toBeLessThan(
          MAX_RUN_AHEAD,
        );
        expect(size, `${name}: size after the consumer resumed`).toBe(total);
        expect(hash.digest("hex"), `${name}: sha256 after the consumer resumed`).toBe(source.sha256());
      },
      timeout,
    );

    it(
      "rejects truncated input (E_TRUNCATED or E_INTEGRITY)",
      async () => {
        const data = randomBytes(256 * KiB);
        const encoded = await encode(encoder(), data);
        const record = encoder().describe();
        for (const keep of [Math.floor(encoded.length / 2), encoded.length - 1]) {
          await expectStrongboxError(
            decode(decoder(), record, encoded.subarray(0, keep)),
            ["E_TRUNCATED", "E_INTEGRITY"],
            `${name}: decode of the first ${keep} of ${encoded.length} encoded bytes`,
          );
        }
        // Cut inside the header: some formats can only call that malformed.
        await expectStrongboxError(
          decode(decoder(), record, encoded.subarray(0, 16)),
          ["E_TRUNCATED", "E_INTEGRITY", "E_FORMAT"],
          `${name}: decode of the first 16 of ${encoded.length} encoded bytes`,
        );
        await expectStrongboxError(
          decode(decoder(), record, Buffer.alloc(0)),
          ["E_TRUNCATED", "E_INTEGRITY", "E_FORMAT"],
          `${name}: decode of empty input`,
        );
      },
      timeout,
    );

    it(
      "rejects a flipped byte (E_INTEGRITY)",
      async () => {
        const data = randomBytes(256 * KiB);
        const encoded = await encode(encoder(), data);
        const record = encoder().describe();
        for (const at of [Math.floor(encoded.length / 2), encoded.length - 2]) {
          const damaged = Buffer.from(encoded);
          damaged[at]! ^= 0x10;
          await expectStrongboxError(
            decode(decoder(), record, damaged),
            ["E_INTEGRITY"],
            `${name}: decode with byte ${at} of ${encoded.length} flipped`,
          );
        }
      },
      timeout,
    );

    it(
      "rejects input that is not in its format",
      async () => {
        const record = encoder().describe();
        const garbage: Array<[string, Buffer]> = [
          // The NUL start keeps random bytes from ever beginning with a real magic number.
          ["64 KiB of random bytes", Buffer.concat([Buffer.from("\0garbage"), randomBytes(64 * KiB)])],
          ["a line of text", Buffer.from("this is not an encoded artifact\n")],
        ];
        for (const [label, input] of garbage) {
          await expectStrongboxError(decode(decoder(), record, input), ["E_FORMAT"], `${name}: decode of ${label}`);
        }
      },
      timeout,
    );

    it(
      "its output is read by the standard tool (externalDecode)",
      async (ctx) => {
        const command = fixture?.externalDecode;
        if (!command || command.length === 0)
          skipWithReason(ctx, name, "external decode", "the fixture gives no externalDecode command");
        for (const data of [Buffer.alloc(0), Buffer.concat([randomBytes(MiB), Buffer.alloc(2 * MiB + 3, "abc")])]) {
          const result = await decodeExternally(command, encoder(), data);
          if (result === "missing")
            skipWithReason(ctx, name, "external decode", `${command[0]} is not installed (not found on PATH)`);
          expect(
            result.code,
            `${name}: \`${command.join(" ")}\` exited ${result.code} on ${data.length} bytes; stderr: ${result.stderr}`,
          ).toBe(0);
          expect(result.size, `${name}: \`${command.join(" ")}\` output size for ${data.length} input bytes`).toBe(
            data.length,
          );
          expect(result.sha256, `${name}: \`${command.join(" ")}\` output bytes for ${data.length} input bytes`).toBe(
            sha256(data),
          );
        }
      },
      timeout,
    );
  });
}

async function encode(t: Transform, data: Buffer, chunk = 16 * KiB): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(chunked(data, chunk), t.encode(), collector(out));
  return Buffer.concat(out);
}

async function decode(t: Transform, record: TransformRecord, data: Buffer, chunk = 16 * KiB): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(chunked(data, chunk), t.decode(record), collector(out));
  return Buffer.concat(out);
}

function collector(out: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      out.push(chunk);
      callback();
    },
  });
}

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function flatten(value: unknown, path = ""): Array<[string, unknown]> {
  if (value === null || typeof value !== "object") return [[path, value]];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, inner]) =>
    flatten(inner, path ? `${path}.${key}` : key),
  );
}

/** Pipes `encode(data)` into the tool's stdin and hashes its stdout. */
async function decodeExternally(
  command: string[],
  t: Transform,
  data: Buffer,
): Promise<"missing" | { code: number | null; size: number; sha256: string; stderr: string }> {
  const child = spawn(command[0]!, command.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
  const started = await new Promise<boolean>((resolve) => {
    child.once("spawn", () => resolve(true));
    child.once("error", (err: NodeJS.ErrnoException) => resolve(err.code !== "ENOENT"));
  });
  if (!started) return "missing";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    if (stderr.length < 2000) stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  const hash = createHash("sha256");
  let size = 0;
  const reading = (async () => {
    for await (const chunk of child.stdout as Readable) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  })();
  const [fed, read] = await Promise.allSettled([pipeline(chunked(data, 64 * KiB), t.encode(), child.stdin), reading]);
  const code = await exited;
  // A tool that exits early breaks our pipe (EPIPE): its exit code and stderr say more.
  if (code === 0 && fed.status === "rejected") throw fed.reason;
  if (code === 0 && read.status === "rejected") throw read.reason;
  return { code, size, sha256: hash.digest("hex"), stderr: stderr.trim() };
}
