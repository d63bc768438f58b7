/**
 * `storageSuite()` — every promise of the `Storage` contract (packages/core/src/contracts/storage.ts)
 * as vitest tests. All keys live under one random run prefix, removed afterwards, so the suite can
 * run against a shared bucket. Failure messages name the key and the sizes involved.
 *
 * The stream helpers at the bottom are shared with the transform suite (not part of the public API).
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import type { Storage } from "@strongbox/core";
import { formatBytes } from "@strongbox/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  chunked,
  collect,
  endlessStream,
  expectBytes,
  expectStrongboxError,
  failingStream,
  generatedStream,
  hashStream,
  listAll,
  listKeys,
  MiB,
  mapLimit,
  pausedStream,
  skipWithReason,
  watchRss,
} from "./helpers.js";
import type { StorageFixture, StorageSuiteOptions } from "./types.js";

/** Writes in flight at once when the suite fills a store with many keys. */
const PUT_CONCURRENCY = 16;
/** RSS growth allowed while streaming a large object: far below the object, far above buffers. */
const MAX_RSS_GROWTH = 150 * MiB;

/**
 * Registers the storage conformance tests.
 *
 * @param name shown in the test report: `storageSuite: <name>`.
 * @param factory builds a fresh fixture (called once, before the tests); `cleanup` runs after them.
 */
