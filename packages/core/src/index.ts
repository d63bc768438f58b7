// Contracts — what adapters implement.
export * from "./contracts/index.js";
// Errors and events.
export * from "./errors.js";
export { type StrongboxEventName, type StrongboxEvents, TypedEmitter } from "./events.js";
export type { HealthCheck, HealthOptions, HealthProbe, HealthReport } from "./health/health.js";
export type { BackupOptions } from "./manager/backup.js";
export type { ListOptions } from "./manager/catalog.js";
// The manager.
export { createStrongbox, type Strongbox } from "./manager/create.js";
export type { StrongboxOptions } from "./manager/options.js";
export type { PruneOptions, PruneReport } from "./manager/prune.js";
export type { ComponentRestoreReport, RestoreOptions, RestoreReport } from "./manager/restore.js";
export type { VerifyMode, VerifyOptions, VerifyResult } from "./manager/verify.js";
export { parseManifest, serializeManifest } from "./manifest/codec.js";
export { artifactKey, idTime, isBackupId, manifestKey, newBackupId } from "./manifest/layout.js";
// Manifest and layout.
export * from "./manifest/types.js";
// Notifications.
export {
  DEFAULT_NOTIFICATION_EVENTS,
  NOTIFICATION_EVENTS,
  type NotificationEvent,
  type NotificationEventType,
  type Notifier,
  type SlackOptions,
  slack,
  slackMessage,
  type WebhookOptions,
  webhook,
} from "./notify/index.js";
// Helpers for adapter authors.
export { HashCounter, VerifyingCounter } from "./pipeline/hash-counter.js";
// Retention.
export * from "./retention/index.js";
// Scheduling.
export {
  memoryLock,
  type RunRecord,
  type RunTrigger,
  type Schedule,
  type ScheduleOptions,
  type SkipReason,
} from "./schedule/index.js";
export { BodyReader } from "./storage/kit/body-reader.js";
export { forEachBounded } from "./storage/kit/bounded.js";
export { relayDownload } from "./storage/kit/relay.js";
// Built-in storage and transforms.
export { type LocalStorageOptions, local } from "./storage/local.js";
export * from "./transforms/age/index.js";
export { type GzipOptions, gzip } from "./transforms/gzip.js";
export { hasNativeZstd, type ZstdOptions, zstd } from "./transforms/zstd.js";
export { runConsumer, type SpawnOptions, spawnProducer } from "./util/child-process.js";
export { assertValidKey, assertValidPrefix, joinPrefix } from "./util/keys.js";
export { consoleLogger, type LogLevel, silentLogger } from "./util/logger.js";
export { requireOneOf, requireOptions } from "./util/options.js";
export { formatBytes, formatDuration, parseSize, parseTimeSpan } from "./util/units.js";
export { VERSION } from "./version.js";
