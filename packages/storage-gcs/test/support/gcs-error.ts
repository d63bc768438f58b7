/** The JSON error body Cloud Storage sends. */
export function gcsError(code: number, message: string, reason: string): { error: unknown } {
  return { error: { code, message, errors: [{ message, domain: "global", reason }] } };
}
