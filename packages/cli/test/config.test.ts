// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${ENV} references in config strings are what these tests are about.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { strongbox, tempDir } from "./helpers/cli.js";

describe("strongbox config loading", () => {
  const tmp = tempDir("config");
  const cwd = tmp.dir;
  const write = (name: string, content: unknown) =>
    writeFileSync(join(cwd, name), typeof content === "string" ? content : JSON.stringify(content));

  beforeAll(() => {
    mkdirSync(join(cwd, "data"));
    writeFileSync(join(cwd, "data", "x.txt"), "x");
  });
  afterAll(() => tmp.cleanup());

  it("reports every invalid field by its path, with exit 2", async () => {
    write("bad.json", {
      sources: [{ type: "postgres", connectionString: 5 }, { type: "mysql" }, { type: "files", paths: [] }],
      storage: { type: "s3" },
      retension: { keepDaily: 7 },
      transforms: [{ type: "gzip", level: 12 }],
      health: { minCount: -1 },
    });
    const r = await strongbox(["list", "--config", "bad.json"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error \[E_CONFIG\]: invalid config in .*bad\.json:/);
    for (const line of [
      "sources[0].connectionString: Invalid input: expected string, received number",
      'sources[1].type: unknown source type "mysql"',
      "sources[2].paths: needs at least one path",
      "storage.bucket:",
      "retension: unknown field",
      "transforms[0].level:",
      "health.minCount:",
    ]) {
      expect(r.stderr).toContain(line);
    }
  });

  it("a missing ${ENV} variable is exit 2 naming the field, never a value; set variables are expanded", async () => {
    write("env.json", {
      sources: [{ type: "postgres", name: "db", connectionString: "${STRONGBOX_TEST_DB_URL}" }],
      storage: { type: "local", directory: "${STRONGBOX_TEST_DIR:-./env-backups}" },
    });
    const missing = await strongbox(["list", "--config", "env.json", "--json"], { cwd });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(
      "sources[0].connectionString: environment variable STRONGBOX_TEST_DB_URL is not set",
    );
    expect(JSON.parse(missing.stdout).error).toMatchObject({ code: "E_CONFIG", exitCode: 2 });

    // Set: expanded, and the password inside never reaches the output even when the connection fails.
    const failing = await strongbox(["backup", "--config", "env.json"], {
      cwd,
      env: { STRONGBOX_TEST_DB_URL: "postgres://someone:hunter2secret@127.0.0.1:1/nothing" },
    });
    expect(failing.code).toBe(1);
    expect(failing.stderr).toMatch(/^error \[E_SOURCE\]: \[postgres\] /m);
    expect(failing.stderr).not.toContain("hunter2secret");
    const listed = await strongbox(["list", "--config", "env.json", "--json"], {
      cwd,
      env: { STRONGBOX_TEST_DB_URL: "postgres://127.0.0.1/x" },
    });
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);
  });

  it("finds strongbox.config.* upward from the working directory", async () => {
    write("strongbox.config.json", {
      sources: [{ type: "files", name: "files", paths: ["./data"] }],
      storage: { type: "local", directory: "./found-backups" },
    });
    mkdirSync(join(cwd, "deep", "er"), { recursive: true });
    const r = await strongbox(["backup", "--json"], { cwd: join(cwd, "deep", "er") });
    expect(r.code, r.stderr).toBe(0);
    // Relative paths resolve against the config file's folder, not the working directory.
    expect(JSON.parse(r.stdout).components[0].stats.info.paths).toEqual([join(cwd, "data")]);
    const none = await strongbox(["list"], { cwd: "/" });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('run "strongbox init" or pass --config <file>');
  });

  it("loads TypeScript configs that construct adapters in code, with defineConfig", async () => {
    // Inside the package so `@strongbox/*` imports resolve from its node_modules (and
    // `@strongbox/cli` by self-reference, as from a project that installed it).
    const dir = fileURLToPath(new URL(`../.tmp/config-${process.pid}/`, import.meta.url));
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "strongbox.config.ts"),
      `import { defineConfig } from "@strongbox/cli";
import { gzip, local } from "@strongbox/core";
import { files } from "@strongbox/source-files";
const directory: string = ${JSON.stringify(join(cwd, "ts-backups"))};
export default defineConfig({
  // Code and declarative entries mix.
  sources: [
    files({ name: "docs", paths: [${JSON.stringify(join(cwd, "data"))}] }),
    { type: "files", name: "more", paths: [${JSON.stringify(join(cwd, "data"))}] },
  ],
  storage: local({ directory }),
  transforms: [gzip({ level: 1 })],
  health: { minCount: 1 },
});
`,
    );
    try {
      const backup = await strongbox(["backup", "--json"], { cwd: dir });
      expect(backup.code, backup.stderr).toBe(0);
      expect(JSON.parse(backup.stdout).components.map((c: { name: string }) => c.name)).toEqual(["docs", "more"]);
      const health = await strongbox(["health"], { cwd: dir });
      expect(health.code).toBe(0);
      writeFileSync(join(dir, "strongbox.config.ts"), "export default { sources: [42], storage: {} };\n");
      const bad = await strongbox(["list"], { cwd: dir });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("sources[0]: expected a source object");
      expect(bad.stderr).toContain('storage: expected a storage object with "type"');
      writeFileSync(join(dir, "strongbox.config.ts"), "export default {{ syntax\n");
      const broken = await strongbox(["list"], { cwd: dir });
      expect(broken.code).toBe(2);
      expect(broken.stderr).toMatch(/error \[E_CONFIG\]: cannot load .*strongbox\.config\.ts/);
    } finally {
      await import("node:fs").then((fs) => fs.rmSync(dir, { recursive: true, force: true }));
    }
  });

  it("usage mistakes exit 2; --help documents the exit codes", async () => {
    const unknown = await strongbox(["frobnicate"], { cwd });
    expect(unknown.code).toBe(2);
    const option = await strongbox(["list", "--nope"], { cwd });
    expect(option.code).toBe(2);
    const help = await strongbox(["--help"], { cwd });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Exit codes:");
    expect(help.stdout).toMatch(/3\s+unhealthy/);
    const sub = await strongbox(["restore", "--help"], { cwd });
    expect(sub.stdout).toContain("--config <file>");
    expect(sub.stdout).toContain("--json");
  });

  it("an age transform without keys, or a missing identity file, is a config error", async () => {
    write("age.json", {
      sources: [{ type: "files", paths: ["./data"] }],
      storage: { type: "local", directory: "./age-backups" },
      transforms: [{ type: "age" }],
    });
    const r = await strongbox(["backup", "--config", "age.json"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('transforms[0]: an age transform needs "recipients" or "passphraseEnv"');
    write("age2.json", {
      sources: [{ type: "files", paths: ["./data"] }],
      storage: { type: "local", directory: "./age-backups" },
      transforms: [{ type: "age", recipients: ["ssh-ed25519 AAAA"] }],
    });
    const bad = await strongbox(["backup", "--config", "age2.json"], { cwd });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('transforms[0].recipients[0]: expected an age public key ("age1…")');
    write("age3.json", {
      sources: [{ type: "files", paths: ["./data"] }],
      storage: { type: "local", directory: "./age-backups" },
      transforms: [{ type: "age", recipients: ["age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq"] }],
      identityFile: "./missing-key.txt",
    });
    const noKey = await strongbox(["verify", "latest", "--mode", "decode", "--config", "age3.json"], { cwd });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/error \[E_CONFIG\]: identityFile: cannot read .*missing-key\.txt: ENOENT/);
  });

  it("passphrase encryption takes the passphrase from the environment only", async () => {
    write("pass.json", {
      sources: [{ type: "files", name: "files", paths: ["./data"] }],
      storage: { type: "local", directory: "./pass-backups" },
      transforms: [{ type: "age", passphraseEnv: "STRONGBOX_TEST_PASS", workFactor: 10 }],
      passphraseEnv: "STRONGBOX_TEST_PASS",
    });
    const env = { STRONGBOX_TEST_PASS: "correct horse battery" };
    const backup = await strongbox(["backup", "--json", "--config", "pass.json"], { cwd, env });
    expect(backup.code, backup.stderr).toBe(0);
    const ok = await strongbox(["verify", "latest", "--mode", "decode", "--config", "pass.json"], { cwd, env });
    expect(ok.code, ok.stderr).toBe(0);
    const wrong = await strongbox(["verify", "latest", "--mode", "decode", "--json", "--config", "pass.json"], {
      cwd,
      env: { STRONGBOX_TEST_PASS: "wrong horse battery" },
    });
    expect(wrong.code).toBe(1);
    expect(JSON.stringify(JSON.parse(wrong.stdout))).toContain("E_DECRYPT");
    expect(wrong.stdout + wrong.stderr).not.toContain("wrong horse battery");
    const unset = await strongbox(["verify", "latest", "--mode", "decode", "--config", "pass.json"], { cwd });
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain("environment variable STRONGBOX_TEST_PASS is not set");
  });
});
