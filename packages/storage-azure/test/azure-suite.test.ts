import { BlobServiceClient } from "@azure/storage-blob";
import { storageSuite } from "@strongbox/testkit";
import { azureBlob } from "../src/index.js";
import { startAzurite } from "./support/azurite.js";

// The 200 MiB object is streamed (and read back natively) in azure-large.test.ts; 32 MiB here
// keeps the package run short.
storageSuite(
  "azure-blob on azurite 3.35.0",
  async () => {
    const azurite = await startAzurite();
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      "strongbox-suite",
    );
    return {
      storage: azureBlob({ connectionString: azurite.connectionString, container: "strongbox-suite", prefix: "suite" }),
      async readNative(key: string) {
        const blob = container.getBlobClient(`suite/${key}`);
        return (await blob.exists()) ? blob.downloadToBuffer() : undefined;
      },
      cleanup: () => azurite.stop(),
    };
  },
  { largeObjectBytes: 32 * 1024 * 1024 },
);
