import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";

/**
 * Frames a stream as multipart/form-data with one file field. The body is built around the
 * stream (never buffered), so the upload's memory does not grow with the snapshot. With a known
 * size the exact Content-Length is given too, which proxies in front of Qdrant often want.
 */
export function multipartFile(
  field: string,
  filename: string,
  file: Readable,
  size?: number,
): { body: Readable; headers: Record<string, string> } {
  const boundary = `----strongbox-${randomBytes(12).toString("hex")}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename.replace(/["\r\n]/g, "_")}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  async function* frame() {
    yield head;
    for await (const chunk of file) yield chunk as Buffer;
    yield tail;
  }
  const body = Readable.from(frame(), { objectMode: false });
  // A failure of the file stream (integrity, decryption) must abort the request, not end it.
  body.on("close", () => {
    if (!file.destroyed) file.destroy();
  });
  const headers: Record<string, string> = { "content-type": `multipart/form-data; boundary=${boundary}` };
  if (size !== undefined) headers["content-length"] = String(head.length + size + tail.length);
  return { body, headers };
}
