import { redactSecrets, StrongboxError } from "../errors.js";
import type { StrongboxEvents, TypedEmitter } from "../events.js";
import { toNotification } from "./event.js";
import {
  DEFAULT_NOTIFICATION_EVENTS,
  NOTIFICATION_EVENTS,
  type NotificationEventType,
  type Notifier,
} from "./types.js";
import { validateEvents } from "./validate.js";

/** Longest a notifier may take before it is abandoned (and a warning emitted). */
export const DELIVERY_DEADLINE_MS = 30_000;

export interface NotificationDispatcher {
  /**
   * Marks a backup as run by a scheduler. Its `backup:*` notification then goes only to notifiers
   * that do NOT also get the matching `schedule:run-*` one, so a failing scheduled backup (retried
   * twice) raises one alert, not three.
   */
  markScheduled(backupId: string): void;
  /** Resolves when every delivery started so far has finished or been abandoned. */
  flush(): Promise<void>;
}

/** The event types a notifier gets. */
export function notifierEvents(notifier: Notifier): ReadonlySet<NotificationEventType> {
  const events = notifier.events ?? DEFAULT_NOTIFICATION_EVENTS;
  return new Set(events === "all" ? NOTIFICATION_EVENTS : events);
}

export function validateNotifiers(notifiers: unknown): Notifier[] {
  if (notifiers === undefined) return [];
  if (!Array.isArray(notifiers)) throw new StrongboxError("E_CONFIG", '"notifiers" must be an array');
  for (const [i, n] of notifiers.entries()) {
    if (!n || typeof n !== "object" || typeof (n as Notifier).notify !== "function" || !(n as Notifier).name) {
      throw new StrongboxError("E_CONFIG", `notifiers[${i}] must be an object with a "name" and a notify() function`);
    }
    validateEvents((n as Notifier).events as NotificationEventType[] | "all" | undefined, (n as Notifier).name);
  }
  return notifiers as Notifier[];
}

const SCHEDULE_TWIN: Partial<Record<NotificationEventType, NotificationEventType>> = {
  "backup:failed": "schedule:run-failed",
  "backup:completed": "schedule:run-completed",
};

/**
 * Subscribes the notifiers to the manager's events. Deliveries run in the background: an event
 * listener returns at once, so a slow or broken notifier can never delay or fail an operation.
 */
export function attachNotifiers(
  emitter: TypedEmitter,
  notifiers: Notifier[],
  options: { deadlineMs?: number } = {},
): NotificationDispatcher {
  const deadline = options.deadlineMs ?? DELIVERY_DEADLINE_MS;
  const pending = new Set<Promise<void>>();
  const scheduled = new Set<string>();
  const subscriptions = notifiers.map((n) => ({ notifier: n, events: notifierEvents(n) }));

  const deliver = (notifier: Notifier, type: NotificationEventType, payload: unknown) => {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new Error(`no answer within ${deadline} ms`));
      }, deadline);
      timer.unref();
    });
    const work = Promise.resolve()
      .then(() => notifier.notify(toNotification(type, payload as never), { signal: controller.signal }))
      .then(() => undefined);
    const delivery: Promise<void> = Promise.race([work, timedOut])
      .catch((err: unknown) => {
        const reason = err instanceof Error ? err.message : String(err);
        emitter.emit("warning", {
          message: redactSecrets(`notifier "${notifier.name}" could not deliver "${type}": ${reason}`),
        });
      })
      .finally(() => {
        clearTimeout(timer);
        pending.delete(delivery);
      });
    // The work promise may reject after the race settled (timeout); that is already reported.
    work.catch(() => undefined);
    pending.add(delivery);
  };

  if (subscriptions.length > 0) {
    for (const type of NOTIFICATION_EVENTS) {
      emitter.on(type, (payload: StrongboxEvents[typeof type]) => {
        const backupId = type.startsWith("backup:") ? (payload as { id: string }).id : undefined;
        const isScheduled = backupId !== undefined && scheduled.delete(backupId);
        for (const { notifier, events } of subscriptions) {
          if (!events.has(type)) continue;
          const twin = SCHEDULE_TWIN[type];
          if (isScheduled && twin && events.has(twin)) continue;
          deliver(notifier, type, payload);
        }
      });
    }
  }

  return {
    markScheduled(backupId) {
      if (subscriptions.length > 0) scheduled.add(backupId);
    },
    async flush() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
}
