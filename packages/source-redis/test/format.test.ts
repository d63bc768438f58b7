import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import {
  encodeClock,
  encodeEnd,
  encodeHeader,
  encodeKeyHead,
  payloadRdbVersion,
  payloadTypeName,
  unorderedPayloadCount,
} from "../src/format.js";
import { RdbEofStripper } from "../src/rdb.js";
import { ArtifactReader } from "../src/reader.js";

const payload = Buffer.from([0x00, 0x01, 0x76, 0x0a, 0x00, 1, 2, 3, 4, 5, 6, 7, 8]); // "v", RDB 10, fake CRC
const meta = { redisVersion: "7.0.15", topology: "standalone" as const, databases: [0, 3], startedAt: 1 };

function artifact(): Buffer {
  return Buffer.concat([
    encodeHeader(10, meta),
    encodeClock(1_000),
    encodeKeyHead(0, Buffer.from([0, 255]), 0, payload.length),
    payload,
    encodeKeyHead(3, Buffer.from("k"), 5_000, payload.length),
    payload,
    encodeEnd(2, 1, { keys: { db0: 1, db3: 1 }, skippedVanished: 1, skippedByType: 0, maxRdbVersion: 10 }),
  ]);
}

/** Streams `buf` in small uneven chunks so every field straddles chunk boundaries somewhere. */
function chunked(buf: Buffer, size = 3): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts, { objectMode: false });
}

async function readAll(stream: Readable) {
  const r = new ArtifactReader(stream);
  const header = await r.readHeader();
  const records = [];
  for await (const rec of r.records()) records.push(rec);
  return { header, records };
}

describe("sbrd format", () => {
  it("reads back what was written, across chunk boundaries", async () => {
    for (const size of [1, 3, 7, 1 << 16]) {
      const { header, records } = await readAll(chunked(artifact(), size));
      expect(header).toEqual({ formatVersion: 1, rdbVersion: 10, meta });
      expect(records).toHaveLength(3);
      expect(records[0]).toEqual({ kind: "key", db: 0, key: Buffer.from([0, 255]), expireAt: 0, payload, clock: 1000 });
      expect(records[1]).toMatchObject({ kind: "key", db: 3, key: Buffer.from("k"), expireAt: 5000 });
      expect(records[2]).toMatchObject({ kind: "end", keyRecords: 2, skipped: 1 });
    }
  });

  it("reports a cut at every byte as E_TRUNCATED", async () => {
    const full = artifact();
    for (let cut = 0; cut < full.length; cut++) {
      await expect(readAll(chunked(full.subarray(0, cut), 5)), `cut at ${cut}`).rejects.toMatchObject({
        code: "E_TRUNCATED",
      });
    }
  });

  it("rejects bad magic, a newer format, unknown tags, trailing data and miscounts", async () => {
    const full = artifact();
    const badMagic = Buffer.from(full);
    badMagic[0] = 0x58;
    await expect(readAll(chunked(badMagic))).rejects.toMatchObject({ code: "E_FORMAT" });
    const newer = Buffer.from(full);
    newer.writeUInt16BE(2, 8);
    await expect(readAll(chunked(newer))).rejects.toMatchObject({
      code: "E_FORMAT",
      message: expect.stringContaining("format version 2"),
    });
    const headerLen = encodeHeader(10, meta).length;
    const badTag = Buffer.from(full);
    badTag[headerLen] = 0x42;
    await expect(readAll(chunked(badTag))).rejects.toMatchObject({ code: "E_FORMAT" });
    await expect(readAll(chunked(Buffer.concat([full, Buffer.from([0])])))).rejects.toMatchObject({
      code: "E_INTEGRITY",
    });
    const miscount = Buffer.from(full);
    const endAt =
      full.length -
      encodeEnd(2, 1, { keys: { db0: 1, db3: 1 }, skippedVanished: 1, skippedByType: 0, maxRdbVersion: 10 }).length;
    miscount.writeBigUInt64BE(3n, endAt + 1);
    await expect(readAll(chunked(miscount))).rejects.toMatchObject({ code: "E_INTEGRITY" });
  });

  it("reads payload facts: RDB version, type, unordered counts", () => {
    expect(payloadRdbVersion(payload)).toBe(10);
    expect(payloadTypeName(payload)).toBe("string");
    expect(payloadTypeName(Buffer.from([15]))).toBe("stream");
    expect(unorderedPayloadCount(Buffer.from([2, 3]))).toBe(3);
    expect(unorderedPayloadCount(Buffer.from([4, 0x41, 0x02]))).toBe(0x102);
    expect(unorderedPayloadCount(Buffer.from([0x80, 0, 0, 1, 0]))).toBeUndefined();
  });
});

