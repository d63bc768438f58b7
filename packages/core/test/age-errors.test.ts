/**
 * encrypt(): every way decoding can fail, each with its own code, and never a plaintext byte that
 * was not authenticated. Files that no honest encoder writes are crafted with the module's own
 * header/STREAM primitives (so their MAC and tags are valid where the test needs them to be).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { type Duplex, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { StrongboxError } from "../src/errors.js";
import { encodeHeader, type Stanza } from "../src/transforms/age/header.js";
import { encrypt, generateIdentity } from "../src/transforms/age/index.js";
import { parseRecipientKey } from "../src/transforms/age/keys.js";
import { wrapScrypt, wrapX25519 } from "../src/transforms/age/stanzas.js";
import { payloadKey, sealChunk } from "../src/transforms/age/stream-cipher.js";

const haveAge = spawnSync("age", ["--version"]).status === 0;
if (!haveAge) console.warn("age CLI-made error fixtures skipped: `age` not on PATH (apt-get install -y age)");

const CHUNK = 65536;
const SEALED = CHUNK + 16;
const me = generateIdentity();
const passphrase = "error-test passphrase";
const t = encrypt({ recipients: [me.recipient], identities: [me.identity] });
const pass = encrypt({ passphrase, workFactor: 10 });

interface Outcome {
  err: StrongboxError | undefined;
  out: Buffer;
}

/** Decodes `input` (in `pieceSize` writes) and returns the error and every byte emitted before it. */
async function decode(stream: Duplex, input: Buffer, pieceSize = CHUNK): Promise<Outcome> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < input.length; i += pieceSize) pieces.push(input.subarray(i, i + pieceSize));
  const out: Buffer[] = [];
  try {
    await pipeline(Readable.from(pieces), stream, async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) out.push(chunk);
    });
  } catch (err) {
    if (!(err instanceof StrongboxError)) throw err;
    expect(err.message).toMatch(/^\[strongbox\] \[age\] /);
    expect(err.message).not.toContain(me.identity);
    expect(err.message).not.toContain(passphrase);
    return { err, out: Buffer.concat(out) };
  }
  return { err: undefined, out: Buffer.concat(out) };
}

async function encode(transform = t, pt: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from([pt]), transform.encode(), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) out.push(chunk);
  });
  return Buffer.concat(out);
}

function headerLength(file: Buffer): number {
  return file.indexOf(10, file.indexOf("\n---") + 1) + 1;
}

/** Builds an age file from stanzas and explicit chunks, for shapes honest encoders never write. */
function craft(
  stanzas: (fileKey: Buffer) => Stanza[],
  chunks: { data: Buffer; last: boolean }[],
  fileKey = randomBytes(16),
) {
  const nonce = randomBytes(16);
  const key = payloadKey(fileKey, nonce);
  const parts = [encodeHeader(stanzas(fileKey), fileKey), nonce];
  for (const [i, c] of chunks.entries()) parts.push(...sealChunk(key, i, c.last, [c.data]));
  return Buffer.concat(parts);
}
const toMe = (fileKey: Buffer) => [wrapX25519(fileKey, parseRecipientKey(me.recipient))];

function flip(buf: Buffer, at: number): Buffer {
  const copy = Buffer.from(buf);
  copy[at] = copy[at]! ^ 0x01;
  return copy;
}

let single: Buffer; // 1000 bytes: one short final chunk
let triple: Buffer; // 3 full chunks + 100 bytes
let exact: Buffer; // exactly 2 chunks: the final chunk is full
const triplePt = randomBytes(3 * CHUNK + 100);

beforeAll(async () => {
  single = await encode(t, randomBytes(1000));
  triple = await encode(t, triplePt);
  exact = await encode(t, randomBytes(2 * CHUNK));
});

