/**
 * Hostile input, planted where an attacker with write access to the backup storage would plant it:
 * manifests with keys escaping the prefix, absurd sizes, unknown transforms, a future format; a
 * tar whose entries escape the restore target; age headers that are huge or malformed. Every case
 * must end in a coded StrongboxError, quickly, with nothing read or written outside where it
 * belongs (checked with fs).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type BackupManifest,
  createStrongbox,
  encrypt,
  generateIdentity,
  isStrongboxError,
  local,
  type StrongboxErrorCode,
  silentLogger,
} from "@strongbox/core";
import { files } from "@strongbox/source-files";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectCode, removeDir, sha256, snapshotTree, tempDir } from "./support/helpers.js";

describe("hostile manifests", () => {
  let root: string;
  let store: string;
  let original: BackupManifest;
  let outsideBefore: Record<string, string>;
  const box = () =>
    createStrongbox({
      sources: [files({ name: "site", paths: [join(root, "src")] })],
      storage: local({ directory: store }),
      logger: silentLogger,
    });
  const manifestFile = () => join(store, original.id, "manifest.json");

  /** Plants a modified manifest, expects get/verify/restore to fail with `code`, then puts the original back. */
  async function planted(
    edit: (m: BackupManifest) => unknown,
    code: StrongboxErrorCode,
    pattern?: RegExp,
    /** The manifest itself is well-formed (the problem shows only when an artifact is decoded). */
    wellFormed = false,
  ) {
    const m = structuredClone(original);
    const replaced = edit(m) ?? m;
    await writeFile(manifestFile(), typeof replaced === "string" ? replaced : JSON.stringify(replaced));
    try {
      const b = box();
      const t0 = Date.now();
      const errors = [
        ...(wellFormed ? [] : [await expectCode(b.get(original.id), code)]),
        ...(wellFormed ? [] : [await expectCode(b.verify(original.id, { mode: "decode" }), code)]),
        await expectCode(b.restore(original.id, { targets: { site: { directory: join(root, "target") } } }), code),
      ];
      if (wellFormed) {
        // verify() reports per artifact instead of throwing.
        const v = await b.verify(original.id, { mode: "decode" });
        expect(v.ok).toBe(false);
        expect(v.components[0]!.artifacts[0]!.error?.code).toBe(code);
      }
      expect(Date.now() - t0).toBeLessThan(5_000);
      if (pattern) for (const e of errors) expect(e.message).toMatch(pattern);
      // Nothing outside the store was read into a target or changed.
      expect(await snapshotTree(join(root, "outside"))).toEqual(outsideBefore);
    } finally {
      await writeFile(manifestFile(), JSON.stringify(original));
    }
  }

  beforeAll(async () => {
    root = await tempDir("hostile");
    store = join(root, "store");
    await mkdir(join(root, "src"), { recursive: true });
    await mkdir(join(root, "outside"), { recursive: true });
    await writeFile(join(root, "src/a.txt"), "hello");
    await writeFile(join(root, "outside/secret.txt"), "not for strongbox to read");
    outsideBefore = await snapshotTree(join(root, "outside"));
    original = await box().backup();
  });
  afterAll(() => removeDir(root));

  it("the unmodified manifest restores (control)", async () => {
    await box().restore(original.id, { targets: { site: { directory: join(root, "control") } } });
    expect(await readFile(join(root, "control/a.txt"), "utf8")).toBe("hello");
  });

  for (const key of [
    "../outside/secret.txt",
    "OTHER/../../outside/secret.txt",
    "/etc/passwd",
    "ID/site/../../../outside/secret.txt",
  ]) {
    it(`an artifact key escaping the prefix (${key}) → E_INTEGRITY`, async () => {
      await planted(
        (m) => {
          m.components[0]!.artifacts[0]!.key = key.replace("ID", original.id);
        },
        "E_INTEGRITY",
        /unsafe key|outside its backup/,
      );
    });
  }

  it("an artifact key pointing into another backup → E_INTEGRITY", async () => {
    await planted(
      (m) => {
        m.components[0]!.artifacts[0]!.key = `20200101T000000Z-aaaaaa/site/a.tar`;
      },
      "E_INTEGRITY",
      /outside its backup/,
    );
  });

  for (const [what, value] of [
    ["negative", -1],
    ["fractional", 1.5],
    ["beyond 2^53", 2 ** 60],
    ["1e308", 1e308],
    ["a string", "12"],
  ] as const) {
    it(`an absurd size (${what}) → E_FORMAT`, async () => {
      await planted((m) => {
        (m.components[0]!.artifacts[0] as unknown as Record<string, unknown>).size = value;
      }, "E_FORMAT");
    });
  }

  it("a huge but well-formed plainSize (2^52) fails with E_TRUNCATED (the data ends first), without allocating it", async () => {
    const m = structuredClone(original);
    m.components[0]!.artifacts[0]!.plainSize = 2 ** 52;
    await writeFile(manifestFile(), JSON.stringify(m));
    try {
      const rssBefore = process.memoryUsage().rss;
      await expectCode(
        box().restore(original.id, { targets: { site: { directory: join(root, "t2") } } }),
        "E_TRUNCATED",
      );
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(200 << 20);
    } finally {
      await writeFile(manifestFile(), JSON.stringify(original));
    }
  });

  it("an unknown transform → E_FORMAT naming it", async () => {
    await planted(
      (m) => {
        m.components[0]!.artifacts[0]!.transforms = [{ id: "rot13" }];
      },
      "E_FORMAT",
      /rot13/,
      true,
    );
  });

  it("a future format version → E_FORMAT telling to upgrade", async () => {
    await planted(
      (m) => {
        (m as { format: string }).format = "strongbox/2";
      },
      "E_FORMAT",
      /upgrade/,
    );
  });

  it("a manifest that is not JSON, or 17 MiB of it, is refused with a code", async () => {
    await planted(() => "{ this is not json", "E_INTEGRITY");
    await planted(() => `${JSON.stringify(original)}${" ".repeat(17 << 20)}`, "E_FORMAT", /16 MiB|limit/);
  });
});

