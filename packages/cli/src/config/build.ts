import { isAbsolute, resolve } from "node:path";
import {
  consoleLogger,
  encrypt,
  gzip,
  type Logger,
  type LogLevel,
  local,
  type Notifier,
  registerSecret,
  type Source,
  type Storage,
  type StrongboxOptions,
  slack,
  type Transform,
  webhook,
  zstd,
} from "@strongbox/core";
import { configError } from "../errors.js";
import { type AdapterType, loadFactory } from "./adapters.js";
import { isPlainObject } from "./env.js";
import { type DecryptionKeys, expandHome, readDecryptionKeys } from "./keys.js";
import type { LoadedConfig } from "./load.js";
import { formatPath } from "./path.js";

export interface BuildOptions {
  /** Read identityFile / passphraseEnv (commands that decrypt). @default false */
  decrypt?: boolean;
  logLevel?: LogLevel;
  env?: NodeJS.ProcessEnv;
}

/** Turns a validated config into `createStrongbox()` options, constructing declarative adapters. */
export async function buildOptions(loaded: LoadedConfig, options: BuildOptions = {}): Promise<StrongboxOptions> {
  const { config, dir } = loaded;
  const env = options.env ?? process.env;
  const keys = options.decrypt ? readDecryptionKeys(config, dir, env) : undefined;

  const sources: Source[] = [];
  for (const [i, entry] of (config.sources as unknown[]).entries()) {
    sources.push(await buildSource(entry, ["sources", i], dir));
  }
  const storageEntries = Array.isArray(config.storage) ? config.storage : [config.storage];
  const storages: Storage[] = [];
  for (const [i, entry] of storageEntries.entries()) {
    storages.push(await buildStorage(entry, Array.isArray(config.storage) ? ["storage", i] : ["storage"], dir));
  }
  const transforms = ((config.transforms ?? []) as unknown[]).map((entry, i) =>
    buildTransform(entry, ["transforms", i], keys, env),
  );

  const notifiers = ((config.notifiers ?? []) as unknown[]).map((entry, i) => buildNotifier(entry, ["notifiers", i]));

  return {
    sources,
    storage: storages.length === 1 ? storages[0]! : storages,
    transforms,
    ...(notifiers.length > 0 ? { notifiers } : {}),
    ...(config.retention ? { retention: config.retention } : {}),
    ...(config.concurrency !== undefined ? { concurrency: config.concurrency } : {}),
    ...(config.allowPartialStorage !== undefined ? { allowPartialStorage: config.allowPartialStorage } : {}),
    ...(config.incompleteGracePeriod !== undefined ? { incompleteGracePeriod: config.incompleteGracePeriod } : {}),
    ...(config.preflight !== undefined ? { preflight: config.preflight } : {}),
    logger: cliLogger(options.logLevel ?? config.logLevel ?? "warn"),
  };
}

function isSpec(entry: unknown, methods: string[]): entry is Record<string, unknown> & { type: string } {
  return isPlainObject(entry) && !methods.every((m) => typeof entry[m] === "function");
}

/** Factory options: the spec without `type`, relative paths resolved against the config's folder. */
function factoryOptions(spec: Record<string, unknown>): Record<string, unknown> {
  const { type: _type, ...rest } = spec;
  return rest;
}

function absolute(path: string, dir: string): string {
  const p = expandHome(path);
  return isAbsolute(p) ? p : resolve(dir, p);
}

async function construct(type: AdapterType, opts: Record<string, unknown>, path: PropertyKey[], dir: string) {
  const field = formatPath(path);
  const factory = await loadFactory(type, dir, field);
  try {
    return factory(opts);
  } catch (err) {
    throw configError(`${field}: ${(err as Error).message.replace(/^\[strongbox\] /, "")}`);
  }
}

async function buildSource(entry: unknown, path: PropertyKey[], dir: string): Promise<Source> {
  if (!isSpec(entry, ["backup", "restore"])) return entry as Source;
  const opts = factoryOptions(entry);
  if (entry.type === "files") opts.paths = (opts.paths as string[]).map((p) => absolute(p, dir));
  if (typeof opts.password === "string") registerSecret(opts.password);
  if (typeof opts.apiKey === "string") registerSecret(opts.apiKey);
  return (await construct(entry.type as AdapterType, opts, path, dir)) as Source;
}

