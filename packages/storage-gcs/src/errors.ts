import { isAbortError, redactSecrets, StrongboxError } from "@strongbox/core";

export const ADAPTER = "gcs";

/** What was being done, for messages: `put gs://bucket/prefix/key`. */
export interface GcsErrorContext {
  op: "put" | "get" | "head" | "list" | "delete";
  bucket: string;
  /** Full object name or listing prefix inside the bucket. */
  name?: string;
}

/** HTTP status of an SDK / gaxios error, if it has one. */
export function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown } } | null;
  if (!e || typeof e !== "object") return undefined;
  for (const v of [e.code, e.status, e.response?.status]) if (typeof v === "number") return v;
  return undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** GCS says "The specified bucket does not exist." for every call that names a missing bucket. */
export function isMissingBucket(err: unknown): boolean {
  return statusOf(err) === 404 && /bucket does not exist|no such bucket/i.test(messageOf(err));
}

export function isNotFound(err: unknown): boolean {
  return statusOf(err) === 404 && !isMissingBucket(err);
}

/**
 * A copy of an SDK error that is safe to keep as `cause`: its message (redacted), name and status,
 * without the request it carries — SDK errors hold request URLs (with SAS tokens) and headers
 * (Authorization) that a logger printing the cause would otherwise show.
 */
export function safeCause(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const copy = new Error(redactSecrets(err.message));
  copy.name = err.name;
  const src = err as unknown as Record<string, unknown>;
  for (const field of ["code", "status"]) {
    const v = src[field];
    if (typeof v === "string" || typeof v === "number") (copy as unknown as Record<string, unknown>)[field] = v;
  }
  copy.stack = redactSecrets(err.stack ?? "");
  return copy;
}

/**
 * Turns an SDK failure into a StrongboxError whose message names the bucket and says what to
 * check. Credentials never reach the message: the SDK does not put them in its errors, and
 * `StrongboxError` redacts registered secrets anyway.
 */
export function mapGcsError(err: unknown, ctx: GcsErrorContext): StrongboxError {
  if (err instanceof StrongboxError) return err;
  const where = `gs://${ctx.bucket}${ctx.name ? `/${ctx.name}` : ""}`;
  if (isAbortError(err))
    return new StrongboxError("E_ABORTED", `${ctx.op} ${where}: aborted`, { adapter: ADAPTER, cause: safeCause(err) });
  const status = statusOf(err);
  const detail = messageOf(err);
  let hint: string;
  if (isMissingBucket(err)) {
    hint = `bucket "${ctx.bucket}" does not exist — check the bucket name and the project (Strongbox never creates buckets)`;
  } else if (status === 404) {
    return new StrongboxError("E_NOT_FOUND", `${ctx.op} ${where}: no such object`, {
      adapter: ADAPTER,
      cause: safeCause(err),
    });
  } else if (
    status === 401 ||
    /invalid_grant|invalid_client|Could not load the default credentials|DECODER routines|unable to detect a project id/i.test(
      detail,
    )
  ) {
    hint = `authentication failed for bucket "${ctx.bucket}" — check "credentials" / "keyFilename" / GOOGLE_APPLICATION_CREDENTIALS and that the key is not revoked (${detail})`;
  } else if (status === 403) {
    hint = `permission denied on bucket "${ctx.bucket}" — the identity needs roles/storage.objectAdmin (storage.objects.create, get, list, delete) on it${/kms|encrypt/i.test(detail) ? ", and the service agent needs roles/cloudkms.cryptoKeyEncrypterDecrypter on kmsKeyName" : ""}, or the bucket belongs to another project / needs "userProject" (${detail})`;
  } else if (status === 412 || status === 409) {
    hint = `the object changed while it was being used — retry (${detail})`;
  } else if (status === 400) {
    hint = `the request was refused — check storageClass / kmsKeyName / the key (${detail})`;
  } else if (status !== undefined && status >= 500) {
    hint = `Cloud Storage kept failing after retries (HTTP ${status}) — try again later (${detail})`;
  } else {
    hint = `${detail} — check the network and the API endpoint`;
  }
  return new StrongboxError("E_STORAGE", `${ctx.op} ${where} failed: ${hint}`, {
    adapter: ADAPTER,
    cause: safeCause(err),
    details: { bucket: ctx.bucket, status },
  });
}
