import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const exampleDir = new URL("..", import.meta.url).pathname;
let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("examples/quickstart", () => {
  it("backs up, verifies, restores a matching copy and prints a retention dry run — twice in a row", async () => {
    dir = await mkdtemp(join(tmpdir(), "strongbox-demo-"));
    const env = { ...process.env, STRONGBOX_DEMO_DIR: dir };
    const first = await run(process.execPath, ["src/demo.ts"], { cwd: exampleDir, env });
    expect(first.stdout).toContain("Verify (decrypt + decompress + sha256): OK");
    expect(first.stdout).toContain("matches the original");
    const second = await run(process.execPath, ["src/demo.ts"], { cwd: exampleDir, env });
    expect(second.stdout).toMatch(/keep {4}\d{8}T\d{6}Z-[a-z2-7]{6} {2}.*last/);
    const ids = (await readdir(join(dir, "backups"))).sort();
    expect(ids.length).toBe(2);

    // The backup is readable with standard tools alone: age + tar.
    const key = join(dir, "demo-data", "age-key.txt");
    const manifest = JSON.parse(await readFile(join(dir, "backups", ids[0]!, "manifest.json"), "utf8"));
    const artifact = join(dir, "backups", manifest.components[0].artifacts[0].key);
    const { stdout } = await run("sh", ["-c", `age -d -i "${key}" "${artifact}" | tar -tzf -`]);
    expect(stdout.split("\n")).toEqual(expect.arrayContaining(["README.txt", "uploads/2026/report.csv"]));
  }, 120_000);
});
