/**
 * One error class for the whole SDK. `code` is stable and meant for programs; `message` is for
 * people and always starts `[strongbox] [adapter]`. Messages never carry a secret: adapters pass
 * anything that came from a child process or a server through {@link redactSecrets} first.
 */
export const ERROR_CODES = {
  /** Options or configuration are invalid or missing. */
  E_CONFIG: "E_CONFIG",
  /** A source failed: unreachable server, dump tool died, incompatible versions, restore failed. */
  E_SOURCE: "E_SOURCE",
  /** A storage failed: unreachable, permission denied, missing bucket, write failed. */
  E_STORAGE: "E_STORAGE",
  /** A backup, component, artifact or object does not exist. */
  E_NOT_FOUND: "E_NOT_FOUND",
  /** Bytes differ from what the manifest recorded: flipped bit, wrong size, trailing data, bad hash. */
  E_INTEGRITY: "E_INTEGRITY",
  /** A stream ended before its format says it should: a truncated artifact. */
  E_TRUNCATED: "E_TRUNCATED",
  /** Decryption is impossible with what was given: wrong key, wrong passphrase, no identity. */
  E_DECRYPT: "E_DECRYPT",
  /** Data is not in a format this version understands: future manifest, unknown transform, malformed header. */
  E_FORMAT: "E_FORMAT",
  /** The operation was aborted through its AbortSignal. */
  E_ABORTED: "E_ABORTED",
  /** A lock is held by someone else, or an object is retention-locked. */
  E_LOCKED: "E_LOCKED",
  /** The restore target is in a state the chosen policy refuses (e.g. existing files). */
  E_CONFLICT: "E_CONFLICT",
} as const;

export type StrongboxErrorCode = keyof typeof ERROR_CODES;

export interface StrongboxErrorOptions {
  /** Adapter or area the error comes from: "postgres", "s3", "age", "core"… */
  adapter?: string;
  cause?: unknown;
  /** Machine-readable extras (never secrets). */
  details?: Record<string, unknown>;
}

export class StrongboxError extends Error {
  override readonly name = "StrongboxError";
  readonly code: StrongboxErrorCode;
  readonly adapter: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: StrongboxErrorCode, message: string, options: StrongboxErrorOptions = {}) {
    const adapter = options.adapter ?? "core";
    const text = message.startsWith("[strongbox]") ? message : `[strongbox] [${adapter}] ${message}`;
    super(redactSecrets(text), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.adapter = adapter;
    this.details = options.details;
  }
}

export function isStrongboxError(err: unknown, code?: StrongboxErrorCode): err is StrongboxError {
  return err instanceof StrongboxError && (code === undefined || err.code === code);
}

/**
 * Turns any thrown value into a StrongboxError. Errors that already are one pass through
 * unchanged (their code is the more precise one); AbortErrors become E_ABORTED.
 */
export function wrapError(err: unknown, code: StrongboxErrorCode, adapter: string, context?: string): StrongboxError {
  if (err instanceof StrongboxError) return err;
  if (isAbortError(err))
    return new StrongboxError("E_ABORTED", context ? `${context}: aborted` : "aborted", { adapter, cause: err });
  const base = err instanceof Error ? err.message : String(err);
  return new StrongboxError(code, context ? `${context}: ${base}` : base, { adapter, cause: err });
}

/** The same error (same code, cause kept) with more context appended to its message. */
export function withContext(err: unknown, code: StrongboxErrorCode, adapter: string, suffix: string): StrongboxError {
  const base = wrapError(err, code, adapter);
  return new StrongboxError(base.code, `${base.message}; ${suffix}`, {
    adapter: base.adapter,
    cause: err,
    details: base.details,
  });
}

export function isAbortError(err: unknown): boolean {
  return (
    typeof err === "object" &&
    err !== null &&
    ((err as { name?: string }).name === "AbortError" ||
      (err as { code?: string }).code === "ABORT_ERR" ||
      (err as { code?: string }).code === "E_ABORTED")
  );
}

/** Throws E_ABORTED when the signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, adapter = "core"): void {
  if (signal?.aborted) throw new StrongboxError("E_ABORTED", "aborted", { adapter, cause: signal.reason });
}

const SECRET_PATTERNS: Array<[RegExp, string]> = [
  // user:password@ in URLs and connection strings
  [/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):([^@/\s]*)@/gi, "$1:***@"],
  // key=value style secrets (libpq conninfo, query strings, env dumps)
  [
    /\b(password|passwd|pwd|secret|token|apikey|api_key|api-key|accountkey|sig|passphrase)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;"',]+)/gi,
    "$1$2***",
  ],
  // age identities
  [/AGE-SECRET-KEY-1[0-9A-Z]+/g, "AGE-SECRET-KEY-1***"],
  // bearer tokens
  [/(Bearer\s+)[A-Za-z0-9._~+/=-]+/g, "$1***"],
];

const extraSecrets = new Set<string>();

/**
 * Registers a literal secret (a password, a passphrase, an API key) so that every later
 * {@link redactSecrets} call masks it wherever it appears. Adapters call this for every secret
 * they are given; short strings (< 4 chars) are ignored to avoid masking ordinary text.
 */
export function registerSecret(secret: string | undefined | null): void {
  if (secret && secret.length >= 4) extraSecrets.add(secret);
}

/** Masks passwords, keys and tokens in text meant for people (messages, logs, stderr). */
export function redactSecrets(text: string): string {
  let out = text;
  for (const secret of extraSecrets) if (out.includes(secret)) out = out.split(secret).join("***");
  for (const [re, rep] of SECRET_PATTERNS) out = out.replace(re, rep);
  return out;
}
