import { StrongboxError } from "../errors.js";

/** Scheme, host and port only: paths and query strings of webhooks often ARE the secret. */
export function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid URL)";
  }
}

export function assertHttpUrl(url: unknown, field: string, adapter: string): URL {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === "string" ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
    throw new StrongboxError("E_CONFIG", `"${field}" must be an http(s) URL`, { adapter });
  }
  return parsed;
}

/**
 * POSTs a small JSON document and fails on anything but a 2xx answer. Redirects are refused: a
 * redirected POST turns into a GET on most servers and the notification would be lost silently.
 */
export async function postJson(
  url: string,
  body: unknown,
  options: { headers?: Record<string, string>; timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  const signals = [AbortSignal.timeout(options.timeoutMs)];
  if (options.signal) signals.push(options.signal);
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "strongbox", ...options.headers },
      body: JSON.stringify(body),
      redirect: "error",
      signal: AbortSignal.any(signals),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const why =
      e.name === "TimeoutError" || e.name === "AbortError"
        ? `no answer within ${options.timeoutMs} ms`
        : (e.cause?.code ?? e.message);
    // Never the full URL: only its origin.
    throw new Error(`POST to ${safeOrigin(url)} failed: ${why}`);
  }
  await res.body?.cancel().catch(() => undefined);
  if (!res.ok) throw new Error(`POST to ${safeOrigin(url)} answered HTTP ${res.status}`);
}
