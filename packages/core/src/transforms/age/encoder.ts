/**
 * The encrypting stream: header first, then the 16-byte payload nonce, then sealed 64 KiB chunks.
 *
 * Whether a full chunk is the final one is only known once one more byte arrives (or the input
 * ends), and the final flag is part of the nonce, so the encoder keeps up to one chunk of
 * plaintext (as views of the written buffers, not a copy) before sealing it.
 */

import { type KeyObject, randomBytes } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { ByteQueue } from "./byte-queue.js";
import { encodeHeader, type Stanza } from "./header.js";
import type { X25519Recipient } from "./keys.js";
import { settle } from "./settle.js";
import { wrapScrypt, wrapX25519 } from "./stanzas.js";
import { CHUNK_SIZE, PAYLOAD_NONCE_SIZE, payloadKey, sealChunk } from "./stream-cipher.js";

export interface EncoderKeys {
  recipients: readonly X25519Recipient[];
  passphrase?: string | undefined;
  workFactor: number;
}

interface Prepared {
  header: Buffer;
  nonce: Buffer;
  key: KeyObject;
}

async function prepare(keys: EncoderKeys): Promise<Prepared> {
  // A fresh file key and payload nonce for every file, as the spec requires.
  const fileKey = randomBytes(16);
  const stanzas: Stanza[] =
    keys.passphrase !== undefined
      ? [await wrapScrypt(fileKey, keys.passphrase, keys.workFactor)]
      : keys.recipients.map((r) => wrapX25519(fileKey, r));
  const nonce = randomBytes(PAYLOAD_NONCE_SIZE);
  return { header: encodeHeader(stanzas, fileKey), nonce, key: payloadKey(fileKey, nonce) };
}

export class AgeEncoder extends Transform {
  private readonly prepared: Promise<Prepared>;
  private key: KeyObject | undefined;
  private readonly pending = new ByteQueue();
  private counter = 0;

  constructor(keys: EncoderKeys) {
    super();
    this.prepared = prepare(keys);
    // The failure is reported through the first write or the flush; this only avoids an
    // unhandled rejection when the stream is destroyed before either.
    this.prepared.catch(() => {});
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.step(callback, () => this.consume(chunk));
  }

  override _flush(callback: TransformCallback): void {
    // The final chunk: whatever is left, possibly a full 64 KiB, empty only for an empty input.
    this.step(callback, () => this.seal(this.pending.takeAll(), true));
  }

  /** Runs `work` once the header is out (waiting for scrypt the first time), reporting throws. */
  private step(callback: TransformCallback, work: () => void): void {
    if (this.key) {
      settle(this, callback, work);
      return;
    }
    this.prepared.then(
      (p) =>
        settle(this, callback, () => {
          this.start(p);
          work();
        }),
      (err: Error) => callback(err),
    );
  }

  private start(p: Prepared): void {
    this.key = p.key;
    this.push(p.header);
    this.push(p.nonce);
  }

  private consume(chunk: Buffer): void {
    this.pending.push(chunk);
    // Strictly more than one chunk buffered: the first one is known not to be the last.
    while (this.pending.length > CHUNK_SIZE) this.seal(this.pending.take(CHUNK_SIZE), false);
  }

  private seal(slices: Buffer[], last: boolean): void {
    for (const piece of sealChunk(this.key!, this.counter, last, slices)) this.push(piece);
    this.counter++;
  }
}
