import type { Duplex } from "node:stream";

/**
 * What a transform writes into the manifest for each artifact it encoded: its `id` plus the
 * parameters needed to decode (level, recipients' fingerprints, chunk size…). It must NEVER hold a
 * secret: no key, no passphrase. It is read back from the manifest and handed to `decode()`.
 */
export interface TransformRecord {
  id: string;
  [param: string]: unknown;
}

/**
 * A reversible byte-stream stage (compression, encryption).
 *
 * Guarantees an implementation must give:
 * - `encode()` and `decode()` return a NEW Duplex each call; a transform instance may be used for
 *   many artifacts, concurrently.
 * - Streams respect backpressure and hold a bounded amount of data (a block, a chunk), whatever the
 *   input size.
 * - `decode(describe())` applied to `encode()`'s output returns exactly the original bytes.
 * - Decoding bad input fails the stream with a {@link StrongboxError}: `E_DECRYPT` (wrong key or
 *   passphrase), `E_INTEGRITY` (flipped bit, trailing data), `E_TRUNCATED` (input ended early),
 *   `E_FORMAT` (not this format at all). It must never emit bytes it has not authenticated when
 *   the format authenticates.
 * - The output is a standard format that a standard tool can read (`gunzip`, `age -d`, `zstd -d`).
 */
export interface Transform {
  /** Stable id recorded in manifests: "gzip", "age", "zstd". */
  readonly id: string;
  /** File extension appended to artifact keys, with the dot: ".gz", ".age". */
  readonly extension: string;
  encode(): Duplex;
  decode(record: TransformRecord): Duplex;
  /** The manifest record for what `encode()` produces. No secrets. */
  describe(): TransformRecord;
}
