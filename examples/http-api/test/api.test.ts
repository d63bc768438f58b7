import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import {
  createStrongbox,
  gzip,
  local,
  type Source,
  type Storage,
  type Strongbox,
  StrongboxError,
  silentLogger,
} from "@strongbox/core";
import { files } from "@strongbox/source-files";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type App, createApp } from "../src/server.js";

const run = promisify(execFile);
const exampleDir = new URL("..", import.meta.url).pathname;
const TOKEN = "test-token-0123456789abcdef0123456789abcdef";

let dir: string;
let data: string;
let backups: string;
let box: Strongbox;
let app: App;
let base: string;
/** Holds (or fails) the next restore inside the source, so "running" can be observed. */
interface Gate {
  /** Resolves once the restore has reached the source. */
  entered: Promise<void>;
  enter(): void;
  wait: Promise<void>;
  release(): void;
  fail(err: Error): void;
}
let gate: Gate | undefined;
let held: { release: ReturnType<typeof deferred>; aborted: boolean; finished: boolean } | undefined;

function deferred() {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function newGate(): Gate {
  const entered = deferred();
  const wait = deferred();
  wait.promise.catch(() => undefined); // rejected on purpose by fail(); the source rethrows it
  return {
    entered: entered.promise,
    enter: entered.resolve,
    wait: wait.promise,
    release: wait.resolve,
    fail: wait.reject,
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "strongbox-http-api-"));
  data = join(dir, "uploads");
  backups = join(dir, "backups");
  await mkdir(join(data, "2026"), { recursive: true });
  await writeFile(join(data, "README.txt"), "uploaded files\n");
  await writeFile(join(data, "2026", "report.csv"), Array.from({ length: 3000 }, (_, i) => `${i},row ${i}`).join("\n"));
  const uploads = files({ name: "uploads", paths: [data] });
  const gated: Source = {
    ...uploads,
    async restore(ctx) {
      if (gate) {
        gate.enter();
        await gate.wait;
      }
      return uploads.restore(ctx);
    },
  };
  const store = local({ directory: backups });
  // The local storage, except that while `held` is set an artifact read pauses after 256 KiB
  // (and notices the abort signal), to show that downloads stream and stop when the client leaves.
  const watched: Storage = {
    type: store.type,
    location: store.location,
    ...(store.capabilities ? { capabilities: store.capabilities } : {}),
    put: (key, body, o) => store.put(key, body, o),
    head: (key) => store.head(key),
    list: (prefix, o) => store.list(prefix, o),
    delete: (keys) => store.delete(keys),
    async get(key, o) {
      const stream = await store.get(key, o);
      const hold = held;
      if (!hold || !key.includes("/uploads/")) return stream;
      const aborted = new Promise<never>((_, reject) => {
        o?.signal?.addEventListener("abort", () => {
          hold.aborted = true;
          reject(new Error("aborted"));
        });
      });
      aborted.catch(() => undefined);
      return Readable.from(
        (async function* () {
          let n = 0;
          for await (const chunk of stream) {
            yield chunk;
            n += chunk.length;
            if (n >= 256 << 10) await Promise.race([hold.release.promise, aborted]);
          }
          hold.finished = true;
        })(),
      );
    },
  };
  box = createStrongbox({
    sources: [gated],
    storage: watched,
    transforms: [gzip()],
    logger: silentLogger,
  });
  app = createApp(box, { token: TOKEN });
  base = await app.listen(0);
}, 60_000);

