import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ArtifactRecord } from "../contracts/source.js";
import type { Storage } from "../contracts/storage.js";
import type { Transform } from "../contracts/transform.js";
import { wrapError } from "../errors.js";
import { VerifyingCounter } from "./hash-counter.js";

/**
 * Reads an artifact back as plaintext: stored bytes are checked against the manifest's size and
 * sha256, decoded through `decoders` (given in ENCODING order, one per `artifact.transforms` entry) in reverse, and the plaintext checked too. Any mismatch
 * destroys the returned stream with E_INTEGRITY / E_TRUNCATED / E_DECRYPT — so the consumer must
 * treat a stream as good only once it ended without error.
 */
export async function openArtifact(
  storage: Storage,
  artifact: ArtifactRecord,
  decoders: Transform[],
  options: { signal: AbortSignal; onBytes?: (plainBytes: number) => void },
): Promise<Readable> {
  // Decoders first, so a transform that cannot decode fails before the object is opened.
  // Decode in reverse order of encoding: the last transform applied is the first undone.
  const undo = decoders.map((t, i) => t.decode(artifact.transforms[i]!)).reverse();
  const stored = await storage.get(artifact.key, { signal: options.signal });
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const last = new VerifyingCounter(
    { size: artifact.plainSize, sha256: artifact.plainSha256 },
    `decoded ${artifact.key}`,
    options.onBytes,
  );
  const stages = [
    new VerifyingCounter({ size: artifact.size, sha256: artifact.sha256 }, `stored object ${artifact.key}`),
    ...undo,
    last,
  ];
  // `out` stays outside the pipeline so that it is destroyed with OUR error (coded, redacted)
  // rather than whatever raw error the pipeline would hand it.
  last.pipe(out);
  pipeline([stored, ...stages], { signal: options.signal }).catch((err: unknown) => {
    last.unpipe(out);
    out.destroy(wrapError(err, "E_INTEGRITY", "core", `reading ${artifact.key}`));
  });
  return out;
}

/** Reads a stream to its end, discarding the data; rejects with its error. */
export async function drain(stream: Readable): Promise<void> {
  for await (const _ of stream) {
    // discard
  }
}
