import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type RestoreContext,
  type RestorePreview,
  type RestoreResult,
  type RestoreTestResult,
  StrongboxError,
} from "@strongbox/core";
import type { Deps } from "./context.js";
import { ADAPTER, HttpStatusError, toStrongbox } from "./http.js";
import { multipartFile } from "./multipart.js";
import { backedUpCollections, type CollectionPair, parseTarget, resolvePairs, SNAPSHOT_EXT } from "./targets.js";
import { checkVersionGap } from "./version-rule.js";

/** Prefix of the scratch collections `restoreTest()` creates and always deletes. */
export const RESTORE_TEST_PREFIX = "strongbox_restore_test_";

function restorePairs(ctx: RestoreContext): CollectionPair[] {
  return resolvePairs(backedUpCollections(ctx.component.artifacts), parseTarget(ctx.target), `backup ${ctx.backupId}`);
}

function backupVersion(ctx: RestoreContext): string | undefined {
  return ctx.component.stats?.version ?? ctx.component.version;
}

/**
 * Upload-and-recover, collection by collection. Qdrant recovers into a collection only once the
 * whole file arrived and verified (our `checksum` query parameter), so each collection is
 * replaced all-or-nothing. With several collections every artifact is first read through once,
 * so a corrupt one is found before any collection is touched.
 */
export async function restore(deps: Deps, ctx: RestoreContext): Promise<RestoreResult> {
  const force = ctx.force || parseTarget(ctx.target).force;
  const pairs = restorePairs(ctx);
  const server = await deps.api.version(ctx.signal);
  const warnings: string[] = [];
  const gap = checkVersionGap(backupVersion(ctx), server, force);
  if (gap) {
    warnings.push(gap);
    ctx.logger.warn(`qdrant: ${gap}`);
  }
  if (pairs.length > 1) {
    for (const { logical } of pairs) {
      ctx.progress({ artifact: `${logical}${SNAPSHOT_EXT}`, message: "verifying before anything is replaced" });
      const stream = await ctx.open(`${logical}${SNAPSHOT_EXT}`);
      for await (const _ of stream) {
        // draining: the stream checks size and sha256 as it is read
      }
    }
  }
  const counts: Record<string, number> = {};
  const expected = ctx.component.stats?.counts ?? {};
  for (const { logical, physical } of pairs) {
    await uploadAndRecover(deps, ctx, logical, physical);
    counts[logical] = await waitReadyAndCount(deps, physical, ctx.signal);
    const want = expected[logical];
    if (want !== undefined && want !== counts[logical])
      warnings.push(
        `collection "${physical}" holds ${counts[logical]} points after the restore; the backup recorded ${want}`,
      );
  }
  return {
    stats: { version: server, counts },
    ...(warnings.length ? { warnings } : {}),
    details: { collections: Object.fromEntries(pairs.map((p) => [p.logical, p.physical])) },
  };
}

async function uploadAndRecover(deps: Deps, ctx: RestoreContext, logical: string, physical: string): Promise<void> {
  const name = `${logical}${SNAPSHOT_EXT}`;
  const record = ctx.component.artifacts.find((a) => a.name === name);
  if (!record)
    throw new StrongboxError("E_NOT_FOUND", `backup ${ctx.backupId} has no artifact ${name}`, { adapter: ADAPTER });
  ctx.progress({ artifact: name, message: `uploading into collection "${physical}"` });
  const plain = await ctx.open(name);
  let streamError: unknown;
  plain.on("error", (err) => {
    streamError = err;
  });
  const { body, headers } = multipartFile("snapshot", name, plain, record.plainSize);
  const path = `/collections/${encodeURIComponent(physical)}/snapshots/upload`;
  try {
    await deps.http.upload({
      path,
      query: { priority: "snapshot", wait: "true", checksum: record.plainSha256 },
      body,
      headers,
      signal: ctx.signal,
    });
  } catch (err) {
    // The artifact's own failure (integrity, decryption) is the real cause; the aborted upload follows from it.
    if (streamError) throw toStrongbox(streamError, `reading ${name}`, deps.http.where, ctx.signal);
    const e = toStrongbox(err, `POST ${path}`, deps.http.where, ctx.signal);
    const status = (e.details?.status as number | undefined) ?? (err instanceof HttpStatusError ? err.statusCode : 0);
    if (status >= 400 && status < 500 && status !== 401 && status !== 403)
      throw new StrongboxError(
        "E_SOURCE",
        `Qdrant on ${deps.http.where} rejected the snapshot ${name} for collection "${physical}"; the collection was left as it was: ${e.message.replace(/^\[strongbox\] \[qdrant\] /, "")}`,
        { adapter: ADAPTER, cause: err, details: { status } },
      );
    throw e;
  } finally {
    if (!plain.destroyed) plain.destroy();
  }
}

