import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";

const run = promisify(execFile);

export interface TestServer {
  port: number;
  url: string;
  dir: string;
  process: ChildProcess;
  /** A fresh raw ioredis client (closed by stop()). */
  client(db?: number, password?: string): Redis;
  stop(): Promise<void>;
}

/** A free TCP port (and, for cluster nodes, port + 10000 for the cluster bus). */
export async function freePort(withBus = false): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    if ((await isFree(port)) && (!withBus || (await isFree(port + 10000)))) return port;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** Starts a throwaway redis-server in the foreground on a random loopback port; killed by stop(). */
export async function startRedis(extra: string[] = [], opts: { cluster?: boolean } = {}): Promise<TestServer> {
  const port = await freePort(opts.cluster);
  const dir = mkdtempSync(join(tmpdir(), "sb-redis-"));
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
    "--repl-diskless-sync-delay",
    "0",
    ...extra,
  ];
  if (opts.cluster) args.push("--cluster-enabled", "yes", "--cluster-config-file", join(dir, "nodes.conf"));
  const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out = (out + d.toString()).slice(-4000);
  });
  const clients: Redis[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server on ${port} did not start: ${out}`)), 10_000);
    const onData = () => {
      if (out.includes("Ready to accept connections")) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited ${code}: ${out}`));
    });
  });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    process: child,
    client(db = 0, password?: string) {
      const c = new Redis({
        port,
        host: "127.0.0.1",
        db,
        password,
        maxRetriesPerRequest: 1,
        retryStrategy: () => null,
      });
      c.on("error", () => {});
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.disconnect();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGKILL");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestCluster {
  nodes: TestServer[];
  stop(): Promise<void>;
}

/** Three masters, no replicas, created with redis-cli --cluster create. */
export async function startCluster(): Promise<TestCluster> {
  const nodes: TestServer[] = [];
  try {
    for (let i = 0; i < 3; i++) nodes.push(await startRedis([], { cluster: true }));
    await run(
      "redis-cli",
      ["--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`), "--cluster-replicas", "0", "--cluster-yes"],
      { timeout: 30_000 },
    );
    const deadline = Date.now() + 20_000;
    for (const n of nodes) {
      const c = n.client();
      for (;;) {
        const info = String(await c.cluster("INFO"));
        if (info.includes("cluster_state:ok")) break;
        if (Date.now() > deadline) throw new Error(`cluster did not become ok: ${info}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return { nodes, stop: async () => void (await Promise.all(nodes.map((n) => n.stop()))) };
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
}

/** A Sentinel watching `masterPort` as "mymaster" (redis-server --sentinel needs a writable config file). */
export async function startSentinel(masterPort: number): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sb-sentinel-"));
  const conf = join(dir, "sentinel.conf");
  writeFileSync(
    conf,
    `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor mymaster 127.0.0.1 ${masterPort} 1\n`,
  );
  const child = spawn("redis-server", [conf, "--sentinel"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sentinel did not start: ${out}`)), 10_000);
    child.stdout?.on("data", (d: Buffer) => {
      out = (out + d.toString()).slice(-4000);
      if (out.includes("+monitor master mymaster")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`sentinel exited ${code}: ${out}`));
    });
  });
  return {
    port,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGKILL");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
