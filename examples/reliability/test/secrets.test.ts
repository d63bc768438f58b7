/**
 * No secret anywhere. Back up a password-protected throwaway redis-server (logical SCAN mode and
 * RDB mode, which spawns `redis-cli`) with an age passphrase, and — when PostgreSQL is reachable —
 * a postgres source whose connection string carries a password; then fail on purpose (a wrong
 * password, a wrong passphrase). Capture every log line (debug level), every event payload, every
 * error message (causes included), every byte written to the storage, and the argv of every
 * process on the machine while the backup runs (/proc/<pid>/cmdline) — and grep them all.
 */
import { randomBytes } from "node:crypto";
import { chmod, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createStrongbox, encrypt, type Logger, local, type Source, type StrongboxEventName } from "@strongbox/core";
import { postgres } from "@strongbox/source-postgres";
import { redis } from "@strongbox/source-redis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis, type TestServer } from "../../../packages/source-redis/test/helpers/servers.js";
import { removeDir, tempDir } from "./support/helpers.js";

const REDIS_PASSWORD = `rPw-${randomBytes(9).toString("hex")}`;
const WRONG_PASSWORD = `wPw-${randomBytes(9).toString("hex")}`;
const PG_PASSWORD = `pgPw-${randomBytes(9).toString("hex")}`;
const PASSPHRASE = `age passphrase ${randomBytes(9).toString("hex")}`;
const WRONG_PASSPHRASE = `wrong passphrase ${randomBytes(9).toString("hex")}`;
const SECRETS = [REDIS_PASSWORD, WRONG_PASSWORD, PG_PASSWORD, PASSPHRASE, WRONG_PASSPHRASE];
// Also their URL-encoded and base64 forms, in case something encodes before printing.
const NEEDLES = SECRETS.flatMap((s) => [s, encodeURIComponent(s), Buffer.from(s).toString("base64")]);

const EVENTS: StrongboxEventName[] = [
  "backup:started",
  "backup:completed",
  "backup:failed",
  "restore:started",
  "restore:completed",
  "restore:failed",
  "verify:completed",
  "prune:completed",
  "progress",
  "warning",
] as StrongboxEventName[];

