import type { QdrantClient } from "@qdrant/js-client-rest";
import type { Dispatcher } from "undici";

/** TLS settings handed to undici's connector (same names as `node:tls` `connect()` options). */
export interface QdrantTlsOptions {
  /** Extra CA certificate(s) to trust, PEM. @default Node's bundled CAs */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Client certificate for mutual TLS, PEM. @default none */
  cert?: string | Buffer;
  /** Private key of `cert`, PEM. @default none */
  key?: string | Buffer;
  /** Refuse servers whose certificate does not verify. Turn off only for throwaway test servers. @default true */
  rejectUnauthorized?: boolean;
  /** SNI / certificate host name, when it differs from the URL's host. @default the URL's host */
  servername?: string;
}

export interface QdrantOptions {
  /** Component name, unique within a manager. @default "qdrant" */
  name?: string;
  /**
   * Base URL of Qdrant's REST API, with a path prefix when behind a proxy:
   * `http://localhost:6333`, `https://xyz.cloud.qdrant.io:6333`. Required.
   */
  url: string;
  /**
   * API key, sent as the `api-key` header. It is registered as a secret, so it never appears in
   * an error message or a log line. @default none
   */
  apiKey?: string;
  /** Collections to back up. @default every collection on the server, at backup time */
  collections?: string[];
  /**
   * A ready `QdrantClient` from `@qdrant/js-client-rest`, used for the JSON calls it has (list,
   * info, create and delete snapshots and collections). Snapshot files are always streamed with
   * undici against `url`, because the client cannot stream them. @default none: plain HTTP
   */
  client?: QdrantClient;
  /** Keep the server-side snapshot after it was downloaded (it takes disk space on the server). @default false */
  keepSnapshots?: boolean;
  /** Timeout of ordinary API calls, ms (time to headers, and idle time while reading a body). @default 60000 */
  timeoutMs?: number;
  /**
   * Timeout of the long calls, ms: creating a snapshot and recovering from an upload answer only
   * when the server is done; also the longest pause tolerated while a snapshot streams. @default 3600000
   */
  snapshotTimeoutMs?: number;
  /** How long to wait for a restored collection to turn green, ms. @default 300000 */
  readyTimeoutMs?: number;
  /**
   * Retries of a call that failed transiently (HTTP 500/502/503/504, connection reset or refused,
   * timeouts) before any byte of it was used. Snapshot uploads are never retried: their body is
   * a stream. @default 3
   */
  retries?: number;
  /** First retry delay, ms; doubled on every retry, with jitter. @default 500 */
  retryDelayMs?: number;
  /** TLS options for `https://` URLs (custom CA, client certificates). @default none */
  tls?: QdrantTlsOptions;
  /**
   * An undici `Dispatcher` (an `Agent`, a `ProxyAgent`…) to send every streamed request through;
   * `tls` is ignored when it is given. @default a private `Agent` built from `tls`
   */
  dispatcher?: Dispatcher;
  /** Extra request headers (never put secrets here: use `apiKey`). @default none */
  headers?: Record<string, string>;
}

/**
 * Per-component restore target. `{ collection: "copy" }` restores a backup of one collection
 * under another name; `{ collections: { docs: "docs_copy" } }` restores (only) the named
 * collections under new names; `{ collections: ["docs"] }` restores a subset under the same names.
 */
export interface QdrantTarget {
  collection?: string;
  collections?: string[] | Record<string, string>;
  /** Restore across a Qdrant version gap the server may not support (same as `force` on restore). */
  force?: boolean;
}