describe("a tar whose entries escape the restore target (files source)", () => {
  let root: string;
  let store: string;
  let manifest: BackupManifest;

  async function makeTar(entries: Array<{ header: Partial<tar.Header> & { name: string }; body?: string }>) {
    const pack = tar.pack();
    const chunks: Buffer[] = [];
    const done = (async () => {
      for await (const c of pack) chunks.push(c as Buffer);
    })();
    for (const e of entries)
      await new Promise<void>((res, rej) =>
        pack.entry({ mtime: new Date(0), ...e.header }, e.body ?? "", (err) => (err ? rej(err) : res())),
      );
    pack.finalize();
    await done;
    return Buffer.concat(chunks);
  }

  beforeAll(async () => {
    root = await tempDir("tar-escape");
    store = join(root, "store");
    await mkdir(join(root, "src"), { recursive: true });
    await writeFile(join(root, "src/ok.txt"), "fine");
    manifest = await createStrongbox({
      sources: [files({ name: "site", paths: [join(root, "src")] })],
      storage: local({ directory: store }),
      logger: silentLogger,
    }).backup();
  });
  afterAll(() => removeDir(root));

  const cases: Array<[string, Array<{ header: Partial<tar.Header> & { name: string }; body?: string }>]> = [
    ["../ in a file name", [{ header: { name: "../escaped.txt" }, body: "pwned" }]],
    ["an absolute path", [{ header: { name: "/tmp/sb-rel-absolute-escape.txt" }, body: "pwned" }]],
    [
      "a deep ../ after a real dir",
      [{ header: { name: "sub/", type: "directory" } }, { header: { name: "sub/../../escaped.txt" }, body: "pwned" }],
    ],
    [
      "a symlink out, then a file through it",
      [
        { header: { name: "link", type: "symlink", linkname: "../outside" } },
        { header: { name: "link/escaped.txt" }, body: "pwned" },
      ],
    ],
    ["a hard link to a file outside", [{ header: { name: "hard", type: "link", linkname: "../outside/secret.txt" } }]],
  ];

  for (const [what, entries] of cases) {
    it(`${what}: refused with a StrongboxError, nothing written outside, target untouched`, async () => {
      const target = join(root, "target");
      const outside = join(root, "outside");
      await mkdir(target, { recursive: true });
      await mkdir(outside, { recursive: true });
      await writeFile(join(target, "keep.txt"), "precious");
      await writeFile(join(outside, "secret.txt"), "secret");
      const before = {
        target: await snapshotTree(target),
        outside: await snapshotTree(outside),
        root: await snapshotTree(root),
      };

      // Plant the hostile tar as the artifact, with a manifest whose hashes match it (an attacker
      // who can write the storage can write both).
      const bytes = await makeTar(entries);
      const artifact = manifest.components[0]!.artifacts[0]!;
      const file = join(store, artifact.key);
      const saved = await readFile(file);
      const m = structuredClone(manifest);
      Object.assign(m.components[0]!.artifacts[0]!, {
        size: bytes.length,
        sha256: sha256(bytes),
        plainSize: bytes.length,
        plainSha256: sha256(bytes),
      });
      await writeFile(file, bytes);
      await writeFile(join(store, manifest.id, "manifest.json"), JSON.stringify(m));
      try {
        const box = createStrongbox({
          sources: [files({ name: "site", paths: [join(root, "src")] })],
          storage: local({ directory: store }),
          logger: silentLogger,
        });
        let caught: unknown;
        await box
          .restore(manifest.id, { targets: { site: { directory: target } }, force: true })
          .catch((e: unknown) => {
            caught = e;
          });
        expect(isStrongboxError(caught), String(caught)).toBe(true);
        expect(await snapshotTree(target)).toEqual(before.target);
        expect(await snapshotTree(outside)).toEqual(before.outside);
        const { existsSync } = await import("node:fs");
        expect(existsSync(join(root, "escaped.txt"))).toBe(false);
        expect(existsSync("/tmp/sb-rel-absolute-escape.txt")).toBe(false);
      } finally {
        await writeFile(file, saved);
        await writeFile(join(store, manifest.id, "manifest.json"), JSON.stringify(manifest));
      }
    });
  }
});

