/**
 * encrypt() inside the manager: backups made with [gzip(), encrypt({ recipients })] are standard
 * files that `age -d | gunzip` reads, restores need the identity, and no secret reaches a manifest.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStrongbox, encrypt, generateIdentity, gzip, local, silentLogger } from "../src/index.js";
import { MemoryStore, memorySource } from "./fixtures/memory-source.js";

const haveAge = spawnSync("age", ["--version"]).status === 0;
if (!haveAge)
  console.warn("age manager tests: the `age -d | gunzip` check is skipped: `age` not on PATH (apt-get install -y age)");

describe("encrypt() in createStrongbox", () => {
  let dir: string;
  const { identity, recipient } = generateIdentity();
  const data = {
    "data.bin": randomBytes(300_000),
    "notes.txt": Buffer.from("hello\n".repeat(50_000)),
    empty: Buffer.alloc(0),
  };
  const store = new MemoryStore();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "strongbox-age-manager-"));
    for (const [k, v] of Object.entries(data)) store.get().set(k, v);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const box = (transforms: ReturnType<typeof encrypt>) =>
    createStrongbox({
      sources: [memorySource(store)],
      storage: local({ directory: join(dir, "backups") }),
      transforms: [gzip(), transforms],
      logger: silentLogger,
    });

  it("backs up with the public key only; age -d | gunzip reads every artifact; the identity restores", async () => {
    const writer = box(encrypt({ recipients: [recipient] }));
    const manifest = await writer.backup();
    const json = JSON.stringify(manifest);
    expect(json).not.toContain(identity);
    const artifacts = manifest.components[0]!.artifacts;
    expect(artifacts).toHaveLength(3);
    for (const a of artifacts) {
      expect(a.key).toMatch(/\.gz\.age$/);
      expect(a.transforms).toEqual([
        expect.objectContaining({ id: "gzip" }),
        { id: "age", recipients: [recipient], passphrase: false },
      ]);
      const stored = readFileSync(join(dir, "backups", ...a.key.split("/")));
      expect(stored.subarray(0, 22).toString()).toBe("age-encryption.org/v1\n");
      if (haveAge) {
        const keyFile = join(dir, "key.txt");
        writeFileSync(keyFile, `${identity}\n`, { mode: 0o600 });
        const plain = execFileSync("sh", ["-c", 'age -d -i "$1" | gunzip -c', "sh", keyFile], {
          input: stored,
          maxBuffer: 1 << 28,
        });
        expect(plain.equals(data[a.name as keyof typeof data])).toBe(true);
      }
    }

    // The backup host cannot read its own backups.
    const blind = await writer.verify(manifest.id, { mode: "decode" });
    expect(blind.ok).toBe(false);

    const reader = box(encrypt({ identities: [identity] }));
    expect((await reader.verify(manifest.id, { mode: "decode" })).ok).toBe(true);
    store.get().set("data.bin", Buffer.from("overwritten"));
    store.get().delete("notes.txt");
    // A decode-only box cannot take the safety backup (that needs encoding): restore without one.
    await reader.restore(manifest.id, { force: true, safetyBackup: false });
    for (const [k, v] of Object.entries(data)) expect(store.get().get(k)?.equals(v), k).toBe(true);

    // A restore host that holds both keys also gets the default safety backup.
    const full = box(encrypt({ recipients: [recipient], identities: [identity] }));
    store.get().set("data.bin", Buffer.from("overwritten again"));
    await full.restore(manifest.id, { force: true });
    for (const [k, v] of Object.entries(data)) expect(store.get().get(k)?.equals(v), k).toBe(true);

    // A wrong identity fails the restore and leaves the data as it was.
    const wrong = box(encrypt({ identities: [generateIdentity().identity] }));
    store.get().set("data.bin", Buffer.from("current"));
    await expect(wrong.restore(manifest.id, { force: true, safetyBackup: false })).rejects.toMatchObject({
      code: "E_DECRYPT",
    });
    expect(store.get().get("data.bin")?.toString()).toBe("current");
  });

  it("passphrase backups restore with the passphrase, which never reaches the manifest", async () => {
    const passphrase = "manager passphrase 7";
    const t = encrypt({ passphrase, workFactor: 10 });
    const b = box(t);
    store.get().set("data.bin", data["data.bin"]);
    const manifest = await b.backup();
    expect(JSON.stringify(manifest)).not.toContain(passphrase);
    expect(manifest.components[0]!.artifacts[0]!.transforms[1]).toEqual({
      id: "age",
      recipients: [],
      passphrase: true,
    });
    expect((await b.verify(manifest.id, { mode: "decode" })).ok).toBe(true);
  });
});
