import { StrongboxError } from "../errors.js";
import { assertHttpUrl, postJson } from "./http.js";
import type { NotificationEvent, NotificationEventType, Notifier } from "./types.js";
import { validateEvents } from "./validate.js";
import { registerUrlSecrets } from "./webhook.js";

export interface SlackOptions {
  /**
   * A Slack incoming-webhook URL (`https://hooks.slack.com/services/…`) or any Slack-compatible one
   * (Mattermost, Rocket.Chat, Discord's `/slack` endpoint). The URL is the credential: it is
   * registered as a secret and never appears in a message.
   */
  webhookUrl: string;
  /** Event types to send, or `"all"`. @default ["backup:failed", "restore:failed", "schedule:run-failed"] */
  events?: NotificationEventType[] | "all";
  /** Give up on a delivery after this long (reported as a `warning` event). @default 10000 */
  timeoutMs?: number;
  /** Name shown in warnings. @default "slack" */
  name?: string;
}

const ICON: Record<NotificationEvent["severity"], string> = {
  error: ":red_circle:",
  warning: ":warning:",
  info: ":white_check_mark:",
};

/** Slack's mrkdwn needs only these three escaped. */
function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The Slack message for a notification: a plain `text` fallback plus Block Kit blocks. */
export function slackMessage(event: NotificationEvent): { text: string; blocks: unknown[] } {
  const text = `${ICON[event.severity]} Strongbox on ${event.host}: ${event.summary}`;
  const facts = [
    `*event* ${event.type}`,
    `*host* ${event.host}`,
    ...(event.backupId ? [`*backup* ${event.backupId}`] : []),
    ...(event.error ? [`*code* ${event.error.code}`] : []),
    `*time* ${event.time}`,
  ];
  return {
    text: escapeMrkdwn(text),
    blocks: [
      { type: "section", text: { type: "mrkdwn", text: escapeMrkdwn(text).slice(0, 3000) } },
      { type: "context", elements: facts.map((f) => ({ type: "mrkdwn", text: escapeMrkdwn(f) })) },
    ],
  };
}

/** Posts notifications to a Slack (or Slack-compatible) incoming webhook. */
export function slack(options: SlackOptions): Notifier {
  if (!options || typeof options !== "object") {
    throw new StrongboxError("E_CONFIG", 'slack() needs options: { webhookUrl: "https://hooks.slack.com/…" }', {
      adapter: "slack",
    });
  }
  assertHttpUrl(options.webhookUrl, "webhookUrl", "slack");
  registerUrlSecrets(options.webhookUrl);
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new StrongboxError("E_CONFIG", '"timeoutMs" must be a positive number of milliseconds', {
      adapter: "slack",
    });
  }
  const events = validateEvents(options.events, "slack");
  return {
    name: options.name ?? "slack",
    ...(events ? { events } : {}),
    notify: (event, o) => postJson(options.webhookUrl, slackMessage(event), { timeoutMs, signal: o?.signal }),
  };
}
