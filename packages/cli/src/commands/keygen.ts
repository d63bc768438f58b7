import { chmod, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { generateIdentity } from "@strongbox/core";
import type { Command } from "commander";
import { usageError } from "../errors.js";
import { action } from "./shared.js";

/** age-keygen's file format, so `age -d -i key.txt` reads it. */
export function identityFileText(identity: string, recipient: string, now: Date = new Date()): string {
  return `# created: ${now.toISOString().replace(/\.\d{3}Z$/, "Z")}\n# public key: ${recipient}\n${identity}\n`;
}

export function keygenCommand(program: Command): void {
  program
    .command("keygen")
    .description("generate an age identity (secret key) and print its recipient (public key)")
    .option("-o, --output <file>", "write the identity to this file (mode 0600) instead of stdout")
    .option("--force", "overwrite --output if it exists")
    .action(
      action<{ output?: string; force?: boolean }>(async ({ ui }, _args, options) => {
        const { identity, recipient } = generateIdentity();
        const text = identityFileText(identity, recipient);
        if (options.output) {
          const file = resolve(options.output);
          try {
            await writeFile(file, text, { mode: 0o600, flag: options.force ? "w" : "wx" });
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === "EEXIST")
              throw usageError(`${file} already exists; pass --force to overwrite it`);
            throw err;
          }
          // An overwritten file keeps its old mode: make sure it is private.
          await chmod(file, 0o600);
          if (ui.json) ui.result({ recipient, file }, () => "");
          else if (!ui.quiet) ui.streams.stderr.write(`Public key: ${recipient}\n`);
          return;
        }
        if (ui.json) {
          ui.result({ recipient, identity }, () => "", { raw: true });
          return;
        }
        ui.streams.stdout.write(text);
        if (!ui.quiet) ui.streams.stderr.write(`Public key: ${recipient}\n`);
      }),
    );
}
