import type { ChecksumAlgorithm, S3Client, S3ClientConfig, StorageClass } from "@aws-sdk/client-s3";

/** Object Lock retention applied to every object this storage writes. */
export interface S3ObjectLockOptions {
  /**
   * `GOVERNANCE`: users with `s3:BypassGovernanceRetention` can still delete early.
   * `COMPLIANCE`: nobody, not even the root account, can delete before the date.
   */
  mode: "GOVERNANCE" | "COMPLIANCE";
  /** Days from the moment of each put until the object may be deleted. Give this or `retainUntil`. */
  retainDays?: number;
  /** Fixed date until which every object is retained. Give this or `retainDays`. */
  retainUntil?: Date;
}

/** Options of {@link s3}. Only `bucket` is required. */
export interface S3StorageOptions {
  /** Bucket name (without `s3://`). */
  bucket: string;
  /**
   * Key prefix inside the bucket that holds everything this storage writes ("prod", "team/app").
   * Leading and trailing slashes are ignored.
   * @default "" (bucket root)
   */
  prefix?: string;
  /**
   * AWS region of the bucket. Ignored when `client` is given.
   * @default the SDK's default chain (AWS_REGION, ~/.aws/config), or "us-east-1" when `endpoint` is set
   */
  region?: string;
  /**
   * Custom endpoint for S3-compatible services: MinIO, Cloudflare R2, Ceph RGW, s3rver.
   * Ignored when `client` is given.
   * @default AWS's own endpoint for the region
   */
  endpoint?: string;
  /**
   * Address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key`. Needed by MinIO,
   * Ceph and s3rver. Ignored when `client` is given.
   * @default false
   */
  forcePathStyle?: boolean;
  /**
   * Static credentials or a credential provider. The secret is never logged or put in a message.
   * Ignored when `client` is given.
   * @default the SDK's default provider chain (env, shared config/SSO, web identity, ECS/EC2 role)
   */
  credentials?: S3ClientConfig["credentials"];
  /**
   * A ready `S3Client` to use instead of building one; region, endpoint, credentials, checksum and
   * retry options are then taken from it. `close()` leaves it open.
   * @default a client built from the options above
   */
  client?: S3Client;
  /**
   * Size of each multipart part in bytes (min 5 MiB, max 5 GiB). An upload holds at most
   * `partSize × queueSize` bytes in memory. S3 allows 10,000 parts, so objects of unknown size
   * can reach `partSize × 10,000` (8 MiB → 78 GiB); when `put()` is told the size, the part size
   * is raised automatically if needed.
   * @default 8 MiB
   */
  partSize?: number;
  /**
   * Parts uploaded in parallel.
   * @default 4
   */
  queueSize?: number;
  /**
   * Server-side encryption: `AES256` (SSE-S3) or `aws:kms` (SSE-KMS, with `kmsKeyId`).
   * @default the bucket's default encryption
   */
  serverSideEncryption?: "AES256" | "aws:kms" | "aws:kms:dsse";
  /**
   * KMS key id or ARN for `serverSideEncryption: "aws:kms"`.
   * @default the AWS-managed key `aws/s3`
   */
  kmsKeyId?: string;
  /**
   * Storage class of written objects, e.g. `STANDARD_IA`, `GLACIER_IR`, `INTELLIGENT_TIERING`.
   * (Classes that need a restore before reading, like `GLACIER` and `DEEP_ARCHIVE`, make `get()` fail.)
   * @default "STANDARD"
   */
  storageClass?: StorageClass | `${StorageClass}`;
  /**
   * When the SDK computes request checksums (passed to the client). `WHEN_REQUIRED` is needed for
   * some S3-compatible servers (s3rver, older MinIO/Ceph) that mis-store checksummed bodies.
   * Ignored when `client` is given.
   * @default "WHEN_SUPPORTED" (the SDK's default)
   */
  requestChecksumCalculation?: "WHEN_SUPPORTED" | "WHEN_REQUIRED";
  /**
   * When the SDK validates response checksums (passed to the client). Ignored when `client` is given.
   * @default "WHEN_SUPPORTED" (the SDK's default)
   */
  responseChecksumValidation?: "WHEN_SUPPORTED" | "WHEN_REQUIRED";
  /**
   * Checksum algorithm sent with every upload (parts included), verified by S3.
   * @default none, or "CRC32" when `objectLock` is set (S3 requires a checksum with Object Lock)
   */
  checksumAlgorithm?: ChecksumAlgorithm | `${ChecksumAlgorithm}`;
  /**
   * Object Lock retention set on every object at write time, for backups that nobody (ransomware
   * included) can delete before the date. The bucket must have Object Lock enabled. `delete()`
   * then reports objects still under retention in `skipped` instead of failing.
   * @default none
   */
  objectLock?: S3ObjectLockOptions;
  /**
   * Make `delete()` remove every version (and delete marker) of each key instead of sending a
   * plain delete, which on a versioned bucket only adds a delete marker and keeps the data.
   * Needed for Object Lock retention to be honoured and reported: versions still retained are
   * refused by S3 and come back in `skipped`. Needs s3:ListBucketVersions and s3:DeleteObjectVersion.
   * @default true when `objectLock` is set, otherwise false
   */
  deleteVersions?: boolean;
  /**
   * Attempts per request, first try included, for transient failures (5xx, throttling, reset
   * connections, timeouts). Permanent failures (403, missing bucket, missing key) are never
   * retried. Ignored when `client` is given.
   * @default 5
   */
  maxAttempts?: number;
  /**
   * Milliseconds a request's socket may stay idle (no byte sent or received) before it is given
   * up — and retried like any transient failure. Without it a stalled connection (hung server,
   * black-holed packets) would hang a backup forever. Ignored when `client` is given.
   * @default 120000
   */
  socketTimeoutMs?: number;
  /**
   * Milliseconds to wait for a TCP connection. Ignored when `client` is given.
   * @default 10000
   */
  connectionTimeoutMs?: number;
  /**
   * The SDK's retry strategy: `standard` (exponential backoff with jitter) or `adaptive`
   * (standard plus client-side rate limiting when throttled). Ignored when `client` is given.
   * @default "standard"
   */
  retryMode?: "standard" | "adaptive";
}
