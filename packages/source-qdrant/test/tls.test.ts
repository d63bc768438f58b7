import { execFile, execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { isStrongboxError } from "@strongbox/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { qdrant } from "../src/index.js";
import { opContext } from "./helpers.js";
import { type StandIn, startStandIn } from "./stand-in/server.js";

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const openssl = hasOpenssl();
if (!openssl) console.warn("[source-qdrant] TLS test skipped: the `openssl` CLI is needed to make a test certificate");

describe.skipIf(!openssl)("TLS options reach undici (https stand-in with a private CA)", () => {
  let dir: string;
  let server: StandIn;
  let cert: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "strongbox-qdrant-tls-"));
    await promisify(execFile)("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ]);
    cert = await readFile(join(dir, "cert.pem"), "utf8");
    server = await startStandIn({ tls: { key: await readFile(join(dir, "key.pem"), "utf8"), cert } });
  });
  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("refuses an untrusted certificate without retrying, and works with tls.ca", async () => {
    const untrusted = qdrant({ url: server.url, retryDelayMs: 500 });
    const t0 = Date.now();
    const err = await untrusted.check!(opContext()).catch((e) => e);
    expect(isStrongboxError(err, "E_SOURCE"), String(err)).toBe(true);
    expect(err.message).toMatch(/certificate/i);
    expect(Date.now() - t0).toBeLessThan(400);
    await untrusted.close?.();

    const trusted = qdrant({ url: server.url, tls: { ca: cert } });
    await expect(trusted.check!(opContext())).resolves.toBeUndefined();
    const stats = await trusted.inspect!(opContext());
    expect(stats.version).toBe(server.version);
    await trusted.close?.();
  });
});
