import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import {
  type BackupContext,
  type ComponentRecord,
  type RestoreContext,
  type Source,
  silentLogger,
} from "@strongbox/core";

export function backupCtx(extra: Partial<BackupContext> = {}): BackupContext {
  return { signal: new AbortController().signal, logger: silentLogger, progress() {}, backupId: "test", ...extra };
}

/** Runs source.backup() into files under dir; returns the component record a manifest would hold. */
export async function backupToFiles(
  source: Source,
  dir: string,
  ctx: BackupContext = backupCtx(),
): Promise<{ component: ComponentRecord; meta: Record<string, unknown>[] }> {
  const artifacts: ComponentRecord["artifacts"] = [];
  const metas: Record<string, unknown>[] = [];
  for await (const a of source.backup(ctx)) {
    const file = `${dir}/${a.name}`;
    await pipeline(a.stream, createWriteStream(file));
    const extra = (await a.done?.()) ?? {};
    metas.push({ ...a.meta, ...extra });
    const size = (await stat(file)).size;
    artifacts.push({
      name: a.name,
      key: file,
      size,
      sha256: "",
      plainSize: size,
      plainSha256: "",
      transforms: [],
      meta: { ...a.meta, ...extra },
    });
  }
  return {
    component: { name: source.name, type: source.type, startedAt: new Date().toISOString(), durationMs: 0, artifacts },
    meta: metas,
  };
}

export function restoreCtx(
  component: ComponentRecord,
  target: Record<string, unknown> = {},
  extra: Partial<RestoreContext> = {},
): RestoreContext {
  return {
    signal: new AbortController().signal,
    logger: silentLogger,
    progress() {},
    backupId: "test",
    component,
    target,
    force: true,
    dryRun: false,
    open: async (name: string) => {
      const a = component.artifacts.find((x) => x.name === name);
      if (!a) throw new Error(`no artifact ${name}`);
      return createReadStream(a.key);
    },
    ...extra,
  };
}
