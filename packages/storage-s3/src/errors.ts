import { isAbortError, StrongboxError } from "@strongbox/core";

export const ADAPTER = "s3";

/** What the failing call was doing, for a message that says where to look. */
export interface ErrorContext {
  bucket: string;
  /** "put", "get", "head", "list", "delete". */
  operation: string;
  /** Full object key or listing prefix inside the bucket. */
  key?: string;
  /** The endpoint, when it is not AWS's own (never holds credentials). */
  endpoint?: string;
}

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

/** IAM action each operation needs, named in access-denied messages. */
const ACTIONS: Record<string, string> = {
  put: "s3:PutObject (and s3:AbortMultipartUpload)",
  get: "s3:GetObject",
  head: "s3:GetObject",
  list: "s3:ListBucket",
  delete: "s3:DeleteObject",
};

const ACCESS_CODES = new Set([
  "AccessDenied",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "InvalidToken",
  "TokenRefreshRequired",
  "AllAccessDisabled",
  "AccountProblem",
]);
const REGION_CODES = new Set([
  "PermanentRedirect",
  "AuthorizationHeaderMalformed",
  "IllegalLocationConstraintException",
]);
const NETWORK_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH"]);

export function errorName(err: unknown): string | undefined {
  const e = err as SdkErrorShape | undefined;
  return e?.name ?? e?.code;
}

export function httpStatus(err: unknown): number | undefined {
  return (err as SdkErrorShape | undefined)?.$metadata?.httpStatusCode;
}

export function isNotFound(err: unknown): boolean {
  const name = errorName(err);
  return name === "NoSuchKey" || name === "NotFound" || (httpStatus(err) === 404 && name !== "NoSuchBucket");
}

/**
 * Turns an SDK failure into a StrongboxError whose message names the bucket and what to check.
 * The SDK's own message is kept (it never contains the secret key; the StrongboxError
 * constructor still redacts registered secrets) and the raw error stays in `cause`.
 */
export function toStorageError(err: unknown, ctx: ErrorContext): StrongboxError {
  if (err instanceof StrongboxError) return err;
  const where = `s3://${ctx.bucket}${ctx.key ? `/${ctx.key}` : ""}`;
  if (isAbortError(err)) {
    return new StrongboxError("E_ABORTED", `${ctx.operation} ${where}: aborted`, { adapter: ADAPTER, cause: err });
  }
  const e = (err ?? {}) as SdkErrorShape;
  const name = errorName(err) ?? "Error";
  const status = httpStatus(err);
  const attempts = e.$metadata?.attempts;
  const details = { bucket: ctx.bucket, key: ctx.key, operation: ctx.operation, awsCode: name, status, attempts };
  const sdkText = `(${name}${status ? ` ${status}` : ""}: ${e.message ?? String(err)})`;
  let hint: string;

  if (name === "NoSuchBucket") {
    hint = `bucket "${ctx.bucket}" does not exist — check the bucket name, the region${ctx.endpoint ? ` and the endpoint ${ctx.endpoint}` : ""}`;
  } else if (ACCESS_CODES.has(name) || status === 403) {
    const action = ACTIONS[ctx.operation] ?? "the S3 action";
    hint =
      name === "InvalidAccessKeyId" ||
      name === "SignatureDoesNotMatch" ||
      name === "ExpiredToken" ||
      name === "InvalidToken"
        ? `the credentials were rejected for bucket "${ctx.bucket}" — check the access key id and secret (or the session token / role) the SDK picked up`
        : `access denied to bucket "${ctx.bucket}" — check the credentials, that the bucket is in this account and region, and that the IAM policy allows ${action} on arn:aws:s3:::${ctx.bucket}/*${ctx.operation === "list" ? ` (s3:ListBucket goes on arn:aws:s3:::${ctx.bucket})` : ""}`;
  } else if (REGION_CODES.has(name) || status === 301) {
    hint = `bucket "${ctx.bucket}" is in another region — set the "region" option to the bucket's region`;
  } else if (name === "CredentialsProviderError" || /Could not load credentials/i.test(e.message ?? "")) {
    hint = `no AWS credentials found for bucket "${ctx.bucket}" — pass "credentials", or configure the default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance or task role)`;
  } else if (/Region is missing/i.test(e.message ?? "")) {
    hint = `no region configured for bucket "${ctx.bucket}" — set the "region" option or AWS_REGION`;
  } else if (NETWORK_CODES.has(e.code ?? "") || NETWORK_CODES.has(name)) {
    hint = `cannot reach S3${ctx.endpoint ? ` at ${ctx.endpoint}` : ""} for bucket "${ctx.bucket}"${attempts ? ` after ${attempts} attempts` : ""} — check the endpoint, DNS and network`;
  } else if (name === "InvalidRange" || status === 416) {
    hint = `the requested byte range is outside the object`;
  } else if (name === "InvalidObjectState") {
    hint = `the object is archived (storage class GLACIER/DEEP_ARCHIVE) and must be restored before it can be read`;
  } else if (status !== undefined && status >= 500) {
    hint = `S3 kept failing${attempts ? ` after ${attempts} attempts` : ""} — a service problem; try again later`;
  } else {
    hint = `S3 refused the request`;
  }
  return new StrongboxError("E_STORAGE", `${ctx.operation} ${where} failed: ${hint} ${sdkText}`, {
    adapter: ADAPTER,
    cause: err,
    details,
  });
}
