import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, shell, strongbox, tempDir } from "./helpers/cli.js";

// End to end through the built binary: files source, local storage, gzip + age, in a temp folder.
const hasScript = spawnSync("script", ["--version"]).status === 0;
if (!hasScript) console.warn("skipping the pseudo-terminal tests: script(1) from util-linux is not installed");

describe("strongbox with the files source and local storage", () => {
  const tmp = tempDir("files");
  const cwd = tmp.dir;
  const data = join(cwd, "data");
  const run = (args: string[], input?: string) => strongbox(args, { cwd, ...(input !== undefined ? { input } : {}) });
  let recipient = "";
  let firstId = "";
  let secondId = "";

  beforeAll(async () => {
    await mkdir(join(data, "sub"), { recursive: true });
    writeFileSync(join(data, "a.txt"), "alpha\n");
    writeFileSync(join(data, "sub", "b.bin"), Buffer.alloc(200_000, 7));
  });
  afterAll(() => tmp.cleanup());

  it("init writes a commented config and refuses to overwrite it without --force", async () => {
    const first = await run(["init"]);
    expect(first.code).toBe(0);
    const text = readFileSync(join(cwd, "strongbox.config.mjs"), "utf8");
    expect(text).toContain("// What to back up");
    writeFileSync(join(cwd, "strongbox.config.mjs"), "// mine\n");
    const again = await run(["init"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/error \[E_USAGE\]: .*already exists; pass --force/);
    expect(readFileSync(join(cwd, "strongbox.config.mjs"), "utf8")).toBe("// mine\n");
    expect((await run(["init", "--force"])).code).toBe(0);
    expect(readFileSync(join(cwd, "strongbox.config.mjs"), "utf8")).toBe(text);
  });

  it("the config init writes loads and works as is", async () => {
    await mkdir(join(cwd, "init-check", "data"), { recursive: true });
    writeFileSync(join(cwd, "init-check", "strongbox.config.mjs"), readFileSync(join(cwd, "strongbox.config.mjs")));
    const r = await strongbox(["backup", "--json"], { cwd: join(cwd, "init-check") });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).components[0].name).toBe("files");
  });

  it("keygen writes an age-keygen style identity file with mode 0600 and prints the recipient", async () => {
    const r = await run(["keygen", "--output", "key.txt"]);
    expect(r.code, r.stderr).toBe(0);
    const file = join(cwd, "key.txt");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, "utf8");
    expect(text).toMatch(
      /^# created: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n# public key: age1[0-9a-z]+\nAGE-SECRET-KEY-1[0-9A-Z]+\n$/,
    );
    recipient = /public key: (age1[0-9a-z]+)/.exec(text)![1]!;
    expect(r.stderr).toContain(`Public key: ${recipient}`);
    expect(r.stdout).toBe("");
    expect((await run(["keygen", "--output", "key.txt"])).code).toBe(2);
    const json = await run(["keygen", "--json"]);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.identity).toMatch(/^AGE-SECRET-KEY-1/);
    expect(parsed.recipient).toMatch(/^age1/);

    // The config used from here on: declarative JSON, encrypted to the new recipient.
    writeFileSync(
      join(cwd, "strongbox.config.json"),
      JSON.stringify({
        sources: [{ type: "files", name: "files", paths: ["./data"] }],
        storage: { type: "local", directory: "./backups" },
        transforms: [{ type: "gzip" }, { type: "age", recipients: [recipient] }],
        identityFile: "./key.txt",
        retention: { keepLast: 1 },
        health: { maxAge: "1h", minCount: 1 },
      }),
    );
  });

  it("backup writes an encrypted backup and prints its manifest with --json", async () => {
    const r = await run(["backup", "--config", "strongbox.config.json", "--tag", "first", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const manifest = JSON.parse(r.stdout);
    firstId = manifest.id;
    expect(manifest.tags).toEqual(["first"]);
    const artifact = manifest.components[0].artifacts[0];
    expect(artifact.key).toMatch(/\.tar\.gz\.age$/);
    expect(existsSync(join(cwd, "backups", artifact.key))).toBe(true);
    expect(
      readFileSync(join(cwd, "backups", artifact.key))
        .subarray(0, 21)
        .toString(),
    ).toBe("age-encryption.org/v1");

    const human = await run(["backup", "--config", "strongbox.config.json", "--description", "second"]);
    expect(human.code, human.stderr).toBe(0);
    secondId = /backup (\S+) completed/.exec(human.stdout)![1]!;
    // Not a terminal: progress comes as timestamped lines on stderr, never on stdout.
    expect(human.stderr).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z backup files: /m);
    const quiet = await run(["backup", "--config", "strongbox.config.json", "--quiet", "--component", "files"]);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout + quiet.stderr).toBe("");
    // Three backups now; remove the quiet one so the rest of the file knows what exists.
    const list = JSON.parse((await run(["list", "--config", "strongbox.config.json", "--json"])).stdout);
    expect((await run(["delete", list[0].id, "--config", "strongbox.config.json", "-q"])).code).toBe(0);
  });

  it("list shows backups newest first, as a table and as JSON", async () => {
    const json = await run(["list", "--config", "strongbox.config.json", "--json"]);
    expect(json.code).toBe(0);
    const list = JSON.parse(json.stdout);
    expect(list.map((b: { id: string }) => b.id)).toEqual([secondId, firstId]);
    expect(list[1].tags).toEqual(["first"]);
    const table = await run(["ls", "--config", "strongbox.config.json"]);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+TIME\s+AGE\s+SIZE\s+COMPONENTS\s+TAGS$/);
    expect(table.stdout).toContain(firstId);
  });

  it("show prints a manifest by id or latest", async () => {
    const r = await run(["show", "latest", "--config", "strongbox.config.json"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`id:          ${secondId}`);
    expect(r.stdout).toContain("description: second");
    expect(r.stdout).toMatch(/\[gzip → age\]/);
    const json = JSON.parse((await run(["show", firstId, "--json", "--config", "strongbox.config.json"])).stdout);
    expect(json.id).toBe(firstId);
    const missing = await run(["show", "20200101T000000Z-aaaaaa", "--config", "strongbox.config.json"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error \[E_NOT_FOUND\]: /);
    expect(missing.stderr).not.toMatch(/\n\s+at /); // no stack trace without STRONGBOX_DEBUG=1
  });

  it("verify checks checksums and decodes with the identity file", async () => {
    const ok = await run(["verify", "latest", "--mode", "decode", "--config", "strongbox.config.json", "--json"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, id: secondId, mode: "decode" });
    const checksum = await run(["verify", firstId, "--config", "strongbox.config.json"]);
    expect(checksum.code).toBe(0);
    expect(checksum.stdout).toMatch(/^ok: backup /);
    const bad = await run(["verify", "latest", "--mode", "nope", "--config", "strongbox.config.json"]);
    expect(bad.code).toBe(2);
  });

  it("restore --dry-run shows what would be overwritten and changes nothing", async () => {
    writeFileSync(join(data, "a.txt"), "changed\n");
    writeFileSync(join(data, "new.txt"), "new\n");
    const r = await run(["restore", "latest", "--dry-run", "--config", "strongbox.config.json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`backup ${secondId}`);
    expect(r.stdout).toContain(`→ ${data} [exists: will be overwritten]`);
    const json = JSON.parse(
      (await run(["restore", "latest", "--dry-run", "--json", "--config", "strongbox.config.json"])).stdout,
    );
    expect(json).toMatchObject({ id: secondId, dryRun: true });
    expect(json.components[0].preview.exists).toBe(true);
    expect(readFileSync(join(data, "a.txt"), "utf8")).toBe("changed\n");
    expect(existsSync(join(data, "new.txt"))).toBe(true);
  });

  it("restore without a terminal and without --force exits 2 and changes nothing", async () => {
    const r = await run(["restore", "latest", "--config", "strongbox.config.json"], "yes\n");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error \[E_USAGE\]: refusing to restore .* stdin is not a terminal; pass --force/);
    expect(readFileSync(join(data, "a.txt"), "utf8")).toBe("changed\n");
    expect(existsSync(join(data, "new.txt"))).toBe(true);
  });

  it.skipIf(!hasScript)(
    "restore asks on a terminal: a wrong answer changes nothing, the backup id restores",
    async () => {
      // A pseudo-terminal through script(1); the answer is typed once the prompt is on screen.
      const cmd = (answer: string) =>
        new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
          const child = spawn(
            "script",
            ["-qec", `"${process.execPath}" "${BIN}" restore latest --config strongbox.config.json`, "/dev/null"],
            {
              cwd,
              stdio: ["pipe", "pipe", "pipe"],
            },
          );
          let stdout = "";
          let stderr = "";
          let typed = false;
          child.stdout.setEncoding("utf8").on("data", (d: string) => {
            stdout += d;
            if (!typed && stdout.includes("to restore: ")) {
              typed = true;
              child.stdin.write(`${answer}\n`);
            }
          });
          child.stderr.setEncoding("utf8").on("data", (d: string) => {
            stderr += d;
          });
          child.on("error", reject);
          child.on("close", () => resolve({ stdout, stderr }));
        });
      const declined = await cmd("no");
      expect(declined.stdout).toContain("will be overwritten");
      expect(declined.stdout).toMatch(/Type the backup id \(\S+\) or "yes" to restore:/);
      expect(declined.stdout).toContain("error [E_DECLINED]: restore cancelled");
      expect(readFileSync(join(data, "a.txt"), "utf8")).toBe("changed\n");
      const accepted = await cmd(secondId);
      expect(accepted.stdout, accepted.stderr).toContain(`restored backup ${secondId}`);
      expect(readFileSync(join(data, "a.txt"), "utf8")).toBe("alpha\n");
      expect(existsSync(join(data, "new.txt"))).toBe(false);
    },
    30_000,
  );

  it("restore --force restores, also into another directory with --target", async () => {
    writeFileSync(join(data, "a.txt"), "changed again\n");
    const r = await run(["restore", firstId, "--force", "--config", "strongbox.config.json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("will be overwritten"); // the plan is printed first
    expect(readFileSync(join(data, "a.txt"), "utf8")).toBe("alpha\n");
    expect(readFileSync(join(data, "sub", "b.bin")).equals(Buffer.alloc(200_000, 7))).toBe(true);

    const elsewhere = await run([
      "restore",
      "latest",
      "--force",
      "--json",
      "--target",
      "files.directory=./copy",
      "--config",
      "strongbox.config.json",
    ]);
    expect(elsewhere.code, elsewhere.stderr).toBe(0);
    expect(JSON.parse(elsewhere.stdout).dryRun).toBe(false);
    expect(readFileSync(join(cwd, "copy", "a.txt"), "utf8")).toBe("alpha\n");
    const badTarget = await run([
      "restore",
      "latest",
      "--force",
      "--target",
      "nonsense",
      "--config",
      "strongbox.config.json",
    ]);
    expect(badTarget.code).toBe(2);
  });

  it("export writes the backup as a tar, to a pipe or --output", async () => {
    const tar = await shell("sh", ["-c", `"$NODE" "$BIN" export ${firstId} --config strongbox.config.json | tar -t`], {
      cwd,
      env: { BIN, NODE: process.execPath },
    });
    expect(tar.code, tar.stderr).toBe(0);
    expect(tar.stdout.trim().split("\n")).toEqual([
      `${firstId}/manifest.json`,
      expect.stringMatching(/\.tar\.gz\.age$/),
    ]);
    const out = await run(["export", firstId, "-o", "x.tar", "--json", "--config", "strongbox.config.json"]);
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout).bytes).toBe(statSync(join(cwd, "x.tar")).size);
  });

  it.skipIf(!hasScript)("export refuses to write a tar to a terminal", async () => {
    const tty = await shell(
      "script",
      ["-qec", `"${process.execPath}" "${BIN}" export latest --config strongbox.config.json`, "/dev/null"],
      { cwd },
    );
    expect(tty.stdout).toContain("error [E_USAGE]: refusing to write a tar archive to a terminal");
    expect(tty.stdout).not.toContain("manifest.json");
  });

  it("health exits 0 when healthy and 3 when the newest backup is older than maxAge", async () => {
    const ok = await run(["health", "--config", "strongbox.config.json"]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^healthy/);
    const old = await run(["health", "--max-age", "1ms", "--json", "--config", "strongbox.config.json"]);
    expect(old.code).toBe(3);
    const report = JSON.parse(old.stdout);
    expect(report.healthy).toBe(false);
    expect(report.checks.find((c: { name: string }) => c.name === "maxAge").ok).toBe(false);
    const few = await run(["health", "--min-count", "10", "-q", "--config", "strongbox.config.json"]);
    expect(few.code).toBe(3);
    expect(few.stdout).toBe("");
  });

  it("prune --dry-run plans with the retention policy and deletes nothing; prune deletes", async () => {
    const dry = await run(["prune", "--dry-run", "--json", "--config", "strongbox.config.json"]);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout).storages[0].plan;
    expect(plan.keep.map((k: { id: string }) => k.id)).toContain(secondId);
    expect(plan.remove.map((k: { id: string }) => k.id)).toContain(firstId);
    expect(existsSync(join(cwd, "backups", firstId, "manifest.json"))).toBe(true);
    const human = await run(["prune", "--dry-run", "--config", "strongbox.config.json"]);
    expect(human.stdout).toContain(`remove  ${firstId}`);
    expect(human.stdout).toContain("dry run:");
    const real = await run(["prune", "--config", "strongbox.config.json"]);
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).toContain("removed 1 backup(s), kept 1");
    expect(existsSync(join(cwd, "backups", firstId))).toBe(false);
    expect(existsSync(join(cwd, "backups", secondId, "manifest.json"))).toBe(true);
  });

  it("delete removes one backup (never implicitly latest)", async () => {
    const latest = await run(["delete", "latest", "--config", "strongbox.config.json"]);
    expect(latest.code).toBe(2);
    firstId = JSON.parse((await run(["backup", "--json", "--config", "strongbox.config.json"])).stdout).id;
    const r = await run(["delete", firstId, "--config", "strongbox.config.json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`deleted ${firstId}`);
    expect(existsSync(join(cwd, "backups", firstId))).toBe(false);
    expect(readdirSync(join(cwd, "backups"))).toContain(secondId);
    const again = await run(["delete", firstId, "--config", "strongbox.config.json", "--json"]);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout).error.code).toBe("E_NOT_FOUND");
  });

  it("verify exits 1 and names the artifact when a stored byte was flipped", async () => {
    const manifest = JSON.parse((await run(["show", secondId, "--json", "--config", "strongbox.config.json"])).stdout);
    const file = join(cwd, "backups", manifest.components[0].artifacts[0].key);
    const bytes = readFileSync(file);
    const at = bytes.length - 40;
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0x01, at);
    writeFileSync(file, bytes);
    const r = await run(["verify", secondId, "--config", "strongbox.config.json"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAILED: backup /);
    expect(r.stdout).toContain(manifest.components[0].artifacts[0].key);
    expect(r.stderr).toMatch(/^error \[E_INTEGRITY\]: backup \S+ failed verification \(checksum\): /m);
    const json = await run(["verify", secondId, "--json", "--config", "strongbox.config.json"]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).ok).toBe(false);
  });
});
