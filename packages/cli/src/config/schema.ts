import { z } from "zod";

// Declarative adapter specs are loose objects: the fields checked here are the ones every user
// needs right; everything else is passed through to the adapter's factory, which validates it.

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only, not starting with a symbol")
  .optional();
const strings = z.array(z.string().min(1));
const span = z.union([z.string().min(1), z.number().nonnegative()]);

export const sourceSpecs = {
  files: z.looseObject({
    type: z.literal("files"),
    name,
    paths: strings.min(1, "needs at least one path"),
    exclude: strings.optional(),
    followSymlinks: z.boolean().optional(),
    restore: z.looseObject({}).optional(),
  }),
  postgres: z.looseObject({
    type: z.literal("postgres"),
    name,
    connectionString: z.string().min(1).optional(),
    host: z.string().min(1).optional(),
    port: z.int().min(1).max(65535).optional(),
    user: z.string().optional(),
    password: z.string().optional(),
    database: z.string().min(1).optional(),
    schemas: strings.optional(),
    excludeSchemas: strings.optional(),
    tables: strings.optional(),
    excludeTables: strings.optional(),
    excludeTableData: strings.optional(),
    globals: z.boolean().optional(),
  }),
  redis: z.looseObject({
    type: z.literal("redis"),
    name,
    url: z.string().min(1).optional(),
    mode: z.enum(["scan", "rdb"]).optional(),
    match: z.string().optional(),
    databases: z.array(z.int().nonnegative()).optional(),
  }),
  qdrant: z.looseObject({
    type: z.literal("qdrant"),
    name,
    url: z.string().min(1),
    apiKey: z.string().optional(),
    collections: strings.optional(),
  }),
} as const;

const prefix = z.string().optional();

export const storageSpecs = {
  local: z.looseObject({ type: z.literal("local"), directory: z.string().min(1) }),
  s3: z.looseObject({
    type: z.literal("s3"),
    bucket: z.string().min(1),
    prefix,
    region: z.string().optional(),
    endpoint: z.string().min(1).optional(),
    forcePathStyle: z.boolean().optional(),
    credentials: z
      .looseObject({
        accessKeyId: z.string().min(1),
        secretAccessKey: z.string().min(1),
        sessionToken: z.string().optional(),
      })
      .optional(),
  }),
  gcs: z.looseObject({
    type: z.literal("gcs"),
    bucket: z.string().min(1),
    prefix,
    projectId: z.string().optional(),
    keyFilename: z.string().optional(),
    apiEndpoint: z.string().optional(),
  }),
  azure: z.looseObject({
    type: z.enum(["azure", "azureBlob"]),
    container: z.string().min(1).optional(),
    prefix,
    connectionString: z.string().min(1).optional(),
    sasUrl: z.string().min(1).optional(),
    account: z.string().optional(),
    accountKey: z.string().optional(),
    endpoint: z.string().optional(),
  }),
} as const;

export const transformSpecs = {
  gzip: z.strictObject({ type: z.literal("gzip"), level: z.int().min(0).max(9).optional() }),
  zstd: z.strictObject({
    type: z.literal("zstd"),
    level: z.int().min(1).max(22).optional(),
    engine: z.enum(["auto", "native", "binary"]).optional(),
    binary: z.string().min(1).optional(),
  }),
  age: z.strictObject({
    type: z.enum(["age", "encrypt"]),
    recipients: z.array(z.string().regex(/^age1[0-9a-z]+$/, 'expected an age public key ("age1…")')).optional(),
    passphraseEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected an environment variable name")
      .optional(),
    workFactor: z.int().min(1).max(30).optional(),
  }),
} as const;

const events = z.union([z.literal("all"), z.array(z.string().min(1))]);
export const notifierSpecs = {
  webhook: z.strictObject({
    type: z.literal("webhook"),
    url: z.string().regex(/^https?:\/\//, "expected an http(s) URL"),
    headers: z.record(z.string(), z.string()).optional(),
    events: events.optional(),
    timeoutMs: z.int().positive().optional(),
    name: z.string().optional(),
  }),
  slack: z.strictObject({
    type: z.literal("slack"),
    webhookUrl: z.string().regex(/^https?:\/\//, "expected an http(s) URL"),
    events: events.optional(),
    timeoutMs: z.int().positive().optional(),
    name: z.string().optional(),
  }),
} as const;

const count = z.int().min(-1);
const retention = z.strictObject({
  keepLast: count.optional(),
  keepHourly: count.optional(),
  keepDaily: count.optional(),
  keepWeekly: count.optional(),
  keepMonthly: count.optional(),
  keepYearly: count.optional(),
  keepWithin: z.string().optional(),
  keepWithinHourly: z.string().optional(),
  keepWithinDaily: z.string().optional(),
  keepWithinWeekly: z.string().optional(),
  keepWithinMonthly: z.string().optional(),
  keepWithinYearly: z.string().optional(),
  keepTags: z.array(z.string()).optional(),
  keepOldestWhenShort: z.boolean().optional(),
  timeZone: z.string().optional(),
});

/** The CLI-level fields; `sources`, `storage` and `transforms` entries are checked one by one after. */
export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  sources: z.array(z.unknown()),
  storage: z.unknown().refine((v) => v !== undefined && v !== null, "required"),
  transforms: z.array(z.unknown()).optional(),
  notifiers: z.array(z.unknown()).optional(),
  retention: retention.optional(),
  health: z
    .strictObject({
      maxAge: span.optional(),
      maxTotalSize: span.optional(),
      minCount: z.int().nonnegative().optional(),
    })
    .optional(),
  schedule: z
    .looseObject({
      cron: z.string().min(1),
      timeZone: z.string().optional(),
      components: strings.optional(),
      tags: strings.optional(),
      description: z.string().optional(),
      retries: z.int().nonnegative().optional(),
      retryDelay: span.optional(),
      jitter: span.optional(),
      prune: z.boolean().optional(),
      verify: z.union([z.boolean(), z.enum(["checksum", "decode", "restore-test"])]).optional(),
      catchUp: z.boolean().optional(),
      lockName: z.string().min(1).optional(),
      lockTtl: span.optional(),
      shutdownGrace: span.optional(),
    })
    .optional(),
  identityFile: z.string().min(1).optional(),
  passphraseEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected an environment variable name")
    .optional(),
  concurrency: z.int().positive().optional(),
  allowPartialStorage: z.boolean().optional(),
  incompleteGracePeriod: span.optional(),
  preflight: z.boolean().optional(),
  logLevel: z.enum(["debug", "info", "warn", "error", "silent"]).optional(),
});

export type ParsedConfig = z.infer<typeof configSchema>;
