import type { Readable } from "node:stream";
import { StrongboxError } from "@strongbox/core";
import {
  type EndMeta,
  FORMAT_VERSION,
  type Header,
  type HeaderMeta,
  MAGIC,
  TAG_CLOCK,
  TAG_END,
  TAG_KEY,
} from "./format.js";

const ADAPTER = "redis";

export interface KeyRecord {
  kind: "key";
  db: number;
  key: Buffer;
  /** Unix ms; 0 = no expiry. */
  expireAt: number;
  payload: Buffer;
  /** Source server time when this key was read (last CLOCK record), for relative TTLs. */
  clock: number;
}

export interface EndRecord {
  kind: "end";
  keyRecords: number;
  skipped: number;
  meta: EndMeta;
}

/**
 * Pulls exact byte counts out of a stream. Holds only what the current field needs (a record's
 * payload at most), so a multi-gigabyte artifact is read with memory bounded by its largest value.
 */
class ByteSource {
  private chunks: Buffer[] = [];
  private head = 0;
  private offset = 0;
  private length = 0;
  private ended = false;
  private readonly iterator: AsyncIterator<Buffer>;
  /** Bytes consumed so far (for error messages). */
  position = 0;

  constructor(stream: Readable) {
    this.iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  private async fill(n: number): Promise<boolean> {
    while (this.length < n && !this.ended) {
      const next = await this.iterator.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      const chunk = typeof next.value === "string" ? Buffer.from(next.value) : next.value;
      if (chunk.length === 0) continue;
      this.chunks.push(chunk);
      this.length += chunk.length;
    }
    return this.length >= n;
  }

  async read(n: number, what: string): Promise<Buffer> {
    // A zero-length field (an empty key or value) may come when every chunk is consumed.
    if (n === 0) return Buffer.alloc(0);
    if (!(await this.fill(n))) {
      throw new StrongboxError(
        "E_TRUNCATED",
        `artifact ends in the middle of ${what} at byte ${this.position + this.length}: it was cut short`,
        { adapter: ADAPTER },
      );
    }
    this.position += n;
    this.length -= n;
    const first = this.chunks[this.head]!;
    if (first.length - this.offset >= n) {
      const out = first.subarray(this.offset, this.offset + n);
      this.offset += n;
      if (this.offset === first.length) this.advance();
      return out;
    }
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const c = this.chunks[this.head]!;
      const take = Math.min(need, c.length - this.offset);
      parts.push(c.subarray(this.offset, this.offset + take));
      this.offset += take;
      need -= take;
      if (this.offset === c.length) this.advance();
    }
    return Buffer.concat(parts, n);
  }

  private advance(): void {
    this.head++;
    this.offset = 0;
    // Drop consumed chunks now and then so the array does not grow with the artifact.
    if (this.head > 64) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }

  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }

  async close(): Promise<void> {
    await this.iterator.return?.();
  }
}

/** Reads and validates the header, then yields KEY records and finally the END record. */
export class ArtifactReader {
  private readonly src: ByteSource;
  private clock = 0;
  private keysSeen = 0;
  header?: Header;

  constructor(stream: Readable) {
    this.src = new ByteSource(stream);
  }

  async readHeader(): Promise<Header> {
    const magic = await this.src.read(MAGIC.length, "the header");
    if (!magic.equals(MAGIC)) {
      throw new StrongboxError("E_FORMAT", "artifact is not a Strongbox Redis dump (bad magic bytes)", {
        adapter: ADAPTER,
      });
    }
    const fixed = await this.src.read(8, "the header");
    const formatVersion = fixed.readUInt16BE(0);
    if (formatVersion > FORMAT_VERSION) {
      throw new StrongboxError(
        "E_FORMAT",
        `artifact uses dump format version ${formatVersion}; this version of @strongbox/source-redis reads up to ${FORMAT_VERSION}: upgrade it`,
        { adapter: ADAPTER },
      );
    }
    const rdbVersion = fixed.readUInt16BE(2);
    const meta = parseJson<HeaderMeta>(await this.src.read(fixed.readUInt32BE(4), "the header"), "header");
    this.header = { formatVersion, rdbVersion, meta };
    return this.header;
  }

  async *records(): AsyncGenerator<KeyRecord | EndRecord> {
    try {
      for (;;) {
        const tag = (await this.src.read(1, "a record tag"))[0];
        if (tag === TAG_KEY) {
          const h = await this.src.read(6, "a key record");
          const db = h.readUInt16BE(0);
          const key = await this.src.read(h.readUInt32BE(2), "a key");
          const t = await this.src.read(12, "a key record");
          const expireAt = Number(t.readBigInt64BE(0));
          const payload = await this.src.read(t.readUInt32BE(8), "a value");
          this.keysSeen++;
          yield { kind: "key", db, key, expireAt, payload, clock: this.clock };
        } else if (tag === TAG_CLOCK) {
          this.clock = Number((await this.src.read(8, "a clock record")).readBigInt64BE(0));
        } else if (tag === TAG_END) {
          const e = await this.src.read(20, "the end record");
          const keyRecords = Number(e.readBigUInt64BE(0));
          const skipped = Number(e.readBigUInt64BE(8));
          const meta = parseJson<EndMeta>(await this.src.read(e.readUInt32BE(16), "the end record"), "end record");
          if (keyRecords !== this.keysSeen) {
            throw new StrongboxError(
              "E_INTEGRITY",
              `artifact end record counts ${keyRecords} keys but ${this.keysSeen} were read`,
              { adapter: ADAPTER },
            );
          }
          if (!(await this.src.atEnd())) {
            throw new StrongboxError("E_INTEGRITY", "artifact has trailing data after its end record", {
              adapter: ADAPTER,
            });
          }
          yield { kind: "end", keyRecords, skipped, meta };
          return;
        } else {
          throw new StrongboxError(
            "E_FORMAT",
            `unknown record tag 0x${(tag ?? 0).toString(16)} at byte ${this.src.position - 1}`,
            { adapter: ADAPTER },
          );
        }
      }
    } finally {
      await this.src.close();
    }
  }

  async close(): Promise<void> {
    await this.src.close();
  }
}

function parseJson<T>(buf: Buffer, what: string): T {
  try {
    return JSON.parse(buf.toString("utf8")) as T;
  } catch (err) {
    throw new StrongboxError("E_FORMAT", `malformed ${what} metadata`, { adapter: ADAPTER, cause: err });
  }
}
