import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import pg from "pg";

/** PostgreSQL of the machine (127.0.0.1:5432, trust); each test makes its own databases. */
export const PG_BASE = process.env.STRONGBOX_TEST_PG ?? "postgres://postgres@127.0.0.1:5432";

export function pgUrl(database: string): string {
  return `${PG_BASE}/${database}`;
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(3).toString("hex")}`;
}

/** Runs one statement against the `postgres` maintenance database. */
export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: pgUrl("postgres") });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function withDb<T>(database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: pgUrl(database) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** A throwaway redis-server (nothing on disk), so FLUSHDB and restores touch nobody else's data. */
export async function startRedis(): Promise<RedisServer> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child: ChildProcess = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", "/tmp"],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      child.stdout!.on("data", (d: Buffer) => {
        if (d.toString().includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      child.once("exit", () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    child.stdout!.resume();
    if (!ok) {
      child.kill("SIGKILL");
      if (attempt < 3) continue; // the port was taken between freePort() and the bind
      throw new Error("redis-server did not start");
    }
    return {
      port,
      url: `redis://127.0.0.1:${port}`,
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      },
    };
  }
}
