/**
 * The few cryptographic building blocks of age v1, on node:crypto only:
 * HKDF-SHA-256, HMAC-SHA-256, ChaCha20-Poly1305 for small messages (file-key wrapping) and scrypt.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, scrypt } from "node:crypto";

export const AEAD = "chacha20-poly1305";
export const TAG_SIZE = 16;
/** Stanza bodies are sealed under a fresh key each time, so a fixed all-zero nonce is what the spec uses. */
const ZERO_NONCE = Buffer.alloc(12);

/** HKDF-SHA-256 with a 32-byte output, as every key derivation in age. */
export function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string): Buffer {
  return Buffer.from(hkdfSync("sha256", ikm, salt, info, 32));
}

export function hmacSha256(key: Uint8Array, data: Uint8Array): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

/** ChaCha20-Poly1305 with the zero nonce: ciphertext || tag. */
export function sealSmall(key: Uint8Array, plaintext: Uint8Array): Buffer {
  const cipher = createCipheriv(AEAD, key, ZERO_NONCE, { authTagLength: TAG_SIZE });
  const out = cipher.update(plaintext);
  cipher.final();
  return Buffer.concat([out, cipher.getAuthTag()]);
}

/** Opens {@link sealSmall}'s output; `null` when it does not authenticate (wrong key). */
export function openSmall(key: Uint8Array, sealed: Uint8Array): Buffer | null {
  if (sealed.length < TAG_SIZE) return null;
  const decipher = createDecipheriv(AEAD, key, ZERO_NONCE, { authTagLength: TAG_SIZE });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
  const out = decipher.update(sealed.subarray(0, sealed.length - TAG_SIZE));
  try {
    decipher.final();
  } catch {
    return null;
  }
  return out;
}

/**
 * scrypt with age's parameters (r = 8, p = 1, 32-byte key). Runs on libuv's thread pool, so a
 * work factor of 2^18 (~256 MiB, ~1 s) does not block the event loop. Node refuses any run needing
 * more than `maxmem` (32 MiB by default), so it is raised to what this N needs.
 */
export function scryptKey(passphrase: string, salt: Uint8Array, logN: number): Promise<Buffer> {
  const N = 2 ** logN;
  const r = 8;
  const maxmem = 128 * N * r * 2 + 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(Buffer.from(passphrase, "utf8"), salt, 32, { N, r, p: 1, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}
