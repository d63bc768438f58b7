/**
 * zstd compression: native `node:zlib` zstd where Node has it (22.15+, 23.8+), otherwise the
 * system `zstd` binary as a streaming child process. The output is a standard zstd frame with a
 * content checksum, which `zstd -d` reads; decoding also accepts several concatenated frames.
 */
import { spawn } from "node:child_process";
import { accessSync, constants as fsConstants } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { Duplex, type Transform as StreamTransform } from "node:stream";
import * as zlib from "node:zlib";
import type { Transform, TransformRecord } from "../contracts/transform.js";
import { isAbortError, StrongboxError, type StrongboxErrorCode } from "../errors.js";
import { NativeZstdFrames, ScanError } from "./zstd-frames.js";

const ADAPTER = "zstd";
const CHUNK_SIZE = 64 * 1024;
/** The child's pipes already buffer 64 KiB each way; little more is needed on our side. */
const PIPE_HWM = 16 * 1024;
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

export interface ZstdOptions {
  /**
   * Compression level, 1 (fastest) to 19 (smallest, slowest). 3 is zstd's own default and is
   * several times faster than gzip -6 for a smaller result.
   * @default 3
   */
  level?: number;
  /**
   * Which implementation compresses and decompresses. `"native"`: `node:zlib` (Node 22.15+ /
   * 23.8+). `"binary"`: the `zstd` program as a child process, streaming through its stdin and
   * stdout. `"auto"`: native when this Node has it, else the binary; with neither, `zstd()`
   * throws E_CONFIG. Both write the same standard format, so either decodes the other's output.
   * @default "auto"
   */
  engine?: "auto" | "native" | "binary";
  /**
   * The zstd program for `engine: "binary"` (or `"auto"` without native zstd): a name looked up
   * on PATH, or an absolute path.
   * @default "zstd"
   */
  binary?: string;
}

type ZstdNative = typeof zlib & {
  createZstdCompress?: (options?: object) => zlib.Gzip;
  createZstdDecompress?: (options?: object) => zlib.Gunzip;
};
const native = zlib as ZstdNative;

/** Whether this Node has zstd in `node:zlib`. */
export function hasNativeZstd(): boolean {
  return typeof native.createZstdCompress === "function" && typeof native.createZstdDecompress === "function";
}

/** A zstd compression transform: `encode()` compresses, `decode()` decompresses. */
export function zstd(options: ZstdOptions = {}): Transform {
  const level = options.level ?? 3;
  if (!Number.isInteger(level) || level < 1 || level > 19) {
    throw new StrongboxError(
      "E_CONFIG",
      `zstd() option "level" must be an integer from 1 to 19, got ${String(options.level)}`,
      { adapter: ADAPTER },
    );
  }
  const binary = options.binary ?? "zstd";
  const engine = chooseEngine(options.engine ?? "auto", binary);
  return {
    id: "zstd",
    extension: ".zst",
    encode(): Duplex {
      if (engine === "native") {
        const { ZSTD_c_compressionLevel, ZSTD_c_checksumFlag } = zlib.constants as Record<string, number>;
        // No ZSTD_c_nbWorkers: on the streaming API it truncates the output (nodejs/node#59899).
        const stream = native.createZstdCompress!({
          chunkSize: CHUNK_SIZE,
          params: { [ZSTD_c_compressionLevel!]: level, [ZSTD_c_checksumFlag!]: 1 },
        });
        return mapNativeErrors(stream, "encode");
      }
      // --single-thread: the default (one worker thread) buffers whole multi-MiB jobs before writing
      // anything, so the producer would run that far ahead of a stalled consumer.
      return new ZstdChild([binary, `-${level}`, "--single-thread", "-c", "-q"], "encode");
    },
    decode(record: TransformRecord): Duplex {
      if (record?.id !== "zstd") {
        throw new StrongboxError(
          "E_FORMAT",
          `cannot decode a ${JSON.stringify(record?.id)} record with the zstd transform`,
          { adapter: ADAPTER },
        );
      }
      if (engine === "native") {
        const frames = new NativeZstdFrames(() => native.createZstdDecompress!({ chunkSize: CHUNK_SIZE }), CHUNK_SIZE);
        return mapNativeErrors(frames, "decode");
      }
      return new ZstdChild([binary, "-d", "-c", "-q"], "decode");
    },
    describe(): TransformRecord {
      return { id: "zstd", level };
    },
  };
}

