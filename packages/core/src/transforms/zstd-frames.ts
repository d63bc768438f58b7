/**
 * Native zstd decoding, one frame at a time.
 *
 * Node's `createZstdDecompress()` stops at the end of the first frame and silently drops whatever
 * follows: a second frame (`cat a.zst b.zst`, which `zstd -d` decodes fully) or trailing junk
 * (which must be E_INTEGRITY). So the input is scanned for frame boundaries (RFC 8878 §3.1: frame
 * header, then blocks whose 3-byte headers give their sizes, then an optional checksum), and each
 * frame goes to a fresh decompressor. Only headers are parsed here; the decompressor still checks
 * every block and the content checksum.
 */
import { Transform, type TransformCallback } from "node:stream";
import type * as zlib from "node:zlib";

const MAGIC = 0xfd2fb528;
/** Skippable frames: magic 0x184D2A50–0x184D2A5F, a 4-byte size, that many bytes. */
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE = 0x184d2a50;

/** Why the scanner refused the input. */
export type ScanProblem = "not-zstd" | "trailing" | "corrupt" | "truncated";

export class ScanError extends Error {
  constructor(readonly problem: ScanProblem) {
    super(problem);
  }
}

type State = "magic" | "fhd" | "header" | "block" | "body" | "checksum" | "skip-size" | "skip";

/** Follows the frame structure byte by byte (without copying the data) and reports frame ends. */
class FrameScanner {
  state: State = "magic";
  frames = 0;
  #need = 4;
  #header: number[] = [];
  #checksum = 0;

  get betweenFrames(): boolean {
    return this.state === "magic" && this.#header.length === 0;
  }

  /** Scans `buf` from `start`; returns the index just past the end of a frame, or -1. */
  scan(buf: Buffer, start: number): number {
    let i = start;
    while (i < buf.length) {
      if (this.state === "body" || this.state === "skip") {
        const n = Math.min(this.#need, buf.length - i);
        i += n;
        this.#need -= n;
        if (this.#need === 0 && this.#afterData()) return i;
        continue;
      }
      this.#header.push(buf[i]!);
      i++;
      if (this.#header.length < this.#need) continue;
      const bytes = Buffer.from(this.#header);
      this.#header = [];
      if (this.#afterHeader(bytes)) return i;
    }
    return -1;
  }

  /** A header piece is complete; returns true when that ends a frame. */
  #afterHeader(bytes: Buffer): boolean {
    switch (this.state) {
      case "magic": {
        const magic = bytes.readUInt32LE(0);
        if (magic === MAGIC) return this.#go("fhd", 1);
        if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE) return this.#go("skip-size", 4);
        throw new ScanError(this.frames === 0 ? "not-zstd" : "trailing");
      }
      case "fhd": {
        const fhd = bytes[0]!;
        const fcsFlag = fhd >> 6;
        const singleSegment = (fhd >> 5) & 1;
        if ((fhd >> 3) & 1) throw new ScanError("corrupt"); // reserved bit
        this.#checksum = (fhd >> 2) & 1 ? 4 : 0;
        const did = [0, 1, 2, 4][fhd & 3]!;
        const fcs = [singleSegment, 2, 4, 8][fcsFlag]!;
        const rest = (singleSegment ? 0 : 1) + did + fcs;
        return rest > 0 ? this.#go("header", rest) : this.#go("block", 3);
      }
      case "header":
        return this.#go("block", 3);
      case "block": {
        const v = bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16);
        const type = (v >> 1) & 3;
        if (type === 3) throw new ScanError("corrupt");
        this.#lastBlock = (v & 1) === 1;
        const size = type === 1 ? 1 : v >>> 3;
        if (size === 0) return this.#afterData();
        return this.#go("body", size);
      }
      case "checksum":
        return this.#endFrame();
      case "skip-size": {
        const size = bytes.readUInt32LE(0);
        if (size === 0) return this.#endFrame();
        return this.#go("skip", size);
      }
      default:
        throw new ScanError("corrupt");
    }
  }

  #lastBlock = false;

  /** A block body or skippable payload is complete. */
  #afterData(): boolean {
    if (this.state === "skip") return this.#endFrame();
    if (!this.#lastBlock) return this.#go("block", 3);
    return this.#checksum > 0 ? this.#go("checksum", this.#checksum) : this.#endFrame();
  }

  #go(state: State, need: number): false {
    this.state = state;
    this.#need = need;
    return false;
  }

  #endFrame(): true {
    this.frames++;
    this.state = "magic";
    this.#need = 4;
    return true;
  }
}

type Decompressor = zlib.Gunzip;
type Factory = () => Decompressor;

/**
 * Decodes a sequence of zstd frames with one native decompressor per frame. Output keeps the
 * input's order; backpressure passes through (a frame's decompressor is paused while this
 * stream's reader is full, and input is only accepted as the decompressor takes it).
 */
export class NativeZstdFrames extends Transform {
  readonly #create: Factory;
  readonly #scanner = new FrameScanner();
  #current: Decompressor | undefined;
  #ended: Promise<void> | undefined;

  constructor(create: Factory, highWaterMark: number) {
    super({ readableHighWaterMark: highWaterMark, writableHighWaterMark: highWaterMark });
    this.#create = create;
  }

  /** The scanner's state, for error classification. */
  get framesSeen(): number {
    return this.#scanner.frames;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.#feed(chunk).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    // Input that ends mid-frame is truncated. Node 24's decompressor reports it (Z_BUF_ERROR) when
    // ended early; Node 22's ends quietly — so the scanner's own state decides.
    if (!this.#scanner.betweenFrames) {
      this.#current?.destroy();
      callback(new ScanError("truncated"));
      return;
    }
    this.#finishFrame().then(() => callback(), callback);
  }

  override _read(size: number): void {
    this.#current?.resume();
    super._read(size);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#current?.destroy();
    callback(error);
  }

  async #feed(chunk: Buffer): Promise<void> {
    let at = 0;
    while (at < chunk.length && !this.destroyed) {
      const end = this.#scanner.scan(chunk, at);
      const piece = chunk.subarray(at, end === -1 ? chunk.length : end);
      await this.#write(piece);
      if (end === -1) return;
      at = end;
      await this.#finishFrame();
    }
  }

  #open(): Decompressor {
    if (this.#current) return this.#current;
    const d = this.#create();
    this.#current = d;
    d.on("error", () => {}); // reported through #ended
    d.on("data", (out: Buffer) => {
      if (!this.push(out)) d.pause();
    });
    this.#ended = new Promise<void>((resolve, reject) => {
      d.once("end", resolve);
      d.once("error", reject);
    });
    this.#ended.catch(() => {});
    return d;
  }

  #write(piece: Buffer): Promise<void> {
    if (piece.length === 0) return Promise.resolve();
    const d = this.#open();
    return new Promise<void>((resolve, reject) => {
      const ok = d.write(piece);
      const ended = this.#ended!;
      if (ok) resolve();
      else {
        d.once("drain", resolve);
        ended.catch(reject);
      }
    });
  }

  async #finishFrame(): Promise<void> {
    const d = this.#current;
    if (!d) return;
    d.end();
    await this.#ended;
    this.#current = undefined;
    this.#ended = undefined;
  }
}
