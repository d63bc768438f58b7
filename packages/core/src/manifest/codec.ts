import type { ZodType } from "zod";
import { StrongboxError } from "../errors.js";
import { assertValidKey } from "../util/keys.js";
import { COMPONENT_PATTERN, isBackupId } from "./layout.js";
import { type BackupManifest, MANIFEST_FORMAT } from "./types.js";

/** A manifest larger than this is refused before parsing: no real one comes near it. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
const MAX_OBJECT_SIZE = 2 ** 53 - 1;

/**
 * The manifest schema, built on first use. zod is loaded lazily: it costs ~19 MiB of memory, and a
 * backup never parses a manifest — only reading, verifying and restoring do.
 */
let schemaPromise: Promise<ZodType> | undefined;

function manifestSchema(): Promise<ZodType> {
  schemaPromise ??= import("zod").then(({ z }) => {
    const hex64 = z.string().regex(/^[0-9a-f]{64}$/, "must be a lowercase hex sha256");
    const size = z.number().int().min(0).max(MAX_OBJECT_SIZE);

    const artifactSchema = z.object({
      name: z.string().min(1).max(200),
      key: z.string().min(1).max(1024),
      size,
      sha256: hex64,
      plainSize: size,
      plainSha256: hex64,
      transforms: z.array(z.looseObject({ id: z.string().min(1).max(64) })).max(16),
      meta: z.record(z.string(), z.unknown()).optional(),
    });

    const statsSchema = z.looseObject({
      version: z.string().optional(),
      counts: z.record(z.string(), z.number()).optional(),
      estimated: z.array(z.string()).optional(),
      info: z.record(z.string(), z.unknown()).optional(),
    });

    const manifestSchema = z.object({
      format: z.literal(MANIFEST_FORMAT),
      id: z.string(),
      status: z.literal("completed"),
      startedAt: z.string(),
      completedAt: z.string(),
      durationMs: z.number().min(0),
      tags: z.array(z.string().max(100)).max(100),
      description: z.string().max(10_000).optional(),
      host: z.string().max(255),
      tool: z.object({ name: z.literal("strongbox"), version: z.string().max(64) }),
      safetyFor: z.object({ backupId: z.string(), components: z.array(z.string()) }).optional(),
      components: z
        .array(
          z.object({
            name: z.string().regex(COMPONENT_PATTERN),
            type: z.string().min(1).max(64),
            version: z.string().max(200).optional(),
            stats: statsSchema.optional(),
            startedAt: z.string(),
            durationMs: z.number().min(0),
            artifacts: z.array(artifactSchema).max(10_000),
          }),
        )
        .max(1000),
    });
    return manifestSchema;
  });
  return schemaPromise;
}

export function serializeManifest(manifest: BackupManifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, "utf8");
}

/**
 * Parses and validates a manifest read from storage. Anything hostile or foreign — another format
 * version, keys outside `{id}/{component}/`, absurd sizes — is refused with E_FORMAT / E_INTEGRITY
 * before any of it is used.
 */
export async function parseManifest(bytes: Buffer, expectedId: string): Promise<BackupManifest> {
  if (bytes.length > MAX_MANIFEST_BYTES) {
    throw new StrongboxError(
      "E_FORMAT",
      `manifest of ${expectedId} is ${bytes.length} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new StrongboxError("E_INTEGRITY", `manifest of ${expectedId} is not valid JSON`, { cause: err });
  }
  const format = (raw as { format?: unknown } | null)?.format;
  if (format !== MANIFEST_FORMAT) {
    throw new StrongboxError(
      "E_FORMAT",
      `manifest of ${expectedId} has format ${JSON.stringify(format)}; this version of Strongbox reads "${MANIFEST_FORMAT}" (upgrade @strongbox/core to read newer backups)`,
    );
  }
  const parsed = (await manifestSchema()).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StrongboxError(
      "E_FORMAT",
      `manifest of ${expectedId} is malformed at ${issue?.path.join(".") || "(root)"}: ${issue?.message}`,
    );
  }
  const manifest = parsed.data as BackupManifest;
  if (manifest.id !== expectedId || !isBackupId(manifest.id)) {
    throw new StrongboxError(
      "E_INTEGRITY",
      `manifest stored under ${expectedId} describes backup ${JSON.stringify(manifest.id)}`,
    );
  }
  for (const c of manifest.components) {
    for (const a of c.artifacts) {
      try {
        assertValidKey(a.key);
      } catch (err) {
        throw new StrongboxError(
          "E_INTEGRITY",
          `manifest of ${expectedId} holds an unsafe key for artifact ${JSON.stringify(a.name)}`,
          { cause: err },
        );
      }
      if (!a.key.startsWith(`${manifest.id}/${c.name}/`)) {
        throw new StrongboxError(
          "E_INTEGRITY",
          `manifest of ${expectedId} points artifact ${JSON.stringify(a.name)} outside its backup (${JSON.stringify(a.key)})`,
        );
      }
    }
  }
  return manifest;
}
