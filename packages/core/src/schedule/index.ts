export { memoryLock } from "./memory-lock.js";
export { createSchedule, type ScheduleDeps } from "./scheduler.js";
export type { RunRecord, RunTrigger, Schedule, ScheduleOptions, SkipReason } from "./types.js";
