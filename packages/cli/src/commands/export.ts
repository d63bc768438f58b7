import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { interruptSignal, withBox } from "../context.js";
import { usageError } from "../errors.js";
import { formatBytes } from "../ui/format.js";
import { action } from "./shared.js";

export function exportCommand(program: Command): void {
  program
    .command("export")
    .description("write a whole backup, as stored (still encrypted), as one tar: strongbox export <id> > backup.tar")
    .argument("<id>", 'backup id, or "latest"')
    .option("-o, --output <file>", "write the tar to this file instead of stdout")
    .action(
      action<{ output?: string }>(async ({ ui, globals }, [id], o) => {
        const stdout = ui.streams.stdout;
        if (!o.output && stdout.isTTY)
          throw usageError(
            "refusing to write a tar archive to a terminal; redirect stdout (> backup.tar) or use --output <file>",
          );
        if (!o.output && ui.json)
          throw usageError("--json needs --output <file>: stdout carries the tar archive otherwise");
        await withBox(globals, ui, {}, async ({ box }) => {
          const interrupt = interruptSignal();
          const file = o.output ? resolve(o.output) : undefined;
          let bytes = 0;
          const counter = new Transform({
            transform(chunk: Buffer, _enc, cb) {
              bytes += chunk.length;
              cb(null, chunk);
            },
          });
          try {
            const manifest = await box.get(id!);
            const tar = await box.export(manifest.id, { signal: interrupt.signal });
            const out = file ? createWriteStream(file, { flags: "wx", mode: 0o600 }) : stdout;
            try {
              await pipeline(tar, counter, out, { end: file !== undefined, signal: interrupt.signal });
            } catch (err) {
              // A partial tar must not look like a good export.
              if (file) await rm(file, { force: true });
              throw err;
            }
            const summary = { id: manifest.id, bytes, ...(file ? { file } : {}) };
            if (file) ui.result(summary, () => `exported ${manifest.id} to ${file} (${formatBytes(bytes)})`);
            else ui.note(`exported ${manifest.id} (${formatBytes(bytes)})`);
          } finally {
            interrupt.dispose();
          }
        });
      }),
    );
}
