import { Storage as GcsClient, IdempotencyStrategy } from "@google-cloud/storage";
import { registerSecret } from "@strongbox/core";
import type { GcsOptions, GcsRetryOptions } from "./options.js";

/** Backoff for 408/429/5xx and connection resets, up to ~10 minutes per operation. */
export const DEFAULT_RETRY: GcsRetryOptions = {
  autoRetry: true,
  maxRetries: 5,
  retryDelayMultiplier: 2,
  maxRetryDelay: 32,
  totalTimeout: 600,
};

/** The user's client as is, or one built from the options (then Strongbox owns it). */
export function resolveClient(options: GcsOptions): { client: GcsClient; owned: boolean } {
  if (options.client) return { client: options.client, owned: false };
  registerSecret(options.credentials?.private_key);
  const client = new GcsClient({
    projectId: options.projectId,
    credentials: options.credentials,
    keyFilename: options.keyFilename,
    apiEndpoint: options.apiEndpoint,
    retryOptions: {
      ...DEFAULT_RETRY,
      // Every Strongbox write replaces a whole object under a fresh key and deletes ignore
      // missing objects, so repeating a request cannot do harm; the SDK's default
      // (RetryConditional) would never retry uploads and deletes, which have no precondition.
      idempotencyStrategy: IdempotencyStrategy.RetryAlways,
      ...options.retry,
      // The resumable-upload retrier refuses a maximum delay under its 1 s minimum.
      ...(options.retry?.maxRetryDelay !== undefined
        ? { maxRetryDelay: Math.max(1, options.retry.maxRetryDelay) }
        : {}),
    },
  });
  return { client, owned: true };
}
