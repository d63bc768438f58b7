/**
 * encrypt(): round trips and interoperability with the two reference implementations, both ways:
 * the `age` CLI (Go, the reference) and the `age-encryption` npm package (pure JS, small inputs only).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Duplex, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  Decrypter,
  Encrypter,
  generateHybridIdentity,
  generateX25519Identity,
  identityToRecipient as jsRecipient,
} from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redactSecrets, StrongboxError } from "../src/errors.js";
import {
  encrypt,
  generateIdentity,
  identityToRecipient,
  parseIdentity,
  parseRecipient,
} from "../src/transforms/age/index.js";

const haveAge = spawnSync("age", ["--version"]).status === 0 && spawnSync("age-keygen", ["--version"]).status === 0;
if (!haveAge) console.warn("age CLI interop tests skipped: `age`/`age-keygen` not on PATH (apt-get install -y age)");
const haveScript = spawnSync("script", ["--version"]).status === 0;
if (haveAge && !haveScript)
  console.warn("age CLI passphrase tests skipped: util-linux `script` (needed for a pty) is missing");

async function run(stream: Duplex, input: Buffer, pieceSize = 65536): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < input.length; i += pieceSize) pieces.push(input.subarray(i, i + pieceSize));
  const out: Buffer[] = [];
  await pipeline(Readable.from(pieces), stream, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) out.push(chunk);
  });
  return Buffer.concat(out);
}

let dir: string;
const keyFile = (name: string, identity: string) => {
  const file = join(dir, name);
  writeFileSync(file, `# test key\n${identity}\n`);
  return file;
};
const ageDecrypt = (args: string[], input: Buffer) =>
  execFileSync("age", ["-d", ...args], { input, maxBuffer: 1 << 30 });
const ageEncrypt = (args: string[], input: Buffer) => execFileSync("age", args, { input, maxBuffer: 1 << 30 });

/** age reads passphrases from a terminal only: run it under `script`, which gives it a pty fed from our stdin. */
function agePty(args: string[], answers: string[]): void {
  const cmd = ["age", ...args].map((a) => `'${a}'`).join(" ");
  const res = spawnSync("script", ["-qec", cmd, "/dev/null"], {
    input: answers.map((a) => `${a}\n`).join(""),
    timeout: 30_000,
  });
  if (res.status !== 0) throw new Error(`age under script failed: ${res.stdout}${res.stderr}`);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "strongbox-age-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SIZES = [0, 1, 65535, 65536, 65537, 3 * 65536, 3 * 1024 * 1024 + 17];

describe("keys", () => {
  it("generateIdentity() makes age-keygen compatible keys", () => {
    const { identity, recipient } = generateIdentity();
    expect(identity).toMatch(/^AGE-SECRET-KEY-1[02-9ACDEFGHJKLMNPQRSTUVWXYZ]{58}$/);
    expect(recipient).toMatch(/^age1[02-9acdefghjklmnpqrstuvwxyz]{58}$/);
    expect(identityToRecipient(identity)).toBe(recipient);
    expect(parseRecipient(recipient)).toHaveLength(32);
    expect(parseIdentity(identity)).toHaveLength(32);
    if (haveAge) {
      expect(
        execFileSync("age-keygen", ["-y", keyFile("gen.txt", identity)])
          .toString()
          .trim(),
      ).toBe(recipient);
    }
  });

  it.skipIf(!haveAge)("identityToRecipient() agrees with age-keygen's own keys", () => {
    const out = execFileSync("age-keygen", { stdio: ["ignore", "pipe", "ignore"] }).toString();
    const identity = out.match(/AGE-SECRET-KEY-1\S+/)![0];
    const recipient = out.match(/public key: (age1\S+)/)![1];
    expect(identityToRecipient(identity)).toBe(recipient);
  });

  it("rejects malformed keys with E_CONFIG, never echoing a secret", () => {
    const { identity, recipient } = generateIdentity();
    const flipped = identity.slice(0, 30) + (identity[30] === "Q" ? "P" : "Q") + identity.slice(31);
    const bad = [
      () => parseIdentity(flipped),
      () => parseIdentity(identity.slice(0, -1)),
      () => parseIdentity("AGE-SECRET-KEY-PQ-1ABCDEF"),
      () => parseIdentity("hello"),
      () => parseRecipient(`${recipient.slice(0, -1)}x`),
      () => parseRecipient("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA"),
      () => parseRecipient(identity),
      () => encrypt({ identities: [flipped] }),
      () => encrypt({ recipients: ["age1nope"] }),
    ];
    for (const fn of bad) {
      let caught: unknown;
      try {
        fn();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(StrongboxError);
      expect((caught as StrongboxError).code).toBe("E_CONFIG");
      expect((caught as StrongboxError).message).toMatch(/^\[strongbox\] \[age\] /);
      expect((caught as StrongboxError).message).not.toContain(flipped.slice(16, 40));
      expect((caught as StrongboxError).message).not.toContain(identity.slice(16, 40));
      expect((caught as StrongboxError).cause).toBeUndefined();
    }
  });
});

describe("configuration", () => {
  const { identity, recipient } = generateIdentity();
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return (err as StrongboxError).code;
    }
    return "no error";
  };

  it("needs recipients or a passphrase to encode, and refuses to mix them", async () => {
    expect(code(() => encrypt({}))).toBe("E_CONFIG");
    expect(code(() => encrypt(undefined as never))).toBe("E_CONFIG");
    expect(code(() => encrypt({ recipients: [] }))).toBe("E_CONFIG");
    expect(code(() => encrypt({ passphrase: "" }))).toBe("E_CONFIG");
    expect(code(() => encrypt({ passphrase: "x", workFactor: 0 }))).toBe("E_CONFIG");
    expect(code(() => encrypt({ passphrase: "x", workFactor: 12.5 }))).toBe("E_CONFIG");
    let err: StrongboxError | undefined;
    try {
      encrypt({ passphrase: "correct horse", recipients: [recipient] });
    } catch (e) {
      err = e as StrongboxError;
    }
    expect(err?.code).toBe("E_CONFIG");
    expect(err?.message).toMatch(/either recipients or a passphrase/);
    // A decode-only transform exists, but cannot encode: its encode() stream fails with E_CONFIG.
    const decodeOnly = encrypt({ identities: [identity] });
    await expect(run(decodeOnly.encode(), Buffer.from("x"))).rejects.toMatchObject({ code: "E_CONFIG" });
    await expect(run(decodeOnly.encode(), Buffer.alloc(0))).rejects.toMatchObject({ code: "E_CONFIG" });
    // A record written by another transform is refused the same way.
    await expect(run(decodeOnly.decode({ id: "gzip" }), Buffer.from("x"))).rejects.toMatchObject({ code: "E_CONFIG" });
  });

  it("describe() records public information only, and secrets are registered for redaction", () => {
    const passphrase = "s3cret-passphrase-for-describe";
    const t = encrypt({ recipients: [recipient], identities: [identity] });
    expect(t.id).toBe("age");
    expect(t.extension).toBe(".age");
    expect(t.describe()).toEqual({ id: "age", recipients: [recipient], passphrase: false });
    expect(JSON.stringify(t.describe())).not.toContain(identity);
    const p = encrypt({ passphrase });
    expect(p.describe()).toEqual({ id: "age", recipients: [], passphrase: true });
    expect(JSON.stringify(p.describe())).not.toContain(passphrase);
    expect(redactSecrets(`oops ${passphrase} here`)).toBe("oops *** here");
    expect(redactSecrets(`key ${identity}`)).not.toContain(identity);
  });

  it("accepts the text of an identity file (comments, several keys)", async () => {
    const a = generateIdentity();
    const b = generateIdentity();
    const file = `# created: 2026-11-22\n# public key: ${a.recipient}\n${a.identity}\n\n${b.identity}\n`;
    const t = encrypt({ recipients: [b.recipient], identities: [file] });
    const pt = randomBytes(1000);
    expect((await run(t.decode(t.describe()), await run(t.encode(), pt))).equals(pt)).toBe(true);
  });
});

