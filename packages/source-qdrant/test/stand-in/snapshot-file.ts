import { createHash } from "node:crypto";
import { once } from "node:events";
import { Readable } from "node:stream";
import * as tar from "tar-stream";

/** Name of the marker entry that says "this tar is a stand-in Qdrant snapshot". */
export const MARKER = "qdrant-stand-in.json";
export const MARKER_FORMAT = "qdrant-stand-in-snapshot/1";

export interface StoredPoint {
  id: number | string;
  vector: unknown;
  payload: Record<string, unknown> | null;
}

/** What a snapshot holds: the collection's config, its points, and optional synthetic padding. */
export interface SnapshotContent {
  collection: string;
  version: string;
  config: Record<string, unknown>;
  points: StoredPoint[];
  /** Bytes of a generated `segments/padding.bin` entry: lets a test make a huge snapshot cheaply. */
  padding: number;
}

const MTIME = new Date(0);
const PATTERN = (() => {
  const b = Buffer.alloc(1 << 20);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
  return b;
})();

/** A deterministic tar (fixed mtimes, fixed order), generated as it is read: never held whole. */
export function packSnapshot(content: SnapshotContent): Readable {
  const pack = tar.pack();
  const add = (name: string, value: unknown) => pack.entry({ name, mtime: MTIME, mode: 0o644 }, JSON.stringify(value));
  void (async () => {
    try {
      add(MARKER, { format: MARKER_FORMAT, collection: content.collection, version: content.version });
      add("config.json", content.config);
      add("points.json", content.points);
      if (content.padding > 0) {
        const entry = pack.entry({ name: "segments/padding.bin", size: content.padding, mtime: MTIME, mode: 0o644 });
        let left = content.padding;
        while (left > 0) {
          const n = Math.min(left, PATTERN.length);
          left -= n;
          if (!entry.write(n === PATTERN.length ? PATTERN : PATTERN.subarray(0, n)))
            await once(entry as unknown as NodeJS.EventEmitter, "drain");
        }
        (entry as unknown as NodeJS.WritableStream).end();
      }
      pack.finalize();
    } catch (err) {
      pack.destroy(err as Error);
    }
  })();
  // A node stream in front of streamx's, so node's pipeline() and destroy() behave as usual.
  const out = Readable.from(pack as AsyncIterable<Buffer>, { objectMode: false });
  out.on("close", () => pack.destroy());
  return out;
}

/** Size and sha256 of a snapshot file, computed by generating it once. */
export async function describeFile(content: SnapshotContent): Promise<{ size: number; checksum: string }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of packSnapshot(content)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, checksum: hash.digest("hex") };
}

/** Reads a snapshot tar from a stream; throws when it is not one. Padding is counted, not kept. */
export async function unpackSnapshot(stream: Readable): Promise<SnapshotContent> {
  const extract = tar.extract();
  stream.on("error", (err) => extract.destroy(err));
  stream.pipe(extract as unknown as NodeJS.WritableStream);
  let marker: { format?: string; version?: string; collection?: string } | undefined;
  let config: Record<string, unknown> | undefined;
  let points: StoredPoint[] | undefined;
  let padding = 0;
  for await (const entry of extract) {
    const name = entry.header.name;
    if (name === MARKER || name === "config.json" || name === "points.json") {
      const parts: Buffer[] = [];
      for await (const c of entry) parts.push(c as Buffer);
      const value = JSON.parse(Buffer.concat(parts).toString("utf8"));
      if (name === MARKER) marker = value;
      else if (name === "config.json") config = value;
      else points = value;
    } else {
      for await (const c of entry) if (name === "segments/padding.bin") padding += (c as Buffer).length;
    }
  }
  if (marker?.format !== MARKER_FORMAT || !config || !Array.isArray(points))
    throw new Error("the file is not a Qdrant snapshot (no collection config or points in the archive)");
  return { collection: String(marker.collection), version: String(marker.version), config, points, padding };
}
