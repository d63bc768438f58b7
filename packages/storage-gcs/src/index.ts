export { DEFAULT_RETRY } from "./client.js";
export { gcs } from "./gcs-storage.js";
export type { GcsCredentials, GcsOptions, GcsRetryOptions } from "./options.js";
