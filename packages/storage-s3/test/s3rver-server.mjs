// Runs s3rver for the tests in its own Node process, started by test/s3rver.ts as
//   node --openssl-legacy-provider test/s3rver-server.mjs <directory>
// The flag must be on THIS process: s3rver encrypts ListObjectsV2 continuation tokens with DES,
// which OpenSSL 3 only offers through the legacy provider (without it every truncated listing
// answers 500). Prints {"port":N} once listening; exits when its stdin closes (the test process
// ended, however it ended) or on SIGTERM.
//
// s3rver 3.7.1 lacks two S3 operations the tests need, so this file adds them on top of s3rver's
// own on-disk multipart state (<directory>/<bucket>/._S3rver_uploads/<uploadId>/{key,metadata,N}):
//   - AbortMultipartUpload  (DELETE /bucket/key?uploadId=X): removes the upload and its parts;
//   - ListMultipartUploads  (GET /bucket?uploads[&prefix=P]): lists uploads still open;
//   - ListObjectVersions    (GET /bucket?versions&prefix=P&delimiter=/): an unversioned bucket's
//     answer, as S3 gives it: each current object once, VersionId "null" (one page).
// They answer in S3's XML shapes and do not check signatures (s3rver checks every other request).
//
// s3rver also writes objects in place, so a reader can see half an object, an interrupted PUT
// leaves a truncated one, and concurrent PUTs of one key interleave. S3 guarantees the opposite
// (a PUT or CompleteMultipartUpload is all or nothing, last writer wins whole), and the contract
// tests check exactly that, so putObject is replaced by one that writes to a temporary file and
// renames it into place (data, then metadata, committed under a per-key lock).
import { createHash, randomUUID } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import S3rver from "s3rver";

const directory = process.argv[2];
if (!directory) {
  process.stderr.write("usage: s3rver-server.mjs <directory>\n");
  process.exit(2);
}

const esc = (s) => String(s).replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
const uploadsDir = (bucket) => join(directory, bucket, "._S3rver_uploads");

async function multipartShim(ctx, next) {
  const segments = ctx.path.split("/").filter(Boolean);
  const bucket = segments[0] ? decodeURIComponent(segments[0]) : undefined;
  if (ctx.method === "GET" && bucket && segments.length === 1 && "uploads" in ctx.query) {
    const prefix = typeof ctx.query.prefix === "string" ? ctx.query.prefix : "";
    const base = uploadsDir(bucket);
    const rows = [];
    for (const id of existsSync(base) ? await readdir(base) : []) {
      const key = await readFile(join(base, id, "key"), "utf8").catch(() => undefined);
      if (key === undefined || !key.startsWith(prefix)) continue;
      const initiated = (await stat(join(base, id))).birthtime.toISOString();
      rows.push(
        `<Upload><Key>${esc(key)}</Key><UploadId>${esc(id)}</UploadId><Initiated>${initiated}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`,
      );
    }
    ctx.type = "application/xml";
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${esc(bucket)}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><Prefix>${esc(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${rows.join("")}</ListMultipartUploadsResult>`;
    return;
  }
  if (ctx.method === "GET" && bucket && segments.length === 1 && "versions" in ctx.query) {
    if (!existsSync(join(directory, bucket))) {
      ctx.status = 404;
      ctx.type = "application/xml";
      ctx.body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>${esc(bucket)}</BucketName></Error>`;
      return;
    }
    const prefix = typeof ctx.query.prefix === "string" ? ctx.query.prefix : "";
    const delimiter = typeof ctx.query.delimiter === "string" ? ctx.query.delimiter : "";
    const { objects, commonPrefixes } = await server.store.listObjects(bucket, { prefix, delimiter });
    const rows = objects.map(
      (o) =>
        `<Version><Key>${esc(o.key)}</Key><VersionId>null</VersionId><IsLatest>true</IsLatest><LastModified>${o.lastModifiedDate.toISOString()}</LastModified><ETag>${esc(o.metadata.etag ?? "")}</ETag><Size>${o.size}</Size><StorageClass>STANDARD</StorageClass></Version>`,
    );
    const prefixes = commonPrefixes.map((p) => `<CommonPrefixes><Prefix>${esc(p)}</Prefix></CommonPrefixes>`);
    ctx.type = "application/xml";
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?><ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${esc(bucket)}</Name><Prefix>${esc(prefix)}</Prefix><KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>${rows.join("")}${prefixes.join("")}</ListVersionsResult>`;
    return;
  }
  if (ctx.method === "DELETE" && bucket && segments.length > 1 && typeof ctx.query.uploadId === "string") {
    const dir = join(uploadsDir(bucket), ctx.query.uploadId.replace(/[^0-9a-zA-Z]/g, ""));
    if (!existsSync(dir)) {
      ctx.status = 404;
      ctx.type = "application/xml";
      ctx.body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.</Message><UploadId>${esc(ctx.query.uploadId)}</UploadId></Error>`;
      return;
    }
    await rm(dir, { recursive: true, force: true });
    ctx.status = 204;
    return;
  }
  await next();
}

// Temporary files live next to the store (same filesystem, so rename is atomic), not inside it,
// where s3rver would take a folder for a bucket.
const tmpDir = `${directory}-tmp`;
await mkdir(tmpDir, { recursive: true });
const commits = new Map();

async function atomicPutObject(object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, "object");
  const tmp = join(tmpDir, randomUUID());
  const md5 = createHash("md5");
  let size = 0;
  const content = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
  const measure = new Transform({
    transform(chunk, _enc, cb) {
      md5.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  try {
    await pipeline(content, measure, createWriteStream(tmp));
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const digest = md5.digest("hex");
  const previous = commits.get(objectPath) ?? Promise.resolve();
  const commit = previous.then(async () => {
    await mkdir(dirname(objectPath), { recursive: true });
    await rename(tmp, objectPath);
    await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  });
  const settled = commit.catch(() => rm(tmp, { force: true }));
  commits.set(objectPath, settled);
  await commit.finally(() => {
    if (commits.get(objectPath) === settled) commits.delete(objectPath);
  });
  return { size, md5: digest };
}

const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory });
server.store.putObject = atomicPutObject;
// Koa composes `middleware` when the server starts listening, so this runs before s3rver's router.
server.middleware.unshift(multipartShim);
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);

const shutdown = () => {
  void rm(tmpDir, { recursive: true, force: true });
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.stdin.on("end", shutdown);
process.stdin.on("error", shutdown);
process.stdin.resume();
process.on("SIGTERM", shutdown);
