import { createHash } from "node:crypto";
import * as tar from "tar-stream";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nativeClient, readCollection, seedCollections } from "./helpers.js";
import { type StandIn, startStandIn } from "./stand-in/server.js";

// The stand-in must behave like Qdrant where the adapter depends on it: these tests pin that down
// with the official client and raw HTTP, so the adapter's tests prove something.
describe("Qdrant stand-in speaks the REST API", () => {
  let s: StandIn;
  beforeAll(async () => {
    s = await startStandIn({ version: "1.12.4" });
  });
  afterAll(() => s.close());

  async function snapshotFile(collection: string): Promise<{ file: Buffer; checksum: string; name: string }> {
    const client = nativeClient(s.url);
    const d = await client.createSnapshot(collection, { wait: true });
    const res = await request(`${s.url}/collections/${collection}/snapshots/${d!.name}`);
    const file = Buffer.from(await res.body.arrayBuffer());
    return { file, checksum: d!.checksum!, name: d!.name };
  }

  function multipart(field: string, data: Buffer): { body: Buffer; headers: Record<string, string> } {
    const b = "XyZbOuNdArY";
    const body = Buffer.concat([
      Buffer.from(
        `--${b}\r\nContent-Disposition: form-data; name="${field}"; filename="x.snapshot"\r\nContent-Type: application/octet-stream\r\n\r\n`,
      ),
      data,
      Buffer.from(`\r\n--${b}--\r\n`),
    ]);
    return { body, headers: { "content-type": `multipart/form-data; boundary=${b}` } };
  }

  async function upload(collection: string, field: string, data: Buffer, checksum?: string) {
    const { body, headers } = multipart(field, data);
    const q = new URLSearchParams({ priority: "snapshot", wait: "true", ...(checksum ? { checksum } : {}) });
    const res = await request(`${s.url}/collections/${collection}/snapshots/upload?${q}`, {
      method: "POST",
      body,
      headers,
    });
    return {
      status: res.statusCode,
      json: (await res.body.json()) as { result?: unknown; status: unknown; time: number },
    };
  }

  it("serves the official client: create, upsert, scroll, count, info, root version", async () => {
    const client = nativeClient(s.url);
    await seedCollections(client, [
      { name: "a", dim: 4, points: 250 },
      { name: "b", dim: 3, points: 7, named: true, uuids: true },
    ]);
    expect((await client.getCollections()).collections.map((c) => c.name).sort()).toEqual(["a", "b"]);
    expect((await client.count("a", { exact: true })).count).toBe(250);
    const a = (await readCollection(client, "a")) as { points: Array<{ id: number }> };
    expect(a.points).toHaveLength(250);
    expect(a.points[0]).toMatchObject({ id: 1, payload: { title: "a #0" } });
    expect((await client.getCollection("b")).status).toBe("green");
    expect((await client.versionInfo()).version).toBe("1.12.4");
    await expect(client.upsert("a", { wait: true, points: [{ id: 1, vector: [1, 2] }] })).rejects.toThrow();
  });

  it("snapshots are real tar files whose sha256 is the reported checksum", async () => {
    const { file, checksum, name } = await snapshotFile("a");
    expect(createHash("sha256").update(file).digest("hex")).toBe(checksum);
    const names: string[] = [];
    const extract = tar.extract();
    const done = (async () => {
      for await (const entry of extract) {
        names.push(entry.header.name);
        entry.resume();
      }
    })();
    extract.end(file);
    await done;
    expect(names).toEqual(["qdrant-stand-in.json", "config.json", "points.json"]);
    const list = await nativeClient(s.url).listSnapshots("a");
    expect(list.map((d) => d.name)).toContain(name);
    expect(await nativeClient(s.url).deleteSnapshot("a", name)).toBe(true);
  });

  it("answers 404 with Qdrant's error body for an unknown collection", async () => {
    const res = await request(`${s.url}/collections/nope/snapshots/x.snapshot`);
    expect(res.statusCode).toBe(404);
    const body = (await res.body.json()) as { status: { error: string } };
    expect(body.status.error).toMatch(/Collection `nope` doesn't exist/);
  });

  it("upload: rejects a missing snapshot field, a bad checksum and a non-tar file with 400; recovers a good file", async () => {
    const client = nativeClient(s.url);
    const { file, checksum } = await snapshotFile("a");
    const before = await readCollection(client, "b");

    const missing = await upload("b", "file", file);
    expect(missing.status).toBe(400);
    expect(missing.json.status).toMatchObject({ error: expect.stringMatching(/snapshot/) });

    const wrong = await upload("b", "snapshot", file, "0".repeat(64));
    expect(wrong.status).toBe(400);
    expect(JSON.stringify(wrong.json)).toMatch(/checksum mismatch/);

    const junk = await upload("b", "snapshot", Buffer.from("this is not a tar file at all".repeat(40)));
    expect(junk.status).toBe(400);
    expect(await readCollection(client, "b"), "rejected uploads leave the collection alone").toEqual(before);

    const good = await upload("copy", "snapshot", file, checksum);
    expect(good.status).toBe(200);
    expect(good.json).toMatchObject({ result: true, status: "ok" });
    expect(await readCollection(client, "copy")).toEqual(await readCollection(client, "a"));
  });

  it("checks the api-key when one is configured", async () => {
    const locked = await startStandIn({ apiKey: "s3cret-key" });
    try {
      const res = await request(`${locked.url}/collections`);
      expect(res.statusCode).toBe(401);
      await res.body.text();
      const root = await request(`${locked.url}/`);
      expect(root.statusCode, "the root is open, as on Qdrant").toBe(200);
      await root.body.text();
      expect((await nativeClient(locked.url, "s3cret-key").getCollections()).collections).toEqual([]);
    } finally {
      await locked.close();
    }
  });
});