describe("format", () => {
  it("writes the age v1 header exactly as the spec lays it out", async () => {
    const a = generateIdentity();
    const b = generateIdentity();
    const t = encrypt({ recipients: [a.recipient, b.recipient] });
    const pt = randomBytes(65536 * 2 + 5);
    const ct = await run(t.encode(), pt);
    const headerEnd = ct.indexOf("\n---") + 1;
    const macLineEnd = ct.indexOf(10, headerEnd) + 1;
    const lines = ct.subarray(0, macLineEnd).toString("latin1").split("\n");
    expect(lines[0]).toBe("age-encryption.org/v1");
    expect(lines[1]).toMatch(/^-> X25519 [A-Za-z0-9+/]{43}$/);
    expect(lines[2]).toMatch(/^[A-Za-z0-9+/]{43}$/);
    expect(lines[3]).toMatch(/^-> X25519 [A-Za-z0-9+/]{43}$/);
    expect(lines[4]).toMatch(/^[A-Za-z0-9+/]{43}$/);
    expect(lines[5]).toMatch(/^--- [A-Za-z0-9+/]{43}$/);
    expect(lines[6]).toBe("");
    // nonce + 2 full chunks + a 5-byte final chunk, each with a 16-byte tag
    expect(ct.length - macLineEnd).toBe(16 + 2 * (65536 + 16) + 5 + 16);
  });

  it("default work factor is 18, as age -p", async () => {
    const t = encrypt({ passphrase: "default factor" });
    const ct = await run(t.encode(), Buffer.from("x"));
    expect(ct.toString("latin1", 0, 140)).toMatch(
      /^age-encryption\.org\/v1\n-> scrypt [A-Za-z0-9+/]{22} 18\n[A-Za-z0-9+/]{43}\n--- /,
    );
  }, 30_000);

  it("encrypts each file under a fresh file key, nonce and ephemeral share", async () => {
    const { recipient } = generateIdentity();
    const t = encrypt({ recipients: [recipient] });
    const one = await run(t.encode(), Buffer.from("same"));
    const two = await run(t.encode(), Buffer.from("same"));
    expect(one.subarray(0, 60).equals(two.subarray(0, 60))).toBe(false);
    expect(one.subarray(-40).equals(two.subarray(-40))).toBe(false);
  });

  it("round-trips whatever way the input is cut into writes", async () => {
    const { identity, recipient } = generateIdentity();
    const t = encrypt({ recipients: [recipient], identities: [identity] });
    const pt = randomBytes(65536 * 4 + 123);
    for (const piece of [1000, 7, 65536 + 16, 65535, 1 << 20]) {
      const ct = await run(t.encode(), pt, piece);
      expect((await run(t.decode(t.describe()), ct, piece === 7 ? 4099 : piece)).equals(pt)).toBe(true);
    }
    // Byte-at-a-time through the header and the chunk boundaries.
    const small = pt.subarray(0, 3000);
    for (const piece of [1, 2, 3]) {
      const ct = await run(t.encode(), small, piece);
      expect((await run(t.decode(t.describe()), ct, piece)).equals(small)).toBe(true);
    }
  });
});

