import { pipeline } from "node:stream/promises";
import type { ArtifactRecord, ComponentRecord, RestoreContext, RestoreTestResult } from "../contracts/source.js";
import type { Storage } from "../contracts/storage.js";
import { StrongboxError, wrapError } from "../errors.js";
import type { BackupManifest } from "../manifest/types.js";
import { VerifyingCounter } from "../pipeline/hash-counter.js";
import { drain, openArtifact } from "../pipeline/open-artifact.js";
import { findBackup } from "./catalog.js";
import { linkSignals, type ManagerState, progressReporter, resolveDecoders } from "./state.js";

export type VerifyMode = "checksum" | "decode" | "restore-test";

export interface VerifyOptions {
  /**
   * `checksum` re-reads the stored bytes and compares size and sha256 with the manifest;
   * `decode` also decrypts and decompresses and compares the plaintext's; `restore-test` restores
   * each component into a scratch target and compares counts (sources without it get `decode`).
   * @default "checksum"
   */
  mode?: VerifyMode;
  components?: string[];
  storage?: number;
  signal?: AbortSignal;
}

export interface VerifyIssue {
  code: string;
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  id: string;
  mode: VerifyMode;
  storage: string;
  durationMs: number;
  components: Array<{
    name: string;
    ok: boolean;
    mode: VerifyMode;
    artifacts: Array<{ name: string; key: string; ok: boolean; error?: VerifyIssue }>;
    restoreTest?: RestoreTestResult;
    note?: string;
  }>;
}

export async function runVerify(
  state: ManagerState,
  idOrLatest: string,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const mode = options.mode ?? "checksum";
  if (!["checksum", "decode", "restore-test"].includes(mode))
    throw new StrongboxError("E_CONFIG", `unknown verify mode "${mode}" (checksum, decode or restore-test)`);
  const started = Date.now();
  const { manifest, storage } = await findBackup(state, idOrLatest, options);
  const signal = linkSignals(options.signal).signal;
  const components = pickComponents(manifest, options.components);
  const result: VerifyResult = {
    ok: true,
    id: manifest.id,
    mode,
    storage: storage.location,
    durationMs: 0,
    components: [],
  };
  for (const component of components) {
    const source = state.sources.get(component.name);
    const useRestoreTest = mode === "restore-test" && source?.restoreTest !== undefined;
    const entry: VerifyResult["components"][number] = {
      name: component.name,
      ok: true,
      mode: useRestoreTest ? "restore-test" : mode === "checksum" ? "checksum" : "decode",
      artifacts: [],
    };
    if (mode === "restore-test" && !useRestoreTest) {
      entry.note = source
        ? `source "${component.name}" has no restore test; verified by decoding instead`
        : `no source named "${component.name}" is configured; verified by decoding instead`;
    }
    for (const artifact of component.artifacts) {
      try {
        await verifyArtifact(
          state,
          storage,
          component,
          artifact,
          entry.mode === "checksum" ? "checksum" : "decode",
          signal,
        );
        entry.artifacts.push({ name: artifact.name, key: artifact.key, ok: true });
      } catch (err) {
        const e = wrapError(err, "E_INTEGRITY", "core", `verifying ${artifact.key}`);
        if (e.code === "E_ABORTED") throw e;
        entry.ok = false;
        entry.artifacts.push({
          name: artifact.name,
          key: artifact.key,
          ok: false,
          error: { code: e.code, message: e.message },
        });
      }
    }
    if (useRestoreTest && entry.ok && source?.restoreTest) {
      const ctx = restoreContext(state, manifest, component, storage, {}, false, signal, "verify");
      try {
        entry.restoreTest = await source.restoreTest(ctx);
        entry.ok = entry.restoreTest.ok;
      } catch (err) {
        const e = wrapError(err, "E_SOURCE", source.type, `restore test of "${component.name}"`);
        if (e.code === "E_ABORTED") throw e;
        entry.ok = false;
        entry.restoreTest = { ok: false, checks: [{ name: "restore", ok: false, message: e.message }] };
      }
    }
    if (!entry.ok) result.ok = false;
    result.components.push(entry);
  }
  result.durationMs = Date.now() - started;
  state.emitter.emit("verify:completed", { id: manifest.id, ok: result.ok, mode });
  return result;
}

export function pickComponents(manifest: BackupManifest, names: string[] | undefined): ComponentRecord[] {
  if (!names || names.length === 0) return manifest.components;
  return names.map((n) => {
    const c = manifest.components.find((x) => x.name === n);
    if (!c)
      throw new StrongboxError(
        "E_NOT_FOUND",
        `backup ${manifest.id} has no component "${n}" (it has: ${manifest.components.map((x) => x.name).join(", ")})`,
      );
    return c;
  });
}

export async function verifyArtifact(
  state: ManagerState,
  storage: Storage,
  component: ComponentRecord,
  artifact: ArtifactRecord,
  mode: "checksum" | "decode",
  signal: AbortSignal,
): Promise<void> {
  const progress = progressReporter(state, {
    phase: "verify",
    component: component.name,
    artifact: artifact.name,
    totalBytes: mode === "checksum" ? artifact.size : artifact.plainSize,
  });
  if (mode === "checksum") {
    const stored = await storage.get(artifact.key, { signal });
    await pipeline(
      stored,
      new VerifyingCounter(
        { size: artifact.size, sha256: artifact.sha256 },
        `stored object ${artifact.key}`,
        progress.onBytes,
      ),
      async (source) => {
        for await (const _ of source) {
          // hashed by the counter
        }
      },
      { signal },
    );
    return;
  }
  const decoders = resolveDecoders(state, artifact.transforms);
  await drain(await openArtifact(storage, artifact, decoders, { signal, onBytes: progress.onBytes }));
}

/** The context handed to `restore()`, `preview()` and `restoreTest()`. */
export function restoreContext(
  state: ManagerState,
  manifest: BackupManifest,
  component: ComponentRecord,
  storage: Storage,
  target: Record<string, unknown>,
  force: boolean,
  signal: AbortSignal,
  phase: "restore" | "verify" = "restore",
  dryRun = false,
): RestoreContext {
  return {
    backupId: manifest.id,
    component,
    target,
    force,
    dryRun,
    signal,
    logger: state.logger,
    progress: (u) => state.emitter.emit("progress", { phase, component: component.name, ...u, bytes: u.bytes ?? 0 }),
    async open(name: string) {
      const artifact = component.artifacts.find((a) => a.name === name);
      if (!artifact)
        throw new StrongboxError(
          "E_NOT_FOUND",
          `backup ${manifest.id} has no artifact "${name}" in component "${component.name}"`,
        );
      const progress = progressReporter(state, {
        phase,
        component: component.name,
        artifact: name,
        totalBytes: artifact.plainSize,
      });
      return openArtifact(storage, artifact, resolveDecoders(state, artifact.transforms), {
        signal,
        onBytes: progress.onBytes,
      });
    },
  };
}
