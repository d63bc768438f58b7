import { PassThrough, type Readable } from "node:stream";
import { StrongboxError } from "../../errors.js";

/**
 * Hands an SDK download stream to the caller through a PassThrough, so that every error the
 * caller sees is a StrongboxError (mapped by `mapErr`), an abort of `signal` ends the download
 * with E_ABORTED, and a caller that stops early (destroys the stream) closes the HTTP response.
 */
export function relayDownload(
  src: Readable,
  mapErr: (err: unknown) => Error,
  adapter: string,
  signal?: AbortSignal,
): Readable {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const onAbort = () =>
    out.destroy(new StrongboxError("E_ABORTED", "download aborted", { adapter, cause: signal?.reason }));
  src.on("error", (err) => out.destroy(mapErr(err)));
  out.once("close", () => {
    signal?.removeEventListener("abort", onAbort);
    if (!src.destroyed) src.destroy();
  });
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  src.pipe(out);
  return out;
}
