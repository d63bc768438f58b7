import { StrongboxError } from "../errors.js";
import { NOTIFICATION_EVENTS, type NotificationEventType } from "./types.js";

/** Checks an `events` option; `undefined` keeps the default (failures only). */
export function validateEvents(
  events: NotificationEventType[] | "all" | undefined,
  adapter: string,
): NotificationEventType[] | "all" | undefined {
  if (events === undefined || events === "all") return events;
  if (!Array.isArray(events)) throw new StrongboxError("E_CONFIG", '"events" must be "all" or a list', { adapter });
  for (const e of events) {
    if (!(NOTIFICATION_EVENTS as readonly string[]).includes(e)) {
      throw new StrongboxError("E_CONFIG", `unknown event "${e}" (one of ${NOTIFICATION_EVENTS.join(", ")})`, {
        adapter,
      });
    }
  }
  return [...events];
}
