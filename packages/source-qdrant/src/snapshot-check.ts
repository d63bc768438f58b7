import { createHash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { StrongboxError } from "@strongbox/core";
import type { SnapshotDescription } from "./api.js";
import { ADAPTER } from "./http.js";

/**
 * Pass-through for a downloaded snapshot: hashes and counts the bytes and, at the end, compares
 * them with Qdrant's own description (`size`, `checksum`). It fails the stream itself, before it
 * ends, so a snapshot that differs from what Qdrant made is never stored as a complete artifact.
 */
export class SnapshotCheck extends Transform {
  readonly #hash = createHash("sha256");
  bytes = 0;
  sha256: string | undefined;

  constructor(
    private readonly snapshot: SnapshotDescription,
    private readonly collection: string,
  ) {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.sha256 = this.#hash.digest("hex");
    const what = `snapshot ${this.snapshot.name} of collection "${this.collection}"`;
    if (typeof this.snapshot.size === "number" && this.bytes !== this.snapshot.size) {
      cb(
        new StrongboxError(
          this.bytes < this.snapshot.size ? "E_SOURCE" : "E_INTEGRITY",
          `${what}: downloaded ${this.bytes} bytes, Qdrant reported ${this.snapshot.size}`,
          { adapter: ADAPTER },
        ),
      );
      return;
    }
    if (this.snapshot.checksum && this.snapshot.checksum.toLowerCase() !== this.sha256) {
      cb(
        new StrongboxError(
          "E_INTEGRITY",
          `${what}: sha256 of the downloaded bytes ${this.sha256} differs from Qdrant's checksum ${this.snapshot.checksum}; the download was corrupted`,
          { adapter: ADAPTER },
        ),
      );
      return;
    }
    cb();
  }
}