describe.skipIf(!haveAge)("interop with the age CLI", () => {
  const me = generateIdentity();
  const other = generateIdentity();
  let meFile: string;
  let otherFile: string;
  beforeAll(() => {
    meFile = keyFile("me.txt", me.identity);
    otherFile = keyFile("other.txt", other.identity);
  });

  it.each(SIZES)("our output of %i bytes decrypts with age -d, and age's output decrypts with us", async (size) => {
    const pt = randomBytes(size);
    const t = encrypt({ recipients: [me.recipient], identities: [me.identity] });
    expect(ageDecrypt(["-i", meFile], await run(t.encode(), pt)).equals(pt)).toBe(true);
    expect((await run(t.decode(t.describe()), ageEncrypt(["-r", me.recipient], pt))).equals(pt)).toBe(true);
  });

  it("multiple recipients: each identity opens the file, with either implementation", async () => {
    const pt = randomBytes(200_000);
    const enc = encrypt({ recipients: [other.recipient, me.recipient] });
    const ours = await run(enc.encode(), pt);
    expect(ageDecrypt(["-i", meFile], ours).equals(pt)).toBe(true);
    expect(ageDecrypt(["-i", otherFile], ours).equals(pt)).toBe(true);
    const theirs = ageEncrypt(["-r", other.recipient, "-r", me.recipient], pt);
    for (const id of [me.identity, other.identity]) {
      const dec = encrypt({ identities: [id] });
      expect((await run(dec.decode({ id: "age" }), theirs)).equals(pt)).toBe(true);
      expect((await run(dec.decode({ id: "age" }), ours)).equals(pt)).toBe(true);
    }
    // An identity list where only the last one matches.
    const many = encrypt({ identities: [generateIdentity().identity, generateIdentity().identity, me.identity] });
    expect((await run(many.decode({ id: "age" }), theirs)).equals(pt)).toBe(true);
  });

  it.skipIf(!haveScript)(
    "passphrase: ours opens with age -d, age -p (work factor 18) opens with ours",
    async () => {
      const passphrase = "interop passphrase 42";
      const pt = randomBytes(70_000);
      const t = encrypt({ passphrase, workFactor: 12 });
      writeFileSync(join(dir, "ours-p.age"), await run(t.encode(), pt));
      agePty(["-d", "-o", join(dir, "ours-p.out"), join(dir, "ours-p.age")], [passphrase]);
      expect(readFileSync(join(dir, "ours-p.out")).equals(pt)).toBe(true);

      writeFileSync(join(dir, "plain.bin"), pt);
      agePty(["-p", "-o", join(dir, "theirs-p.age"), join(dir, "plain.bin")], [passphrase, passphrase]);
      const theirs = readFileSync(join(dir, "theirs-p.age"));
      expect(theirs.toString("latin1", 0, 80)).toMatch(/\n-> scrypt \S+ 18\n/);
      expect((await run(t.decode(t.describe()), theirs)).equals(pt)).toBe(true);
    },
    30_000,
  );
});

