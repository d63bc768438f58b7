// A separate Node process that backs up one big file to local storage and reports progress on
// stdout, so a test can SIGKILL it mid-backup.
// Usage: node --experimental-transform-types --import ./register-ts.mjs backup-child.ts <file>… <storeDir>
import { createStrongbox, gzip, local, silentLogger } from "@strongbox/core";
import { files } from "@strongbox/source-files";

const args = process.argv.slice(2);
const storeDir = args.pop()!;
const box = createStrongbox({
  sources: [files({ name: "big", paths: args })],
  storage: local({ directory: storeDir }),
  transforms: [gzip({ level: 1 })],
  logger: silentLogger,
});
let reported = 0;
box.on("progress", (p) => {
  if (p.artifact && p.bytes - reported >= 1 << 20) {
    reported = p.bytes;
    process.stdout.write(`${JSON.stringify({ artifact: p.artifact, bytes: p.bytes })}\n`);
  }
});
const manifest = await box.backup();
process.stdout.write(`${JSON.stringify({ done: manifest.id })}\n`);
