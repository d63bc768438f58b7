import {
  AnonymousCredential,
  BlobServiceClient,
  ContainerClient,
  type StoragePipelineOptions,
  type StorageRetryOptions,
  StorageRetryPolicyType,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";
import { registerSecret, StrongboxError } from "@strongbox/core";
import { ADAPTER, safeCause } from "./errors.js";
import type { AzureBlobOptions } from "./options.js";

/** Exponential backoff for 408/429/5xx, resets and timeouts: ~0.8, 1.6, 3.2, 6.4 s between 5 tries. */
export const DEFAULT_RETRY: StorageRetryOptions = {
  retryPolicyType: StorageRetryPolicyType.EXPONENTIAL,
  maxTries: 5,
  retryDelayInMs: 800,
  maxRetryDelayInMs: 60_000,
};

function isContainerClient(c: unknown): c is ContainerClient {
  return (
    c instanceof ContainerClient ||
    (typeof c === "object" && c !== null && "getBlockBlobClient" in c && "containerName" in c)
  );
}

function needContainer(options: AzureBlobOptions, how: string): string {
  if (!options.container) {
    throw new StrongboxError("E_CONFIG", `azureBlob() needs "container" with ${how}`, { adapter: ADAPTER });
  }
  return options.container;
}

/** Registers every secret a connection string may carry (account key, SAS token and its signature). */
function registerConnectionStringSecrets(cs: string): void {
  for (const part of cs.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (name === "accountkey") registerSecret(value);
    if (name === "sharedaccesssignature") registerSasSecrets(value);
  }
}

function registerSasSecrets(query: string): void {
  const q = query.replace(/^\?/, "");
  registerSecret(q);
  const sig = new URLSearchParams(q).get("sig");
  registerSecret(sig);
  // The signature also appears percent-encoded in URLs.
  if (sig) registerSecret(encodeURIComponent(sig));
}

/** The container the storage works on, from whichever way of connecting the options give. */
export function resolveContainer(options: AzureBlobOptions): ContainerClient {
  const ways = (["client", "connectionString", "sasUrl", "account"] as const).filter(
    (k) => options[k] !== undefined && options[k] !== "",
  );
  if (ways.length !== 1) {
    throw new StrongboxError(
      "E_CONFIG",
      ways.length === 0
        ? 'azureBlob() needs one of "client", "connectionString", "sasUrl" or "account" (+ "accountKey" or "credential")'
        : `azureBlob() takes only one of ${ways.map((w) => `"${w}"`).join(", ")}`,
      { adapter: ADAPTER },
    );
  }
  const pipeline: StoragePipelineOptions = {
    retryOptions: { ...DEFAULT_RETRY, ...options.retry },
    userAgentOptions: { userAgentPrefix: "strongbox" },
  };

  if (options.client) {
    if (isContainerClient(options.client)) return options.client;
    return options.client.getContainerClient(needContainer(options, "a BlobServiceClient"));
  }

  if (options.connectionString) {
    registerConnectionStringSecrets(options.connectionString);
    let service: BlobServiceClient;
    try {
      service = BlobServiceClient.fromConnectionString(options.connectionString, pipeline);
    } catch (err) {
      throw new StrongboxError(
        "E_CONFIG",
        `azureBlob() "connectionString" is not a valid storage connection string: ${(err as Error).message}`,
        { adapter: ADAPTER, cause: safeCause(err) },
      );
    }
    return service.getContainerClient(needContainer(options, "a connection string"));
  }

  if (options.sasUrl) {
    let url: URL;
    try {
      url = new URL(options.sasUrl);
    } catch (err) {
      throw new StrongboxError("E_CONFIG", 'azureBlob() "sasUrl" is not a URL', {
        adapter: ADAPTER,
        cause: safeCause(err),
      });
    }
    registerSasSecrets(url.search);
    if (!url.searchParams.get("sig")) {
      throw new StrongboxError(
        "E_CONFIG",
        `azureBlob() "sasUrl" carries no SAS token (no "sig" parameter) for ${url.host}`,
        { adapter: ADAPTER },
      );
    }
    const asContainer = new ContainerClient(options.sasUrl, new AnonymousCredential(), pipeline);
    // An account-level SAS URL has no container in its path: the SDK then parses an empty name.
    if (asContainer.containerName) {
      if (options.container && options.container !== asContainer.containerName) {
        throw new StrongboxError(
          "E_CONFIG",
          `azureBlob() "container" (${options.container}) differs from the container in "sasUrl" (${asContainer.containerName})`,
          { adapter: ADAPTER },
        );
      }
      return asContainer;
    }
    return new BlobServiceClient(options.sasUrl, new AnonymousCredential(), pipeline).getContainerClient(
      needContainer(options, "an account SAS URL"),
    );
  }

  const account = options.account as string;
  if (!/^[a-z0-9]{3,24}$/.test(account)) {
    throw new StrongboxError(
      "E_CONFIG",
      `azureBlob() "account" must be a storage account name (3-24 lowercase letters and digits), got ${JSON.stringify(account)}`,
      { adapter: ADAPTER },
    );
  }
  if (options.accountKey && options.credential) {
    throw new StrongboxError("E_CONFIG", 'azureBlob() takes "accountKey" or "credential", not both', {
      adapter: ADAPTER,
    });
  }
  registerSecret(options.accountKey);
  const credential = options.accountKey
    ? new StorageSharedKeyCredential(account, options.accountKey)
    : options.credential;
  if (!credential) {
    throw new StrongboxError(
      "E_CONFIG",
      'azureBlob() with "account" needs "accountKey" or "credential" (e.g. new DefaultAzureCredential())',
      { adapter: ADAPTER },
    );
  }
  if (credential instanceof StorageSharedKeyCredential) {
    // Its key is private to the class; reach it to keep it out of every message.
    const key = (credential as unknown as { accountKey?: Buffer }).accountKey;
    if (Buffer.isBuffer(key)) registerSecret(key.toString("base64"));
  }
  const endpoint = (options.endpoint ?? `https://${account}.blob.core.windows.net`).replace(/\/+$/, "");
  const service = new BlobServiceClient(endpoint, credential as StorageSharedKeyCredential, pipeline);
  return service.getContainerClient(needContainer(options, '"account"'));
}