describe("E_DECRYPT: the key does not fit", () => {
  it("wrong identity", async () => {
    const other = encrypt({ identities: [generateIdentity().identity] });
    const { err, out } = await decode(other.decode({ id: "age" }), single);
    expect(err?.code).toBe("E_DECRYPT");
    expect(err?.message).toMatch(/wrong key/);
    expect(out.length).toBe(0);
  });

  it.skipIf(!haveAge)("wrong identity on a file made by age -r", async () => {
    const file = execFileSync("age", ["-r", generateIdentity().recipient], { input: Buffer.from("x") });
    expect((await decode(t.decode({ id: "age" }), file)).err?.code).toBe("E_DECRYPT");
  });

  it("wrong passphrase", async () => {
    const file = await encode(pass, Buffer.from("secret data"));
    const wrong = encrypt({ passphrase: "not the passphrase", workFactor: 10 });
    const { err, out } = await decode(wrong.decode({ id: "age" }), file);
    expect(err?.code).toBe("E_DECRYPT");
    expect(err?.message).toMatch(/wrong passphrase/);
    expect(out.length).toBe(0);
  });

  it("identities for a passphrase file, a passphrase for an X25519 file", async () => {
    const file = await encode(pass, Buffer.from("secret data"));
    expect((await decode(t.decode({ id: "age" }), file)).err?.code).toBe("E_DECRYPT");
    expect((await decode(pass.decode({ id: "age" }), single)).err?.code).toBe("E_DECRYPT");
  });

  it("no identity or passphrase at all (an encode-only transform)", async () => {
    const encodeOnly = encrypt({ recipients: [me.recipient] });
    const { err } = await decode(encodeOnly.decode(encodeOnly.describe()), single);
    expect(err?.code).toBe("E_DECRYPT");
    expect(err?.message).toMatch(/no identity or passphrase given/);
    expect((await decode(encodeOnly.decode({ id: "age" }), Buffer.alloc(0))).err?.code).toBe("E_DECRYPT");
  });

  it("a work factor above the accepted maximum is refused before running scrypt", async () => {
    const file = craft(
      () => [{ args: ["scrypt", "AAAAAAAAAAAAAAAAAAAAAA", "40"], body: randomBytes(32) }],
      [{ data: Buffer.alloc(0), last: true }],
    );
    const { err } = await decode(pass.decode({ id: "age" }), file);
    expect(err?.code).toBe("E_DECRYPT");
    expect(err?.message).toMatch(/work factor 2\^40/);
  });
});

