import { StrongboxError, type StrongboxErrorCode } from "../../errors.js";

/** Every error of the age transform carries the adapter name "age". */
export function ageError(code: StrongboxErrorCode, message: string, cause?: unknown): StrongboxError {
  return new StrongboxError(code, message, cause === undefined ? { adapter: "age" } : { adapter: "age", cause });
}
