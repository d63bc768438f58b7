/**
 * @strongbox/storage-s3 — keep Strongbox backups in Amazon S3 or any S3-compatible service
 * (MinIO, Cloudflare R2, Ceph RGW), with streamed multipart uploads.
 *
 *   import { s3 } from "@strongbox/storage-s3";
 *   const storage = s3({ bucket: "backups", prefix: "prod", region: "eu-west-1" });
 */

export { DEFAULT_MAX_ATTEMPTS } from "./client.js";
export { DELETE_BATCH } from "./delete.js";
export type { S3ObjectLockOptions, S3StorageOptions } from "./options.js";
export { DEFAULT_PART_SIZE, DEFAULT_QUEUE_SIZE, S3Storage, s3 } from "./s3-storage.js";
