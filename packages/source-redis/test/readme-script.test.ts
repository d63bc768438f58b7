import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redis } from "../src/index.js";
import { backupToFiles } from "./helpers/context.js";
import { startRedis, type TestServer } from "./helpers/servers.js";

const run = promisify(execFile);
const pkg = fileURLToPath(new URL("..", import.meta.url));

describe("README: restoring a .sbrd file without Strongbox", () => {
  let a: TestServer;
  let b: TestServer;
  let dir: string;
  beforeAll(async () => {
    [a, b] = await Promise.all([startRedis(), startRedis()]);
    dir = mkdtempSync(join(tmpdir(), "sb-redis-readme-"));
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the documented script restores every key, in every db, with its expiry", async () => {
    const readme = readFileSync(join(pkg, "README.md"), "utf8");
    const script = /```js\n(\/\/ restore-sbrd\.mjs[\s\S]*?)```/.exec(readme)?.[1];
    expect(script, "README holds the script").toBeDefined();
    expect(script!.split("\n").length).toBeLessThanOrEqual(40);
    await a.client(0).set(Buffer.from([0, 1, 255]), "bin");
    await a.client(0).hset("h", "f", "v");
    await a.client(3).set("ttl", "x", "PX", 600_000);
    const source = redis({ url: a.url });
    const { component } = await backupToFiles(source, dir);
    await source.close?.();
    // -e code: argv[1] is the first extra argument, so a placeholder keeps argv[2]/[3] as documented.
    const out = await run(
      process.execPath,
      ["--input-type=module", "-e", script!, "x", component.artifacts[0]!.key, b.url],
      { cwd: pkg },
    );
    expect(out.stdout).toContain("restored 3 keys");
    expect(await b.client(0).get(Buffer.from([0, 1, 255]))).toBe("bin");
    expect(await b.client(0).hgetall("h")).toEqual({ f: "v" });
    expect(await b.client(3).pexpiretime("ttl")).toBe(await a.client(3).pexpiretime("ttl"));
  });
});
