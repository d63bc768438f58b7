/**
 * gzip compression on `node:zlib`. The output is a plain RFC 1952 gzip stream that `gunzip`
 * reads; decoding accepts several concatenated members (as `gunzip` does), so artifacts written
 * by a parallel, member-per-block compressor decode too.
 *
 * On a machine with more than one core, encoding is parallel (transforms/parallel/): the input is
 * cut into blocks that are compressed concurrently on the threadpool, each as its own gzip member.
 */
import type { Duplex } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import type { Transform, TransformRecord } from "../contracts/transform.js";
import { isAbortError, StrongboxError, type StrongboxErrorCode } from "../errors.js";
import { announcesEndMember, defaultThreads, END_MEMBER, HEADER_PROBE, parallelGzip } from "./parallel/gzip-blocks.js";

const ADAPTER = "gzip";
/** zlib's 16 KiB default makes many tiny chunks; 64 KiB matches the rest of the pipeline. */
const CHUNK_SIZE = 64 * 1024;

export interface GzipOptions {
  /**
   * Compression level, 0 (store only) to 9 (smallest, slowest). Level 1 is several times faster on
   * large dumps; 6 is gzip's own default.
   * @default 6
   */
  level?: number;
  /**
   * Blocks compressed at the same time. Above 1, the input is cut into `blockSize` blocks, each
   * compressed on the libuv threadpool as an independent gzip member, so compression uses that
   * many cores; the output is standard multi-member gzip (`gunzip` reads it as one stream) and is
   * a fraction of a percent larger. 1 writes a single member, on one core, as `gzip` does.
   * More than the threadpool's size (`UV_THREADPOOL_SIZE`, 4 by default) gains nothing.
   * @default the number of cores, at most `UV_THREADPOOL_SIZE` − 1 (so 1 on a one-core machine)
   */
  threads?: number;
  /**
   * Bytes of input per gzip member when `threads` > 1. Larger blocks compress a little better
   * (each member starts with an empty dictionary: +0.3% at 512 KiB, +0.16% at 1 MiB on dump
   * text); memory held is about (`threads` + 2) × `blockSize`.
   * @default 524288 (512 KiB)
   */
  blockSize?: number;
}

const MIN_BLOCK = 64 * 1024;
const MAX_BLOCK = 64 * 1024 * 1024;

/** A gzip compression transform: `encode()` compresses, `decode()` decompresses. */
export function gzip(options: GzipOptions = {}): Transform {
  const level = options.level ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new StrongboxError(
      "E_CONFIG",
      `gzip() option "level" must be an integer from 0 to 9, got ${String(options.level)}`,
      {
        adapter: ADAPTER,
      },
    );
  }
  const threads = options.threads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1 || threads > 1024) {
    throw new StrongboxError(
      "E_CONFIG",
      `gzip() option "threads" must be an integer from 1 to 1024, got ${String(options.threads)}`,
      { adapter: ADAPTER },
    );
  }
  const blockSize = options.blockSize ?? 512 * 1024;
  if (!Number.isInteger(blockSize) || blockSize < MIN_BLOCK || blockSize > MAX_BLOCK) {
    throw new StrongboxError(
      "E_CONFIG",
      `gzip() option "blockSize" must be an integer from ${MIN_BLOCK} to ${MAX_BLOCK} bytes, got ${String(options.blockSize)}`,
      { adapter: ADAPTER },
    );
  }
  return {
    id: "gzip",
    extension: ".gz",
    encode(): Duplex {
      if (threads > 1) {
        const head = Buffer.alloc(0); // encode errors are never about the input's format
        return parallelGzip({ level, threads, blockSize, mapError: (e) => translate(e, "encode", head) });
      }
      return mapErrors(createGzip({ level, chunkSize: CHUNK_SIZE }), "encode");
    },
    decode(record: TransformRecord): Duplex {
      if (record?.id !== "gzip") {
        throw new StrongboxError(
          "E_FORMAT",
          `cannot decode a ${JSON.stringify(record?.id)} record with the gzip transform`,
          {
            adapter: ADAPTER,
          },
        );
      }
      // Gunzip (not Unzip): a zlib- or deflate-framed input is not what we wrote; say so.
      return mapErrors(createGunzip({ chunkSize: CHUNK_SIZE }), "decode");
    },
    describe(): TransformRecord {
      // The same record whether one member or many were written: decoding does not care.
      return { id: "gzip", level };
    },
  };
}

