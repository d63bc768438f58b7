import { type Readable, Transform } from "node:stream";
import { StrongboxError } from "@strongbox/core";

/**
 * Some S3-compatible servers (and proxies in front of them) ignore a Range header and answer 200
 * with the whole object, or widen the range (s3rver reads `bytes=0-0` as "to the end"). Handing
 * that body on would give the caller the wrong bytes, so the answer's Content-Range is checked
 * against the request and, when they differ, the body is cut to what was asked for.
 */
export function enforceRange(
  body: Readable,
  range: { start: number; end?: number },
  contentRange: string | undefined,
): Readable {
  const m = contentRange ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(contentRange) : null;
  const first = m ? Number(m[1]) : 0; // no Content-Range: a 200 with the whole object
  const last = m ? Number(m[2]) : undefined;
  const total = m && m[3] !== "*" ? Number(m[3]) : undefined;
  const wantedLast =
    range.end === undefined
      ? total === undefined
        ? undefined
        : total - 1
      : total === undefined
        ? range.end
        : Math.min(range.end, total - 1);
  if (m && first === range.start && last !== undefined && wantedLast !== undefined && last === wantedLast) return body;
  if (first > range.start || (last !== undefined && wantedLast !== undefined && last < wantedLast)) {
    body.destroy();
    throw new StrongboxError(
      "E_STORAGE",
      `the server answered bytes ${first}-${last ?? "?"} for a request of ${range.start}-${range.end ?? ""}`,
      {
        adapter: "s3",
      },
    );
  }
  let skip = range.start - first;
  let left = range.end === undefined ? Number.POSITIVE_INFINITY : range.end - range.start + 1;
  let done = false;
  const cut = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (done) return cb();
      if (skip >= chunk.length) {
        skip -= chunk.length;
        return cb();
      }
      const piece = chunk.subarray(skip, skip + Math.min(left, chunk.length - skip));
      skip = 0;
      left -= piece.length;
      cb(null, piece.length > 0 ? piece : undefined);
      if (left <= 0) {
        // Got what was asked for: stop downloading the rest of the object.
        done = true;
        body.unpipe(cut);
        body.destroy();
        cut.end();
      }
    },
  });
  body.on("error", (err) => {
    if (!done) cut.destroy(err);
  });
  // A consumer that gives up early must stop the download too.
  cut.on("close", () => body.destroy());
  body.pipe(cut);
  return cut;
}
