// Strongbox configuration for backing up PostgreSQL + Redis to S3, gzip-compressed and
// age-encrypted, with GFS retention (daily 7 / weekly 4 / monthly 12).
//
// It is a plain object built from the adapter factories, so it is read both by `src/backup.ts`
// (which passes it to `createStrongbox()`) and by the `strongbox` CLI (`strongbox list --config
// strongbox.config.mjs`). Every secret comes from the environment: nothing secret lives in this file.
//
//   DATABASE_URL       postgres://user:password@host:5432/app   (the password reaches pg_dump via PGPASSWORD)
//   REDIS_URL          redis://[:password@]host:6379[/db]
//   S3_BUCKET          bucket holding the backups (must exist)
//   S3_PREFIX          key prefix inside the bucket                       default "strongbox"
//   S3_ENDPOINT        S3-compatible endpoint (MinIO, R2, s3rver)          default AWS
//   S3_REGION          region                                               default AWS_REGION / us-east-1
//   S3_FORCE_PATH_STYLE "true" for MinIO / Ceph / s3rver
//   AGE_RECIPIENT      age1… public key(s), comma-separated: backups are encrypted TO it; this host
//                      never needs the private key to back up
//   AGE_IDENTITY_FILE  optional: an `age-keygen` file, only where restores or decode-verifies run
//   RETENTION_TIME_ZONE calendar used for "daily/weekly/monthly"            default "UTC"
//
// Credentials for S3 come from the AWS SDK's usual chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
// ~/.aws, SSO, instance roles); AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED helps servers such as
// s3rver or older MinIO that mis-store checksummed bodies.
import { readFileSync } from "node:fs";
import { encrypt, gzip, StrongboxError } from "@strongbox/core";
import { postgres } from "@strongbox/source-postgres";
import { redis } from "@strongbox/source-redis";
import { s3 } from "@strongbox/storage-s3";

/** A required environment variable, or a configuration error naming it (never its value). */
function required(name) {
  const value = process.env[name];
  if (!value) throw new StrongboxError("E_CONFIG", `environment variable ${name} is required`);
  return value;
}

/** The AGE-SECRET-KEY-1… lines of an age identity file, when one is configured. */
function identities() {
  const file = process.env.AGE_IDENTITY_FILE;
  if (!file) return undefined;
  return readFileSync(file, "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("AGE-SECRET-KEY-1"));
}

export default {
  sources: [
    postgres({ name: "postgres", connectionString: required("DATABASE_URL") }),
    redis({ name: "redis", url: required("REDIS_URL") }),
  ],
  storage: s3({
    bucket: required("S3_BUCKET"),
    prefix: process.env.S3_PREFIX ?? "strongbox",
    ...(process.env.S3_ENDPOINT ? { endpoint: process.env.S3_ENDPOINT } : {}),
    ...(process.env.S3_REGION ? { region: process.env.S3_REGION } : {}),
    forcePathStyle: process.env.S3_FORCE_PATH_STYLE === "true",
  }),
  // Order matters: compress first (encrypted bytes do not compress), then encrypt.
  transforms: [
    gzip(),
    encrypt({
      recipients: required("AGE_RECIPIENT")
        .split(",")
        .map((r) => r.trim()),
      identities: identities(),
    }),
  ],
  // restic `forget` semantics: the newest backup of each of the last 7 days, 4 ISO weeks and
  // 12 months is kept; everything else is removed by prune.
  retention: {
    keepDaily: 7,
    keepWeekly: 4,
    keepMonthly: 12,
    timeZone: process.env.RETENTION_TIME_ZONE ?? "UTC",
  },
  // Used by `strongbox health`.
  health: { maxAge: "26h", minCount: 1 },
};