/**
 * Waits until the recovered collection settled, then counts exactly. `grey` counts as settled:
 * it means optimizations are possible but not running, and the data is all there.
 */
async function waitReadyAndCount(deps: Deps, collection: string, signal: AbortSignal): Promise<number> {
  const deadline = Date.now() + (deps.options.readyTimeoutMs ?? 300_000);
  let delay = 50;
  for (;;) {
    const info = await deps.api.collection(collection, signal);
    if (!info)
      throw new StrongboxError("E_SOURCE", `collection "${collection}" is missing after recovery`, {
        adapter: ADAPTER,
      });
    if (info.status === "red")
      throw new StrongboxError("E_SOURCE", `collection "${collection}" is red (failed) after recovery`, {
        adapter: ADAPTER,
      });
    if (info.status === "green" || info.status === "grey") return deps.api.count(collection, signal);
    if (Date.now() > deadline)
      throw new StrongboxError(
        "E_SOURCE",
        `collection "${collection}" is still ${info.status} after the restore (readyTimeoutMs exceeded)`,
        { adapter: ADAPTER },
      );
    await sleep(delay, undefined, { signal });
    delay = Math.min(delay * 2, 1_000);
  }
}

/** What a restore would replace: the target collections and their current point counts. */
export async function preview(deps: Deps, ctx: RestoreContext): Promise<RestorePreview> {
  const pairs = restorePairs(ctx);
  const notes: string[] = [];
  const server = await deps.api.version(ctx.signal);
  try {
    const gap = checkVersionGap(backupVersion(ctx), server, ctx.force || parseTarget(ctx.target).force);
    if (gap) notes.push(gap);
  } catch (err) {
    notes.push(`the restore would be refused: ${(err as Error).message}`);
  }
  const expected = ctx.component.stats?.counts ?? {};
  const replaces: RestorePreview["replaces"] = [];
  let exists = false;
  for (const { logical, physical } of pairs) {
    const info = await deps.api.collection(physical, ctx.signal);
    const entry: RestorePreview["replaces"][number] = { name: physical, unit: "points" };
    if (info) {
      exists = true;
      entry.current = await deps.api.count(physical, ctx.signal);
    } else notes.push(`collection "${physical}" does not exist and would be created`);
    if (expected[logical] !== undefined) entry.incoming = expected[logical];
    replaces.push(entry);
  }
  return {
    target: `collection${pairs.length === 1 ? "" : "s"} ${pairs.map((p) => p.physical).join(", ")} on Qdrant ${deps.http.where}`,
    exists,
    replaces,
    ...(notes.length ? { notes } : {}),
  };
}

/**
 * Restore drill: each backed-up collection is recovered into a scratch collection, counted and
 * compared with the manifest, and the scratch collection is deleted whatever happens.
 */
export async function restoreTest(deps: Deps, ctx: RestoreContext): Promise<RestoreTestResult> {
  const checks: RestoreTestResult["checks"] = [];
  const server = await deps.api.version(ctx.signal);
  try {
    checkVersionGap(backupVersion(ctx), server, ctx.force || parseTarget(ctx.target).force);
  } catch (err) {
    return { ok: false, checks: [{ name: "version", ok: false, message: (err as Error).message }] };
  }
  const t = parseTarget(ctx.target);
  const logicals = resolvePairs(
    backedUpCollections(ctx.component.artifacts),
    { ...(t.subset ? { subset: t.subset } : t.renames ? { subset: Object.keys(t.renames) } : {}), force: t.force },
    `backup ${ctx.backupId}`,
  ).map((p) => p.logical);
  const expected = ctx.component.stats?.counts ?? {};
  for (const logical of logicals) {
    const scratch = `${RESTORE_TEST_PREFIX}${randomBytes(6).toString("hex")}`;
    try {
      await uploadAndRecover(deps, ctx, logical, scratch);
      const actual = await waitReadyAndCount(deps, scratch, ctx.signal);
      const want = expected[logical];
      checks.push({
        name: logical,
        ok: want === undefined || want === actual,
        expected: want,
        actual,
        ...(want === undefined ? { message: "the backup recorded no count to compare" } : {}),
      });
    } catch (err) {
      if (ctx.signal.aborted) throw toStrongbox(err, "restore test", deps.http.where, ctx.signal);
      checks.push({ name: logical, ok: false, message: (err as Error).message });
    } finally {
      await deps.api.deleteCollection(scratch, AbortSignal.timeout(60_000)).catch(() => undefined);
    }
  }
  return { ok: checks.every((c) => c.ok), checks };
}
