// The published conformance suite (@strongbox/testkit) against s3rver, read back natively.
import { storageSuite } from "@strongbox/testkit";
import { createBucket, rawClient, readNative, s3rverStorage, startS3rver } from "./s3rver.js";

storageSuite("s3 (s3rver)", async () => {
  const server = await startS3rver();
  const raw = rawClient(server.endpoint);
  await createBucket(raw, "suite");
  const storage = s3rverStorage(server.endpoint, "suite", { prefix: "conformance" });
  return {
    storage,
    readNative: (key) => readNative(raw, "suite", `conformance/${key}`),
    async cleanup() {
      await storage.close?.();
      raw.destroy();
      await server.stop();
    },
  };
});
