#!/usr/bin/env node
/**
 * List benchmark: createStrongbox().list() over many backups on s3rver, counting the S3 requests
 * it makes. Target: the ListObjectsV2 pages only (1000 keys a page) — no GetObject of manifests,
 * no HeadObject per backup.
 *
 * Each seeded backup has the keys a real one has: `{id}/manifest.json` and one artifact
 * `{id}/db/app.dump.gz.age`; every 10th also a tag marker `{id}/tags/weekly`.
 * s3rver runs in its own process with --openssl-legacy-provider (it encrypts continuation tokens
 * with DES), using packages/storage-s3/test/s3rver-server.mjs.
 *
 * Environment:
 *   BENCH_LIST_BACKUPS  number of backups     default 10000
 *   BENCH_LIST_REPEAT   timed list() calls    default 3
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { envNumber, loadPackage, printTable, root, spread, writeResult } from "../lib/common.mjs";

const count = envNumber("BENCH_LIST_BACKUPS", 10_000);
const repeat = envNumber("BENCH_LIST_REPEAT", 3);
const { createStrongbox, newBackupId, silentLogger } = await loadPackage("core");
const { s3 } = await loadPackage("storage-s3");

const directory = await mkdtemp(join(tmpdir(), "strongbox-bench-s3rver-"));
const server = spawn(
  process.execPath,
  ["--openssl-legacy-provider", join(root, "packages/storage-s3/test/s3rver-server.mjs"), directory],
  { stdio: ["pipe", "pipe", "inherit"] },
);
try {
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("s3rver did not start within 20 s")), 20_000);
    server.once("exit", (code) => reject(new Error(`s3rver exited with ${code}`)));
    createInterface({ input: server.stdout }).once("line", (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line).port);
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const requests = new Map();
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  // Every command the storage sends, by name: what list() costs in requests.
  client.middlewareStack.add(
    (next, context) => (args) => {
      requests.set(context.commandName, (requests.get(context.commandName) ?? 0) + 1);
      return next(args);
    },
    { step: "initialize", name: "benchRequestCounter" },
  );
  const bucket = "bench";
  await client.send(new CreateBucketCommand({ Bucket: bucket }));

  const seedStarted = performance.now();
  const start = Date.UTC(2025, 0, 1);
  const keys = [];
  for (let i = 0; i < count; i++) {
    const id = newBackupId(new Date(start + i * 3_600_000));
    keys.push(`${id}/db/app.dump.gz.age`, `${id}/manifest.json`);
    if (i % 10 === 0) keys.push(`${id}/tags/weekly`);
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < keys.length) {
        const key = keys[next++];
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key.endsWith(".json") ? "{}" : "x" }));
      }
    }),
  );
  const seedMs = performance.now() - seedStarted;
  console.log(`list: seeded ${count} backups (${keys.length} keys) in ${(seedMs / 1000).toFixed(1)} s`);

  const box = createStrongbox({ sources: [], storage: s3({ bucket, client }), logger: silentLogger });
  const times = [];
  let perCall;
  let listed;
  for (let i = 0; i < repeat; i++) {
    requests.clear();
    const t = performance.now();
    listed = await box.list();
    times.push(performance.now() - t);
    perCall = Object.fromEntries(requests);
  }
  if (listed.length !== count) throw new Error(`list() returned ${listed.length} backups, expected ${count}`);
  const pages = Math.ceil(keys.length / 1000);
  const total = Object.values(perCall).reduce((a, b) => a + b, 0);
  const s = spread(times);
  const rows = [
    {
      backups: count,
      keys: keys.length,
      "median ms": s.median.toFixed(0),
      "min–max ms": `${s.min.toFixed(0)}–${s.max.toFixed(0)}`,
      requests: total,
      "by command": Object.entries(perCall)
        .map(([k, v]) => `${k.replace(/Command$/, "")} ${v}`)
        .join(", "),
      "list pages needed": pages,
      "target met": total === pages && Object.keys(perCall).every((k) => k === "ListObjectsV2Command") ? "yes" : "NO",
    },
  ];
  printTable(`list — createStrongbox().list() on s3rver, ${repeat} calls`, rows);
  await writeResult("list", { count, keys: keys.length, repeat, seedMs, rows, times: s, requests: perCall });
} finally {
  server.kill("SIGTERM");
  await new Promise((resolve) => (server.exitCode === null ? server.once("exit", resolve) : resolve()));
  await rm(directory, { recursive: true, force: true });
  await rm(`${directory}-tmp`, { recursive: true, force: true });
}
