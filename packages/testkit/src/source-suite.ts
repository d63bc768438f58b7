import { mkdtemp, open, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BackupManifest, createStrongbox, gzip, isStrongboxError, local, type Strongbox } from "@strongbox/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { skipWithReason } from "./helpers.js";
import type { SourceFixture, SourceSuiteOptions } from "./types.js";

/**
 * The conformance suite for a `Source`: it drives the source through `createStrongbox` with a
 * local storage and gzip, and checks every result through the fixture's native-client `snapshot()`.
 */
export function sourceSuite(
  name: string,
  factory: () => Promise<SourceFixture> | SourceFixture,
  options: SourceSuiteOptions = {},
): void {
  const timeout = options.timeoutMs ?? 300_000;
  describe(`sourceSuite: ${name}`, () => {
    let fx: SourceFixture;
    let dir: string;
    let box: Strongbox;

    beforeAll(async () => {
      fx = await factory();
      dir = await mkdtemp(join(tmpdir(), "strongbox-source-suite-"));
      box = createStrongbox({
        sources: [fx.source],
        storage: local({ directory: dir }),
        transforms: [gzip({ level: 1 })],
        logger: { debug() {}, info() {}, warn() {}, error() {} },
      });
    }, timeout);

    afterAll(async () => {
      await fx?.altTarget?.cleanup?.();
      await fx?.cleanup?.();
      await box?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    }, timeout);

    async function seededBackup(): Promise<{ manifest: BackupManifest; before: unknown }> {
      await fx.seed();
      const before = await fx.snapshot();
      const manifest = await box.backup();
      return { manifest, before };
    }

    it("has a component name and an adapter type", () => {
      expect(typeof fx.source.name).toBe("string");
      expect(fx.source.name.length).toBeGreaterThan(0);
      expect(typeof fx.source.type).toBe("string");
    });

    it(
      "check() and inspect() succeed on a healthy store",
      async () => {
        await fx.seed();
        const ctx = {
          signal: new AbortController().signal,
          logger: { debug() {}, info() {}, warn() {}, error() {} },
          progress() {},
        };
        if (fx.source.check) await fx.source.check(ctx);
        if (fx.source.inspect) {
          const stats = await fx.source.inspect(ctx);
          expect(stats).toBeTypeOf("object");
        }
      },
      timeout,
    );

    it(
      "backs up, verifies, and restores the exact data over a changed store",
      async () => {
        const { manifest, before } = await seededBackup();
        const component = manifest.components.find((c) => c.name === fx.source.name);
        expect(component, "manifest has the component").toBeDefined();
        expect(component!.artifacts.length).toBeGreaterThan(0);
        for (const a of component!.artifacts) {
          expect(a.key.startsWith(`${manifest.id}/${fx.source.name}/`)).toBe(true);
          expect((await stat(join(dir, a.key))).size).toBe(a.size);
        }
        const listed = await box.list();
        expect(listed.map((b) => b.id)).toContain(manifest.id);
        const verified = await box.verify(manifest.id, { mode: "decode" });
        expect(verified.ok).toBe(true);

        await fx.mutate();
        expect(await fx.snapshot(), "mutate() must change what snapshot() sees").not.toEqual(before);
        await box.restore(manifest.id, { force: true });
        expect(await fx.snapshot()).toEqual(before);
      },
      timeout,
    );

    it(
      "a dry run changes nothing",
      async () => {
        const { manifest } = await seededBackup();
        await fx.mutate();
        const mutated = await fx.snapshot();
        const report = await box.restore(manifest.id, { dryRun: true });
        expect(report.dryRun).toBe(true);
        if (fx.source.preview) expect(report.components[0]?.preview).toBeDefined();
        expect(await fx.snapshot()).toEqual(mutated);
      },
      timeout,
    );

    it(
      "a corrupt artifact is refused and the store is left as it was",
      async () => {
        const { manifest } = await seededBackup();
        const artifact = manifest.components[0]!.artifacts.reduce((a, b) => (b.size > a.size ? b : a));
        const fh = await open(join(dir, artifact.key), "r+");
        try {
          const at = Math.floor(artifact.size / 2);
          const buf = Buffer.alloc(1);
          await fh.read(buf, 0, 1, at);
          buf[0] = buf[0]! ^ 0x01;
          await fh.write(buf, 0, 1, at);
        } finally {
          await fh.close();
        }
        await fx.mutate();
        const mutated = await fx.snapshot();
        const err = await box.restore(manifest.id, { force: true }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(
          isStrongboxError(err),
          `restore of a corrupt artifact must fail with a StrongboxError, got ${String(err)}`,
        ).toBe(true);
        expect(["E_INTEGRITY", "E_TRUNCATED", "E_DECRYPT", "E_FORMAT"]).toContain((err as { code: string }).code);
        expect(await fx.snapshot()).toEqual(mutated);
      },
      timeout,
    );

    it(
      "an aborted backup leaves no backup behind",
      async () => {
        await fx.seed();
        const before = new Set((await box.list({ includeIncomplete: true })).map((b) => b.id));
        const controller = new AbortController();
        const onStart = () => controller.abort(new Error("test abort"));
        box.once("backup:started", onStart);
        const err = await box.backup({ signal: controller.signal }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isStrongboxError(err, "E_ABORTED"), `expected E_ABORTED, got ${String(err)}`).toBe(true);
        const after = (await box.list({ includeIncomplete: true })).filter((b) => !before.has(b.id));
        expect(after).toEqual([]);
      },
      timeout,
    );

    it(
      "restores into another target when the fixture provides one",
      async (ctx) => {
        if (!fx.altTarget)
          return skipWithReason(
            ctx,
            `sourceSuite: ${name}`,
            "restore into another target",
            "the fixture gives no altTarget",
          );
        const { manifest, before } = await seededBackup();
        await box.restore(manifest.id, { targets: { [fx.source.name]: fx.altTarget.target }, force: true });
        expect(await fx.altTarget.snapshot()).toEqual(before);
        expect(await fx.snapshot()).toEqual(before);
      },
      timeout,
    );

    it(
      "verify restore-test passes on a good backup and leaves the store alone",
      async () => {
        if (!fx.source.restoreTest)
          console.warn(`[testkit] ${name}: the source has no restoreTest(); verify falls back to decode`);
        const { manifest, before } = await seededBackup();
        const result = await box.verify(manifest.id, { mode: "restore-test" });
        expect(result.ok, JSON.stringify(result.components)).toBe(true);
        expect(await fx.snapshot()).toEqual(before);
      },
      timeout,
    );

    it(
      "declared capabilities hold: safetyBackup honours ctx.target",
      async (ctx) => {
        if (!fx.source.capabilities?.safetyBackup)
          return skipWithReason(
            ctx,
            `sourceSuite: ${name}`,
            "safety backup of the restore target",
            "capability safetyBackup is not declared",
          );
        const { manifest } = await seededBackup();
        await fx.mutate();
        const mutated = await fx.snapshot();
        const report = await box.restore(manifest.id, { force: true, safetyBackup: true });
        const safetyId = report.components[0]?.safetyBackupId;
        expect(safetyId, "a safety backup was taken").toBeDefined();
        // Restoring the safety backup brings back the mutated state.
        await box.restore(safetyId!, { force: true, safetyBackup: false });
        expect(await fx.snapshot()).toEqual(mutated);
      },
      timeout,
    );
  });
}
