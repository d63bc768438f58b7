import { Storage as GcsClient } from "@google-cloud/storage";
import { storageSuite } from "@strongbox/testkit";
import { gcs } from "../src/index.js";
import { startGcsEmulator } from "./support/emulator.js";

// The 200 MiB object is streamed (and read back natively) in gcs-large.test.ts; 32 MiB here keeps
// the package run short.
storageSuite(
  "gcs on the firebase-tools storage emulator",
  async () => {
    const emu = await startGcsEmulator();
    const native = new GcsClient({ projectId: "demo-test", apiEndpoint: emu.endpoint });
    const bucket = native.bucket("strongbox-suite");
    return {
      storage: gcs({ bucket: "strongbox-suite", prefix: "suite", projectId: "demo-test", apiEndpoint: emu.endpoint }),
      async readNative(key: string) {
        const file = bucket.file(`suite/${key}`);
        const [exists] = await file.exists();
        return exists ? (await file.download())[0] : undefined;
      },
      cleanup: () => emu.stop(),
    };
  },
  { largeObjectBytes: 32 * 1024 * 1024 },
);