function chooseEngine(wanted: "auto" | "native" | "binary", binary: string): "native" | "binary" {
  if (wanted !== "auto" && wanted !== "native" && wanted !== "binary") {
    throw new StrongboxError(
      "E_CONFIG",
      `zstd() option "engine" must be "auto", "native" or "binary", got ${JSON.stringify(wanted)}`,
      { adapter: ADAPTER },
    );
  }
  if (wanted !== "binary" && hasNativeZstd()) return "native";
  if (wanted === "native") {
    throw new StrongboxError(
      "E_CONFIG",
      `this Node (${process.version}) has no zstd in node:zlib (it needs 22.15+ or 23.8+); use engine "binary" or "auto" with the zstd program installed`,
      { adapter: ADAPTER },
    );
  }
  if (!findExecutable(binary)) {
    throw new StrongboxError(
      "E_CONFIG",
      `zstd is not available: ${hasNativeZstd() ? "" : `this Node (${process.version}) has no native zstd (22.15+ / 23.8+) and `}the "${binary}" program was not found${isAbsolute(binary) ? "" : " on PATH"}; install zstd or upgrade Node`,
      { adapter: ADAPTER },
    );
  }
  return "binary";
}

/** Looks the program up like a shell would, without running anything. */
function findExecutable(name: string): boolean {
  const candidates = name.includes("/")
    ? [name]
    : (process.env.PATH ?? "").split(delimiter).flatMap((dir) => (dir ? [join(dir, name)] : []));
  return candidates.some((file) => {
    try {
      accessSync(file, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Same approach as gzip's: translate in destroy(), so every observer sees the coded error. */
function mapNativeErrors<S extends StreamTransform>(stream: S, direction: "encode" | "decode"): S {
  let head = Buffer.alloc(0);
  const transform = stream._transform.bind(stream);
  stream._transform = (chunk: Buffer, encoding: BufferEncoding, callback) => {
    if (head.length < 4) head = Buffer.concat([head, chunk.subarray(0, 4 - head.length)]);
    transform(chunk, encoding, callback);
  };
  if (direction === "decode") {
    // zstd accepts an empty input as zero frames; an empty artifact is never what we wrote.
    const flush = stream._flush.bind(stream);
    stream._flush = (callback) => {
      if (head.length === 0) callback(coded(TRUNCATED, direction, "empty input"));
      else flush(callback);
    };
  }
  const destroy = stream.destroy.bind(stream);
  stream.destroy = (error?: Error) => {
    if (error === undefined || error instanceof StrongboxError) return destroy(error);
    if (isAbortError(error)) return destroy(aborted(direction, error));
    if (error instanceof ScanError) {
      const why: [StrongboxErrorCode, string] =
        error.problem === "not-zstd"
          ? unknownFrame(head)
          : error.problem === "trailing"
            ? TRAILING
            : error.problem === "truncated"
              ? TRUNCATED
              : CORRUPT;
      return destroy(coded(why, direction, error.problem === "corrupt" ? "bad block header" : "frame scan"));
    }
    const zcode = (error as NodeJS.ErrnoException).code;
    if (typeof zcode !== "string" || !(zcode.startsWith("Z_") || zcode.startsWith("ZSTD_"))) return destroy(error);
    return destroy(coded(classifyNative(zcode, direction, head), direction, error.message, error));
  };
  return stream;
}

function aborted(direction: string, cause: unknown): StrongboxError {
  return new StrongboxError("E_ABORTED", `${direction}: aborted`, { adapter: ADAPTER, cause });
}

function coded(
  [code, why]: [StrongboxErrorCode, string],
  direction: string,
  detail: string,
  cause?: unknown,
): StrongboxError {
  return new StrongboxError(code, `${direction} failed: ${why} (zstd: ${detail})`, { adapter: ADAPTER, cause });
}

const TRUNCATED: [StrongboxErrorCode, string] = ["E_TRUNCATED", "the zstd data ends early (truncated artifact)"];
const TRAILING: [StrongboxErrorCode, string] = [
  "E_INTEGRITY",
  "trailing data after the zstd stream (not a zstd frame)",
];
const CORRUPT: [StrongboxErrorCode, string] = ["E_INTEGRITY", "the zstd data is corrupt (bad checksum or block)"];

/** "Not zstd at all" (E_FORMAT) or "zstd, then something else" (E_INTEGRITY), from the first bytes. */
function unknownFrame(head: Buffer): [StrongboxErrorCode, string] {
  const n = Math.min(head.length, 4);
  if (n > 0 && !head.subarray(0, n).equals(ZSTD_MAGIC.subarray(0, n))) {
    return [
      "E_FORMAT",
      `the input is not zstd data (it starts with ${head.toString("hex")}, zstd starts with 28b52ffd)`,
    ];
  }
  return ["E_INTEGRITY", "a damaged zstd frame header, or trailing data after the zstd stream"];
}

function classifyNative(zcode: string, direction: string, head: Buffer): [StrongboxErrorCode, string] {
  if (direction === "encode") return ["E_FORMAT", "compression failed"];
  if (zcode === "Z_BUF_ERROR") return unknownFrameOrTruncated(head);
  if (zcode === "ZSTD_error_prefix_unknown" || zcode === "ZSTD_error_frameParameter_unsupported")
    return unknownFrame(head);
  return CORRUPT;
}

/** Input that ended early: truncated if it began like zstd (or was empty), else not zstd at all. */
function unknownFrameOrTruncated(head: Buffer): [StrongboxErrorCode, string] {
  const [code, why] = unknownFrame(head);
  return code === "E_FORMAT" ? [code, why] : TRUNCATED;
}

function classifyCli(stderr: string, direction: string, head: Buffer, empty: boolean): [StrongboxErrorCode, string] {
  if (direction === "encode") return ["E_FORMAT", "compression failed"];
  if (empty || /premature end|unexpected end|truncated/i.test(stderr)) return unknownFrameOrTruncated(head);
  if (/unsupported format|unknown header|prefix unknown/i.test(stderr)) return unknownFrame(head);
  return CORRUPT;
}

/**
 * The `zstd` program as a Duplex: what is written goes to its stdin, its stdout is what is read.
 * Backpressure both ways (the write callback waits for stdin to drain; stdout is paused while the
 * reader is full). The stream ends only once the program exited 0, so a failure is never
 * mistaken for a complete output; destroying the stream kills the program.
 */
class ZstdChild extends Duplex {
  readonly #child;
  readonly #direction: "encode" | "decode";
  #head = Buffer.alloc(0);
  #inputBytes = 0;
  #stderr = "";
  #spawnError: Error | undefined;
  #waiting: (() => void) | undefined;

  constructor(command: string[], direction: "encode" | "decode") {
    super({ readableHighWaterMark: PIPE_HWM, writableHighWaterMark: PIPE_HWM });
    this.#direction = direction;
    const [cmd, ...args] = command;
    this.#child = spawn(cmd!, args, { stdio: ["pipe", "pipe", "pipe"] });
    const child = this.#child;
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (text: string) => {
      this.#stderr = (this.#stderr + text).slice(-4096);
    });
    child.stdout.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) child.stdout.pause();
    });
    // The program stops reading when it fails; its exit status says why, so EPIPE is not the story.
    child.stdin.on("error", () => {});
    child.once("error", (err: NodeJS.ErrnoException) => {
      this.#spawnError = new StrongboxError(
        "E_CONFIG",
        `could not start ${cmd}: ${err.message}${err.code === "ENOENT" ? " (is zstd installed and on PATH?)" : ""}`,
        { adapter: ADAPTER, cause: err },
      );
      this.destroy(this.#spawnError);
    });
    child.once("close", (code, signal) => {
      if (this.destroyed) return;
      if (code === 0 && this.#direction === "decode" && this.#inputBytes === 0) {
        // zstd -d accepts an empty input; an empty artifact is never what we wrote.
        this.destroy(coded(TRUNCATED, this.#direction, "empty input"));
      } else if (code === 0) {
        this.push(null);
      } else {
        const detail = this.#stderr.trim() || (signal ? `killed by ${signal}` : `exit code ${code}`);
        const empty = this.#direction === "decode" && this.#inputBytes === 0;
        this.destroy(coded(classifyCli(this.#stderr, this.#direction, this.#head, empty), this.#direction, detail));
      }
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#head.length < 4) this.#head = Buffer.concat([this.#head, chunk.subarray(0, 4 - this.#head.length)]);
    this.#inputBytes += chunk.length;
    // Feed the program only while its output is being read: a few KiB of compressed input can
    // stand for MiBs of output, and those would pile up behind a stalled reader.
    const go = () => {
      if (this.#child.stdin.write(chunk)) callback();
      else this.#child.stdin.once("drain", () => callback());
    };
    if (this.#child.stdout.isPaused()) this.#waiting = go;
    else go();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#child.stdin.end(() => callback());
  }

  override _read(): void {
    this.#child.stdout.resume();
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.();
  }

  override destroy(error?: Error): this {
    if (error && !(error instanceof StrongboxError) && isAbortError(error)) error = aborted(this.#direction, error);
    return super.destroy(error);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill("SIGKILL");
    callback(error);
  }
}
