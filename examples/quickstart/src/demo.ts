/**
 * Strongbox quickstart — runs with no services:
 *   1. makes a sample directory (./demo-data/sample) and an age key (./demo-data/age-key.txt),
 *   2. backs the directory up to ./backups with gzip + age (public-key encryption),
 *   3. lists, verifies (decrypting and decompressing), restores into a new directory and checks
 *      that the restored tree matches the original byte for byte,
 *   4. prints what a retention prune would keep and remove, and why (a dry run).
 * STRONGBOX_DEMO_DIR moves everything elsewhere (the tests use a temp dir).
 */
import { createHash } from "node:crypto";
import { chmod, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { createStrongbox, encrypt, generateIdentity, gzip, local } from "@strongbox/core";
import { files } from "@strongbox/source-files";

const root = resolve(process.env.STRONGBOX_DEMO_DIR ?? ".");
const dataDir = join(root, "demo-data");
const sample = join(dataDir, "sample");
const backups = join(root, "backups");

async function makeSample(): Promise<void> {
  await mkdir(join(sample, "uploads", "2026"), { recursive: true });
  await mkdir(join(sample, "empty"), { recursive: true });
  await writeFile(join(sample, "README.txt"), "Sample data for the Strongbox quickstart.\n");
  await writeFile(
    join(sample, "uploads", "2026", "report.csv"),
    Array.from({ length: 5000 }, (_, i) => `${i},item-${i},${(i * 7) % 100}`).join("\n"),
  );
  await writeFile(
    join(sample, "uploads", "photo.bin"),
    createHash("sha512").update("seed").digest().toString("hex").repeat(4000),
  );
  await writeFile(join(sample, "run.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
}

async function keyPair(): Promise<{ identity: string; recipient: string }> {
  const keyFile = join(dataDir, "age-key.txt");
  try {
    const text = await readFile(keyFile, "utf8");
    const identity = text.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
    const recipient = /public key: (age1\w+)/.exec(text)![1]!;
    return { identity, recipient };
  } catch {
    const pair = generateIdentity();
    // The same layout as `age-keygen`, so `age -d -i age-key.txt` reads it.
    await writeFile(
      keyFile,
      `# created: ${new Date().toISOString()}\n# public key: ${pair.recipient}\n${pair.identity}\n`,
      { mode: 0o600 },
    );
    await chmod(keyFile, 0o600);
    return pair;
  }
}

/** path → sha256 (files), "dir" (directories) — what "the restore matches" means here. */
async function treeDigest(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    const rel = relative(dir, path);
    if (entry.isDirectory()) out[rel] = "dir";
    else if (entry.isFile())
      out[rel] = `${createHash("sha256")
        .update(await readFile(path))
        .digest("hex")} mode ${((await stat(path)).mode & 0o777).toString(8)}`;
  }
  return Object.fromEntries(Object.entries(out).sort());
}

await mkdir(dataDir, { recursive: true });
await makeSample();
const { identity, recipient } = await keyPair();

const box = createStrongbox({
  sources: [files({ name: "uploads", paths: [sample] })],
  storage: local({ directory: backups }),
  // Backups are encrypted to the PUBLIC key: this host could make them without being able to read
  // them. The identity is given here only because the demo also restores.
  transforms: [gzip(), encrypt({ recipients: [recipient], identities: [identity] })],
  retention: { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 12 },
});
box.on("warning", (w) => console.warn(`warning: ${w.message}`));

console.log(`Backing up ${sample}\n        to ${backups} (gzip + age)`);
const manifest = await box.backup({ tags: ["demo"] });
for (const c of manifest.components) {
  for (const a of c.artifacts)
    console.log(`  ${a.key}  ${a.plainSize} bytes → ${a.size} stored  sha256 ${a.sha256.slice(0, 16)}…`);
}

console.log("\nBackups in storage:");
for (const b of await box.list())
  console.log(
    `  ${b.id}  ${b.time.toISOString()}  ${b.size} bytes  [${b.components.join(", ")}]${b.tags.length ? `  tags: ${b.tags.join(", ")}` : ""}`,
  );

const verified = await box.verify(manifest.id, { mode: "decode" });
console.log(`\nVerify (decrypt + decompress + sha256): ${verified.ok ? "OK" : "FAILED"}`);
if (!verified.ok) process.exit(1);

const restoredDir = join(dataDir, `restored-${manifest.id}`);
await box.restore(manifest.id, { targets: { uploads: { directory: restoredDir } } });
const same = JSON.stringify(await treeDigest(sample)) === JSON.stringify(await treeDigest(restoredDir));
console.log(`Restored into ${restoredDir}: ${same ? "matches the original" : "DIFFERS from the original"}`);
if (!same) process.exit(1);

const plan = await box.prune({ dryRun: true });
console.log("\nRetention (dry run, nothing deleted):");
for (const s of plan.storages) {
  for (const k of s.plan.keep) console.log(`  keep    ${k.id}  ${k.reasons.join(", ")}`);
  for (const r of s.plan.remove) console.log(`  remove  ${r.id}  ${r.reasons.join(", ")}`);
}

const artifact = manifest.components[0]!.artifacts[0]!;
console.log(
  `\nRestore without Strongbox, with standard tools:\n  age -d -i ${join(dataDir, "age-key.txt")} ${join(backups, artifact.key)} | tar -xzf - -C /some/dir`,
);
await box.close();
