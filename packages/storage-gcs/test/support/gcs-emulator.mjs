// Runs firebase-tools' Cloud Storage emulator (pure Node, no Java) in its own process and prints
// `{"port":N}` on stdout once it listens. A separate process keeps the emulator's memory (it
// buffers every upload body) out of the RSS the tests measure for the adapter.
// Uses firebase-tools internals, hence the exact pin in package.json (see TESTING.md).
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(import.meta.url);

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// The emulator keeps blobs under os.tmpdir(); give it a private one, removed on exit.
const dir = mkdtempSync(join(tmpdir(), "strongbox-gcs-emu-"));
process.env.TMPDIR = dir;

const { StorageEmulator } = require("firebase-tools/lib/emulator/storage/index.js");
const { EmulatorRegistry } = require("firebase-tools/lib/emulator/registry.js");

const port = await freePort();
const emu = new StorageEmulator({
  projectId: "demo-test",
  host: "127.0.0.1",
  port,
  rules: { name: "storage.rules", content: "" },
  auto_download: false,
});
// The rules runtime needs Java and a downloaded jar; the gcloud API path does not use rules.
emu._rulesRuntime.start = async () => {};
emu._rulesRuntime.stop = async () => {};
emu._rulesManager = { start: async () => {}, stop: async () => {}, getRuleset: () => undefined };
await EmulatorRegistry.start(emu);
process.stdout.write(`${JSON.stringify({ port })}\n`);

const stop = () => {
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.on("disconnect", stop);
