import type { Readable, Writable } from "node:stream";
import { redactSecrets } from "@strongbox/core";

/** Options every command takes. */
export interface GlobalOptions {
  config?: string;
  json?: boolean;
  quiet?: boolean;
}

export interface Streams {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
}

/**
 * Where each kind of output goes. stdout carries results only (a table, a manifest, one JSON
 * document with --json, or a tar for export); progress, notes and errors go to stderr, so
 * `strongbox list --json | jq` and `strongbox export id > file.tar` stay clean.
 */
export class Ui {
  readonly json: boolean;
  readonly quiet: boolean;

  constructor(
    options: GlobalOptions,
    readonly streams: Streams = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
  ) {
    this.json = options.json === true;
    this.quiet = options.quiet === true;
  }

  /** Whether live progress bars can be drawn (stderr is a terminal, not --json or --quiet). */
  get interactive(): boolean {
    return this.streams.stderr.isTTY === true && !this.json && !this.quiet;
  }

  /** Whether any progress or note may be written at all. */
  get chatty(): boolean {
    return !this.json && !this.quiet;
  }

  /** A note for people on stderr; silent with --quiet or --json. */
  note(text: string): void {
    if (this.chatty) this.streams.stderr.write(`${text}\n`);
  }

  /** A warning on stderr; silent only with --quiet. */
  warn(text: string): void {
    if (!this.quiet) this.streams.stderr.write(`warning: ${text}\n`);
  }

  /**
   * The command's result: one JSON document with --json, else the human text on stdout. `essential`
   * results (list, show) are printed even with --quiet; summaries of actions are not.
   */
  result(value: unknown, human: () => string, options: { essential?: boolean; raw?: boolean } = {}): void {
    // Results can echo user input (a --target connection string): masked like every message,
    // except for `raw` output whose whole point is a secret (keygen's identity).
    const clean = (text: string) => (options.raw ? text : redactSecrets(text));
    if (this.json) {
      this.streams.stdout.write(`${clean(JSON.stringify(value, null, 2))}\n`);
      return;
    }
    if (this.quiet && !options.essential) return;
    const text = clean(human());
    if (text) this.streams.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  }
}
