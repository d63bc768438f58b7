export type { CollectionInfo, SnapshotDescription } from "./api.js";
export type { QdrantOptions, QdrantTarget, QdrantTlsOptions } from "./options.js";
export { qdrant } from "./qdrant.js";
export { RESTORE_TEST_PREFIX } from "./restore.js";