/** Whether the machine's PostgreSQL answers (trust auth: the password is carried, not checked). */
async function postgresReachable(): Promise<boolean> {
  const c = new pg.Client({
    connectionString: "postgres://postgres@127.0.0.1:5432/test",
    connectionTimeoutMillis: 2000,
  });
  try {
    await c.connect();
    await c.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

function errorText(err: unknown, depth = 0): string {
  if (!err || depth > 5) return "";
  const e = err as { message?: string; stack?: string; cause?: unknown; details?: unknown };
  return `${e.message ?? String(err)}\n${e.stack ?? ""}\n${JSON.stringify(e.details ?? {})}\n${errorText(e.cause, depth + 1)}`;
}

describe("no secret in logs, events, errors, stored bytes or process arguments", () => {
  let server: TestServer;
  let root: string;
  let withPostgres = false;
  const captured: string[] = [];
  const argv = new Set<string>();
  let polling = false;

  const logger: Logger = {
    debug: (m, d) => void captured.push(`debug ${m} ${JSON.stringify(d ?? {})}`),
    info: (m, d) => void captured.push(`info ${m} ${JSON.stringify(d ?? {})}`),
    warn: (m, d) => void captured.push(`warn ${m} ${JSON.stringify(d ?? {})}`),
    error: (m, d) => void captured.push(`error ${m} ${JSON.stringify(d ?? {})}`),
  };

  /**
   * A wrapper that records its own argv (exactly as the OS handed it over) before exec'ing the
   * real tool: short-lived children may come and go between two /proc polls, this never misses.
   */
  async function recordingWrapper(tool: string): Promise<string> {
    const path = join(root, `${tool}-wrapper.sh`);
    await writeFile(path, `#!/bin/sh\nprintf '%s\\n' "${tool} $*" >> '${join(root, "argv.log")}'\nexec ${tool} "$@"\n`);
    await chmod(path, 0o700);
    return path;
  }

  /** Reads every process's argv every few ms until stopped. */
  async function pollArgv(): Promise<void> {
    polling = true;
    while (polling) {
      for (const pid of await readdir("/proc").catch(() => [] as string[])) {
        if (!/^\d+$/.test(pid)) continue;
        const raw = await readFile(`/proc/${pid}/cmdline`).catch(() => undefined);
        if (raw?.length) argv.add(raw.toString("utf8").split("\0").join(" "));
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  function makeBox(sources: Source[], passphrase = PASSPHRASE) {
    const box = createStrongbox({
      sources,
      storage: local({ directory: join(root, "store") }),
      transforms: [encrypt({ passphrase, workFactor: 10 })],
      logger,
    });
    for (const name of EVENTS)
      box.on(name, (payload: unknown) => {
        captured.push(`event ${name} ${JSON.stringify(payload, (_k, v) => (v instanceof Error ? errorText(v) : v))}`);
      });
    return box;
  }

  beforeAll(async () => {
    root = await tempDir("secrets");
    server = await startRedis(["--requirepass", REDIS_PASSWORD]);
    const c = server.client(0, REDIS_PASSWORD);
    const p = c.pipeline();
    for (let i = 0; i < 2000; i++) p.set(`k:${i}`, randomBytes(256).toString("hex"));
    await p.exec();
    c.disconnect();
    withPostgres = await postgresReachable();
    if (!withPostgres)
      console.warn(
        "[reliability] PostgreSQL on 127.0.0.1:5432 not reachable: the postgres part of the secrets test is left out",
      );
  });
  afterAll(async () => {
    polling = false;
    await server?.stop();
    await removeDir(root);
  });

  it("backs up, restores and fails on purpose without a secret showing anywhere", async () => {
    const url = `redis://:${REDIS_PASSWORD}@127.0.0.1:${server.port}`;
    const sources: Source[] = [
      redis({ name: "cache", url }),
      redis({ name: "cache-rdb", url, mode: "rdb", redisCli: await recordingWrapper("redis-cli") }),
      ...(withPostgres
        ? [
            postgres({
              name: "db",
              connectionString: `postgres://postgres:${PG_PASSWORD}@127.0.0.1:5432/test`,
              pgDumpPath: await recordingWrapper("pg_dump"),
            }),
          ]
        : []),
    ];
    const poller = pollArgv();
    let manifestId: string;
    try {
      const box = makeBox(sources);
      const m = await box.backup({ description: "secrets test" });
      manifestId = m.id;
      expect(m.components.map((c) => c.name).sort()).toEqual(sources.map((s) => s.name).sort());
      expect((await box.verify(m.id, { mode: "decode" })).ok).toBe(true);
      await box.restore(m.id, { components: ["cache"], targets: { cache: { db: 3 } }, force: true });
      await box.close();

      // Failures on purpose: a wrong password, a wrong passphrase.
      const failures: unknown[] = [];
      const wrong = makeBox([redis({ name: "cache", url: `redis://:${WRONG_PASSWORD}@127.0.0.1:${server.port}` })]);
      await wrong.backup().catch((e: unknown) => failures.push(e));
      await wrong.close();
      const wrongKey = makeBox(sources, WRONG_PASSPHRASE);
      await wrongKey
        .restore(manifestId, { components: ["cache"], targets: { cache: { db: 4 } } })
        .catch((e: unknown) => failures.push(e));
      await wrongKey.close();
      expect(failures).toHaveLength(2);
      expect((failures[1] as { code: string }).code).toBe("E_DECRYPT");
      for (const f of failures) captured.push(`thrown ${errorText(f)}`);
    } finally {
      polling = false;
      await poller;
    }

    // Everything written to the storage, byte for byte (manifests, artifacts, markers).
    const storeFiles = (await readdir(join(root, "store"), { recursive: true, withFileTypes: true })).filter((e) =>
      e.isFile(),
    );
    const stored = await Promise.all(storeFiles.map((e) => readFile(join(e.parentPath, e.name))));
    expect(storeFiles.some((e) => e.name === "manifest.json")).toBe(true);

    // The checks themselves must be able to fail: the haystacks saw what they should have.
    expect(captured.some((l) => l.startsWith("event backup:completed"))).toBe(true);
    expect(captured.some((l) => l.startsWith("thrown"))).toBe(true);
    for (const line of (await readFile(join(root, "argv.log"), "utf8")).split("\n")) if (line) argv.add(line);
    expect([...argv].some((a) => a.startsWith("redis-cli"))).toBe(true);
    if (withPostgres) expect([...argv].some((a) => a.startsWith("pg_dump"))).toBe(true);

    const leaks: string[] = [];
    for (const needle of NEEDLES) {
      for (const line of captured) if (line.includes(needle)) leaks.push(`log/event/error: ${line.slice(0, 300)}`);
      for (const a of argv) if (a.includes(needle) && !a.includes("--requirepass")) leaks.push(`argv: ${a}`);
      stored.forEach((bytes, i) => {
        if (bytes.includes(needle)) leaks.push(`stored file ${storeFiles[i]!.name}`);
      });
    }
    expect(leaks).toEqual([]);
    console.info(
      `[reliability] secrets: grepped ${captured.length} log/event/error lines, ${argv.size} distinct process argvs, ${stored.length} stored files (${stored.reduce((n, b) => n + b.length, 0)} bytes)${withPostgres ? ", postgres included" : ""}`,
    );
  });
});