describe("E_INTEGRITY: modified data", () => {
  it("a flipped bit in a middle chunk: earlier chunks out, nothing unauthenticated", async () => {
    const at = headerLength(triple) + 16 + SEALED + 1234; // inside chunk #2
    const { err, out } = await decode(t.decode({ id: "age" }), flip(triple, at));
    expect(err?.code).toBe("E_INTEGRITY");
    expect(err?.message).toMatch(/chunk #2/);
    expect(out.equals(triplePt.subarray(0, CHUNK))).toBe(true);
  });

  it("a flipped bit in a single short chunk, and in a tag", async () => {
    for (const at of [headerLength(single) + 16 + 10, single.length - 1]) {
      const { err, out } = await decode(t.decode({ id: "age" }), flip(single, at));
      expect(err?.code).toBe("E_INTEGRITY");
      expect(out.length).toBe(0);
    }
  });

  it("a flipped bit in a full final chunk", async () => {
    const { err, out } = await decode(t.decode({ id: "age" }), flip(exact, exact.length - 100));
    expect(err?.code).toBe("E_INTEGRITY");
    expect(out.length).toBe(CHUNK);
  });

  it("a flipped bit in the payload nonce", async () => {
    const { err } = await decode(t.decode({ id: "age" }), flip(single, headerLength(single) + 3));
    expect(err?.code).toBe("E_INTEGRITY");
  });

  it("header MAC mismatch: a flipped MAC, or a stanza added to a valid header", async () => {
    const macAt = headerLength(single) - 10;
    const flipped = Buffer.from(single);
    flipped[macAt] = flipped[macAt] === 0x41 ? 0x42 : 0x41;
    expect((await decode(t.decode({ id: "age" }), flipped)).err?.code).toBe("E_INTEGRITY");
    const text = single.toString("latin1");
    const withStanza = Buffer.from(text.replace("\n---", "\n-> example.com/extra arg\n\n---"), "latin1");
    const { err, out } = await decode(t.decode({ id: "age" }), withStanza);
    expect(err?.code).toBe("E_INTEGRITY");
    expect(err?.message).toMatch(/header MAC/);
    expect(out.length).toBe(0);
  });

  it("trailing data after a full final chunk, after a short one, and a whole second file", async () => {
    for (const [file, extra] of [
      [exact, Buffer.from("garbage")],
      [single, Buffer.from("garbage")],
      [single, randomBytes(1)],
      [exact, single],
    ] as const) {
      const { err } = await decode(t.decode({ id: "age" }), Buffer.concat([file, extra]));
      expect(err?.code).toBe("E_INTEGRITY");
      expect(err?.message).toMatch(/trailing data/);
    }
    // Garbage longer than what follows a short final chunk within one sealed chunk's span is only
    // seen as a chunk that fails: still E_INTEGRITY, and the message names both possibilities.
    const { err } = await decode(t.decode({ id: "age" }), Buffer.concat([triple, randomBytes(CHUNK)]));
    expect(err?.code).toBe("E_INTEGRITY");
    expect(err?.message).toMatch(/modified, or something was appended/);
  });

  it("an empty final chunk after data chunks (forbidden by the spec)", async () => {
    const file = craft(toMe, [
      { data: randomBytes(CHUNK), last: false },
      { data: Buffer.alloc(0), last: true },
    ]);
    const { err } = await decode(t.decode({ id: "age" }), file);
    expect(err?.code).toBe("E_INTEGRITY");
    // The same shape with a non-empty final chunk is fine: the craft helper itself is sound.
    const ok = craft(toMe, [
      { data: Buffer.alloc(CHUNK, 1), last: false },
      { data: Buffer.alloc(1, 2), last: true },
    ]);
    expect((await decode(t.decode({ id: "age" }), ok)).out.length).toBe(CHUNK + 1);
  });
});

describe("E_TRUNCATED: the input ends early", () => {
  it("empty input, a cut header, no nonce, no chunk", async () => {
    const h = headerLength(single);
    for (const cut of [0, 5, 30, h - 20, h - 1, h, h + 10, h + 16, h + 20]) {
      const { err, out } = await decode(t.decode({ id: "age" }), single.subarray(0, cut));
      expect(err?.code, `cut at ${cut}`).toBe("E_TRUNCATED");
      expect(out.length).toBe(0);
    }
  });

  it("missing final chunk: the last chunk only authenticates as a non-final one", async () => {
    const h = headerLength(triple) + 16;
    for (const keep of [1, 2, 3]) {
      const { err, out } = await decode(t.decode({ id: "age" }), triple.subarray(0, h + keep * SEALED));
      expect(err?.code).toBe("E_TRUNCATED");
      expect(err?.message).toMatch(/truncated/);
      expect(out.equals(triplePt.subarray(0, (keep - 1) * CHUNK))).toBe(true);
    }
    const e = headerLength(exact) + 16;
    expect((await decode(t.decode({ id: "age" }), exact.subarray(0, e + SEALED))).err?.code).toBe("E_TRUNCATED");
  });

  it("a file cut within the last tag bytes", async () => {
    for (const cut of [1, 5, 8]) {
      expect((await decode(t.decode({ id: "age" }), single.subarray(0, single.length - cut))).err?.code).toBe(
        "E_TRUNCATED",
      );
      expect((await decode(t.decode({ id: "age" }), exact.subarray(0, exact.length - cut))).err?.code).toBe(
        "E_TRUNCATED",
      );
    }
  });

  it("a file cut right after a chunk boundary's first bytes", async () => {
    const h = headerLength(triple) + 16;
    const { err } = await decode(t.decode({ id: "age" }), triple.subarray(0, h + SEALED + 5));
    expect(err?.code).toBe("E_TRUNCATED");
  });

  it("a cut deep inside a chunk cannot be told from tampering: E_INTEGRITY that says so", async () => {
    const h = headerLength(triple) + 16;
    const { err, out } = await decode(t.decode({ id: "age" }), triple.subarray(0, h + SEALED + 30_000));
    expect(err?.code).toBe("E_INTEGRITY");
    expect(err?.message).toMatch(/modified, or the file was cut/);
    // Chunk #1 was followed by more bytes, so it authenticated as non-final and was released.
    expect(out.equals(triplePt.subarray(0, CHUNK))).toBe(true);
  });
});

describe("E_FORMAT: not an age v1 file", () => {
  const codeOf = async (input: Buffer, transform = t) => (await decode(transform.decode({ id: "age" }), input)).err;

  it("gzip, text, armor, another version", async () => {
    expect((await codeOf(gzipSync(Buffer.from("hello"))))?.code).toBe("E_FORMAT");
    expect((await codeOf(Buffer.from("just some text\n")))?.message).toMatch(/not an age file/);
    const armored = Buffer.from("-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n");
    expect((await codeOf(armored))?.message).toMatch(/armored/);
    expect((await codeOf(Buffer.from("age-encryption.org/v2\n-> X25519 abc\n")))?.message).toMatch(/version/);
  });

  it("fails at once: a not-age stream is refused on its first bytes, not after 64 KiB", async () => {
    const { err } = await decode(t.decode({ id: "age" }), Buffer.from("PGDMP"), 1);
    expect(err?.code).toBe("E_FORMAT");
  });

  it("malformed headers", async () => {
    const text = single.toString("latin1");
    const h = headerLength(single);
    const header = text.slice(0, h);
    const rest = single.subarray(h);
    const variants = [
      header.replace(/\n/g, "\r\n"), // CRLF
      header.replace("-> X25519 ", "-> X25519  "), // empty argument
      header.replace("--- ", "---"), // no space before the MAC
      header.replace("--- ", "--- ==="),
      header.replace(/\n([A-Za-z0-9+/]{43})\n/, "\n$1=\n"), // padded base64 body
      header.replace(/\n([A-Za-z0-9+/]{42})[A-Za-z0-9+/]\n/, "\n$1_\n"), // invalid base64 character
      header.replace("-> X25519 ", "->X25519 "),
      header.replace("-> X25519 ", "-> X25519 AAAA "), // three arguments
      header.replace(/-> X25519 [A-Za-z0-9+/]{43}/, "-> X25519 AAAA"), // short share
      header.replace("age-encryption.org/v1\n", "age-encryption.org/v1\n\n"),
    ];
    for (const [i, v] of variants.entries()) {
      const { err } = await decode(t.decode({ id: "age" }), Buffer.concat([Buffer.from(v, "latin1"), rest]));
      expect(err?.code, `variant ${i}: ${JSON.stringify(v.slice(0, 120))}`).toBe("E_FORMAT");
    }
  });

  it("an oversized header, and too many stanzas", async () => {
    const huge = Buffer.from(`age-encryption.org/v1\n-> X25519 ${"A".repeat(70_000)}\n`);
    expect((await codeOf(huge))?.message).toMatch(/larger than 64 KiB/);
    const bodyLine = `${"A".repeat(64)}\n`;
    const endless = Buffer.from(`age-encryption.org/v1\n-> x\n${bodyLine.repeat(2000)}`);
    expect((await codeOf(endless))?.code).toBe("E_FORMAT");
    const many = Buffer.from(`age-encryption.org/v1\n${"-> x\n\n".repeat(1500)}--- ${"A".repeat(43)}\n`);
    expect((await codeOf(many))?.message).toMatch(/more than 1000 stanzas/);
  });

  it("only unsupported stanzas; scrypt mixed with another stanza", async () => {
    const ssh = craft(
      () => [{ args: ["ssh-ed25519", "Zm9v", "YmFy"], body: randomBytes(32) }],
      [{ data: Buffer.from("x"), last: true }],
    );
    const err = await codeOf(ssh);
    expect(err?.code).toBe("E_FORMAT");
    expect(err?.message).toMatch(/ssh-ed25519/);
    const fileKey = randomBytes(16);
    const scrypt = await wrapScrypt(fileKey, passphrase, 10);
    const mixed = craft((k) => [scrypt, ...toMe(k)], [{ data: Buffer.from("x"), last: true }], fileKey);
    expect((await codeOf(mixed, pass))?.code).toBe("E_FORMAT");
    expect((await codeOf(mixed, t))?.code).toBe("E_FORMAT");
  });

  it("malformed scrypt stanzas", async () => {
    for (const args of [
      ["scrypt", "AAAAAAAAAAAAAAAAAAAAAA"],
      ["scrypt", "AAAAAAAAAAAAAAAAAAAAAA", "010"],
      ["scrypt", "AAAAAAAAAAAAAAAAAAAAAA", "0x10"],
      ["scrypt", "AAAAAAAAAAAAAAAAAAAA", "10"],
      ["scrypt", "AAAAAAAAAAAAAAAAAAAAAA", "10", "extra"],
    ]) {
      const file = craft(() => [{ args, body: randomBytes(32) }], [{ data: Buffer.from("x"), last: true }]);
      expect((await codeOf(file, pass))?.code, args.join(" ")).toBe("E_FORMAT");
    }
  });
});
