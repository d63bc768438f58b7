// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${ENV} references in config strings are what these tests are about.
import { PassThrough, Writable } from "node:stream";
import { StrongboxError } from "@strongbox/core";
import { describe, expect, it } from "vitest";
import { parseTargets, restoreCommand } from "../src/commands/restore.js";
import { expandEnv } from "../src/config/env.js";
import { formatPath } from "../src/config/path.js";
import { describeError, formatError } from "../src/errors.js";
import { Ui } from "../src/ui/output.js";
import { describe as describeProgress, ProgressView } from "../src/ui/progress.js";
import { confirmRestore } from "../src/ui/prompt.js";

function sink(): Writable & { text: string; isTTY?: boolean } {
  const s = new Writable({
    write(chunk, _enc, cb) {
      s.text += String(chunk);
      cb();
    },
  }) as Writable & { text: string };
  s.text = "";
  return s;
}

describe("the restore confirmation prompt", () => {
  const answer = async (text: string | null, id = "20261121T020000Z-abcdef") => {
    const input = new PassThrough();
    const output = sink();
    const pending = confirmRestore(input, output, id);
    if (text === null) input.end();
    else input.write(`${text}\n`);
    return { ok: await pending, output: output.text };
  };

  it("accepts the backup id or yes, and nothing else", async () => {
    expect((await answer("20261121T020000Z-abcdef")).ok).toBe(true);
    expect((await answer("yes")).ok).toBe(true);
    expect((await answer("  YES ")).ok).toBe(true);
    expect((await answer("y")).ok).toBe(false);
    expect((await answer("")).ok).toBe(false);
    expect((await answer("20261121T020000Z-abcdeX")).ok).toBe(false);
    expect((await answer(null)).ok).toBe(false); // Ctrl-D
    expect((await answer("yes")).output).toContain(
      'Type the backup id (20261121T020000Z-abcdef) or "yes" to restore: ',
    );
  });
});

describe("--target parsing", () => {
  it("builds per-component overrides with numbers, booleans and absolute directories", () => {
    expect(
      parseTargets(["pg.database=copy", "redis.db=2", "pg.createDatabase=true", "files.directory=out/x"], "/base"),
    ).toEqual({
      pg: { database: "copy", createDatabase: true },
      redis: { db: 2 },
      files: { directory: "/base/out/x" },
    });
    expect(parseTargets(["pg.connectionString=postgres://h/db?a=b"])).toEqual({
      pg: { connectionString: "postgres://h/db?a=b" },
    });
    expect(() => parseTargets(["database=copy"])).toThrow(/component\.key=value/);
    expect(typeof restoreCommand).toBe("function");
  });
});

describe("${ENV} expansion", () => {
  it("expands references in plain objects and arrays, with defaults and $$ escapes", () => {
    const env = { A: "one", B: "two" };
    expect(
      expandEnv({ x: "${A}-${B}", list: ["${A}", 3, true], d: "${C:-dflt}", lit: "$${A}", nested: { y: "${B}" } }, env),
    ).toEqual({ x: "one-two", list: ["one", 3, true], d: "dflt", lit: "${A}", nested: { y: "two" } });
  });

  it("leaves adapter instances alone", () => {
    class Adapter {
      url = "${NOT_EXPANDED}";
    }
    const instance = new Adapter();
    const literal = { name: "x", url: "${NOT_EXPANDED}", backup() {} };
    const out = expandEnv({ sources: [instance, literal] }, {}) as { sources: unknown[] };
    expect(out.sources[0]).toBe(instance);
    expect(out.sources[1]).toBe(literal);
  });

  it("names every missing variable by field path and never prints a value", () => {
    let message = "";
    try {
      expandEnv(
        { sources: [{ connectionString: "${DB_URL}" }], storage: { bucket: "${BUCKET}" } },
        { OTHER: "secret" },
      );
    } catch (err) {
      message = (err as Error).message;
      expect(describeError(err).exitCode).toBe(2);
    }
    expect(message).toContain("sources[0].connectionString: environment variable DB_URL is not set");
    expect(message).toContain("storage.bucket: environment variable BUCKET is not set");
    expect(message).not.toContain("secret");
  });

  it("formats paths like JavaScript accessors", () => {
    expect(formatPath(["sources", 0, "connectionString"])).toBe("sources[0].connectionString");
    expect(formatPath(["a b"])).toBe('["a b"]');
    expect(formatPath([])).toBe("(config)");
  });
});

describe("error output", () => {
  it("prints StrongboxErrors as error [E_CODE]: message without a stack unless debugging", () => {
    const err = new StrongboxError("E_STORAGE", "cannot reach postgres://u:pw1234@h/db", { adapter: "s3" });
    expect(formatError(err, false)).toBe("error [E_STORAGE]: [s3] cannot reach postgres://u:***@h/db");
    expect(describeError(err).exitCode).toBe(1);
    expect(describeError(new StrongboxError("E_CONFIG", "bad")).exitCode).toBe(2);
    expect(formatError(err, true)).toMatch(/\n\s+at /);
    expect(formatError(new Error("plain"), false)).toBe("error: plain");
  });
});

describe("progress rendering", () => {
  it("describes bytes, percentage, rate and ETA", () => {
    expect(describeProgress("restore", "pg", 512 * 1024, 1024 * 1024, 256 * 1024)).toBe(
      "restore pg: 512 KiB of 1 MiB (50%), 256 KiB/s, ETA 2s",
    );
    expect(describeProgress("backup", "files", 2048, undefined, 1024)).toBe("backup files: 2 KiB, 1 KiB/s");
  });

  it("writes timestamped lines when stderr is not a terminal, and nothing with --quiet or --json", () => {
    const make = (opts: { quiet?: boolean; json?: boolean }) => {
      const stderr = sink();
      const view = new ProgressView(new Ui(opts, { stdin: new PassThrough(), stdout: sink(), stderr }));
      view.update({ phase: "backup", component: "pg", artifact: "db.dump", bytes: 100 });
      view.update({ phase: "backup", component: "pg", artifact: "db.dump", bytes: 200 }); // throttled
      view.update({ phase: "backup", component: "redis", artifact: "keys", bytes: 5, totalBytes: 5 });
      view.stop();
      return stderr.text;
    };
    const lines = make({}).trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z backup pg: 100 B, /);
    expect(lines[1]).toMatch(/backup redis: 5 B of 5 B \(100%\)/);
    expect(make({ quiet: true })).toBe("");
    expect(make({ json: true })).toBe("");
  });

  it("draws bars with bytes, rate and ETA on a terminal", () => {
    const stderr = sink();
    stderr.isTTY = true;
    Object.assign(stderr, { columns: 120, cursorTo() {}, moveCursor() {}, clearLine() {}, clearScreenDown() {} });
    const view = new ProgressView(new Ui({}, { stdin: new PassThrough(), stdout: sink(), stderr }));
    view.update({ phase: "restore", component: "pg", artifact: "db.dump", bytes: 10, totalBytes: 100 });
    view.update({ phase: "restore", component: "pg", artifact: "db.dump", bytes: 100, totalBytes: 100 });
    view.stop();
    expect(stderr.text).toContain("restore pg: 100 B of 100 B (100%)");
    expect(stderr.text).toMatch(/█+/);
  });
});
