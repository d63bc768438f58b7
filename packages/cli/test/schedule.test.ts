import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, strongbox, tempDir } from "./helpers/cli.js";

describe("strongbox schedule", () => {
  const tmp = tempDir("schedule");
  const cwd = tmp.dir;

  beforeAll(() => {
    mkdirSync(join(cwd, "data"));
    writeFileSync(join(cwd, "data", "f.txt"), "scheduled");
    writeFileSync(
      join(cwd, "strongbox.config.json"),
      JSON.stringify({
        sources: [{ type: "files", name: "files", paths: ["./data"] }],
        storage: { type: "local", directory: "./backups" },
        // Every second, so the test sees cron runs, not only the catch-up run at start.
        schedule: { cron: "* * * * * *", timeZone: "UTC", verify: true, tags: ["nightly"], catchUp: true },
      }),
    );
  });
  afterAll(() => tmp.cleanup());

  it("runs the schedule in the foreground and stops cleanly on SIGTERM", async () => {
    const child = spawn(process.execPath, [BIN, "schedule"], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    const completed = new Promise<void>((resolve) => {
      child.stderr.on("data", (d: string) => {
        stderr += d;
        if ((stderr.match(/ completed: backup /g) ?? []).length >= 2) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    await Promise.race([completed, exited, new Promise((r) => setTimeout(r, 15_000))]);
    child.kill("SIGTERM");
    const code = await exited;
    expect(stderr).toMatch(/scheduler started \(\* \* \* \* \* \*, UTC\); next run \d{4}-/);
    expect((stderr.match(/ completed: backup /g) ?? []).length).toBeGreaterThanOrEqual(2);
    expect(stderr).toContain("SIGTERM: stopping");
    expect(stderr).toContain("scheduler stopped");
    expect(code).toBe(0);
    const list = JSON.parse((await strongbox(["list", "--json"], { cwd })).stdout);
    expect(list.length).toBeGreaterThanOrEqual(2);
    expect(list[0].tags).toEqual(["nightly"]);
  }, 30_000);

  it("without a schedule in the config it is a config error", async () => {
    writeFileSync(
      join(cwd, "none.json"),
      JSON.stringify({ sources: [], storage: { type: "local", directory: "./backups" } }),
    );
    const r = await strongbox(["schedule", "--config", "none.json"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("schedule: missing");
  });
});
