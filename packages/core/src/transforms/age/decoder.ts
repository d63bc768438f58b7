/**
 * The decrypting stream. Phases: header (≤ 64 KiB, parsed once its "---" line is complete and the
 * file key unwrapped), payload nonce (16 bytes), then sealed chunks.
 *
 * A sealed chunk is only opened once it is known whether it is the final one: a full chunk is
 * non-final when at least one more byte follows it, and whatever remains when the input ends is
 * the final chunk. Plaintext is pushed only after its chunk authenticated, so a consumer never
 * sees a byte that was not verified. Memory: one sealed chunk plus the write being processed.
 */
import type { KeyObject } from "node:crypto";
import { timingSafeEqual } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { ByteQueue } from "./byte-queue.js";
import { ageError } from "./errors.js";
import { checkMagic, findHeaderEnd, headerMac, MAX_HEADER_BYTES, type ParsedHeader, parseHeader } from "./header.js";
import type { X25519Identity } from "./keys.js";
import { TAG_SIZE } from "./primitives.js";
import { settle } from "./settle.js";
import { parseScryptStanza, parseX25519Stanza, unwrapScrypt, unwrapX25519 } from "./stanzas.js";
import { openChunk, PAYLOAD_NONCE_SIZE, payloadKey, SEALED_CHUNK_SIZE } from "./stream-cipher.js";

export interface DecoderKeys {
  identities: readonly X25519Identity[];
  passphrase?: string | undefined;
  /** Highest scrypt log2(N) accepted from a file header. */
  maxWorkFactor: number;
}

/** How many bytes a final chunk may have lost off its tag and still be recognised as truncated. */
const MIN_PARTIAL_TAG = 8;
/** How much trailing garbage after a short final chunk is searched for (only on the failure path). */
const MAX_TRAILING_SEARCH = 1024;

type Phase = "header" | "nonce" | "payload" | "done";

export class AgeDecoder extends Transform {
  private phase: Phase = "header";
  private headerBuf: Buffer = Buffer.alloc(0);
  private scanFrom = 0;
  private fileKey: Buffer | undefined;
  private key: KeyObject | undefined;
  private readonly queue = new ByteQueue();
  private counter = 0;

  constructor(private readonly keys: DecoderKeys) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    if (this.phase !== "header") {
      settle(this, callback, () => {
        this.queue.push(chunk);
        this.drain();
      });
      return;
    }
    let header: ParsedHeader | undefined;
    try {
      header = this.feedHeader(chunk);
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (!header) {
      callback();
      return;
    }
    // Unwrapping may run scrypt (async, on the thread pool); the next write waits for it.
    this.unlock(header).then(
      () => settle(this, callback, () => this.drain()),
      (err: Error) => callback(err),
    );
  }

  override _flush(callback: TransformCallback): void {
    settle(this, callback, () => this.finish());
  }

  /** Accumulates header bytes; returns the parsed header once complete (rest goes to the queue). */
  private feedHeader(chunk: Buffer): ParsedHeader | undefined {
    if (this.keys.identities.length === 0 && this.keys.passphrase === undefined) {
      throw ageError(
        "E_DECRYPT",
        "no identity or passphrase given: pass identities or passphrase to encrypt() to decrypt",
      );
    }
    const prev = this.headerBuf.length;
    this.headerBuf = prev === 0 ? chunk : Buffer.concat([this.headerBuf, chunk]);
    if (prev < 22) checkMagic(this.headerBuf.subarray(0, 22));
    const { end, next } = findHeaderEnd(this.headerBuf, this.scanFrom);
    this.scanFrom = next;
    if (end < 0) {
      if (this.headerBuf.length > MAX_HEADER_BYTES) {
        parseHeader(this.headerBuf.subarray(0, MAX_HEADER_BYTES), false);
        throw ageError("E_FORMAT", `age header larger than ${MAX_HEADER_BYTES / 1024} KiB: refusing it`);
      }
      return undefined;
    }
    if (end > MAX_HEADER_BYTES)
      throw ageError("E_FORMAT", `age header larger than ${MAX_HEADER_BYTES / 1024} KiB: refusing it`);
    const header = parseHeader(this.headerBuf.subarray(0, end), true);
    this.queue.push(this.headerBuf.subarray(end));
    this.headerBuf = Buffer.alloc(0);
    this.phase = "nonce";
    return header;
  }

