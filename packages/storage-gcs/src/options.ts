import type { Storage as GcsClient, StorageOptions } from "@google-cloud/storage";

/** Retry settings of `@google-cloud/storage` (its `RetryOptions`, not exported by name). */
export type GcsRetryOptions = NonNullable<StorageOptions["retryOptions"]>;

/** Service-account key contents, as in the JSON key file Google Cloud hands out. */
export interface GcsCredentials {
  client_email: string;
  private_key: string;
  [field: string]: unknown;
}

/** Options of {@link gcs}. Give `bucket`, then either a ready `client` or how to build one. */
export interface GcsOptions {
  /** Bucket name (no `gs://`). The bucket must exist: Strongbox never creates buckets. */
  bucket: string;
  /**
   * Key prefix inside the bucket, e.g. `"prod/app"`; every key Strongbox writes goes under it.
   * @default "" (the bucket root)
   */
  prefix?: string;
  /**
   * A ready `Storage` client from `@google-cloud/storage`. When given, `projectId`, `credentials`,
   * `keyFilename`, `apiEndpoint` and `retry` are ignored and `close()` leaves the client alone.
   */
  client?: GcsClient;
  /** Google Cloud project id. @default taken from the credentials or the environment */
  projectId?: string;
  /**
   * Service-account key contents (the parsed JSON key). Its `private_key` is registered as a secret
   * so no Strongbox message or log line can show it.
   * @default Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud, metadata server)
   */
  credentials?: GcsCredentials;
  /** Path to a service-account JSON key file. @default Application Default Credentials */
  keyFilename?: string;
  /**
   * API endpoint, for private endpoints, other universes or emulators
   * (`http://127.0.0.1:9199`). `STORAGE_EMULATOR_HOST` in the environment works too.
   * @default "https://storage.googleapis.com"
   */
  apiEndpoint?: string;
  /**
   * Storage class of new objects: `"STANDARD"`, `"NEARLINE"`, `"COLDLINE"`, `"ARCHIVE"`.
   * @default the bucket's default storage class
   */
  storageClass?: string;
  /**
   * Cloud KMS key for customer-managed encryption of new objects
   * (`projects/P/locations/L/keyRings/R/cryptoKeys/K`). The Cloud Storage service agent needs
   * `roles/cloudkms.cryptoKeyEncrypterDecrypter` on it.
   * @default the bucket's default encryption
   */
  kmsKeyName?: string;
  /**
   * Resumable-upload chunk size in bytes (a multiple of 256 KiB). Unset, an upload streams in one
   * request and a broken connection resumes from what the server acknowledged; set (e.g.
   * 16 MiB), each chunk is held in memory so it can be resent whole, at the cost of that memory.
   * Leave unset on the firebase-tools emulator, which finalises on the first chunk.
   * @default undefined (single streamed request)
   */
  chunkSize?: number;
  /**
   * Bodies that end within this many bytes are sent in one multipart request (atomic too, one
   * round trip instead of two); larger ones stream through a resumable session. This much is
   * held in memory per upload while deciding.
   * @default 8388608 (8 MiB)
   */
  singleRequestLimit?: number;
  /**
   * How the SDK retries transient failures (429, 5xx, resets) when Strongbox builds the client.
   * Merged over the defaults; `idempotencyStrategy` is `RetryAlways` because every Strongbox
   * write replaces a whole object under a fresh key and deletes ignore missing objects.
   * @default { autoRetry: true, maxRetries: 5, retryDelayMultiplier: 2, maxRetryDelay: 32, totalTimeout: 600 }
   */
  retry?: GcsRetryOptions;
  /** Objects per listing page (the API's maximum is 1000). @default 1000 */
  pageSize?: number;
  /** Parallel delete requests (the JSON API deletes one object per request). @default 16 */
  deleteConcurrency?: number;
  /** Bills requests to this project on Requester Pays buckets. @default undefined */
  userProject?: string;
}
