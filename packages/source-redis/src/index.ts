export {
  type EndMeta,
  FORMAT_VERSION,
  type Header,
  type HeaderMeta,
  MAGIC,
  payloadRdbVersion,
} from "./format.js";
export { type RedisLockOptions, redisLock } from "./lock.js";
export type { RedisOptions, RedisTarget } from "./options.js";
export { ArtifactReader, type EndRecord, type KeyRecord } from "./reader.js";
export { KEYS_ARTIFACT, RDB_ARTIFACT, redis } from "./source.js";
