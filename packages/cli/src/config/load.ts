import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { configError } from "../errors.js";
import { expandEnv } from "./env.js";
import type { ParsedConfig } from "./schema.js";
import { validateConfig } from "./validate.js";

/** Looked for in this order in each folder from the working directory up to the root. */
export const CONFIG_NAMES = [
  "strongbox.config.ts",
  "strongbox.config.mts",
  "strongbox.config.cts",
  "strongbox.config.mjs",
  "strongbox.config.js",
  "strongbox.config.cjs",
  "strongbox.config.json",
];

export interface LoadedConfig {
  /** Absolute path of the config file. */
  file: string;
  /** Its folder: relative paths in declarative entries resolve against it. */
  dir: string;
  config: ParsedConfig;
}

/** The config file to use: `--config`, else the first match walking up from `cwd`. */
export function findConfig(explicit: string | undefined, cwd: string = process.cwd()): string {
  if (explicit) {
    const file = resolve(cwd, explicit);
    if (!existsSync(file) || !statSync(file).isFile()) throw configError(`config file not found: ${file}`);
    return file;
  }
  let dir = resolve(cwd);
  for (;;) {
    for (const name of CONFIG_NAMES) {
      const file = join(dir, name);
      if (existsSync(file)) return file;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw configError(
    `no strongbox.config.{ts,mts,mjs,js,json} found in ${resolve(cwd)} or any parent folder; run "strongbox init" or pass --config <file>`,
  );
}

/** Loads, expands `${ENV}` references and validates the config. Every failure is an E_CONFIG (exit 2). */
export async function loadConfig(explicit: string | undefined, cwd?: string): Promise<LoadedConfig> {
  const file = findConfig(explicit, cwd);
  const raw = await importConfig(file);
  const expanded = expandEnv(raw);
  return { file, dir: dirname(file), config: validateConfig(expanded, file) };
}

async function importConfig(file: string): Promise<unknown> {
  if (file.endsWith(".json")) {
    try {
      return JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
      throw configError(`cannot read ${file}: ${(err as Error).message}`);
    }
  }
  let mod: unknown;
  try {
    // jiti loads TypeScript and ESM/CJS alike; no cache, so a long-running `schedule` sees one load.
    // Imported on demand: JSON configs (and --help) do not pay for jiti's start-up.
    const { createJiti } = await import("jiti");
    const jiti = createJiti(import.meta.url, { moduleCache: false, fsCache: false });
    mod = await jiti.import(file, { default: true });
  } catch (err) {
    throw configError(`cannot load ${file}: ${(err as Error).message}`);
  }
  // `export default async () => ({ ... })` is allowed, for configs that look things up first.
  if (typeof mod === "function") {
    try {
      mod = await (mod as () => unknown)();
    } catch (err) {
      throw configError(`the config function in ${file} failed: ${(err as Error).message}`);
    }
  }
  return mod;
}
