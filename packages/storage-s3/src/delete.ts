/**
 * Deleting on S3, and why Object Lock changes how.
 *
 * On a plain bucket, DeleteObjects with keys removes the objects. On a versioned bucket — and
 * Object Lock requires versioning — the same request only stacks a "delete marker" on each key:
 * it always succeeds, the object disappears from listings, and its locked version stays, billed,
 * until someone deletes that version. Retention is enforced only on version deletes, which S3
 * refuses per key with AccessDenied "…protected by object lock".
 *
 * So with `deleteVersions` (on by default when `objectLock` is set) a delete lists the versions
 * and delete markers of the keys (ListObjectVersions, one listing per "directory" of keys) and
 * deletes each version by id. What retention keeps is reported as `skipped` and stays listed
 * and restorable; everything else is gone for good. Requests carry at most 1,000 entries.
 */
import {
  DeleteObjectsCommand,
  ListObjectVersionsCommand,
  type ObjectIdentifier,
  type S3Client,
} from "@aws-sdk/client-s3";

/** DeleteObjects takes at most this many entries per request. */
export const DELETE_BATCH = 1000;

export interface DeleteOutcome {
  /** Full keys kept by retention, with why (one entry per key). */
  skipped: Array<{ key: string; reason: string }>;
  /** Full keys S3 refused for another reason. */
  failed: Array<{ key: string; code: string; message: string }>;
}

/** Failures of whole requests are thrown as they come (the caller maps them). */
export async function deleteObjects(
  client: S3Client,
  bucket: string,
  fullKeys: string[],
  options: { versions: boolean },
): Promise<DeleteOutcome> {
  const targets: ObjectIdentifier[] = options.versions
    ? await listVersions(client, bucket, fullKeys)
    : fullKeys.map((Key) => ({ Key }));
  const skipped = new Map<string, string>();
  const failed: DeleteOutcome["failed"] = [];
  for (let i = 0; i < targets.length; i += DELETE_BATCH) {
    const out = await client.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        // Quiet: S3 answers only with the failures, not 1,000 "Deleted" entries.
        Delete: { Objects: targets.slice(i, i + DELETE_BATCH), Quiet: true },
      }),
    );
    for (const e of out.Errors ?? []) {
      const key = e.Key ?? "";
      const code = e.Code ?? "Error";
      if (code === "NoSuchKey" || code === "NoSuchVersion") continue; // missing keys are fine
      if (isRetentionRefusal(code, e.Message)) {
        if (!skipped.has(key))
          skipped.set(key, `kept by S3 Object Lock (${code}: ${e.Message ?? "retention or legal hold"})`);
      } else {
        failed.push({ key, code, message: e.Message ?? "" });
      }
    }
  }
  return { skipped: [...skipped].map(([key, reason]) => ({ key, reason })), failed };
}

/** Every version and delete marker of the given keys. */
async function listVersions(client: S3Client, bucket: string, fullKeys: string[]): Promise<ObjectIdentifier[]> {
  const wanted = new Set(fullKeys);
  // One listing per parent "directory": a backup's artifacts share a few, so this stays a handful
  // of requests, and never lists the rest of the bucket.
  const dirs = new Set(fullKeys.map((k) => k.slice(0, k.lastIndexOf("/") + 1)));
  const found: ObjectIdentifier[] = [];
  for (const dir of dirs) {
    let KeyMarker: string | undefined;
    let VersionIdMarker: string | undefined;
    do {
      const page = await client.send(
        // Delimiter: deeper keys belong to another directory's listing; do not walk them here.
        new ListObjectVersionsCommand({
          Bucket: bucket,
          Prefix: dir || undefined,
          Delimiter: "/",
          KeyMarker,
          VersionIdMarker,
        }),
      );
      for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
        if (v.Key && wanted.has(v.Key)) found.push({ Key: v.Key, VersionId: v.VersionId });
      }
      const more = page.IsTruncated === true;
      KeyMarker = more ? page.NextKeyMarker : undefined;
      VersionIdMarker = more ? page.NextVersionIdMarker : undefined;
    } while (KeyMarker !== undefined);
  }
  return found;
}

/**
 * S3 answers a delete of a version kept by Object Lock with a per-key AccessDenied ("Access
 * Denied because object protected by object lock."). A plain AccessDenied is a policy problem
 * and must fail loudly, so only refusals that mention the lock are treated as retention.
 */
export function isRetentionRefusal(code: string, message: string | undefined): boolean {
  if (code === "ObjectLocked" || code === "InvalidObjectState") return true;
  return code === "AccessDenied" && /object ?lock|retention|legal ?hold|protected/i.test(message ?? "");
}
