import { registerSecret, StrongboxError } from "../errors.js";
import { assertHttpUrl, postJson } from "./http.js";
import type { NotificationEventType, Notifier } from "./types.js";
import { validateEvents } from "./validate.js";

export interface WebhookOptions {
  /** Endpoint that receives a POST with the {@link NotificationEvent} as JSON. Treated as a secret. */
  url: string;
  /** Extra request headers, e.g. `{ authorization: "Bearer …" }`. Their values are treated as secrets. @default {} */
  headers?: Record<string, string>;
  /** Event types to send, or `"all"`. @default ["backup:failed", "restore:failed", "schedule:run-failed"] */
  events?: NotificationEventType[] | "all";
  /** Give up on a delivery after this long (reported as a `warning` event). @default 10000 */
  timeoutMs?: number;
  /** Name shown in warnings. @default "webhook" */
  name?: string;
}

/**
 * A generic JSON webhook: each notification is POSTed as the {@link NotificationEvent} object itself
 * (`{ source: "strongbox", type, severity, time, host, summary, backupId?, error?, details? }`).
 */
export function webhook(options: WebhookOptions): Notifier {
  if (!options || typeof options !== "object") {
    throw new StrongboxError("E_CONFIG", 'webhook() needs options: { url: "https://…" }', { adapter: "webhook" });
  }
  assertHttpUrl(options.url, "url", "webhook");
  registerUrlSecrets(options.url);
  for (const value of Object.values(options.headers ?? {})) registerSecret(value);
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new StrongboxError("E_CONFIG", '"timeoutMs" must be a positive number of milliseconds', {
      adapter: "webhook",
    });
  }
  const events = validateEvents(options.events, "webhook");
  return {
    name: options.name ?? "webhook",
    ...(events ? { events } : {}),
    notify: (event, o) => postJson(options.url, event, { headers: options.headers, timeoutMs, signal: o?.signal }),
  };
}

/** The whole URL, its password and each query value: any of them may be the token. */
export function registerUrlSecrets(url: string): void {
  registerSecret(url);
  const u = new URL(url);
  registerSecret(decodeURIComponent(u.password));
  for (const value of u.searchParams.values()) registerSecret(value);
}
