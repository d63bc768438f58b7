export { azureBlob } from "./azure-storage.js";
export { DEFAULT_RETRY } from "./client.js";
export type { AzureAccessTier, AzureBlobOptions, AzureTokenCredential } from "./options.js";
