import { createInterface } from "node:readline/promises";
import type { Readable, Writable } from "node:stream";

/**
 * Asks one question and resolves to the trimmed answer, or `undefined` when input ends first
 * (Ctrl-D). Streams are parameters so the prompt can be tested without a terminal.
 */
export async function ask(input: Readable, output: Writable, question: string): Promise<string | undefined> {
  const rl = createInterface({ input, output, terminal: false });
  try {
    const closed = new Promise<undefined>((resolve) => rl.once("close", () => resolve(undefined)));
    const answer = await Promise.race([rl.question(question), closed]);
    return answer?.trim();
  } finally {
    rl.close();
  }
}

/** Restore's confirmation: the user must type the backup id or "yes". */
export async function confirmRestore(input: Readable, output: Writable, backupId: string): Promise<boolean> {
  const answer = await ask(input, output, `Type the backup id (${backupId}) or "yes" to restore: `);
  if (answer === undefined) output.write("\n");
  return answer === backupId || answer?.toLowerCase() === "yes";
}
