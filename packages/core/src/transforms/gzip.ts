/**
 * gzip compression on `node:zlib`. The output is a plain RFC 1952 gzip stream that `gunzip`
 * reads; decoding accepts several concatenated members (as `gunzip` does), so artifacts written
 * by a parallel, member-per-block compressor decode too.
 */
import type { Duplex } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import type { Transform, TransformRecord } from "../contracts/transform.js";
import { isAbortError, StrongboxError, type StrongboxErrorCode } from "../errors.js";

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
}

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
  return {
    id: "gzip",
    extension: ".gz",
    encode(): Duplex {
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
  // The first two input bytes tell "not gzip at all" (E_FORMAT) from "gzip, but damaged or
  // followed by junk" (E_INTEGRITY): zlib reports both as a header error.
  let head = Buffer.alloc(0);
  const transform = stream._transform.bind(stream);
  stream._transform = (chunk: Buffer, encoding: BufferEncoding, callback) => {
    if (head.length < 2) head = Buffer.concat([head, chunk.subarray(0, 2 - head.length)]);
    transform(chunk, encoding, callback);
  };
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
  if (head.length === 2 && !head.equals(GZIP_MAGIC)) {
    return ["E_FORMAT", `the input is not gzip data (it starts with ${head.toString("hex")}, gzip starts with 1f8b)`];
  }
  if (/header check|unknown compression method|header/i.test(message)) {
    // After a complete member zlib parses whatever follows as the next member's header.
    return ["E_INTEGRITY", "a damaged gzip header, or trailing data after the gzip stream"];
  }
  return ["E_INTEGRITY", "the gzip data is corrupt (bad checksum or deflate data)"];
}
