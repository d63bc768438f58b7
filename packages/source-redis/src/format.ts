/**
 * The `.sbrd` framed format ("Strongbox Redis dump"), version 1.
 *
 * Redis has no standard file format for a logical, key-by-key export: `DUMP` payloads are opaque,
 * server-version-tagged blobs that only `RESTORE` understands. This format frames them with what
 * `RESTORE` needs (db, key, absolute expiry) and closes with an end record holding the counts, so
 * a cut artifact is detected even without the manifest. All integers are big-endian.
 *
 * ```
 * header  := magic "SBRD\r\n\x1a\n" (8 bytes)
 *            u16 formatVersion (= 1)
 *            u16 rdbVersion     RDB version of the DUMP payloads (from their 2-byte trailer); 0 = no keys
 *            u32 metaLength, metaLength bytes of UTF-8 JSON (HeaderMeta)
 * record  := u8 tag, then by tag:
 *   0x01 KEY    u16 db, u32 keyLength, key bytes, i64 expireAtMs (Unix ms, 0 = no expiry),
 *               u32 payloadLength, payload bytes (exactly what DUMP returned)
 *   0x02 CLOCK  i64 serverTimeMs — the source server's clock when the following keys were read
 *   0xFF END    u64 keyRecords, u64 skipped, u32 metaLength, UTF-8 JSON (EndMeta)
 * file    := header record* END   — nothing may follow END
 * ```
 */
export const MAGIC = Buffer.from("SBRD\r\n\x1a\n", "latin1");
export const FORMAT_VERSION = 1;
export const TAG_KEY = 0x01;
export const TAG_CLOCK = 0x02;
export const TAG_END = 0xff;

/** JSON carried in the header. */
export interface HeaderMeta {
  /** `redis_version` of the source server. */
  redisVersion: string;
  /** "standalone" or "cluster". */
  topology: "standalone" | "cluster";
  /** Logical databases the backup walked (cluster: [0]). */
  databases: number[];
  /** Server time (Unix ms) when the backup started. */
  startedAt: number;
  /** SCAN MATCH pattern used, if any. */
  match?: string;
  /** Key types kept, if filtered. */
  types?: string[];
  /**
   * True for the safety backup core takes before a restore: restoring it flushes `databases`
   * first, so a rollback puts the target back exactly as it was.
   */
  safety?: boolean;
}

/** JSON carried in the end record. */
export interface EndMeta {
  /** Key records per db, as `{ db0: n }`. */
  keys: Record<string, number>;
  /** Keys that vanished or expired between SCAN and DUMP. */
  skippedVanished: number;
  /** Keys left out by the `types` filter. */
  skippedByType: number;
  /** Highest RDB version seen among the payloads (a cluster may mix versions during an upgrade). */
  maxRdbVersion: number;
}

export interface Header {
  formatVersion: number;
  rdbVersion: number;
  meta: HeaderMeta;
}

export function encodeHeader(rdbVersion: number, meta: HeaderMeta): Buffer {
  const json = Buffer.from(JSON.stringify(meta), "utf8");
  const fixed = Buffer.alloc(MAGIC.length + 8);
  MAGIC.copy(fixed, 0);
  fixed.writeUInt16BE(FORMAT_VERSION, 8);
  fixed.writeUInt16BE(rdbVersion, 10);
  fixed.writeUInt32BE(json.length, 12);
  return Buffer.concat([fixed, json]);
}

/** The part of a KEY record before the payload; the payload follows as its own buffer (no copy). */
export function encodeKeyHead(db: number, key: Buffer, expireAt: number, payloadLength: number): Buffer {
  const head = Buffer.alloc(1 + 2 + 4 + key.length + 8 + 4);
  let o = head.writeUInt8(TAG_KEY, 0);
  o = head.writeUInt16BE(db, o);
  o = head.writeUInt32BE(key.length, o);
  o += key.copy(head, o);
  o = head.writeBigInt64BE(BigInt(expireAt), o);
  head.writeUInt32BE(payloadLength, o);
  return head;
}

export function encodeClock(serverTimeMs: number): Buffer {
  const b = Buffer.alloc(9);
  b.writeUInt8(TAG_CLOCK, 0);
  b.writeBigInt64BE(BigInt(serverTimeMs), 1);
  return b;
}

export function encodeEnd(keyRecords: number, skipped: number, meta: EndMeta): Buffer {
  const json = Buffer.from(JSON.stringify(meta), "utf8");
  const b = Buffer.alloc(1 + 8 + 8 + 4);
  b.writeUInt8(TAG_END, 0);
  b.writeBigUInt64BE(BigInt(keyRecords), 1);
  b.writeBigUInt64BE(BigInt(skipped), 9);
  b.writeUInt32BE(json.length, 17);
  return Buffer.concat([b, json]);
}

/**
 * Every DUMP payload ends with the RDB version (2 bytes, little-endian) and a CRC64 (8 bytes).
 * Returns 0 for a payload too short to carry the trailer.
 */
export function payloadRdbVersion(payload: Buffer): number {
  return payload.length >= 10 ? payload.readUInt16LE(payload.length - 10) : 0;
}

/** RDB object type byte (first payload byte) → Redis TYPE name; undefined when unknown (modules). */
export function payloadTypeName(payload: Buffer): string | undefined {
  const t = payload[0];
  if (t === undefined) return undefined;
  if (t === 0) return "string";
  if ([1, 10, 14, 18].includes(t)) return "list";
  if ([2, 11, 20].includes(t)) return "set";
  if ([3, 5, 12, 17].includes(t)) return "zset";
  if ([4, 9, 13, 16, 22, 23, 24, 25].includes(t)) return "hash";
  if ([15, 19, 21].includes(t)) return "stream";
  return undefined;
}

/**
 * Element count of a payload whose in-memory order is not stable across servers (hash table
 * encodings of sets and hashes: DUMP walks buckets, whose order depends on the process' hash seed).
 * Used to compare such values by cardinality instead of bytes. Undefined for other encodings.
 */
export function unorderedPayloadCount(payload: Buffer): number | undefined {
  const t = payload[0];
  if (t !== 2 && t !== 4) return undefined;
  const b = payload[1];
  if (b === undefined) return undefined;
  const kind = b >> 6;
  if (kind === 0) return b & 0x3f;
  if (kind === 1) return ((b & 0x3f) << 8) | (payload[2] ?? 0);
  if (b === 0x80) return payload.readUInt32BE(2);
  if (b === 0x81) return Number(payload.readBigUInt64BE(2));
  return undefined;
}
