import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { resolve } from "node:path";
import { registerSecret } from "@strongbox/core";
import { configError } from "../errors.js";

/** Decryption keys, read from a file or the environment — never from the command line. */
export interface DecryptionKeys {
  identities: string[];
  passphrase?: string;
}

export function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? homedir() + path.slice(1) : path;
}

/**
 * Reads `identityFile` (age-keygen format: `#` comments, one AGE-SECRET-KEY-1… per line) and the
 * variable named by `passphraseEnv`. Undefined when neither is configured.
 */
export function readDecryptionKeys(
  settings: { identityFile?: string; passphraseEnv?: string },
  baseDir: string,
  env: NodeJS.ProcessEnv = process.env,
): DecryptionKeys | undefined {
  if (!settings.identityFile && !settings.passphraseEnv) return undefined;
  const keys: DecryptionKeys = { identities: [] };
  if (settings.identityFile) {
    const file = resolve(baseDir, expandHome(settings.identityFile));
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw configError(`identityFile: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
    }
    const identities = text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    for (const id of identities) registerSecret(id);
    if (!identities.some((l) => l.startsWith("AGE-SECRET-KEY-1")))
      throw configError(`identityFile: ${file} holds no age identity (AGE-SECRET-KEY-1…)`);
    keys.identities = identities;
  }
  if (settings.passphraseEnv) {
    const value = env[settings.passphraseEnv];
    if (!value) throw configError(`passphraseEnv: environment variable ${settings.passphraseEnv} is not set`);
    registerSecret(value);
    keys.passphrase = value;
  }
  return keys;
}