describe("interop with the age-encryption npm package", () => {
  it("X25519 both ways", async () => {
    const jsIdentity = await generateX25519Identity();
    const jsRecip = await jsRecipient(jsIdentity);
    expect(identityToRecipient(jsIdentity)).toBe(jsRecip);
    const ours = generateIdentity();
    expect(await jsRecipient(ours.identity)).toBe(ours.recipient);
    for (const size of [0, 1, 65536, 65537, 150_000]) {
      const pt = randomBytes(size);
      const t = encrypt({ recipients: [jsRecip, ours.recipient], identities: [ours.identity] });
      const d = new Decrypter();
      d.addIdentity(jsIdentity);
      expect(Buffer.from(await d.decrypt(await run(t.encode(), pt))).equals(pt)).toBe(true);
      const e = new Encrypter();
      e.addRecipient(ours.recipient);
      expect((await run(t.decode(t.describe()), Buffer.from(await e.encrypt(pt)))).equals(pt)).toBe(true);
    }
  });

  it("passphrase both ways", async () => {
    const passphrase = "npm interop passphrase";
    const pt = randomBytes(66_000);
    const t = encrypt({ passphrase, workFactor: 10 });
    const d = new Decrypter();
    d.addPassphrase(passphrase);
    expect(Buffer.from(await d.decrypt(await run(t.encode(), pt))).equals(pt)).toBe(true);
    const e = new Encrypter();
    e.setPassphrase(passphrase);
    e.setScryptWorkFactor(10);
    expect((await run(t.decode(t.describe()), Buffer.from(await e.encrypt(pt)))).equals(pt)).toBe(true);
  });

  it("a post-quantum-only file is refused as an unsupported format", async () => {
    const pq = await generateHybridIdentity();
    const e = new Encrypter();
    e.addRecipient(await jsRecipient(pq));
    const file = Buffer.from(await e.encrypt(Buffer.from("quantum")));
    const t = encrypt({ identities: [generateIdentity().identity] });
    const err = await run(t.decode({ id: "age" }), file).catch((e: unknown) => e as StrongboxError);
    expect(err).toBeInstanceOf(StrongboxError);
    expect((err as StrongboxError).code).toBe("E_FORMAT");
    expect((err as StrongboxError).message).toMatch(/mlkem768x25519/);
  });
});
