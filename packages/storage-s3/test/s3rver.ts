import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3";
import { type S3StorageOptions, s3 } from "@strongbox/storage-s3";

export const CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export interface S3rverHandle {
  endpoint: string;
  directory: string;
  stop(): Promise<void>;
}

/** Starts s3rver in a child Node process with --openssl-legacy-provider (see s3rver-server.mjs). */
export async function startS3rver(): Promise<S3rverHandle> {
  const directory = await mkdtemp(join(tmpdir(), "strongbox-s3rver-"));
  const script = fileURLToPath(new URL("./s3rver-server.mjs", import.meta.url));
  const child: ChildProcess = spawn(process.execPath, ["--openssl-legacy-provider", script, directory], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("s3rver did not start within 20 s")), 20_000);
    child.once("exit", (code) => reject(new Error(`s3rver exited with ${code}`)));
    createInterface({ input: child.stdout! }).once("line", (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    directory,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
      await rm(`${directory}-tmp`, { recursive: true, force: true });
    },
  };
}

/** A raw SDK client (the native client the tests check results with). */
export function rawClient(endpoint: string, extra: Partial<ConstructorParameters<typeof S3Client>[0]> = {}): S3Client {
  return new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: CREDENTIALS,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    ...extra,
  });
}

export async function createBucket(client: S3Client, bucket: string): Promise<void> {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
}

/** Options for an s3() storage on s3rver. */
export function s3rverOptions(
  endpoint: string,
  bucket: string,
  extra: Partial<S3StorageOptions> = {},
): S3StorageOptions {
  return {
    bucket,
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: CREDENTIALS,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    ...extra,
  };
}

export function s3rverStorage(endpoint: string, bucket: string, extra: Partial<S3StorageOptions> = {}) {
  return s3(s3rverOptions(endpoint, bucket, extra));
}

/** Reads an object with the raw client; `undefined` when missing. */
export async function readNative(client: S3Client, bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await out.Body!.transformToByteArray());
  } catch (err) {
    if ((err as { name?: string }).name === "NoSuchKey") return undefined;
    throw err;
  }
}

/** Multipart uploads still open, through S3's ListMultipartUploads. */
export async function openUploads(client: S3Client, bucket: string): Promise<string[]> {
  const out = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (out.Uploads ?? []).map((u) => `${u.Key}#${u.UploadId}`);
}

/** Multipart uploads still on s3rver's disk (parts included), independent of the S3 API. */
export async function uploadsOnDisk(directory: string, bucket: string): Promise<string[]> {
  return readdir(join(directory, bucket, "._S3rver_uploads")).catch(() => []);
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Status s3rver (or the injected fault) answered with, once known. */
  status?: number;
}

/**
 * What the fault proxy does with one request: pass it on, reset the connection, or answer with
 * an S3 error document (`InternalError` 500, `SlowDown` 503, `AccessDenied` 403…).
 */
export type Fault = "pass" | "reset" | { status: number; code: string; message?: string };
export const INTERNAL_ERROR: Fault = {
  status: 500,
  code: "InternalError",
  message: "We encountered an internal error.",
};
export const SLOW_DOWN: Fault = { status: 503, code: "SlowDown", message: "Please reduce your request rate." };

export interface FaultProxy {
  endpoint: string;
  seen: SeenRequest[];
  /** Decides per request; called with the running count of requests seen (1-based). */
  fault: (req: SeenRequest, n: number) => Fault;
  close(): Promise<void>;
}

/**
 * A tiny HTTP proxy in front of s3rver that can fail chosen requests the way real networks and
 * S3 do: a 500/503 with an S3 error body, or a connection reset. It streams bodies both ways.
 */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const url = new URL(target);
  const proxy: FaultProxy = { endpoint: "", seen: [], fault: () => "pass", close: async () => {} };
  const server: Server = createServer((req, res) => {
    const seen: SeenRequest = { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers };
    proxy.seen.push(seen);
    const fault = proxy.fault(seen, proxy.seen.length);
    if (fault === "reset") {
      req.socket.destroy();
      return;
    }
    if (fault !== "pass") {
      req.resume();
      req.on("end", () => {
        seen.status = fault.status;
        res.writeHead(fault.status, { "content-type": "application/xml" });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code><Message>${fault.message ?? ""}</Message><RequestId>TESTPROXY</RequestId></Error>`,
        );
      });
      return;
    }
    const upstream = request(
      { host: url.hostname, port: url.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        seen.status = up.statusCode;
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return proxy;
}