  /** Finds the file key in the header's stanzas and checks the header MAC. */
  private async unlock(header: ParsedHeader): Promise<void> {
    const { stanzas } = header;
    const types = stanzas.map((s) => s.args[0]!);
    let fileKey: Buffer | null = null;
    if (types.includes("scrypt")) {
      if (stanzas.length !== 1) {
        throw ageError("E_FORMAT", "malformed age header: an scrypt stanza must be the only stanza");
      }
      const stanza = parseScryptStanza(stanzas[0]!);
      if (this.keys.passphrase === undefined) {
        throw ageError("E_DECRYPT", "the file is encrypted with a passphrase, and no passphrase was given");
      }
      if (stanza.logN > this.keys.maxWorkFactor) {
        throw ageError(
          "E_DECRYPT",
          `the file's scrypt work factor 2^${stanza.logN} exceeds the accepted maximum 2^${this.keys.maxWorkFactor}; pass workFactor: ${stanza.logN} to accept it`,
        );
      }
      fileKey = await unwrapScrypt(stanza, this.keys.passphrase);
      if (!fileKey) throw ageError("E_DECRYPT", "wrong passphrase: the scrypt stanza does not open with it");
    } else {
      const x25519 = stanzas.flatMap((s, i) => (s.args[0] === "X25519" ? [parseX25519Stanza(s, i)] : []));
      if (x25519.length === 0) {
        // Stanza types come from the file: shorten them for the message.
        const found = [...new Set(types)]
          .slice(0, 5)
          .map((type) => (type.length > 40 ? `${type.slice(0, 40)}…` : type))
          .join(", ");
        throw ageError(
          "E_FORMAT",
          `the file has no X25519 or scrypt stanza (found: ${found}); only those are supported`,
        );
      }
      if (this.keys.identities.length === 0) {
        throw ageError(
          "E_DECRYPT",
          "the file is encrypted to X25519 recipients, and no identity was given (only a passphrase)",
        );
      }
      for (const identity of this.keys.identities) {
        for (const stanza of x25519) {
          fileKey = unwrapX25519(stanza, identity);
          if (fileKey) break;
        }
        if (fileKey) break;
      }
      if (!fileKey) {
        throw ageError(
          "E_DECRYPT",
          `none of the ${this.keys.identities.length} identities matches the file's ${x25519.length} X25519 recipient(s): wrong key`,
        );
      }
    }
    const mac = headerMac(fileKey, header.macInput);
    if (!timingSafeEqual(mac, header.mac)) {
      throw ageError("E_INTEGRITY", "age header MAC mismatch: the header was modified");
    }
    this.fileKey = fileKey;
  }

  private drain(): void {
    if (this.phase === "nonce") {
      if (this.queue.length < PAYLOAD_NONCE_SIZE) return;
      const nonce = Buffer.concat(this.queue.take(PAYLOAD_NONCE_SIZE));
      this.key = payloadKey(this.fileKey!, nonce);
      this.phase = "payload";
    }
    if (this.phase !== "payload") {
      // Data after the final chunk is caught in finish()/openFull(); nothing else is buffered here.
      return;
    }
    // A full sealed chunk followed by at least one more byte cannot be the final chunk.
    while (this.queue.length > SEALED_CHUNK_SIZE) this.openFull(this.queue.take(SEALED_CHUNK_SIZE));
  }

