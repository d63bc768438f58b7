import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { registerSecret } from "@strongbox/core";
import type { S3StorageOptions } from "./options.js";

export const DEFAULT_MAX_ATTEMPTS = 5;

/**
 * Builds the S3Client from the options. Retries are the SDK's own strategy: it retries throttling
 * and transient failures (5xx, reset/refused connections, timeouts) with exponential backoff and
 * jitter, and never retries 4xx answers such as 403 or NoSuchBucket, which is what makes
 * permanent failures fail fast.
 */
export function createClient(options: S3StorageOptions): S3Client {
  const creds = options.credentials;
  if (creds && typeof creds === "object") {
    // So that no message or log line can ever carry them, even if a server echoes them back.
    registerSecret(creds.secretAccessKey);
    registerSecret(creds.sessionToken);
  }
  const config: S3ClientConfig = {
    region: options.region ?? (options.endpoint ? "us-east-1" : undefined),
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle,
    credentials: creds,
    maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    // Idle-socket timeouts: a stalled connection fails (and is retried) instead of hanging.
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? 10_000,
      socketTimeout: options.socketTimeoutMs ?? 120_000,
    },
    retryMode: options.retryMode ?? "standard",
    requestChecksumCalculation: options.requestChecksumCalculation,
    responseChecksumValidation: options.responseChecksumValidation,
  };
  // Leave unset keys out so the SDK's own defaults and env/config chains apply.
  for (const k of Object.keys(config) as Array<keyof S3ClientConfig>) if (config[k] === undefined) delete config[k];
  return new S3Client(config);
}