async function buildStorage(entry: unknown, path: PropertyKey[], dir: string): Promise<Storage> {
  if (!isSpec(entry, ["put", "get", "list"])) return entry as Storage;
  const opts = factoryOptions(entry);
  if (entry.type === "local") {
    try {
      return local({ ...opts, directory: absolute(opts.directory as string, dir) } as Parameters<typeof local>[0]);
    } catch (err) {
      throw configError(`${formatPath(path)}: ${(err as Error).message.replace(/^\[strongbox\] /, "")}`);
    }
  }
  if (entry.type === "gcs" && typeof opts.keyFilename === "string") opts.keyFilename = absolute(opts.keyFilename, dir);
  const type: AdapterType = entry.type === "azureBlob" ? "azure" : (entry.type as AdapterType);
  return (await construct(type, opts, path, dir)) as Storage;
}

function buildTransform(
  entry: unknown,
  path: PropertyKey[],
  keys: DecryptionKeys | undefined,
  env: NodeJS.ProcessEnv,
): Transform {
  const field = formatPath(path);
  if (!isSpec(entry, ["encode", "decode", "describe"])) {
    const t = entry as Transform;
    return t.id === "age" && keys ? withDecryptionKeys(t, keys, field) : t;
  }
  try {
    if (entry.type === "gzip") return gzip(entry.level === undefined ? {} : { level: entry.level as number });
    if (entry.type === "zstd") return zstd(factoryOptions(entry));
    const recipients = (entry.recipients as string[] | undefined) ?? [];
    let passphrase: string | undefined;
    if (typeof entry.passphraseEnv === "string") {
      passphrase = env[entry.passphraseEnv];
      if (!passphrase)
        throw configError(`${field}.passphraseEnv: environment variable ${entry.passphraseEnv} is not set`);
      registerSecret(passphrase);
    }
    const encoder =
      recipients.length > 0 || passphrase !== undefined
        ? encrypt({
            recipients,
            ...(passphrase !== undefined ? { passphrase } : {}),
            ...(entry.workFactor !== undefined ? { workFactor: entry.workFactor as number } : {}),
          })
        : undefined;
    if (encoder) return keys ? withDecryptionKeys(encoder, keys, field) : encoder;
    if (keys) return withDecryptionKeys(undefined, keys, field);
    throw configError(
      `${field}: an age transform needs "recipients" or "passphraseEnv" (to encrypt), or a top-level "identityFile" / "passphraseEnv" (to decrypt)`,
    );
  } catch (err) {
    if ((err as { name?: string }).name === "CliError") throw err;
    throw configError(`${field}: ${(err as Error).message.replace(/^\[strongbox\] /, "")}`);
  }
}

/**
 * An age transform that encodes as configured but decodes with the CLI's keys. Backup hosts keep
 * only recipients in their config; the identity comes from `identityFile` when reading back.
 */
function withDecryptionKeys(base: Transform | undefined, keys: DecryptionKeys, field: string): Transform {
  let decoder: Transform;
  try {
    decoder = encrypt({
      identities: keys.identities,
      ...(keys.passphrase !== undefined ? { passphrase: keys.passphrase } : {}),
    });
  } catch (err) {
    throw configError(`${field}: ${(err as Error).message.replace(/^\[strongbox\] /, "")}`);
  }
  return {
    id: "age",
    extension: base?.extension ?? decoder.extension,
    encode: () => (base ?? decoder).encode(),
    decode: (record) => decoder.decode(record),
    describe: () => (base ?? decoder).describe(),
  };
}

function buildNotifier(entry: unknown, path: PropertyKey[]): Notifier {
  if (!isSpec(entry, ["notify"])) return entry as Notifier;
  try {
    const opts = factoryOptions(entry) as never;
    return entry.type === "slack" ? slack(opts) : webhook(opts);
  } catch (err) {
    throw configError(`${formatPath(path)}: ${(err as Error).message.replace(/^\[strongbox\] /, "")}`);
  }
}

/**
 * The SDK's stderr logger, minus error lines at the default levels: every error the SDK logs is
 * also thrown or emitted, and the CLI prints it once as `error [E_CODE]: …`.
 */
function cliLogger(level: LogLevel): Logger {
  const inner = consoleLogger(level);
  return level === "debug" || level === "info" ? inner : { ...inner, error() {} };
}
