import type {
  AnonymousCredential,
  BlobServiceClient,
  ContainerClient,
  StorageRetryOptions,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";

/** Structural `TokenCredential` of `@azure/core-auth` (what `@azure/identity` credentials are). */
export interface AzureTokenCredential {
  getToken(scopes: string | string[], options?: object): Promise<{ token: string; expiresOnTimestamp: number } | null>;
}

/** Access tiers a new blob can be written in. */
export type AzureAccessTier = "Hot" | "Cool" | "Cold" | "Archive";

/**
 * Options of {@link azureBlob}. Say how to reach the account — exactly one of `client`,
 * `connectionString`, `sasUrl` or `account` (+ `accountKey` or `credential`) — and which
 * `container` (unless the client or SAS URL already points at one).
 */
export interface AzureBlobOptions {
  /** Container name. Required unless `client` is a `ContainerClient` or `sasUrl` names a container. */
  container?: string;
  /**
   * Blob-name prefix inside the container, e.g. `"prod/app"`; every key goes under it.
   * @default "" (the container root)
   */
  prefix?: string;
  /**
   * A ready `BlobServiceClient` (then `container` is needed) or `ContainerClient` from
   * `@azure/storage-blob`. Its own pipeline and retry settings are used as they are.
   */
  client?: BlobServiceClient | ContainerClient;
  /**
   * A storage-account connection string (`DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…`
   * or with `SharedAccessSignature=…`). The key or SAS in it is registered as a secret.
   */
  connectionString?: string;
  /**
   * A SAS URL for the container (`https://acct.blob.core.windows.net/container?sv=…&sig=…`) or for
   * the account (then give `container`). Needs permissions `rwdl` (read, write, delete, list) —
   * plus `c` (create) on an account SAS if the container should be created. The token is
   * registered as a secret.
   */
  sasUrl?: string;
  /** Storage account name, used with `accountKey` or `credential`. */
  account?: string;
  /** Shared key of `account`; registered as a secret. */
  accountKey?: string;
  /**
   * A credential for `account`: `StorageSharedKeyCredential`, a `TokenCredential` such as
   * `new DefaultAzureCredential()` from `@azure/identity` (Microsoft Entra ID), or `AnonymousCredential`.
   */
  credential?: StorageSharedKeyCredential | AzureTokenCredential | AnonymousCredential;
  /**
   * Blob service endpoint of `account`, for sovereign clouds, private endpoints or Azurite.
   * @default `https://${account}.blob.core.windows.net`
   */
  endpoint?: string;
  /**
   * Access tier of new blobs. `"Archive"` blobs cannot be read until rehydrated, so only choose it
   * for copies you will not restore from directly.
   * @default the account's default tier (usually "Hot")
   */
  accessTier?: AzureAccessTier;
  /**
   * Create the container on the first write when it does not exist. With `false`, a missing
   * container is an `E_STORAGE` error naming it.
   * @default true
   */
  createContainer?: boolean;
  /**
   * Block size for streamed uploads, in bytes. Memory used by one upload is about
   * `bufferSize × (maxConcurrency + 1)`; a blob holds at most 50,000 blocks, so the largest object
   * is 50,000 × bufferSize (8 MiB → ~390 GiB).
   * @default 8388608 (8 MiB)
   */
  bufferSize?: number;
  /** Blocks uploaded in parallel per upload. @default 4 */
  maxConcurrency?: number;
  /**
   * Milliseconds an upload may make no progress (no byte read from the data, no byte acknowledged
   * by Azure) before it is given up with E_STORAGE. The SDK's per-try timeout does not cover a
   * block upload whose connection stalls, so without this a black-holed connection would hang a
   * backup forever. A scheduler's retries then run the backup again.
   * @default 120000
   */
  stallTimeoutMs?: number;
  /**
   * How transient failures (408, 429, 5xx, resets, timeouts) are retried when Strongbox builds
   * the client; merged over the defaults.
   * @default { retryPolicyType: EXPONENTIAL, maxTries: 5, retryDelayInMs: 800, maxRetryDelayInMs: 60000 }
   */
  retry?: StorageRetryOptions;
  /** Times a broken download stream is resumed where it stopped. @default 5 */
  downloadRetries?: number;
  /** Blobs per listing page (the service's maximum is 5000). @default 5000 */
  pageSize?: number;
  /**
   * Delete with Blob Batch requests (256 blobs per request). When a batch request is refused as
   * a whole (some SAS kinds, proxies, emulators), deletes fall back to one request per blob with
   * `deleteConcurrency` in flight.
   * @default true
   */
  batchDelete?: boolean;
  /** Parallel single-blob deletes when not batching. @default 16 */
  deleteConcurrency?: number;
}
