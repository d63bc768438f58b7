import { execFile, spawn } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * SIGTERM in a real child process: a script schedules a slow backup with `handleSignals: true`;
 * the test sends SIGTERM mid-backup and checks the exit and what is left in storage. The script is
 * bundled with esbuild (core's sources are TypeScript with .js import specifiers).
 */

const root = new URL("../../../", import.meta.url).pathname;
const coreIndex = new URL("../src/index.ts", import.meta.url).pathname;
let work: string;
let bundle: string;

const SCRIPT = `
import { Readable } from "node:stream";
import { createStrongbox, local, silentLogger } from ${JSON.stringify(coreIndex)};

const [directory, grace] = process.argv.slice(2);
// 24 chunks, one every 100 ms: a backup takes ~2.4 s and honours its abort signal.
const slow = {
  name: "slow",
  type: "test",
  async *backup(ctx) {
    let n = 0;
    const stream = new Readable({
      read() {
        if (n === 24) return this.push(null);
        const t = setTimeout(() => {
          n++;
          this.push(Buffer.alloc(16 * 1024, n));
        }, 100);
        ctx.signal.addEventListener("abort", () => clearTimeout(t), { once: true });
      },
    });
    ctx.signal.addEventListener("abort", () => stream.destroy(new Error("aborted")), { once: true });
    yield { name: "data.bin", stream };
  },
  async restore() {
    return {};
  },
};
const box = createStrongbox({ sources: [slow], storage: local({ directory }), logger: silentLogger });
box.on("backup:started", ({ id }) => console.log("backup-started " + id));
box.on("backup:completed", ({ id }) => console.log("backup-completed " + id));
box.on("schedule:run-failed", ({ error }) => console.log("run-failed " + error.code));
box.schedule({ cron: "* * * * * *", catchUp: false, handleSignals: true, shutdownGrace: grace });
console.log("scheduled");
`;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "strongbox-signals-"));
  await writeFile(join(work, "child.mjs"), SCRIPT);
  bundle = join(work, "child.cjs");
  await promisify(execFile)(
    join(root, "node_modules/.bin/esbuild"),
    [
      join(work, "child.mjs"),
      "--bundle",
      "--platform=node",
      "--format=cjs",
      "--log-level=error",
      `--outfile=${bundle}`,
    ],
    { cwd: root },
  );
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function runChild(grace: string) {
  const dir = await mkdtemp(join(work, "store-"));
  const child = spawn(process.execPath, [bundle, dir, grace], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => {
    err += d;
  });
  const sentAt = new Promise<number>((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      // SIGTERM once the first backup is under way (and has written part of its artifact).
      if (out.includes("backup-started") && !child.killed) {
        setTimeout(() => {
          child.kill("SIGTERM");
          resolve(Date.now());
        }, 600);
      }
    });
    child.on("error", reject);
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on("exit", (c, s) => resolve([c, s])),
  );
  const exitedAt = Date.now();
  // Files only: the local storage may leave empty folders behind, which no listing sees.
  const files = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
  return { code, signal, out, err, files, waitedMs: exitedAt - (await sentAt) };
}

describe.concurrent("handleSignals", () => {
  it("on SIGTERM finishes the run in flight within the grace period, then exits 0", async () => {
    const r = await runChild("20s");
    expect(r.err).toBe("");
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    const id = /backup-completed (\S+)/.exec(r.out)?.[1];
    expect(id, r.out).toBeDefined();
    // Exactly one backup, complete; no second run started after the signal.
    expect(r.out.match(/backup-started/g)).toHaveLength(1);
    expect(r.files.sort()).toEqual([`${id}/manifest.json`, `${id}/slow/data.bin`]);
    // It waited for the backup (~1.8 s left), not the whole grace period.
    expect(r.waitedMs).toBeGreaterThan(800);
    expect(r.waitedMs).toBeLessThan(8000);
  });

  it("on SIGTERM aborts the run when the grace period is over, leaving no half backup", async () => {
    const r = await runChild("200ms");
    expect(r.err).toBe("");
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(r.out).toContain("run-failed E_ABORTED");
    expect(r.out).not.toContain("backup-completed");
    expect(r.files).toEqual([]);
    expect(r.waitedMs).toBeLessThan(3000);
  });
});
