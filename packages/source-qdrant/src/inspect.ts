import { type OperationContext, type SourceStats, StrongboxError, type TargetOverrides } from "@strongbox/core";
import type { Deps } from "./context.js";
import { ADAPTER } from "./http.js";
import { type CollectionPair, parseTarget, resolvePairs } from "./targets.js";

/**
 * The collections a backup or inspect covers: the configured ones (or all on the server),
 * mapped through `target` for safety backups of a restore target.
 */
export async function livePairs(
  deps: Deps,
  signal: AbortSignal,
  target: TargetOverrides | undefined,
): Promise<CollectionPair[]> {
  const t = parseTarget(target);
  const configured = deps.options.collections;
  if (t.collection && !configured && !t.subset) {
    // Without a configured list the name it was backed up under is unknown; use the target's.
    return [{ logical: t.collection, physical: t.collection }];
  }
  const available =
    configured ?? (t.renames ? Object.keys(t.renames) : t.subset) ?? (await deps.api.listCollections(signal));
  return resolvePairs(available, t, configured ? "the configured collections" : `Qdrant on ${deps.http.where}`);
}

export function missingCollection(name: string, where: string): StrongboxError {
  return new StrongboxError("E_NOT_FOUND", `collection "${name}" does not exist on Qdrant ${where}`, {
    adapter: ADAPTER,
    details: { collection: name },
  });
}

/**
 * Server version, exact point counts, status and vectors config per collection. In target mode
 * (after a restore, or before a safety backup) collections that do not exist are left out.
 */
export async function inspect(deps: Deps, ctx: OperationContext & { target?: TargetOverrides }): Promise<SourceStats> {
  const version = await deps.api.version(ctx.signal);
  const pairs = await livePairs(deps, ctx.signal, ctx.target);
  const counts: Record<string, number> = {};
  const collections: Record<string, unknown> = {};
  for (const { logical, physical } of pairs) {
    const info = await deps.api.collection(physical, ctx.signal);
    if (!info) {
      if (ctx.target) continue;
      throw missingCollection(physical, deps.http.where);
    }
    counts[logical] = await deps.api.count(physical, ctx.signal);
    collections[logical] = {
      status: info.status,
      pointsCount: info.points_count ?? null,
      vectors: info.config?.params?.vectors ?? null,
      ...(info.config?.params?.sparse_vectors ? { sparseVectors: info.config.params.sparse_vectors } : {}),
      ...(physical !== logical ? { collection: physical } : {}),
    };
  }
  return { version, counts, info: { collections } };
}

/** Reachable, API key accepted, configured collections present. */
export async function check(deps: Deps, ctx: OperationContext): Promise<void> {
  await deps.api.version(ctx.signal);
  // `GET /collections` always needs the key when one is configured server-side.
  const names = await deps.api.listCollections(ctx.signal);
  for (const c of deps.options.collections ?? []) if (!names.includes(c)) throw missingCollection(c, deps.http.where);
}
