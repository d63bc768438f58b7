/**
 * age's payload: the STREAM construction over ChaCha20-Poly1305. The plaintext is cut into 64 KiB
 * chunks; chunk i is sealed with nonce = 11-byte big-endian i || 0x01 for the final chunk, 0x00
 * otherwise. The final flag in the nonce is what makes truncation at a chunk boundary detectable.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from "node:crypto";
import { AEAD, hkdf, TAG_SIZE } from "./primitives.js";

export const CHUNK_SIZE = 64 * 1024;
export const SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;
export const PAYLOAD_NONCE_SIZE = 16;

/**
 * The payload key as a KeyObject: node:crypto imports a raw Buffer key on every createCipheriv
 * call, which costs more than sealing a whole 64 KiB chunk; a KeyObject is imported once.
 */
export function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): KeyObject {
  return createSecretKey(hkdf(fileKey, nonce, "payload"));
}

function chunkNonce(counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  // 48 bits of counter are enough for 2^64 bytes of payload; the upper 5 bytes stay zero.
  nonce.writeUIntBE(counter, 5, 6);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** Seals one chunk given as slices; returns ciphertext pieces followed by the tag (no copy of the data). */
export function sealChunk(key: KeyObject, counter: number, last: boolean, slices: readonly Buffer[]): Buffer[] {
  const cipher = createCipheriv(AEAD, key, chunkNonce(counter, last), { authTagLength: TAG_SIZE });
  const out: Buffer[] = [];
  for (const slice of slices) {
    const piece = cipher.update(slice);
    if (piece.length > 0) out.push(piece);
  }
  cipher.final();
  out.push(cipher.getAuthTag());
  return out;
}

/**
 * Opens one sealed chunk (ciphertext || tag, as slices of `sealedLength` bytes). Returns the
 * plaintext pieces, or `null` when the chunk does not authenticate under this counter/flag.
 * Nothing is returned before the tag is verified, so callers never see unauthenticated bytes.
 */
export function openChunk(
  key: KeyObject,
  counter: number,
  last: boolean,
  slices: readonly Buffer[],
  sealedLength: number,
  tagLength = TAG_SIZE,
): Buffer[] | null {
  const ctLength = sealedLength - tagLength;
  const decipher = createDecipheriv(AEAD, key, chunkNonce(counter, last), { authTagLength: tagLength });
  const tag = Buffer.allocUnsafe(tagLength);
  const out: Buffer[] = [];
  let pos = 0;
  for (const slice of slices) {
    const end = pos + slice.length;
    if (pos < ctLength) {
      const ct = end <= ctLength ? slice : slice.subarray(0, ctLength - pos);
      const piece = decipher.update(ct);
      if (piece.length > 0) out.push(piece);
    }
    if (end > ctLength) {
      const from = Math.max(0, ctLength - pos);
      slice.copy(tag, pos + from - ctLength, from);
    }
    pos = end;
  }
  decipher.setAuthTag(tag);
  try {
    decipher.final();
  } catch {
    return null;
  }
  return out;
}
