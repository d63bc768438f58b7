/**
 * A Transform that cuts its input into fixed-size blocks, hands each to an asynchronous `work`
 * function (compression on the libuv threadpool), several at once, and emits the results in input
 * order. Formats whose members can simply be concatenated (gzip, zstd frames) use it to spread
 * compression over the cores while the output stays one standard stream.
 *
 * Memory is bounded by `inFlight` blocks (input and result) plus the block being filled and the
 * streams' own high-water marks, whatever the input size. Backpressure: a new block is only
 * started once fewer than `inFlight` are pending, and results are pushed through `push()`, whose
 * buffer Transform already gates: while the reader is stalled the write callback is held, so the
 * writer stops.
 */
import { Transform, type TransformCallback } from "node:stream";

export interface OrderedBlocksOptions {
  /** Bytes per block (the last one may be shorter). */
  blockSize: number;
  /** Blocks being worked on at the same time; 1 = sequential. */
  inFlight: number;
  /** Turns block number `index` (from 0) into its encoded form. At most `inFlight` run at once. */
  work: (block: Buffer, index: number) => Promise<Buffer>;
  /** Bytes emitted after the last block (an end marker). */
  trailer?: Buffer;
  /**
   * Reuse block buffers once `work` has settled, instead of allocating one per block: fewer
   * large garbage buffers means fewer and shorter GCs on the main thread. Only for a `work`
   * that does not keep (or return) the block it is given.
   * @default false
   */
  reuseBlocks?: boolean;
  /** Whether an empty input still yields one (empty) encoded block, e.g. a valid empty gzip. */
  encodeEmpty: boolean;
  /** Maps errors the stream is destroyed with (work failures, aborts) to the caller's. */
  mapError?: (error: Error) => Error;
  /**
   * Buffering on each side. Small: the block being filled and the blocks in flight are the real
   * buffer already.
   * @default 64 KiB
   */
  highWaterMark?: number;
}

interface Pending {
  done: boolean;
  result: Promise<Buffer>;
}

export class OrderedBlocks extends Transform {
  readonly #options: OrderedBlocksOptions;
  /** Input collected for the next block, as the written buffers (no copy until the block is cut). */
  #parts: Buffer[] = [];
  #partsLength = 0;
  /** Blocks submitted and not yet emitted, oldest first. */
  readonly #queue: Pending[] = [];
  #blocks = 0;
  /** Full-size block buffers whose work has settled, ready for reuse (at most inFlight + 1). */
  readonly #spare: Buffer[] = [];

  constructor(options: OrderedBlocksOptions) {
    const hwm = options.highWaterMark ?? 64 * 1024;
    super({ readableHighWaterMark: hwm, writableHighWaterMark: hwm });
    this.#options = options;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.#parts.push(chunk);
    this.#partsLength += chunk.length;
    this.#cutBlocks().then(() => callback(), callback);
  }

  /** Submits every complete block, first waiting for a free slot when `inFlight` are pending. */
  async #cutBlocks(): Promise<void> {
    const { blockSize, inFlight } = this.#options;
    while (this.#partsLength >= blockSize && !this.destroyed) {
      if (this.#queue.length >= inFlight) await this.#drain(inFlight - 1);
      if (this.destroyed) return;
      this.#submit(this.#take(blockSize));
    }
    // Emit what is already finished, without waiting for the rest.
    await this.#drain(Number.POSITIVE_INFINITY);
  }

  override _flush(callback: TransformCallback): void {
    const last = async () => {
      if (this.#queue.length >= this.#options.inFlight) await this.#drain(this.#options.inFlight - 1);
      if (this.#partsLength > 0 || (this.#blocks === 0 && this.#options.encodeEmpty)) {
        this.#submit(this.#take(this.#partsLength));
      }
      await this.#drain(0);
      if (this.#options.trailer && !this.destroyed) this.push(this.#options.trailer);
    };
    last().then(() => callback(), callback);
  }

  /**
   * Translating in destroy() itself (not in _destroy) makes every observer — pipeline, 'error'
   * listeners, `errored` — see the mapped error.
   */
  override destroy(error?: Error): this {
    const map = this.#options.mapError;
    return super.destroy(error && map ? map(error) : error);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Blocks still on the threadpool finish there (a few ms each) and are dropped: nothing
    // waits for them, and #drain stops emitting once destroyed.
    this.#queue.length = 0;
    this.#spare.length = 0;
    this.#parts = [];
    this.#partsLength = 0;
    callback(error);
  }

  /** Cuts the first `size` bytes of the collected input into one contiguous block. */
  #take(size: number): Buffer {
    const spare = this.#options.reuseBlocks ? this.#spare.pop() : undefined;
    const block = spare ? spare.subarray(0, size) : Buffer.allocUnsafe(size);
    let at = 0;
    while (at < size) {
      const part = this.#parts[0]!;
      const n = Math.min(part.length, size - at);
      part.copy(block, at, 0, n);
      at += n;
      if (n === part.length) this.#parts.shift();
      else this.#parts[0] = part.subarray(n);
    }
    this.#partsLength -= size;
    return block;
  }

  #submit(block: Buffer): void {
    this.#blocks++;
    const pending: Pending = { done: false, result: Promise.resolve(Buffer.alloc(0)) };
    pending.result = this.#options.work(block, this.#blocks - 1).finally(() => {
      pending.done = true;
      if (
        this.#options.reuseBlocks &&
        block.length === this.#options.blockSize &&
        this.#spare.length <= this.#options.inFlight
      ) {
        this.#spare.push(block);
      }
    });
    // Failures are reported when the block's turn comes; until then, no unhandled rejection.
    pending.result.catch(() => {});
    this.#queue.push(pending);
  }

  /**
   * Emits finished blocks in order: every finished one at the head of the queue, and waits for
   * the oldest ones until at most `keep` are still pending.
   */
  async #drain(keep: number): Promise<void> {
    while (this.#queue.length > 0 && !this.destroyed) {
      const head = this.#queue[0]!;
      if (!head.done && this.#queue.length <= keep) return;
      const out = await head.result;
      if (this.destroyed) return;
      this.#queue.shift();
      if (out.length > 0) this.push(out);
    }
  }
}
