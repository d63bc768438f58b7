import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { StrongboxError } from "../errors.js";

/**
 * Pass-through stage that hashes (sha256) and counts the bytes flowing through it, so sizes and
 * digests of both plaintext and stored bytes are known the moment the stream ends — no second read.
 */
export class HashCounter extends Transform {
  readonly #hash: Hash = createHash("sha256");
  bytes = 0;
  #digest: string | undefined;
  readonly #onBytes: ((bytes: number) => void) | undefined;

  constructor(onBytes?: (bytes: number) => void) {
    super({ highWaterMark: 1 << 20 });
    this.#onBytes = onBytes;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    this.#onBytes?.(this.bytes);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.#digest = this.#hash.digest("hex");
    cb();
  }

  /** Hex sha256; available once the stream has finished. */
  get sha256(): string {
    if (this.#digest === undefined) throw new Error("HashCounter: digest read before the stream ended");
    return this.#digest;
  }
}

/**
 * Like HashCounter, but checks the bytes against what a manifest recorded and fails the stream
 * at the end on a mismatch: fewer bytes → E_TRUNCATED, more → E_INTEGRITY, other hash → E_INTEGRITY.
 * It also fails early as soon as more bytes than expected arrive.
 *
 * It passes data on one chunk late and releases the LAST chunk only once the check passed. A
 * consumer that acts when it has read everything — pg_restore commits on the archive's final
 * bytes, without waiting for end-of-input — therefore never sees a complete artifact that is bad.
 */
export class VerifyingCounter extends HashCounter {
  readonly #expectedSize: number;
  readonly #expectedSha: string;
  readonly #what: string;
  #held: Buffer | undefined;

  constructor(expected: { size: number; sha256: string }, what: string, onBytes?: (bytes: number) => void) {
    super(onBytes);
    this.#expectedSize = expected.size;
    this.#expectedSha = expected.sha256;
    this.#what = what;
  }

  override _transform(chunk: Buffer, enc: BufferEncoding, cb: TransformCallback): void {
    if (this.bytes + chunk.length > this.#expectedSize) {
      cb(
        new StrongboxError(
          "E_INTEGRITY",
          `${this.#what}: more bytes than the manifest records (${this.#expectedSize}); trailing or substituted data`,
        ),
      );
      return;
    }
    super._transform(chunk, enc, (err) => {
      if (err) return cb(err);
      const previous = this.#held;
      this.#held = chunk;
      cb(null, previous);
    });
  }

  override _flush(cb: TransformCallback): void {
    super._flush((err) => {
      if (err) return cb(err);
      if (this.bytes < this.#expectedSize) {
        return cb(
          new StrongboxError(
            "E_TRUNCATED",
            `${this.#what}: ${this.bytes} bytes, the manifest records ${this.#expectedSize}; the artifact is truncated`,
          ),
        );
      }
      if (this.sha256 !== this.#expectedSha) {
        return cb(
          new StrongboxError(
            "E_INTEGRITY",
            `${this.#what}: sha256 ${this.sha256} does not match the manifest's ${this.#expectedSha}; the artifact is corrupt or was replaced`,
          ),
        );
      }
      cb(null, this.#held);
    });
  }
}