export function storageSuite(
  name: string,
  factory: () => StorageFixture | Promise<StorageFixture>,
  options: StorageSuiteOptions = {},
): void {
  const largeBytes = options.largeObjectBytes ?? 200 * MiB;
  const manyKeys = options.manyKeys ?? 1100;
  const timeout = options.timeoutMs ?? 300_000;
  const run = `strongbox-suite-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  /** A key under this run's prefix. */
  const k = (...parts: string[]): string => [run, ...parts].join("/");

  describe(`storageSuite: ${name}`, () => {
    let fixture: StorageFixture | undefined;
    const storage = (): Storage => {
      if (!fixture)
        throw new Error(`storageSuite(${name}): the factory did not produce a fixture (see the beforeAll error)`);
      return fixture.storage;
    };

    beforeAll(async () => {
      fixture = await factory();
      expect(typeof fixture.storage.type, "storage.type must be a string").toBe("string");
      expect(typeof fixture.storage.location, "storage.location must be a string").toBe("string");
    }, timeout);

    afterAll(async () => {
      if (!fixture) return;
      try {
        const left = await listKeys(fixture.storage, `${run}/`);
        if (left.length > 0) await fixture.storage.delete(left);
      } finally {
        await fixture.cleanup?.();
      }
    }, timeout);

    it(
      "put/get round-trips binary data and reports its size",
      async () => {
        const key = k("roundtrip", "binary.bin");
        const all256 = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        const data = Buffer.concat([all256, randomBytes(300 * 1024 + 7), all256]);
        const put = await storage().put(key, chunked(data, 10_000));
        expect(put.size, `put("${key}") resolved size`).toBe(data.length);
        await expectBytes(storage(), key, data);
        const info = await storage().head(key);
        expect(info, `head("${key}") after put`).toBeDefined();
        expect(info!.key, `head("${key}").key`).toBe(key);
        expect(info!.size, `head("${key}").size`).toBe(data.length);
        if (info!.lastModified !== undefined) {
          expect(info!.lastModified, `head("${key}").lastModified`).toBeInstanceOf(Date);
          expect(
            Math.abs(info!.lastModified.getTime() - Date.now()),
            "lastModified is near now (clock skew < 1 h)",
          ).toBeLessThan(3_600_000);
        }
      },
      timeout,
    );

    it(
      "stores an empty object",
      async () => {
        const key = k("empty", "zero.bin");
        const put = await storage().put(key, Readable.from([]));
        expect(put.size, `put("${key}") of an empty body`).toBe(0);
        expect((await storage().head(key))?.size, `head("${key}").size of an empty object`).toBe(0);
        await expectBytes(storage(), key, Buffer.alloc(0));
        const listed = await listAll(storage(), k("empty/"));
        expect(
          listed.map((o) => [o.key, o.size]),
          `list("${k("empty/")}")`,
        ).toEqual([[key, 0]]);
      },
      timeout,
    );

    it(
      "overwrites an existing key",
      async () => {
        const key = k("overwrite", "obj");
        await storage().put(key, chunked(randomBytes(40_000), 4096));
        const second = Buffer.from("v2!");
        expect((await storage().put(key, chunked(second, 2))).size, `second put("${key}")`).toBe(3);
        await expectBytes(storage(), key, second);
        expect((await storage().head(key))?.size, `head("${key}") after overwrite`).toBe(3);
        const listed = await listAll(storage(), k("overwrite/"));
        expect(
          listed.map((o) => [o.key, o.size]),
          `list after overwrite holds one entry of the new size`,
        ).toEqual([[key, 3]]);
      },
      timeout,
    );

    it(
      "head() of a missing key is undefined and get() rejects E_NOT_FOUND",
      async () => {
        const missing = k("missing", "nothing-here");
        expect(await storage().head(missing), `head("${missing}")`).toBeUndefined();
        await expectStrongboxError(storage().get(missing), ["E_NOT_FOUND"], `get("${missing}")`);
        // A "directory" made by a nested key is not an object itself.
        await storage().put(k("missing", "dir", "inner.txt"), Readable.from([Buffer.from("x")]));
        expect(
          await storage().head(k("missing", "dir")),
          `head("${k("missing", "dir")}") where only nested keys exist`,
        ).toBeUndefined();
        await expectStrongboxError(
          storage().get(k("missing", "dir")),
          ["E_NOT_FOUND"],
          `get("${k("missing", "dir")}") where only nested keys exist`,
        );
      },
      timeout,
    );

    it(
      "lists by string prefix, including nested keys",
      async () => {
        const layout: Record<string, number> = {
          "nest/a.txt": 1,
          "nest/b/c.txt": 2,
          "nest/b/d/e.txt": 3,
          "nest/bb.txt": 4,
          "nest/sp ace+plus=eq.txt": 5,
          "nest/unicode-ü.txt": 6,
          "other/x.txt": 7,
        };
        await mapLimit(Object.entries(layout), PUT_CONCURRENCY, ([rel, size]) =>
          storage().put(k("list", rel), Readable.from([Buffer.alloc(size, 0x61)])),
        );
        const expectListing = async (prefix: string, rels: string[]): Promise<void> => {
          const listed = await listAll(storage(), prefix);
          const got = listed.map((o) => `${o.key} (${o.size} B)`).sort();
          const want = rels.map((rel) => `${k("list", rel)} (${layout[rel]} B)`).sort();
          expect(got, `list(${JSON.stringify(prefix)})`).toEqual(want);
          for (const o of listed) {
            if (o.lastModified !== undefined)
              expect(o.lastModified, `list: lastModified of ${o.key}`).toBeInstanceOf(Date);
          }
        };
        const nest = Object.keys(layout).filter((rel) => rel.startsWith("nest/"));
        await expectListing(k("list/"), Object.keys(layout));
        await expectListing(k("list", "nest/"), nest);
        // A prefix is a string prefix, not a directory: "nest/b" matches "nest/bb.txt" too.
        await expectListing(k("list", "nest/b"), ["nest/b/c.txt", "nest/b/d/e.txt", "nest/bb.txt"]);
        await expectListing(k("list", "nest/b/"), ["nest/b/c.txt", "nest/b/d/e.txt"]);
        await expectListing(k("list", "nest/b/d/e.txt"), ["nest/b/d/e.txt"]);
        await expectListing(k("list", "nest/sp"), ["nest/sp ace+plus=eq.txt"]);
        await expectListing(k("list", "nope/"), []);
      },
      timeout,
    );

    it(
      `lists more than 1,000 keys (${manyKeys}) and deletes them in one call`,
      async () => {
        const keys = Array.from({ length: manyKeys }, (_, i) => k("many", `k-${String(i).padStart(6, "0")}`));
        await mapLimit(keys, PUT_CONCURRENCY, (key, i) => storage().put(key, Readable.from([Buffer.from(String(i))])));
        const listed = await listAll(storage(), k("many/"));
        const seen = new Map(listed.map((o) => [o.key, o.size]));
        expect(listed.length, `list("${k("many/")}") returned ${listed.length} entries for ${manyKeys} keys`).toBe(
          seen.size,
        );
        const missing = keys.filter((key) => !seen.has(key));
        expect(missing.slice(0, 5), `list("${k("many/")}") misses ${missing.length} of ${manyKeys} keys, e.g.`).toEqual(
          [],
        );
        expect(seen.size, `list("${k("many/")}") count`).toBe(manyKeys);
        expect(seen.get(keys[1234 % manyKeys]!), "size of a listed key").toBe(String(1234 % manyKeys).length);

        const absent = [k("many", "never-written-1"), k("many", "never", "written-2")];
        await storage().delete([...keys, ...absent]);
        const after = await listAll(storage(), k("many/"));
        expect(
          after.map((o) => o.key).slice(0, 5),
          `list after deleting ${manyKeys} keys (${after.length} left)`,
        ).toEqual([]);
        expect(await storage().head(keys[0]!), `head("${keys[0]}") after delete`).toBeUndefined();
      },
      timeout,
    );

    it(
      "delete() removes what it is given, tolerates missing keys and leaves the rest",
      async () => {
        const a = k("delete", "a.txt");
        const c = k("delete", "b", "c.txt");
        const d = k("delete", "b", "d.txt");
        for (const key of [a, c, d]) await storage().put(key, Readable.from([Buffer.from(key)]));
        await storage().delete([a, c, k("delete", "missing"), k("delete", "missing", "deep")]);
        expect(await storage().head(a), `head("${a}") after delete`).toBeUndefined();
        expect(await storage().head(c), `head("${c}") after delete`).toBeUndefined();
        await expectStrongboxError(storage().get(a), ["E_NOT_FOUND"], `get("${a}") after delete`);
        expect((await listKeys(storage(), k("delete/"))).sort(), "list after delete").toEqual([d]);
        await expectBytes(storage(), d, Buffer.from(d));
        await storage().delete([]);
        await storage().delete([d, d]);
        expect(await listKeys(storage(), k("delete/")), "list after deleting everything").toEqual([]);
        // A deleted key can be written again (no tombstone, no stale directory in the way).
        await storage().put(c, Readable.from([Buffer.from("again")]));
        await expectBytes(storage(), c, Buffer.from("again"));
      },
      timeout,
    );

    it(
      "rejects invalid keys and prefixes with E_CONFIG",
      async () => {
        const bad = ["../x", "/abs", "a\\b", "a//b", "", "a/./b", "a/../b", `${run}/../../escape`];
        for (const key of bad) {
          const what = (op: string): string => `${op}(${JSON.stringify(key)})`;
          await expectStrongboxError(storage().put(key, Readable.from([Buffer.from("x")])), ["E_CONFIG"], what("put"));
          await expectStrongboxError(storage().get(key), ["E_CONFIG"], what("get"));
          await expectStrongboxError(storage().head(key), ["E_CONFIG"], what("head"));
          await expectStrongboxError(storage().delete([key]), ["E_CONFIG"], what("delete"));
        }
        for (const prefix of ["../", "/abs", "a//"]) {
          await expectStrongboxError(listAll(storage(), prefix), ["E_CONFIG"], `list(${JSON.stringify(prefix)})`);
        }
      },
      timeout,
    );

    it(
      "get() honours byte ranges (capabilities.rangedGet)",
      async (ctx) => {
        if (!storage().capabilities?.rangedGet)
          skipWithReason(ctx, name, "ranged get", "capabilities.rangedGet is not declared");
        const key = k("range", "obj.bin");
        const data = randomBytes(100_000);
        await storage().put(key, chunked(data, 16_384));
        const cases: Array<{ start: number; end?: number }> = [
          { start: 0, end: 0 },
          { start: 0, end: 99 },
          { start: 1000, end: 1999 },
          { start: 65_530, end: 65_545 },
          { start: 99_990 },
          { start: 0, end: 99_999 },
        ];
        for (const range of cases) {
          const got = await collect(await storage().get(key, { range }));
          const want = data.subarray(range.start, range.end === undefined ? undefined : range.end + 1);
          expect(got.length, `get("${key}", range ${JSON.stringify(range)}) length`).toBe(want.length);
          expect(got.equals(want), `get("${key}", range ${JSON.stringify(range)}) bytes`).toBe(true);
        }
      },
      timeout,
    );

    it(
      `streams a large object (${formatBytes(largeBytes)}) with bounded memory`,
      async () => {
        const key = k("large", "object.bin");
        const watch = watchRss();
        try {
          const source = generatedStream(largeBytes);
          const put = await storage().put(key, source.stream);
          expect(put.size, `put("${key}") of ${largeBytes} bytes`).toBe(largeBytes);
          expect((await storage().head(key))?.size, `head("${key}").size`).toBe(largeBytes);
          const back = await hashStream(await storage().get(key));
          expect(back.size, `get("${key}") returned ${back.size} of ${largeBytes} bytes`).toBe(largeBytes);
          expect(back.sha256, `sha256 of get("${key}") (${formatBytes(largeBytes)})`).toBe(source.sha256());
        } finally {
          const growth = watch.stop();
          expect(growth, `RSS grew ${formatBytes(growth)} while streaming ${formatBytes(largeBytes)}`).toBeLessThan(
            MAX_RSS_GROWTH,
          );
        }
        await storage().delete([key]);
      },
      timeout,
    );

    it(
      "put() is atomic: a failing body leaves nothing new and the previous version intact",
      async () => {
        const existing = k("atomic", "existing.bin");
        const fresh = k("atomic", "fresh.bin");
        const v1 = randomBytes(50_000);
        await storage().put(existing, chunked(v1, 8192));
        for (const key of [existing, fresh]) {
          await expectStrongboxError(
            storage().put(key, failingStream(2 * MiB, new Error("body failed on purpose"))),
            undefined,
            `put("${key}") whose body errors after 2 MiB`,
          );
        }
        expect((await storage().head(existing))?.size, `head("${existing}") after a failed overwrite`).toBe(v1.length);
        await expectBytes(storage(), existing, v1);
        expect(await storage().head(fresh), `head("${fresh}") after a failed put`).toBeUndefined();
        expect(await listKeys(storage(), k("atomic/")), "list after failed puts shows only the old object").toEqual([
          existing,
        ]);
        if (fixture?.readNative) {
          expect(await fixture.readNative(fresh), `native read of "${fresh}" after a failed put`).toBeUndefined();
          expect((await fixture.readNative(existing))?.equals(v1), `native read of "${existing}" still holds v1`).toBe(
            true,
          );
        }
      },
      timeout,
    );

    it(
      "put() is atomic for readers: during an upload they see the old version, concurrent puts never mix",
      async () => {
        const key = k("atomic-read", "obj.bin");
        const v1 = randomBytes(30_000);
        await storage().put(key, chunked(v1, 8192));
        const gate = pausedStream(MiB, 3 * MiB);
        const upload = storage().put(key, gate.stream);
        await gate.paused;
        expect((await storage().head(key))?.size, `head("${key}") while a new version is half uploaded`).toBe(
          v1.length,
        );
        await expectBytes(storage(), key, v1);
        gate.release();
        expect((await upload).size, `put("${key}") after resuming`).toBe(3 * MiB);
        expect((await hashStream(await storage().get(key))).sha256, `get("${key}") after the upload completed`).toBe(
          gate.sha256(),
        );

        const versions = Array.from({ length: 4 }, (_, i) => Buffer.alloc(MiB + i, 0x30 + i));
        await Promise.all(versions.map((v) => storage().put(key, chunked(v, 64 * 1024))));
        const final = await collect(await storage().get(key));
        const winner = versions.findIndex((v) => v.equals(final));
        expect(
          winner,
          `after 4 concurrent puts to "${key}" the object (${final.length} B) equals one whole version`,
        ).toBeGreaterThanOrEqual(0);
      },
      timeout,
    );

    it(
      "put() honours AbortSignal: E_ABORTED and nothing visible",
      async () => {
        const existing = k("abort", "existing.bin");
        const fresh = k("abort", "fresh.bin");
        const v1 = Buffer.from("version one");
        await storage().put(existing, Readable.from([v1]));
        for (const key of [existing, fresh]) {
          const controller = new AbortController();
          const body = endlessStream(MiB, () => controller.abort());
          await expectStrongboxError(
            storage().put(key, body, { signal: controller.signal }),
            ["E_ABORTED"],
            `put("${key}") aborted after 1 MiB`,
          );
        }
        const already = AbortSignal.abort();
        await expectStrongboxError(
          storage().put(fresh, Readable.from([Buffer.from("x")]), { signal: already }),
          ["E_ABORTED"],
          `put("${fresh}") with an already-aborted signal`,
        );
        expect(await storage().head(fresh), `head("${fresh}") after aborted puts`).toBeUndefined();
        await expectBytes(storage(), existing, v1);
        expect(await listKeys(storage(), k("abort/")), "list after aborted puts").toEqual([existing]);
        if (fixture?.readNative) expect(await fixture.readNative(fresh), `native read of "${fresh}"`).toBeUndefined();
      },
      timeout,
    );

    it(
      "the backend's native client sees exactly the bytes written (readNative)",
      async (ctx) => {
        const readNative = fixture?.readNative;
        if (!readNative) skipWithReason(ctx, name, "native read-back", "the fixture gives no readNative()");
        const objects: Array<[string, Buffer]> = [
          [k("native", "empty"), Buffer.alloc(0)],
          [k("native", "small.txt"), Buffer.from("hello, strongbox\n")],
          [k("native", "deep", "er", "blob.bin"), randomBytes(300_000)],
        ];
        for (const [key, data] of objects) await storage().put(key, chunked(data, 65_536));
        for (const [key, data] of objects) {
          const native = await readNative(key);
          expect(native, `native read of "${key}"`).toBeDefined();
          expect(native!.length, `native size of "${key}"`).toBe(data.length);
          expect(native!.equals(data), `native bytes of "${key}" (${data.length} B)`).toBe(true);
        }
        await storage().delete(objects.map(([key]) => key));
        for (const [key] of objects)
          expect(await readNative(key), `native read of "${key}" after delete`).toBeUndefined();
      },
      timeout,
    );
  });
}
