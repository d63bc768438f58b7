import type { Duplex, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Transform } from "../contracts/transform.js";
import { wrapError } from "../errors.js";
import { type Destination, FanOut } from "./fan-out.js";
import { HashCounter } from "./hash-counter.js";

export interface StoredArtifact {
  size: number;
  sha256: string;
  plainSize: number;
  plainSha256: string;
}

/**
 * source stream → [plaintext hash/count] → transforms → [stored hash/count] → every destination.
 * One pass; memory bounded by the streams' high-water marks; aborting the signal tears it all down.
 */
export async function storeArtifact(
  input: Readable,
  key: string,
  transforms: readonly Transform[],
  destinations: Destination[],
  options: { signal: AbortSignal; allowPartial: boolean; onBytes?: (plainBytes: number) => void },
): Promise<StoredArtifact> {
  const plain = new HashCounter(options.onBytes);
  const stored = new HashCounter();
  // Build the encoders before any destination is opened: a transform that cannot encode (e.g.
  // an encrypt() holding only identities) must fail here, with nothing started.
  let encoders: Duplex[];
  try {
    encoders = transforms.map((t) => t.encode());
  } catch (err) {
    input.destroy();
    throw wrapError(err, "E_CONFIG", "core", `preparing the transforms for ${key}`);
  }
  const fan = new FanOut(key, destinations, { allowPartial: options.allowPartial, signal: options.signal });
  try {
    await pipeline([input, plain, ...encoders, stored, fan], { signal: options.signal });
  } finally {
    // On failure, wait until each storage has removed its partial object before the caller
    // goes on to delete the backup's keys.
    await fan.settled();
  }
  return { size: stored.bytes, sha256: stored.sha256, plainSize: plain.bytes, plainSha256: plain.sha256 };
}
