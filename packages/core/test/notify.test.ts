import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  createStrongbox,
  isStrongboxError,
  local,
  type NotificationEvent,
  type Notifier,
  registerSecret,
  type Schedule,
  type Source,
  StrongboxError,
  type StrongboxOptions,
  silentLogger,
  slack,
  webhook,
} from "../src/index.js";
import { MemoryStore, memorySource } from "./fixtures/memory-source.js";

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  raw: string;
}

/** A local webhook receiver. `mode` decides how it answers: 204, 500, or never. */
async function receiver(mode: "ok" | "fail" | "hang" = "ok") {
  const received: Received[] = [];
  const hanging: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (d) => {
      raw += d;
    });
    req.on("end", () => {
      received.push({ path: req.url ?? "", headers: req.headers, body: JSON.parse(raw), raw });
      if (mode === "hang") hanging.push(res);
      else if (mode === "fail") res.writeHead(500).end("boom");
      else res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closers.push(async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { base, received };
}

let closers: Array<() => Promise<void>> = [];
let dirs: string[] = [];
let schedules: Schedule[] = [];
afterEach(async () => {
  await Promise.all(schedules.map((s) => s.stop({ abort: true })));
  schedules = [];
  await Promise.all(closers.map((c) => c()));
  closers = [];
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  dirs = [];
});

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A source that fails its preflight with `message` while `down.value` is true. */
function flaky(message: string) {
  const store = new MemoryStore();
  store.get().set("alpha", randomBytes(10_000));
  const down = { value: false };
  const source: Source = {
    ...memorySource(store),
    async check() {
      if (down.value) throw new StrongboxError("E_SOURCE", message, { adapter: "memory" });
    },
  };
  return { source, down };
}

async function makeBox(
  notifiers: Notifier[],
  message = "memory store is unreachable",
  extra: Partial<StrongboxOptions> = {},
) {
  const dir = await mkdtemp(join(tmpdir(), "strongbox-notify-"));
  dirs.push(dir);
  const { source, down } = flaky(message);
  const box = createStrongbox({
    sources: [source],
    storage: local({ directory: dir }),
    logger: silentLogger,
    notifiers,
    ...extra,
  });
  const warnings: string[] = [];
  box.on("warning", (w) => warnings.push(w.message));
  return { box, down, warnings, dir };
}

describe("webhook()", () => {
  it("posts failures only by default, as a JSON notification", async () => {
    const hook = await receiver();
    const { box, down } = await makeBox([webhook({ url: `${hook.base}/hooks/backup`, headers: { "x-team": "ops" } })]);
    await box.backup();
    down.value = true;
    const err = await box.backup().catch((e: unknown) => e);
    expect(isStrongboxError(err, "E_SOURCE")).toBe(true);
    await until(() => hook.received.length >= 1);
    await pause(100);
    expect(hook.received).toHaveLength(1);
    const { path, headers, body } = hook.received[0]!;
    expect(path).toBe("/hooks/backup");
    expect(headers["content-type"]).toBe("application/json");
    expect(headers["x-team"]).toBe("ops");
    const event = body as unknown as NotificationEvent;
    expect(event).toMatchObject({
      source: "strongbox",
      type: "backup:failed",
      severity: "error",
      error: { code: "E_SOURCE" },
    });
    expect(event.backupId).toMatch(/^\d{8}T\d{6}Z-[a-z2-7]{6}$/);
    expect(event.summary).toContain("memory store is unreachable");
    expect(event.error!.message).toContain("memory store is unreachable");
    expect(Date.now() - Date.parse(event.time)).toBeLessThan(10_000);
    expect(typeof event.host).toBe("string");
  });

  it('sends successes too with events: "all", and only the listed ones otherwise', async () => {
    const all = await receiver();
    const some = await receiver();
    const { box } = await makeBox([
      webhook({ url: all.base, events: "all" }),
      webhook({ url: some.base, events: ["prune:completed"] }),
    ]);
    const m = await box.backup();
    await box.prune();
    await until(() => all.received.length >= 2 && some.received.length >= 1);
    await pause(50);
    expect(all.received.map((r) => r.body.type)).toEqual(["backup:completed", "prune:completed"]);
    const ok = all.received[0]!.body as unknown as NotificationEvent;
    expect(ok).toMatchObject({ severity: "info", backupId: m.id, components: ["memory"] });
    expect(ok.details?.size).toBe(m.components[0]!.artifacts[0]!.size);
    expect(some.received.map((r) => r.body.type)).toEqual(["prune:completed"]);
  });

  it("never puts a secret in the payload", async () => {
    const hook = await receiver();
    registerSecret("hunter2-notify-secret");
    const { box, down } = await makeBox(
      [webhook({ url: hook.base, events: "all" })],
      "cannot connect to postgres://app:pa55word@db.internal/app (password hunter2-notify-secret rejected)",
    );
    down.value = true;
    await box.backup().catch(() => undefined);
    await until(() => hook.received.length >= 1);
    const raw = hook.received[0]!.raw;
    expect(raw).toContain("db.internal");
    expect(raw).not.toContain("pa55word");
    expect(raw).not.toContain("hunter2-notify-secret");
  });

  it("a failing webhook never fails the backup: it becomes a warning", async () => {
    const hook = await receiver("fail");
    const { box, down, warnings } = await makeBox([webhook({ url: `${hook.base}/t/abc`, events: "all" })]);
    const m = await box.backup();
    expect(m.id).toBeDefined();
    down.value = true;
    await expect(box.backup()).rejects.toMatchObject({ code: "E_SOURCE" });
    await until(() => warnings.length >= 2);
    expect(warnings[0]).toContain('notifier "webhook" could not deliver');
    expect(warnings[0]).toContain("HTTP 500");
    expect(warnings.join("\n")).not.toContain("/t/abc");
  });

  it("a hanging webhook neither delays nor fails the backup; it times out into a warning", async () => {
    const hook = await receiver("hang");
    const { box, warnings } = await makeBox([webhook({ url: hook.base, events: "all", timeoutMs: 1000 })]);
    const t0 = Date.now();
    await box.backup();
    const backupMs = Date.now() - t0;
    // The backup resolved while the webhook was still hanging, well before the timeout.
    expect(warnings).toEqual([]);
    expect(backupMs).toBeLessThan(1000);
    await until(() => hook.received.length === 1);
    await until(() => warnings.length === 1, 4000);
    expect(warnings[0]).toContain("no answer within 1000 ms");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
  });

  it("custom notifiers that throw or reject are contained too", async () => {
    const thrower: Notifier = {
      name: "thrower",
      events: "all",
      notify() {
        throw new Error("sync boom");
      },
    };
    const rejecter: Notifier = {
      name: "rejecter",
      events: "all",
      notify: async () => Promise.reject(new Error("async boom")),
    };
    const { box, warnings } = await makeBox([thrower, rejecter]);
    await box.backup();
    await until(() => warnings.length >= 2);
    expect(warnings.some((w) => w.includes('"thrower"') && w.includes("sync boom"))).toBe(true);
    expect(warnings.some((w) => w.includes('"rejecter"') && w.includes("async boom"))).toBe(true);
  });

  it("rejects bad options with E_CONFIG", () => {
    expect(() => webhook({ url: "ftp://x" })).toThrow(/url/);
    expect(() => webhook({ url: "http://x", events: ["backup:exploded" as never] })).toThrow(/unknown event/);
    expect(() => webhook({ url: "http://x", timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => slack({ webhookUrl: "" })).toThrow(/webhookUrl/);
    expect(() =>
      createStrongbox({
        sources: [],
        storage: local({ directory: tmpdir() }),
        notifiers: [{ name: "x" } as never],
      }),
    ).toThrow(/notify\(\)/);
  });
});

describe("slack()", () => {
  it("posts a Slack message ({ text, blocks }) and keeps the webhook URL secret", async () => {
    const hook = await receiver();
    const url = `${hook.base}/services/T000/B000/XXXXsecretXXXX`;
    const { box, down } = await makeBox([slack({ webhookUrl: url })]);
    down.value = true;
    await box.backup().catch(() => undefined);
    await until(() => hook.received.length === 1);
    const msg = hook.received[0]!.body as { text: string; blocks: Array<Record<string, unknown>> };
    expect(msg.text).toMatch(/^:red_circle: Strongbox on .+: backup \S+ failed: /);
    expect(msg.blocks[0]).toMatchObject({ type: "section", text: { type: "mrkdwn" } });
    expect(msg.blocks[1]).toMatchObject({ type: "context" });
    expect(JSON.stringify(msg.blocks[1])).toContain("E_SOURCE");
    // The URL is registered as a secret: a message that quotes it is masked.
    expect(new StrongboxError("E_CONFIG", `bad hook ${url}`).message).not.toContain("XXXXsecretXXXX");
  });

  it("a failing Slack endpoint is a warning that does not show the URL", async () => {
    const hook = await receiver("fail");
    const url = `${hook.base}/services/T111/B111/YYYYsecretYYYY`;
    const { box, down, warnings } = await makeBox([slack({ webhookUrl: url })]);
    down.value = true;
    await box.backup().catch(() => undefined);
    await until(() => warnings.length === 1);
    expect(warnings[0]).toContain('"slack"');
    expect(warnings[0]).toContain("HTTP 500");
    expect(warnings[0]).not.toContain("YYYYsecretYYYY");
  });
});

describe("notifications from the scheduler", () => {
  it("a scheduled run failing after retries raises one alert (schedule:run-failed), not one per attempt", async () => {
    const hook = await receiver();
    const { box, down } = await makeBox([webhook({ url: hook.base })]);
    down.value = true;
    const s = box.schedule({ cron: "0 0 1 1 *", catchUp: false, retries: 2, retryDelay: 10 });
    schedules.push(s);
    const r = await s.runNow();
    expect(r.status).toBe("failed");
    expect(r.attempts).toBe(3);
    await s.stop(); // waits for pending deliveries
    expect(hook.received.map((x) => x.body.type)).toEqual(["schedule:run-failed"]);
    const event = hook.received[0]!.body as unknown as NotificationEvent;
    expect(event.summary).toContain("after 3 attempts");
    expect(event.details).toMatchObject({ attempts: 3, trigger: "manual" });
    // A manual backup failure still alerts on its own.
    await box.backup().catch(() => undefined);
    await until(() => hook.received.length === 2);
    expect(hook.received[1]!.body.type).toBe("backup:failed");
  });

  it("a notifier subscribed to backup:failed only still hears about scheduled backups", async () => {
    const hook = await receiver();
    const { box, down } = await makeBox([webhook({ url: hook.base, events: ["backup:failed"] })]);
    down.value = true;
    const s = box.schedule({ cron: "0 0 1 1 *", catchUp: false, retries: 0 });
    schedules.push(s);
    await s.runNow();
    await s.stop();
    expect(hook.received.map((x) => x.body.type)).toEqual(["backup:failed"]);
  });

  it('sends schedule:run-completed with events: "all"', async () => {
    const hook = await receiver();
    const { box } = await makeBox([webhook({ url: hook.base, events: "all" })], undefined, {
      retention: { keepLast: 5 },
    });
    const s = box.schedule({ cron: "0 0 1 1 *", catchUp: false, verify: "checksum", prune: true });
    schedules.push(s);
    const r = await s.runNow();
    await s.stop();
    const types = hook.received.map((x) => x.body.type);
    // The scheduled backup's own completion gives way to the run's.
    expect(types).toEqual(["verify:completed", "prune:completed", "schedule:run-completed"]);
    const done = hook.received[2]!.body as unknown as NotificationEvent;
    expect(done.backupId).toBe(r.backupId);
    expect(done.summary).toContain("verified (checksum)");
    expect(done.details).toMatchObject({ verified: true, verifyMode: "checksum", pruned: [] });
  });
});