describe("hostile age headers", () => {
  const { identity } = generateIdentity();
  const decoder = () => encrypt({ identities: [identity] }).decode({ id: "age", recipients: [], passphrase: false });

  async function decode(input: Buffer | Readable): Promise<unknown> {
    const src = Buffer.isBuffer(input) ? Readable.from([input]) : input;
    try {
      await pipeline(src, decoder(), new Writable({ write: (_c, _e, cb) => cb() }));
      return undefined;
    } catch (err) {
      return err;
    }
  }

  const header = (body: string) => Buffer.from(`age-encryption.org/v1\n${body}`);
  const malformed: Array<[string, Buffer, StrongboxErrorCode[]]> = [
    ["empty input", Buffer.alloc(0), ["E_TRUNCATED", "E_FORMAT"]],
    ["another version line", Buffer.from("age-encryption.org/v2\n-> X25519 abc\nxyz\n--- abc\n"), ["E_FORMAT"]],
    ["a stanza with bad base64", header("-> X25519 !!!!\n!!!!\n--- AAAA\n"), ["E_FORMAT", "E_DECRYPT"]],
    ["no MAC line", header("-> X25519 AAAA\nAAAA\n"), ["E_FORMAT", "E_TRUNCATED"]],
    [
      "a stanza body line longer than 64 columns",
      header(`-> X25519 AAAA\n${"A".repeat(80)}\n--- AAAA\n`),
      ["E_FORMAT", "E_DECRYPT"],
    ],
    [
      "an scrypt stanza with an absurd work factor",
      header("-> scrypt AAAAAAAAAAAAAAAAAAAAAA 60\nAAAA\n--- AAAA\n"),
      ["E_FORMAT", "E_DECRYPT"],
    ],
    ["binary garbage", Buffer.from([0, 1, 2, 255, 254, 10, 10, 0]), ["E_FORMAT"]],
  ];
  for (const [what, bytes, codes] of malformed) {
    it(`${what} → ${codes.join(" or ")}`, async () => {
      const err = await decode(bytes);
      expect(isStrongboxError(err), String(err)).toBe(true);
      expect(codes).toContain((err as { code: string }).code);
    });
  }

  it("a 64 MiB header (one endless stanza line) is refused early with E_FORMAT, in bounded memory", async () => {
    let sent = 0;
    const chunk = Buffer.alloc(1 << 20, "A");
    const endless = new Readable({
      read() {
        if (sent === 0) this.push(header("-> X25519 "));
        if (sent >= 64 << 20) return this.push(null);
        sent += chunk.length;
        this.push(chunk);
      },
    });
    const rss = process.memoryUsage().rss;
    const err = await decode(endless);
    expect(isStrongboxError(err), String(err)).toBe(true);
    expect((err as { code: string }).code).toBe("E_FORMAT");
    expect(sent).toBeLessThan(8 << 20); // it stopped reading long before the end
    expect(process.memoryUsage().rss - rss).toBeLessThan(100 << 20);
  });

  it("a header with 100,000 stanzas is refused with E_FORMAT, quickly", async () => {
    const many = header(`${"-> X25519 AAAA\nAAAA\n".repeat(100_000)}--- AAAA\n`);
    const t0 = Date.now();
    const err = await decode(many);
    expect(isStrongboxError(err), String(err)).toBe(true);
    expect(["E_FORMAT", "E_DECRYPT"]).toContain((err as { code: string }).code);
    expect(Date.now() - t0).toBeLessThan(3_000);
  });
});
