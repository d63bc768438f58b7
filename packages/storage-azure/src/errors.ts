import { isAbortError, redactSecrets, StrongboxError } from "@strongbox/core";

export const ADAPTER = "azure-blob";

export interface AzureErrorContext {
  op: "put" | "get" | "head" | "list" | "delete";
  account: string;
  container: string;
  /** Full blob name or listing prefix. */
  name?: string;
  /** Why the container may be missing, when creating it was tried and failed. */
  createError?: string;
}

/** HTTP status of a RestError, if any. */
export function statusOf(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === "number" ? s : undefined;
}

/** The service's error code (`BlobNotFound`, `ContainerNotFound`, `AuthorizationFailure`…). */
export function errorCodeOf(err: unknown): string | undefined {
  const e = err as { code?: unknown; details?: { errorCode?: unknown } } | null;
  if (!e || typeof e !== "object") return undefined;
  if (typeof e.details?.errorCode === "string") return e.details.errorCode;
  return typeof e.code === "string" ? e.code : undefined;
}

/** First line of a service message; the rest is RequestId/Time noise. */
function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return (text.split("\n")[0] ?? "").trim() || text;
}

const AUTH_CODES = new Set([
  "AuthenticationFailed",
  "AuthorizationFailure",
  "InvalidAuthenticationInfo",
  "NoAuthenticationInformation",
]);
const PERMISSION_CODES = new Set([
  "AuthorizationPermissionMismatch",
  "AuthorizationResourceTypeMismatch",
  "AuthorizationServiceMismatch",
  "AuthorizationProtocolMismatch",
  "AuthorizationSourceIPMismatch",
  "InsufficientAccountPermissions",
]);

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
  for (const field of ["statusCode", "code", "errorCode"]) {
    const v = src[field];
    if (typeof v === "string" || typeof v === "number") (copy as unknown as Record<string, unknown>)[field] = v;
  }
  copy.stack = redactSecrets(err.stack ?? "");
  return copy;
}

/**
 * Turns an SDK failure into a StrongboxError whose message names the account and container and
 * says what to check; never a key or SAS token (they are registered secrets, and the SDK's
 * messages do not carry request URLs).
 */
export function mapAzureError(err: unknown, ctx: AzureErrorContext): StrongboxError {
  if (err instanceof StrongboxError) return err;
  const where = `azure://${ctx.account}/${ctx.container}${ctx.name ? `/${ctx.name}` : ""}`;
  if (isAbortError(err))
    return new StrongboxError("E_ABORTED", `${ctx.op} ${where}: aborted`, { adapter: ADAPTER, cause: safeCause(err) });
  const status = statusOf(err);
  const code = errorCodeOf(err);
  const detail = firstLine(err);
  const name = (err as { name?: string } | null)?.name ?? "";
  let hint: string;
  if (code === "BlobNotFound" || (status === 404 && code !== "ContainerNotFound" && ctx.op !== "list")) {
    return new StrongboxError("E_NOT_FOUND", `${ctx.op} ${where}: no such blob`, {
      adapter: ADAPTER,
      cause: safeCause(err),
    });
  }
  if (code === "ContainerNotFound" || (status === 404 && ctx.op === "list")) {
    hint = `container "${ctx.container}" does not exist in account "${ctx.account}" — check the container name, or let Strongbox create it (createContainer: true)${ctx.createError ? `; creating it failed: ${ctx.createError}` : ""}`;
  } else if (
    (code && AUTH_CODES.has(code)) ||
    status === 401 ||
    /CredentialUnavailable|AuthenticationError|ClientAuthError/.test(name)
  ) {
    hint = `authentication failed for account "${ctx.account}" — check the account key / connection string / SAS token (expired? signed for another account or container?) or the token credential (${detail})`;
  } else if ((code && PERMISSION_CODES.has(code)) || status === 403) {
    hint = `permission denied on container "${ctx.container}" in account "${ctx.account}" — the identity needs the "Storage Blob Data Contributor" role there, or a SAS with permissions rwdl (read, write, delete, list); check also the account's firewall (${detail})`;
  } else if (code === "BlobArchived") {
    hint = "the blob is in the Archive tier — rehydrate it to Hot, Cool or Cold before reading it";
  } else if (code === "ConditionNotMet" || status === 412) {
    hint = "the blob changed while it was being read — retry";
  } else if (code === "ContainerBeingDeleted" || code === "ContainerDisabled") {
    hint = `container "${ctx.container}" is being deleted or disabled — wait, or use another container (${detail})`;
  } else if (status !== undefined && status >= 500) {
    hint = `Azure Storage kept failing after retries (HTTP ${status}${code ? ` ${code}` : ""}) — try again later`;
  } else if (status !== undefined) {
    hint = `HTTP ${status}${code ? ` ${code}` : ""}: ${detail}`;
  } else {
    hint = `${detail} — check the account name / endpoint and the network`;
  }
  return new StrongboxError("E_STORAGE", `${ctx.op} ${where} failed: ${hint}`, {
    adapter: ADAPTER,
    cause: safeCause(err),
    details: { account: ctx.account, container: ctx.container, status, errorCode: code },
  });
}
