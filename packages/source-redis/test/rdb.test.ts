import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redis } from "../src/index.js";
import { backupToFiles, restoreCtx } from "./helpers/context.js";
import { startRedis, type TestServer } from "./helpers/servers.js";

const run = promisify(execFile);

describe('redis source: mode "rdb" (redis-cli --rdb)', () => {
  let src: TestServer;
  let dir: string;

  beforeAll(async () => {
    // A password makes sure it reaches redis-cli through REDISCLI_AUTH (argv is never used for it).
    src = await startRedis(["--requirepass", "rdb-secret-pass", "--repl-diskless-sync", "yes"]);
    dir = mkdtempSync(join(tmpdir(), "sb-redis-rdb-"));
    const c = src.client(0, "rdb-secret-pass");
    const p = c.pipeline();
    for (let i = 0; i < 5000; i++) p.set(`k:${i}`, `v${i}`);
    p.hset("h", "a", "1");
    p.set("ttl", "x", "PX", 3_600_000);
    await p.exec();
    await src.client(2, "rdb-secret-pass").set("in-db2", "yes");
  });

  afterAll(async () => {
    await src?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("streams a valid RDB without the EOF marker; it loads as a file; restore() explains", async () => {
    const source = redis({ url: `redis://:rdb-secret-pass@127.0.0.1:${src.port}`, mode: "rdb" });
    expect(source.capabilities).toMatchObject({ pointInTime: true, atomicRestore: false });
    await source.check!({ signal: new AbortController().signal, logger: console, progress() {} });
    const { component, meta } = await backupToFiles(source, dir);
    expect(component.artifacts.map((a) => a.name)).toEqual(["dump.rdb"]);
    expect(meta[0]).toMatchObject({ format: "rdb", eofMarkerStripped: true });
    const file = component.artifacts[0]!.key;
    const check = await run("redis-check-rdb", [file]);
    expect(check.stdout).toMatch(/RDB looks OK/);

    // The documented recipe: put the file in a data dir and start Redis on it.
    const data = mkdtempSync(join(tmpdir(), "sb-redis-load-"));
    copyFileSync(file, join(data, "dump.rdb"));
    const loaded = await startRedis(["--dir", data, "--dbfilename", "dump.rdb"]);
    try {
      expect(await loaded.client(0).dbsize()).toBe(5002);
      expect(await loaded.client(0).get("k:4999")).toBe("v4999");
      expect(await loaded.client(0).pttl("ttl")).toBeGreaterThan(3_500_000);
      expect(await loaded.client(2).get("in-db2")).toBe("yes");
    } finally {
      await loaded.stop();
      rmSync(data, { recursive: true, force: true });
    }

    await expect(source.restore(restoreCtx(component))).rejects.toMatchObject({
      code: "E_SOURCE",
      message: expect.stringContaining("Restore it as a file"),
    });
    await source.close?.();
  });

  it("fails with E_SOURCE, password redacted, when redis-cli cannot authenticate", async () => {
    const source = redis({ url: `redis://:wrong-rdb-pass@127.0.0.1:${src.port}`, mode: "rdb" });
    const err = await backupToFiles(source, dir).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_SOURCE" });
    expect((err as Error).message).not.toContain("wrong-rdb-pass");
    await source.close?.();
  });
});