type ZlibStream = ReturnType<typeof createGzip>;
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

/**
 * zlib reports failures by calling `destroy(error)` on itself; translating the error right there
 * means every consumer (pipeline, 'error' listeners, `errored`) sees the StrongboxError, without a
 * wrapper stream and its extra buffering. Errors that are not zlib's own (an upstream failure that
 * `pipeline` forwards) pass through untouched, except aborts, which become E_ABORTED.
 */
function mapErrors(stream: ZlibStream, direction: "encode" | "decode"): ZlibStream {
  // The first bytes tell "not gzip at all" (E_FORMAT) from "gzip, but damaged or followed by
  // junk" (E_INTEGRITY): zlib reports both as a header error. They also say whether the stream
  // was written in parallel and must then end with the end member (see parallel/gzip-blocks.ts).
  let head = Buffer.alloc(0);
  let tail = Buffer.alloc(0);
  const transform = stream._transform.bind(stream);
  stream._transform = (chunk: Buffer, encoding: BufferEncoding, callback) => {
    if (head.length < HEADER_PROBE) head = Buffer.concat([head, chunk.subarray(0, HEADER_PROBE - head.length)]);
    if (direction === "decode" && chunk.length > 0) {
      tail = Buffer.concat([tail, chunk.subarray(-END_MEMBER.length)]).subarray(-END_MEMBER.length);
    }
    transform(chunk, encoding, callback);
  };
  if (direction === "decode") {
    const flush = stream._flush.bind(stream);
    stream._flush = (callback) => {
      flush((error?: Error | null, data?: unknown) => {
        if (error) return callback(error);
        if (announcesEndMember(head) && !tail.equals(END_MEMBER)) {
          return callback(
            new StrongboxError(
              "E_TRUNCATED",
              "decode failed: the gzip data ends early (a multi-member stream cut between two members: its end member is missing)",
              { adapter: ADAPTER },
            ),
          );
        }
        callback(null, data);
      });
    };
  }
  const destroy = stream.destroy.bind(stream);
  stream.destroy = (error?: Error) => destroy(error === undefined ? error : translate(error, direction, head));
  return stream;
}

function translate(error: Error, direction: "encode" | "decode", head: Buffer): Error {
  if (error instanceof StrongboxError) return error;
  if (isAbortError(error))
    return new StrongboxError("E_ABORTED", `${direction}: aborted`, { adapter: ADAPTER, cause: error });
  const zcode = (error as NodeJS.ErrnoException).code;
  if (typeof zcode !== "string" || !zcode.startsWith("Z_")) return error;
  const [code, why] = classify(zcode, error.message, direction, head);
  return new StrongboxError(code, `${direction} failed: ${why} (zlib: ${error.message})`, {
    adapter: ADAPTER,
    cause: error,
  });
}

function classify(
  zcode: string,
  message: string,
  direction: "encode" | "decode",
  head: Buffer,
): [StrongboxErrorCode, string] {
  if (direction === "encode") return ["E_FORMAT", "compression failed"];
  if (zcode === "Z_BUF_ERROR") return ["E_TRUNCATED", "the gzip data ends early (truncated artifact)"];
  if (head.length >= 2 && !head.subarray(0, 2).equals(GZIP_MAGIC)) {
    return [
      "E_FORMAT",
      `the input is not gzip data (it starts with ${head.subarray(0, 4).toString("hex")}, gzip starts with 1f8b)`,
    ];
  }
  if (/header check|unknown compression method|header/i.test(message)) {
    // After a complete member zlib parses whatever follows as the next member's header.
    return ["E_INTEGRITY", "a damaged gzip header, or trailing data after the gzip stream"];
  }
  return ["E_INTEGRITY", "the gzip data is corrupt (bad checksum or deflate data)"];
}
