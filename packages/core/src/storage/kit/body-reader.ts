import { Readable } from "node:stream";
import { StrongboxError } from "../../errors.js";

/**
 * Reads an upload body through its async iterator: first up to a limit (to choose between a
 * single request and a block upload), then the rest as a stream, with backpressure throughout.
 * It records the body's own error (`error`), so a failing source is told apart from a failing
 * upload, and refuses to treat a body that closed without ending as complete.
 */
export class BodyReader {
  /** Bytes read from the body so far. */
  bytes = 0;
  /** The body's own failure, when it failed. */
  error: unknown;
  private readonly iterator: AsyncIterator<Buffer>;

  constructor(private readonly body: Readable) {
    this.iterator = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** True while a read of the body is pending: the upload is waiting for the SOURCE, not the network. */
  waiting = false;

  private async next(): Promise<Buffer | undefined> {
    let r: IteratorResult<Buffer>;
    this.waiting = true;
    try {
      r = await this.iterator.next();
    } catch (err) {
      this.error ??= err;
      throw err;
    } finally {
      this.waiting = false;
    }
    if (r.done) {
      // A destroyed body also ends its iterator; only a real end of data may complete an upload.
      if (!this.body.readableEnded) {
        this.error ??= new Error("the body was closed before its end");
        throw this.error;
      }
      return undefined;
    }
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    this.bytes += chunk.length;
    return chunk;
  }

  /**
   * Why a put failed when it was not the backend's fault: the caller's abort (E_ABORTED) or the
   * body's own error (the source or a transform: passed through when it is already a
   * StrongboxError). `undefined` means the backend failed — map its error instead.
   */
  putFailure(what: string, adapter: string, signal?: AbortSignal): StrongboxError | undefined {
    if (signal?.aborted) {
      return new StrongboxError("E_ABORTED", `${what}: aborted, nothing was stored`, { adapter, cause: signal.reason });
    }
    if (this.error === undefined) return undefined;
    if (this.error instanceof StrongboxError) return this.error;
    const text = this.error instanceof Error ? this.error.message : String(this.error);
    return new StrongboxError("E_STORAGE", `${what}: the data stream failed, nothing was stored: ${text}`, {
      adapter,
      cause: this.error,
    });
  }

  /** Reads until more than `limit` bytes arrived or the body ended. */
  async readUpTo(limit: number): Promise<{ chunks: Buffer[]; ended: boolean }> {
    const chunks: Buffer[] = [];
    let length = 0;
    while (length <= limit) {
      const chunk = await this.next();
      if (!chunk) return { chunks, ended: true };
      chunks.push(chunk);
      length += chunk.length;
    }
    return { chunks, ended: false };
  }

  /** `head` followed by the rest of the body, as a stream. */
  rest(head: Buffer[]): Readable {
    const self = this;
    return Readable.from(
      (async function* () {
        while (head.length > 0) yield head.shift() as Buffer;
        for (;;) {
          // Yield to the event loop between chunks so timers and abort signals run while a
          // fast body streams (a synchronous chain could hand everything over first).
          await new Promise<void>((resolve) => setImmediate(resolve));
          const chunk = await self.next();
          if (!chunk) return;
          yield chunk;
        }
      })(),
      { objectMode: false, highWaterMark: 1 << 20 },
    );
  }
}