  private openFull(slices: Buffer[]): void {
    const plain = openChunk(this.key!, this.counter, false, slices, SEALED_CHUNK_SIZE);
    if (plain) {
      this.release(plain);
      return;
    }
    if (openChunk(this.key!, this.counter, true, slices, SEALED_CHUNK_SIZE)) {
      throw ageError("E_INTEGRITY", `trailing data after the final chunk (#${this.counter + 1}) of the age payload`);
    }
    throw ageError(
      "E_INTEGRITY",
      `age payload chunk #${this.counter + 1} failed authentication: the data was modified, or something was appended after the end of the file`,
    );
  }

  private release(plain: Buffer[]): void {
    this.counter++;
    for (const piece of plain) this.push(piece);
  }

  private finish(): void {
    if (this.phase === "header") {
      if (this.keys.identities.length === 0 && this.keys.passphrase === undefined) {
        throw ageError(
          "E_DECRYPT",
          "no identity or passphrase given: pass identities or passphrase to encrypt() to decrypt",
        );
      }
      if (this.headerBuf.length === 0) throw ageError("E_TRUNCATED", "the input is empty: not even an age header");
      parseHeader(this.headerBuf, false);
      throw ageError("E_TRUNCATED", "the input ends inside the age header");
    }
    if (this.phase === "nonce") {
      throw ageError("E_TRUNCATED", "the input ends before the age payload nonce");
    }
    if (this.phase === "done") return;
    const n = this.queue.length;
    const slices = this.queue.takeAll();
    const chunkNo = this.counter + 1;
    if (n < TAG_SIZE) {
      throw ageError(
        "E_TRUNCATED",
        n === 0 && this.counter === 0
          ? "the age payload has no chunk at all: the file was truncated"
          : `the age payload ends inside chunk #${chunkNo}: the file was truncated`,
      );
    }
    const plain = openChunk(this.key!, this.counter, true, slices, n);
    if (plain) {
      // The spec forbids an empty final chunk unless the whole payload is empty.
      if (n === TAG_SIZE && this.counter > 0) {
        throw ageError("E_INTEGRITY", "the age payload ends with an empty final chunk after data chunks");
      }
      this.release(plain);
      this.phase = "done";
      return;
    }
    this.diagnoseFinal(slices, n, chunkNo);
  }

  /** The last bytes do not form a valid final chunk: tell truncation, trailing data and tampering apart. */
  private diagnoseFinal(slices: Buffer[], n: number, chunkNo: number): never {
    const key = this.key!;
    // A complete non-final chunk with nothing after it: the chunks that followed were cut off.
    if (n === SEALED_CHUNK_SIZE && openChunk(key, this.counter, false, slices, n)) {
      throw ageError(
        "E_TRUNCATED",
        `the age payload ends after chunk #${chunkNo} without its final chunk: the file was truncated`,
      );
    }
    const whole = Buffer.concat(slices);
    // A file cut within the last tag bytes: the remaining tag prefix still authenticates.
    for (let tagLen = TAG_SIZE - 1; tagLen >= MIN_PARTIAL_TAG; tagLen--) {
      if (n - tagLen < 0) continue;
      for (const last of [true, false]) {
        if (openChunk(key, this.counter, last, [whole], n, tagLen)) {
          throw ageError("E_TRUNCATED", `the age payload ends inside chunk #${chunkNo}: the file was truncated`);
        }
      }
    }
    // Garbage appended after a short final chunk: the chunk authenticates once the garbage is cut.
    for (let cut = 1; cut <= Math.min(MAX_TRAILING_SEARCH, n - TAG_SIZE); cut++) {
      if (openChunk(key, this.counter, true, [whole.subarray(0, n - cut)], n - cut)) {
        throw ageError("E_INTEGRITY", `trailing data (${cut} bytes) after the final chunk of the age payload`);
      }
    }
    throw ageError(
      "E_INTEGRITY",
      `the final age payload chunk (#${chunkNo}) failed authentication: the data was modified, or the file was cut mid-chunk`,
    );
  }
}