afterAll(async () => {
  gate?.release();
  await app?.close();
  await box?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field
  body: any;
}

async function api(
  method: string,
  path: string,
  options: { auth?: string | null; body?: unknown; raw?: string; type?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  const auth = options.auth === undefined ? `Bearer ${TOKEN}` : options.auth;
  if (auth !== null) headers.authorization = auth;
  let body: string | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers["content-type"] = options.type ?? "application/json";
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** path → sha256 of every file (and "dir" for directories), read straight from disk. */
async function digest(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    const p = join(e.parentPath, e.name);
    out[relative(root, p)] = e.isDirectory()
      ? "dir"
      : createHash("sha256")
          .update(await readFile(p))
          .digest("hex");
  }
  return Object.fromEntries(Object.entries(out).sort());
}

async function snapshot() {
  return { data: await digest(data), backups: await digest(backups) };
}

// biome-ignore lint/suspicious/noExplicitAny: a JSON answer, checked field by field
async function waitForRestore(): Promise<any> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { body } = await api("GET", "/api/system/restore/status");
    if (body.state !== "running") return body;
    if (Date.now() > deadline) throw new Error(`restore still running: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let first: string; // made directly with the SDK
let second: string; // made through the API
let dataAtFirst: Record<string, string>;

describe("examples/http-api", () => {
  it("answers 401 to every endpoint without a valid bearer token, and changes nothing", async () => {
    first = (await box.backup()).id;
    dataAtFirst = await digest(data);
    // After the backup, so that a restore that slipped through would visibly undo this.
    await writeFile(join(data, "added-after-backup.txt"), "new\n");
    const before = await snapshot();

    const endpoints: Array<[string, string, unknown?]> = [
      ["POST", "/api/system/backup", { description: "sneaky" }],
      ["GET", "/api/system/backups"],
      ["GET", `/api/system/backup/${first}/download`],
      ["DELETE", `/api/system/backup/${first}`],
      ["POST", "/api/system/restore", { backupId: first, confirm: first }],
      ["GET", "/api/system/restore/status"],
    ];
    const badAuth = [
      null, // no header
      "Bearer wrong-token-wrong-token-wrong",
      `Bearer ${TOKEN}x`, // a longer token that starts with the right one
      `Bearer ${TOKEN.slice(0, -1)}`, // one character short
      `Basic ${Buffer.from(`user:${TOKEN}`).toString("base64")}`, // right secret, wrong scheme
      `${TOKEN}`, // no scheme
      "Bearer ",
    ];
    for (const [method, path, body] of endpoints) {
      for (const auth of badAuth) {
        const res = await api(method, path, { auth, body });
        expect(res.status, `${method} ${path} with ${String(auth)}`).toBe(401);
        expect(res.body.error.code).toBe("E_UNAUTHORIZED");
        expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
        expect(JSON.stringify(res.body)).not.toContain(first); // nothing about backups leaks
      }
    }
    // Unknown routes too: an unauthenticated client cannot even probe what exists.
    expect((await api("GET", "/api/system/nothing-here", { auth: null })).status).toBe(401);

    await new Promise((r) => setTimeout(r, 100)); // a background job, had one started, would show by now
    expect(await snapshot()).toEqual(before);
    expect((await api("GET", "/api/system/restore/status")).body).toEqual({ state: "idle" });
  });

  it("POST /api/system/backup creates a backup that GET /api/system/backups lists", async () => {
    const res = await api("POST", "/api/system/backup", { body: { description: "Daily backup", tags: ["api"] } });
    expect(res.status).toBe(201);
    second = res.body.backup_id;
    expect(res.body).toMatchObject({
      status: "completed",
      description: "Daily backup",
      components: { uploads: true },
      tags: ["api"],
    });
    // On disk, natively: the manifest is there, and the reported size is what the files take.
    const manifest = JSON.parse(await readFile(join(backups, second, "manifest.json"), "utf8"));
    expect(manifest.description).toBe("Daily backup");
    const artifact = join(backups, manifest.components[0].artifacts[0].key);
    expect(res.body.size_bytes).toBe((await stat(artifact)).size);

    const list = await api("GET", "/api/system/backups");
    expect(list.status).toBe(200);
    expect(list.body.total).toBe(2);
    expect(list.body.backups.map((b: { backup_id: string }) => b.backup_id)).toEqual([second, first]);
    expect(list.body.backups[0]).toMatchObject({ components: ["uploads"], tags: ["api"] });
    expect(list.body.storage_used_bytes).toBe(
      list.body.backups.reduce((n: number, b: { size_bytes: number }) => n + b.size_bytes, 0),
    );
  });

  it("GET /api/system/backup/:id/download streams the backup as a tar that tar lists", async () => {
    const res = await fetch(`${base}/api/system/backup/${second}/download`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-tar");
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="${second}.tar"`);
    // Streamed: sent in chunks as it is read from storage, never assembled first to learn its length.
    expect(res.headers.get("content-length")).toBeNull();
    expect(res.headers.get("transfer-encoding")).toBe("chunked");
    const file = join(dir, "download.tar");
    await pipeline(Readable.fromWeb(res.body as never), createWriteStream(file));

    const manifest = JSON.parse(await readFile(join(backups, second, "manifest.json"), "utf8"));
    const key: string = manifest.components[0].artifacts[0].key;
    const { stdout } = await run("tar", ["-tf", file]);
    expect(stdout.trim().split("\n")).toEqual([`${second}/manifest.json`, key]);
    // The artifact inside the tar is the stored object, byte for byte (still compressed).
    const inner = await run("tar", ["-xOf", file, key], { encoding: "buffer", maxBuffer: 64 << 20 });
    expect(inner.stdout.equals(await readFile(join(backups, key)))).toBe(true);
  });

  it("POST /api/system/restore without the confirmation answers 400 with what would be overwritten, and changes nothing", async () => {
    const before = await snapshot();
    for (const body of [
      { backupId: first },
      { backupId: first, confirm: true }, // the seed's boolean: not enough, the id is required
      { backupId: first, confirm: "yes" },
      { backupId: first, confirm: second }, // confirmed for another backup
      { backup_id: first, confirm: false },
      { backupId: "latest", confirm: "latest" }, // "latest" must be confirmed with the id it resolves to
    ]) {
      const res = await api("POST", "/api/system/restore", { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("E_CONFIG");
      expect(res.body.confirm_required).toBe(true);
      expect(res.body.warning).toBe("This will overwrite existing data");
      expect(res.body.affected[0].component).toBe("uploads");
    }
    expect((await api("POST", "/api/system/restore", { body: {} })).status).toBe(400);
    const missing = await api("POST", "/api/system/restore", {
      body: { backupId: "20200101T000000Z-aaaaaa", confirm: "20200101T000000Z-aaaaaa" },
    });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("E_NOT_FOUND");
    const wrongComponent = await api("POST", "/api/system/restore", {
      body: { backupId: first, components: ["postgres"], confirm: first },
    });
    expect(wrongComponent.status).toBe(400);

    const dry = await api("POST", "/api/system/restore", { body: { backupId: first, dryRun: true } });
    expect(dry.status).toBe(200);
    expect(dry.body.report.dryRun).toBe(true);
    expect(dry.body.report.components[0].name).toBe("uploads");

    expect(await snapshot()).toEqual(before);
    expect((await api("GET", "/api/system/restore/status")).body).toEqual({ state: "idle" });
  });

  it("runs a confirmed restore in the background, one at a time, and reports it", async () => {
    expect(await digest(data)).not.toEqual(dataAtFirst);
    gate = newGate();
    const started = await api("POST", "/api/system/restore", { body: { backupId: first, confirm: first } });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ state: "running", backup_id: first });
    expect(started.body.restore_id).toMatch(/^restore_\d{14}_[0-9a-f]{6}$/);
    expect((await api("GET", "/api/system/restore/status")).body.state).toBe("running");

    // While it runs: no second restore, no backup, no deleting the backup being restored.
    const again = await api("POST", "/api/system/restore", { body: { backupId: second, confirm: second } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("E_LOCKED");
    expect((await api("POST", "/api/system/backup")).status).toBe(409);
    const del = await api("DELETE", `/api/system/backup/${first}`);
    expect(del.status).toBe(409);
    expect(del.body.error.code).toBe("E_CONFLICT");

    await gate.entered;
    gate.release();
    const done = await waitForRestore();
    gate = undefined;
    expect(done.state).toBe("succeeded");
    expect(done.restore_id).toBe(started.body.restore_id);
    expect(done.report.components[0].name).toBe("uploads");
    expect(done.finished_at).toBeDefined();
    // The directory is back to what it held at the first backup (the file added since is gone).
    expect(await digest(data)).toEqual(dataAtFirst);
  });

  it("reports a failed restore as failed, with the error code", async () => {
    await writeFile(join(data, "added-again.txt"), "x\n");
    const before = await digest(data);
    gate = newGate();
    const started = await api("POST", "/api/system/restore", { body: { backupId: second, confirm: second } });
    expect(started.status).toBe(202);
    await gate.entered;
    gate.fail(new StrongboxError("E_SOURCE", "disk on fire", { adapter: "files" }));
    const done = await waitForRestore();
    gate = undefined;
    expect(done.state).toBe("failed");
    expect(done.error).toMatchObject({ code: "E_SOURCE" });
    expect(done.error.message).toContain("disk on fire");
    expect(await digest(data)).toEqual(before);
  });

  it("DELETE /api/system/backup/:id deletes; errors are JSON with the mapped status", async () => {
    const res = await api("DELETE", `/api/system/backup/${second}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ backup_id: second, deleted: true, skipped: [] });
    expect((await readdir(backups)).sort()).toEqual([first]); // natively gone

    const again = await api("DELETE", `/api/system/backup/${second}`);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe("E_NOT_FOUND");
    expect((await api("GET", `/api/system/backup/${second}/download`)).status).toBe(404);
    expect((await api("GET", "/api/system/backup/not-an-id/download")).status).toBe(404);
    expect((await api("GET", "/api/system/nothing-here")).status).toBe(404);
    const wrongMethod = await api("PUT", "/api/system/backups");
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("GET");
    const badJson = await api("POST", "/api/system/backup", { raw: "{not json" });
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.code).toBe("E_CONFIG");
    expect((await api("POST", "/api/system/backup", { raw: "description=x", type: "text/plain" })).status).toBe(415);
    const unknown = await api("POST", "/api/system/backup", { body: { components: ["postgres"] } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain('no source named "postgres"');
    expect((await readdir(backups)).sort()).toEqual([first]);
  });

  it("streams a download — bytes reach the client while storage is still being read — and stops reading when the client leaves", async () => {
    await writeFile(join(data, "big.bin"), randomBytes(3 << 20)); // incompressible: a 3 MiB artifact
    const id = (await box.backup()).id;
    held = { release: deferred(), aborted: false, finished: false };
    const client = new AbortController();
    const res = await fetch(`${base}/api/system/backup/${id}/download`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: client.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let received = 0;
    while (received < 128 << 10) received += (await reader.read()).value?.length ?? 0;
    // A buffering server could not have sent anything yet: storage is still paused mid-artifact.
    expect(held.finished).toBe(false);
    client.abort();
    const deadline = Date.now() + 5_000;
    while (!held.aborted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(held.aborted).toBe(true); // the disconnect reached the storage read
    expect(held.finished).toBe(false);
    held.release.resolve();
    held = undefined;
    // The server is fine, and the backup too.
    expect((await api("DELETE", `/api/system/backup/${id}`)).status).toBe(200);
    await rm(join(data, "big.bin"));
  });

  it("runs as `node src/server.ts` from the environment and exits cleanly on SIGTERM", async () => {
    const own = join(dir, "service-backups");
    const child: ChildProcess = spawn(process.execPath, ["src/server.ts"], {
      cwd: exampleDir,
      env: { ...process.env, STRONGBOX_API_TOKEN: TOKEN, PORT: "0", UPLOADS_DIR: data, BACKUP_DIR: own },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
        createInterface({ input: child.stdout! }).once("line", resolve);
      });
      const url = /listening on (http:\/\/\S+)/.exec(line)?.[1];
      expect(url, line).toBeDefined();
      const headers = { authorization: `Bearer ${TOKEN}` };
      expect((await fetch(`${url}/api/system/backups`)).status).toBe(401);
      const made = await fetch(`${url}/api/system/backup`, { method: "POST", headers });
      expect(made.status).toBe(201);
      const { backup_id } = (await made.json()) as { backup_id: string };
      await stat(join(own, backup_id, "manifest.json"));
      const list = (await (await fetch(`${url}/api/system/backups`, { headers })).json()) as { total: number };
      expect(list.total).toBe(1);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  }, 60_000);
});
