/**
 * Parallel gzip: each block becomes one complete gzip member, compressed by `zlib.gzip()` on the
 * libuv threadpool, so several blocks compress on several cores at once. Concatenated members are
 * a standard gzip stream (RFC 1952 §2.2); `gunzip`, `zcat` and zlib's own decoder read them as one.
 *
 * Why the threadpool and not worker_threads: both cost the same CPU per byte here, but a worker
 * adds a V8 isolate (~10 MB of RSS each) and a copy or transfer of every block, and measured no
 * faster (bench/README.md). The threadpool runs zlib's C code without touching JS at all.
 *
 * Truncation: a multi-member stream cut exactly between two members is still valid gzip, so
 * `gunzip` alone cannot notice. The first member therefore carries an FEXTRA subfield "SB" = "m"
 * ("multi-member, closed by an end member") and the stream ends with a fixed empty member whose
 * subfield is "SB" = "e". FEXTRA is part of RFC 1952 and ignored by every gunzip; our decoder
 * checks for the end member when the first member announces it ({@link endsWithEndMember}).
 */
import { availableParallelism } from "node:os";
import { promisify } from "node:util";
import { gzip as gzipCallback, gzipSync } from "node:zlib";
import { OrderedBlocks } from "./ordered-blocks.js";

const gzipAsync = promisify(gzipCallback);

/** Output buffer per zlib call: a compressed 1 MiB block in a few calls, not dozens of 16 KiB ones. */
const OUTPUT_CHUNK = 256 * 1024;

const FEXTRA = 0x04;
/** FEXTRA field: XLEN (2, LE) = 5, then one subfield: id "SB", LEN (2, LE) = 1, one byte of data. */
function extraField(mark: "m" | "e"): Buffer {
  return Buffer.from([5, 0, 0x53, 0x42, 1, 0, mark.charCodeAt(0)]);
}

/** Adds the Strongbox FEXTRA subfield to a member zlib wrote (its header is always 10 bytes, FLG 0). */
function markMember(member: Buffer, mark: "m" | "e"): Buffer {
  const header = Buffer.from(member.subarray(0, 10));
  header[3] = header[3]! | FEXTRA;
  return Buffer.concat([header, extraField(mark), member.subarray(10)]);
}

/** The member that closes every multi-member stream: no data, subfield "SB" = "e". */
export const END_MEMBER: Buffer = markMember(gzipSync(Buffer.alloc(0), { level: 6 }), "e");
/** Bytes of the stream start needed to tell whether it announces an end member. */
export const HEADER_PROBE = 17;

/** Whether a stream starting with `head` (≥ HEADER_PROBE bytes) was written by parallelGzip(). */
export function announcesEndMember(head: Buffer): boolean {
  return (
    head.length >= HEADER_PROBE &&
    head[0] === 0x1f &&
    head[1] === 0x8b &&
    (head[3]! & FEXTRA) !== 0 &&
    head.subarray(10, 17).equals(extraField("m"))
  );
}

/** libuv's threadpool size: more concurrent blocks than threads would only queue. */
export function threadpoolSize(): number {
  const configured = Number(process.env.UV_THREADPOOL_SIZE);
  return Number.isInteger(configured) && configured > 0 ? Math.min(configured, 1024) : 4;
}

/**
 * Default number of blocks compressed at once: one per core, but leaving one threadpool thread
 * free so that file-system writes (local storage) and DNS lookups never queue behind compression.
 */
export function defaultThreads(): number {
  return Math.max(1, Math.min(availableParallelism(), threadpoolSize() - 1));
}

export function parallelGzip(options: {
  level: number;
  threads: number;
  blockSize: number;
  mapError: (error: Error) => Error;
}): OrderedBlocks {
  const { level } = options;
  return new OrderedBlocks({
    blockSize: options.blockSize,
    // One more block than threads: while the oldest block is awaited (output stays in order),
    // the others keep every thread busy, and a block that finished early does not leave a core
    // idle. A slow head block would otherwise stall the whole pipeline on a busy machine.
    inFlight: options.threads + 1,
    // An empty input still gets its (empty) first member, then the end member.
    encodeEmpty: true,
    work: async (block, index) => {
      const member = await gzipAsync(block, { level, chunkSize: OUTPUT_CHUNK });
      return index === 0 ? markMember(member, "m") : member;
    },
    trailer: END_MEMBER,
    // zlib is done with the input once gzip() calls back, and the member is a new buffer.
    reuseBlocks: true,
    mapError: options.mapError,
  });
}
