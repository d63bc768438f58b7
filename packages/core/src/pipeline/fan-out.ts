import { PassThrough, Writable } from "node:stream";
import type { Storage } from "../contracts/storage.js";
import { type StrongboxError, wrapError } from "../errors.js";

/** One destination of a fan-out: the storage, and what happened to it. */
export interface Destination {
  index: number;
  storage: Storage;
  /** Set once this destination failed; it then receives nothing more. */
  error?: StrongboxError;
}

interface Branch {
  dest: Destination;
  body: PassThrough;
  put: Promise<{ size: number } | undefined>;
  settled: boolean;
}

/**
 * Writes ONE stream to several storages at once: every destination's `put()` receives identical
 * bytes from a single read of the source. Backpressure is the slowest live destination's.
 *
 * A destination whose `put()` fails is cut off. With `allowPartial` false (the default) that fails
 * the whole stream; with it true the others carry on, and the stream fails only when none is left.
 */
export class FanOut extends Writable {
  readonly #branches: Branch[];
  readonly #allowPartial: boolean;
  /** Set once `_final` runs: from then on it alone reports the outcome (no second error). */
  #finalizing = false;

  constructor(key: string, destinations: Destination[], options: { allowPartial: boolean; signal: AbortSignal }) {
    super({ highWaterMark: 1 << 20 });
    this.#allowPartial = options.allowPartial;
    this.#branches = destinations.map((dest) => {
      const body = new PassThrough({ highWaterMark: 1 << 20 });
      // A storage may attach to `body` only after some async setup (mkdir, a request); until then
      // destroying it with an error must not crash the process. The storage sees the failure
      // through the body being destroyed, and we see the storage's through put()'s rejection.
      body.on("error", () => {});
      const branch: Branch = { dest, body, settled: false, put: Promise.resolve(undefined) };
      branch.put = dest.storage.put(key, body, { signal: options.signal }).then(
        (r) => {
          branch.settled = true;
          return r;
        },
        (err: unknown) => {
          branch.settled = true;
          this.#fail(branch, err);
          return undefined;
        },
      );
      return branch;
    });
  }

  /** Destinations still receiving data. */
  get live(): Destination[] {
    return this.#branches.filter((b) => !b.dest.error).map((b) => b.dest);
  }

  #fail(branch: Branch, err: unknown): void {
    if (branch.dest.error) return;
    branch.dest.error = wrapError(
      err,
      "E_STORAGE",
      branch.dest.storage.type,
      `writing to ${branch.dest.storage.location}`,
    );
    branch.body.destroy();
    if (this.#finalizing || this.destroyed) return;
    if (!this.#allowPartial || this.live.length === 0) this.destroy(branch.dest.error);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const waits: Array<Promise<void>> = [];
    for (const b of this.#branches) {
      if (b.dest.error) continue;
      if (!b.body.write(chunk)) waits.push(drained(b));
    }
    if (waits.length === 0) cb();
    else Promise.all(waits).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#finalizing = true;
    for (const b of this.#branches) if (!b.dest.error) b.body.end();
    Promise.all(this.#branches.map((b) => b.put)).then(() => {
      if (this.destroyed) return cb();
      const failed = this.#branches.find((b) => b.dest.error)?.dest.error;
      if (failed && (!this.#allowPartial || this.live.length === 0)) return cb(failed);
      cb();
    }, cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Make every storage see the failure, so each cleans up its temp file / multipart upload.
    for (const b of this.#branches) if (!b.settled) b.body.destroy(err ?? new Error("fan-out destroyed"));
    cb(err);
  }

  /** Resolves once every destination's `put()` has finished or failed (and so cleaned up after itself). */
  async settled(): Promise<void> {
    await Promise.allSettled(this.#branches.map((b) => b.put));
  }
}

function drained(b: Branch): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      b.body.off("drain", done);
      b.body.off("close", done);
      resolve();
    };
    b.body.once("drain", done);
    b.body.once("close", done);
    // A put that failed without closing its body must not stall the others.
    b.put.then(done, done);
  });
}
