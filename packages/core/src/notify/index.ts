export { attachNotifiers, DELIVERY_DEADLINE_MS, type NotificationDispatcher, validateNotifiers } from "./dispatch.js";
export { toNotification } from "./event.js";
export { type SlackOptions, slack, slackMessage } from "./slack.js";
export * from "./types.js";
export { type WebhookOptions, webhook } from "./webhook.js";
