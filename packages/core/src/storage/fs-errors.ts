import { isAbortError, StrongboxError } from "../errors.js";

const ADAPTER = "local";

/** What to tell a person for the errno values a backup directory actually runs into. */
const HINTS: Record<string, string> = {
  ENOSPC: "disk full: free space on the filesystem holding the backup directory",
  EDQUOT: "disk quota exceeded for this user on the backup filesystem",
  EACCES: "permission denied: check the owner and mode of the backup directory and its parents",
  EPERM: "operation not permitted: check the owner, mode and attributes of the backup directory",
  EROFS: "the filesystem is mounted read-only",
  EMFILE: "too many open files in this process: raise the limit (ulimit -n) or lower concurrency",
  ENFILE: "too many open files on this system",
  ENOTDIR: "a path component is a file, not a directory: the key clashes with an existing object",
  EISDIR: "the key names a directory: it clashes with the keys stored below it",
  EEXIST: "a path component already exists as a file: the key clashes with an existing object",
  ENAMETOOLONG: "a key segment is longer than the filesystem allows (usually 255 bytes)",
  EIO: "input/output error: the disk or network filesystem is failing",
};

/**
 * Turns a Node fs error into a StrongboxError that names the operation and the path and says
 * what to check. Only the errno code and the path reach the message — never the raw error text
 * of something that is not fs — and StrongboxErrors and aborts keep their own meaning.
 */
export function fsError(err: unknown, operation: string, path: string): StrongboxError {
  if (err instanceof StrongboxError) return err;
  if (isAbortError(err)) {
    return new StrongboxError("E_ABORTED", `${operation} ${path}: aborted`, { adapter: ADAPTER, cause: err });
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const hint = code ? HINTS[code] : undefined;
  const base = err instanceof Error ? err.message : String(err);
  const detail = hint ? `${code}, ${hint}` : code ? `${code}: ${base}` : base;
  return new StrongboxError("E_STORAGE", `${operation} ${path} failed (${detail})`, {
    adapter: ADAPTER,
    cause: err,
    details: code ? { errno: code, path } : { path },
  });
}

/** True for the errno values that mean "there is no such object here". */
export function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}
