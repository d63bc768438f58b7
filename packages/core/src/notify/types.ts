/**
 * Notifications: the manager turns its outcome events (a backup failed, a scheduled run completed…)
 * into {@link NotificationEvent}s and hands them to each configured {@link Notifier} that asked for
 * them. Delivery never blocks or fails an operation: a notifier that throws, rejects or hangs is
 * reported as a `warning` event.
 */

/** Events a notifier can subscribe to. */
export const NOTIFICATION_EVENTS = [
  "backup:completed",
  "backup:failed",
  "restore:completed",
  "restore:failed",
  "verify:completed",
  "prune:completed",
  "schedule:run-completed",
  "schedule:run-failed",
  "schedule:skipped",
] as const;

export type NotificationEventType = (typeof NOTIFICATION_EVENTS)[number];

/** What a notifier gets when no `events` are given: failures only. */
export const DEFAULT_NOTIFICATION_EVENTS: readonly NotificationEventType[] = [
  "backup:failed",
  "restore:failed",
  "schedule:run-failed",
];

/**
 * One notification, JSON-serialisable as is (a generic webhook posts exactly this object). Every
 * text in it is redacted: no password, key or token ever appears.
 */
export interface NotificationEvent {
  /** Always `"strongbox"`: lets a shared webhook receiver tell the sender apart. */
  source: "strongbox";
  type: NotificationEventType;
  /** `error` for failures (and a verification that found damage), `warning` for skips, `info` otherwise. */
  severity: "info" | "warning" | "error";
  /** When the event happened, ISO 8601 UTC. */
  time: string;
  /** Host name of the process that sent it. */
  host: string;
  /** One line for people, e.g. "backup 20261121T020000Z-k3m9qa failed: [strongbox] [postgres] …". */
  summary: string;
  /** The backup concerned, when there is one. */
  backupId?: string;
  /** Components concerned, when known. */
  components?: string[];
  durationMs?: number;
  /** For failures: the stable error code and the (redacted) message. */
  error?: { code: string; message: string };
  /** Event-specific facts (sizes, attempts, removed ids, skip reason…); no secrets. */
  details?: Record<string, unknown>;
}

/**
 * A destination for notifications: a chat webhook, an e-mail gateway, a pager. Implement `notify`
 * and pass the object in `createStrongbox({ notifiers: [...] })`.
 */
export interface Notifier {
  /** Shown in warnings when delivery fails ("webhook", "slack", "pagerduty"…). Must not contain a secret. */
  readonly name: string;
  /** Event types this notifier wants. @default failures only (see DEFAULT_NOTIFICATION_EVENTS) */
  readonly events?: readonly NotificationEventType[] | "all";
  /**
   * Delivers one notification. Should give up when `options.signal` fires (the manager aborts it
   * after its delivery deadline). A rejection is reported as a `warning` event and never retried.
   */
  notify(event: NotificationEvent, options?: { signal?: AbortSignal }): Promise<void>;
}
