import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { usageError } from "../errors.js";
import { action } from "./shared.js";

/** The commented config `strongbox init` writes. Declarative, so it needs no import to run. */
export const CONFIG_TEMPLATE = `// Strongbox configuration — see https://github.com/strongbox/strongbox/tree/main/packages/cli#config
// Strings may reference environment variables: "\${DATABASE_URL}", "\${REGION:-eu-west-1}".
// Keep secrets in the environment, never in this file.

/** @type {import("@strongbox/cli").StrongboxConfig} */
export default {
  // What to back up. Each entry is { type, ...options of that adapter }; names must be unique.
  sources: [
    { type: "files", name: "files", paths: ["./data"], exclude: ["*.tmp"] },
    // { type: "postgres", name: "postgres", connectionString: "\${DATABASE_URL}" },
    // { type: "redis", name: "redis", url: "\${REDIS_URL}" },
    // { type: "qdrant", name: "qdrant", url: "http://127.0.0.1:6333", apiKey: "\${QDRANT_API_KEY}" },
  ],

  // Where backups go (relative paths are relative to this file). Several: storage: [a, b].
  storage: { type: "local", directory: "./backups" },
  // storage: { type: "s3", bucket: "my-backups", prefix: "prod", region: "eu-west-1" },
  // storage: { type: "gcs", bucket: "my-backups", prefix: "prod" },
  // storage: { type: "azure", container: "backups", connectionString: "\${AZURE_STORAGE_CONNECTION_STRING}" },

  // Applied in order on backup, undone in reverse on restore.
  transforms: [
    { type: "gzip" },
    // Encrypt to an age public key (strongbox keygen -o key.txt prints one):
    // { type: "age", recipients: ["age1..."] },
  ],

  // Decryption keys for restore and verify --mode decode (files or environment, never argv):
  // identityFile: "./key.txt",
  // passphraseEnv: "STRONGBOX_PASSPHRASE",

  // strongbox prune: restic-style retention.
  retention: { keepDaily: 7, keepWeekly: 4, keepMonthly: 12, timeZone: "UTC" },

  // strongbox health: exit 3 when a limit is broken.
  health: { maxAge: "26h", minCount: 1 },

  // strongbox schedule: runs in the foreground (use systemd, a container, or pm2 to keep it up).
  schedule: { cron: "0 2 * * *", timeZone: "UTC", prune: true, verify: "checksum", retries: 3 },
};
`;

export function initCommand(program: Command): void {
  program
    .command("init")
    .description("write a commented strongbox.config.mjs in the current folder")
    .option("--force", "overwrite an existing strongbox.config.mjs")
    .action(
      action<{ force?: boolean }>(async ({ ui }, _args, options) => {
        const file = resolve("strongbox.config.mjs");
        try {
          await writeFile(file, CONFIG_TEMPLATE, { flag: options.force ? "w" : "wx" });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "EEXIST")
            throw usageError(`${file} already exists; pass --force to overwrite it`);
          throw err;
        }
        ui.result({ file }, () => `wrote ${file}\nedit it, then run: strongbox backup`);
      }),
    );
}
