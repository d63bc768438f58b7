// Contracts — what adapters implement.
export * from "./contracts/index.js";
// Errors and events.
export * from "./errors.js";
export { TypedEmitter, type StrongboxEvents, type StrongboxEventName } from "./events.js";
// The manager.
export { createStrongbox, type Strongbox } from "./manager/create.js";
export type { StrongboxOptions } from "./manager/options.js";
export type { BackupOptions } from "./manager/backup.js";
export type { ListOptions } from "./manager/catalog.js";
export type { VerifyMode, VerifyOptions, VerifyResult } from "./manager/verify.js";
export type { RestoreOptions, RestoreReport, ComponentRestoreReport } from "./manager/restore.js";
export type { PruneOptions, PruneReport } from "./manager/prune.js";
export type { HealthCheck, HealthOptions, HealthProbe, HealthReport } from "./health/health.js";
// Manifest and layout.
export * from "./manifest/types.js";
export { newBackupId, idTime, isBackupId, artifactKey, manifestKey } from "./manifest/layout.js";
export { parseManifest, serializeManifest } from "./manifest/codec.js";
// Built-in storage and transforms.
export { local, type LocalStorageOptions } from "./storage/local.js";
export { gzip, type GzipOptions } from "./transforms/gzip.js";
export * from "./transforms/age/index.js";
// Retention.
export * from "./retention/index.js";
// Helpers for adapter authors.
export { HashCounter, VerifyingCounter } from "./pipeline/hash-counter.js";
export { requireOptions, requireOneOf } from "./util/options.js";
export { assertValidKey, assertValidPrefix, joinPrefix } from "./util/keys.js";
export { consoleLogger, silentLogger, type LogLevel } from "./util/logger.js";
export { spawnProducer, runConsumer, type SpawnOptions } from "./util/child-process.js";
export { parseSize, parseTimeSpan, formatBytes, formatDuration } from "./util/units.js";
export { VERSION } from "./version.js";
