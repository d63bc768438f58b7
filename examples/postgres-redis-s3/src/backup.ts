/**
 * Nightly-job style backup of PostgreSQL + Redis to S3, from environment variables (see
 * ../strongbox.config.mjs for the list):
 *   1. back up both sources into one backup (gzip + age, streamed: nothing is buffered or staged on disk),
 *   2. verify the new backup — re-read from S3 and checked against the manifest's sha256
 *      ("checksum"), or fully decrypted and decompressed ("decode") when AGE_IDENTITY_FILE is set,
 *   3. prune with the retention policy (daily 7 / weekly 4 / monthly 12) — only once the new backup
 *      verified, so a damaged new backup can never push a good old one out.
 * Exit code 0 when all three succeeded, 1 otherwise (for cron, systemd timers, Kubernetes CronJobs).
 *
 *   DATABASE_URL=postgres://… REDIS_URL=redis://… S3_BUCKET=backups AGE_RECIPIENT=age1… node src/backup.ts
 */
import { createStrongbox, formatBytes, formatDuration, isStrongboxError } from "@strongbox/core";
import config from "../strongbox.config.mjs";

// The CLI-only parts of the config (health limits) are not manager options.
const { sources, storage, transforms, retention } = config;
const box = createStrongbox({ sources, storage, transforms, retention });
box.on("warning", (w) => console.warn(`warning: ${w.message}`));

try {
  const started = Date.now();
  const manifest = await box.backup({
    tags: ["nightly"],
    description: process.env.BACKUP_DESCRIPTION ?? "Daily backup",
  });
  console.log(`backup ${manifest.id} completed in ${formatDuration(Date.now() - started)}`);
  for (const component of manifest.components) {
    for (const artifact of component.artifacts) {
      console.log(
        `  ${component.name}: ${artifact.key}  ${formatBytes(artifact.plainSize)} → ${formatBytes(artifact.size)} stored`,
      );
    }
  }

  const mode = process.env.AGE_IDENTITY_FILE ? "decode" : "checksum";
  const verified = await box.verify(manifest.id, { mode });
  console.log(`verify (${mode}): ${verified.ok ? "OK" : "FAILED"}`);
  if (!verified.ok) {
    for (const c of verified.components)
      for (const a of c.artifacts) if (!a.ok) console.error(`  ${a.key}: ${a.error?.message ?? "failed"}`);
    process.exitCode = 1;
  } else {
    const report = await box.prune();
    for (const s of report.storages) {
      const incomplete = new Set(s.incomplete.map((b) => b.id));
      const removed = s.deleted.filter((id) => !incomplete.has(id));
      const collected = s.deleted.filter((id) => incomplete.has(id));
      console.log(
        `prune ${s.storage}: kept ${s.plan.keep.length}, removed ${removed.length} (+${collected.length} incomplete)`,
      );
      for (const k of s.plan.keep) console.log(`  keep    ${k.id}  ${k.reasons.join(", ")}`);
      for (const id of removed) console.log(`  removed ${id}`);
      // Incomplete = objects without a manifest (a crashed or aborted backup), past the grace period.
      for (const id of collected) console.log(`  removed ${id}  (incomplete)`);
      for (const e of s.errors) {
        console.error(`  error   ${e.id}: ${e.message}`);
        process.exitCode = 1;
      }
    }
  }
} catch (err) {
  // StrongboxError messages are already redacted (no password, key or token).
  console.error(isStrongboxError(err) ? `${err.code}: ${err.message}` : err);
  process.exitCode = 1;
} finally {
  await box.close();
}