describe("redis-cli --rdb EOF marker", () => {
  const rdb = Buffer.concat([
    Buffer.from("REDIS0010"),
    Buffer.alloc(5000, 7),
    Buffer.from([0xff]),
    Buffer.from("12345678"),
  ]);
  const marker = Buffer.from("0123456789abcdef0123456789abcdef01234567");

  async function strip(input: Buffer, size: number): Promise<{ out: Buffer; stripped: boolean }> {
    const s = new RdbEofStripper();
    const parts: Buffer[] = [];
    await pipeline(chunked(input, size), s, async (src: AsyncIterable<Buffer>) => {
      for await (const c of src) parts.push(c);
    });
    return { out: Buffer.concat(parts), stripped: s.stripped };
  }

  it("drops the 40-byte marker after the RDB, whatever the chunking", async () => {
    for (const size of [1, 13, 64 * 1024]) {
      expect(await strip(Buffer.concat([rdb, marker]), size)).toEqual({ out: rdb, stripped: true });
      expect(await strip(rdb, size)).toEqual({ out: rdb, stripped: false });
    }
  });

  it("refuses output that is not an RDB", async () => {
    await expect(strip(Buffer.from("ERR something went wrong here and there"), 4)).rejects.toMatchObject({
      code: "E_SOURCE",
    });
  });
});

describe("sbrd reader on hostile input", () => {
  it("a zero-length field read after every chunk is consumed gives a StrongboxError, never a TypeError", async () => {
    // Found by the reliability fuzzer (seed 24301, case 21011): a mutated artifact whose next field
    // has length 0 exactly where the input's chunks ran out.
    const input = Buffer.from(
      "U0JSRA0KGgoAAQAKAAAAW3sicmVkaXJWZXJzaW9uIjoiNy4wLjE1IiwidG9wb2x/Z3kiOiJzdGFuZGFsb25lIiwiZGF0YWJhc2VzIjpbMF0sInN0YXJ0ZWRBdCI6MTc5NTMxNTU5NDAyM30CAAABogEl8ykBAAAAAAABYgAAAAAAAAAAAAAADwADdHdvCmrUh8+RtnD/pQEAAAAAAAFoAAQAAAAAAAAAAAAYEAwMAAAAAgCBeAIBAf8KAAEXYRkLxK8AAQAAAAAAAAAAAWEAAQAAAAAAAAAAAAABYQABAAAAAAAAAAAADQDAAQoAJnjnttEBEfwBAAAAAAABYwAAAAAAAAAAAAAAEQAFdGhyZWUKAFEx+qr6mnQr/wAAAAAAAAAEAAAAAAAAAAAAAABLeyZrZXlzIjp7ImRiMCI6NH0sInNraXBwZWRWYW5pc2hlZCI6MCwic2tpcHBlZEJ5VHlwZSI6MCwibWF4UmRiVmVyc2lvbiI6MTB9",
      "base64",
    );
    const err = await (async () => {
      // One-byte chunks: every chunk is used up before the next read, as at the failing boundary.
      const reader = new ArtifactReader(Readable.from([...input].map((b) => Buffer.from([b]))));
      try {
        await reader.readHeader();
        for await (const _ of reader.records()) {
          // consume
        }
      } finally {
        await reader.close();
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as { name: string }).name).toBe("StrongboxError");
  });
});
