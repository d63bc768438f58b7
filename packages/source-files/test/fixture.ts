import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, lutimes, mkdir, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export const LONG_NAME = `${"long-directory-name-".repeat(4)}/${"a-very-long-file-name-".repeat(6)}.txt`;
export const UNICODE_DIR = "ünïcødé";
export const UNICODE_FILE = "文件 ✓.txt";

/** Writes `bytes` of pseudo-random data in 1 MiB blocks (never the whole file in memory). */
export async function writeBig(path: string, bytes: number): Promise<void> {
  const block = randomBytes(1024 * 1024);
  async function* gen() {
    let left = bytes;
    let i = 0;
    while (left > 0) {
      const n = Math.min(left, block.length);
      const b = Buffer.from(block.subarray(0, n));
      b.writeUInt32LE(i++, 0); // every block differs, so a misplaced block would show
      yield b;
      left -= n;
    }
  }
  await pipeline(Readable.from(gen()), createWriteStream(path));
}

/**
 * A tree with what a files backup must keep: nested and empty directories, an empty file, binary
 * data, an optional big file, unicode and >100-byte names, a relative symlink, modes and mtimes.
 */
export async function makeTree(root: string, opts: { bigBytes?: number } = {}): Promise<void> {
  await mkdir(join(root, "sub", "deep"), { recursive: true });
  await mkdir(join(root, "empty-dir"));
  await mkdir(join(root, UNICODE_DIR));
  await mkdir(join(root, LONG_NAME.split("/")[0] as string));
  await writeFile(join(root, "a.txt"), "hello strongbox\n");
  await writeFile(join(root, "empty.txt"), "");
  await writeFile(join(root, "binary.dat"), randomBytes(200_003));
  await writeFile(join(root, "sub", "deep", "nested.txt"), "deep\n");
  await writeFile(join(root, UNICODE_DIR, UNICODE_FILE), "unicode ✓\n");
  await writeFile(join(root, LONG_NAME), "long name\n");
  if (opts.bigBytes) await writeBig(join(root, "sub", "big.bin"), opts.bigBytes);
  await symlink("../a.txt", join(root, "sub", "link-to-a"));
  await chmod(join(root, "a.txt"), 0o600);
  await chmod(join(root, "binary.dat"), 0o755);
  await chmod(join(root, "empty-dir"), 0o750);
  // Fixed times, files first then directories (writing children changes a directory's mtime).
  const t = new Date("2021-03-04T05:06:07Z");
  for (const f of [
    "a.txt",
    "empty.txt",
    "binary.dat",
    "sub/deep/nested.txt",
    `${UNICODE_DIR}/${UNICODE_FILE}`,
    LONG_NAME,
  ])
    await utimes(join(root, f), t, t);
  await lutimes(join(root, "sub", "link-to-a"), t, t);
  for (const d of ["sub/deep", "sub", "empty-dir", UNICODE_DIR, LONG_NAME.split("/")[0] as string, "."]) {
    const dt = new Date(t.getTime() + d.length * 1000);
    await utimes(join(root, d), dt, dt);
  }
}
