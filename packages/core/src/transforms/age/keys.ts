/**
 * age X25519 keys: Bech32 encoding (`age1…` recipients, `AGE-SECRET-KEY-1…` identities) and
 * node:crypto KeyObjects. Error messages never repeat an identity: it is a secret key.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { bech32 } from "@scure/base";
import { ageError } from "./errors.js";

const RECIPIENT_HRP = "age";
const IDENTITY_HRP = "age-secret-key-";
/** DER prefix of a PKCS#8 X25519 private key; JWK import would also need the public half. */
const PKCS8_X25519_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

/** A parsed X25519 identity, ready for Diffie-Hellman. */
export interface X25519Identity {
  privateKey: KeyObject;
  /** Raw 32-byte public key (the recipient), part of the HKDF salt. */
  publicKey: Buffer;
}

/** A parsed X25519 recipient. */
export interface X25519Recipient {
  /** The `age1…` string, lowercase. */
  text: string;
  publicKey: Buffer;
  keyObject: KeyObject;
}

function decodeBech32(text: string): { prefix: string; bytes: Uint8Array } | undefined {
  try {
    // age keys are Bech32 without BIP173's 90-character limit.
    const { prefix, words } = bech32.decode(text as `${string}1${string}`, false);
    return { prefix, bytes: bech32.fromWords(words) };
  } catch {
    // @scure/base puts the whole input in its messages, so its errors are dropped, never wrapped.
    return undefined;
  }
}

export function encodeRecipient(publicKey: Uint8Array): string {
  return bech32.encode(RECIPIENT_HRP, bech32.toWords(publicKey), false);
}

export function encodeIdentity(privateKey: Uint8Array): string {
  return bech32.encode(IDENTITY_HRP, bech32.toWords(privateKey), false).toUpperCase();
}

/**
 * Validates an `age1…` X25519 recipient and returns its raw 32-byte public key.
 * @throws StrongboxError `E_CONFIG` when it is not a valid X25519 recipient.
 */
export function parseRecipient(recipient: string): Uint8Array {
  return parseRecipientKey(recipient).publicKey;
}

export function parseRecipientKey(recipient: string): X25519Recipient {
  if (typeof recipient !== "string") throw ageError("E_CONFIG", "a recipient must be an age1… string");
  const text = recipient.trim();
  if (/^AGE-SECRET-KEY-/i.test(text)) {
    throw ageError("E_CONFIG", "an identity (AGE-SECRET-KEY-1…) was given as a recipient: pass its public age1… key");
  }
  // Only public keys are echoed, and only when they look like one.
  const shown = /^age1[0-9a-z]*$/i.test(text) ? `"${text}"` : "(not an age1… string)";
  if (/^age1(pq|tag|tagpq)1/i.test(text)) {
    throw ageError(
      "E_CONFIG",
      `recipient ${shown} is a post-quantum or tagged recipient; only X25519 (age1…) is supported`,
    );
  }
  const decoded = decodeBech32(text);
  if (!decoded || decoded.prefix !== RECIPIENT_HRP) {
    throw ageError("E_CONFIG", `recipient ${shown} is not a valid age X25519 recipient (age1… with a valid checksum)`);
  }
  if (decoded.bytes.length !== 32) {
    throw ageError("E_CONFIG", `recipient ${shown} does not hold a 32-byte X25519 key`);
  }
  const publicKey = Buffer.from(decoded.bytes);
  return { text: text.toLowerCase(), publicKey, keyObject: publicKeyObject(publicKey) };
}

/**
 * Validates an `AGE-SECRET-KEY-1…` identity and returns its raw 32-byte private key.
 * The message of the error never contains the key.
 * @throws StrongboxError `E_CONFIG` when it is not a valid X25519 identity.
 */
export function parseIdentity(identity: string): Uint8Array {
  if (typeof identity !== "string") throw ageError("E_CONFIG", "an identity must be an AGE-SECRET-KEY-1… string");
  const text = identity.trim();
  if (/^AGE-SECRET-KEY-PQ-1/i.test(text)) {
    throw ageError(
      "E_CONFIG",
      "post-quantum identities (AGE-SECRET-KEY-PQ-1…) are not supported; use an X25519 identity",
    );
  }
  if (!/^AGE-SECRET-KEY-1/i.test(text)) {
    throw ageError("E_CONFIG", "an identity is not an age X25519 identity (expected AGE-SECRET-KEY-1…)");
  }
  const decoded = decodeBech32(text);
  if (!decoded || decoded.prefix !== IDENTITY_HRP || decoded.bytes.length !== 32) {
    throw ageError("E_CONFIG", "an identity (AGE-SECRET-KEY-1…) is malformed: bad length or checksum");
  }
  return decoded.bytes;
}

export function identityKey(identity: string): X25519Identity {
  const raw = parseIdentity(identity);
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_X25519_PREFIX, raw]),
    format: "der",
    type: "pkcs8",
  });
  return { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) };
}

export function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({
    key: { kty: "OKP", crv: "X25519", x: Buffer.from(raw).toString("base64url") },
    format: "jwk",
  });
}

export function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: "jwk" });
  return Buffer.from(jwk.x as string, "base64url");
}

/**
 * Generates a new X25519 key pair in age's encodings, the same as `age-keygen`.
 * Keep `identity` secret; give `recipient` to `encrypt({ recipients })`.
 */
export function generateIdentity(): { identity: string; recipient: string } {
  const { privateKey } = generateKeyPairSync("x25519");
  const jwk = privateKey.export({ format: "jwk" });
  return {
    identity: encodeIdentity(Buffer.from(jwk.d as string, "base64url")),
    recipient: encodeRecipient(Buffer.from(jwk.x as string, "base64url")),
  };
}

/** The `age1…` recipient of an `AGE-SECRET-KEY-1…` identity (`age-keygen -y`). */
export function identityToRecipient(identity: string): string {
  return encodeRecipient(identityKey(identity).publicKey);
}

/**
 * Splits identity inputs: each entry may be one key or the text of an age identity file
 * (`age-keygen` output: comment lines starting with `#`, blank lines, one key per line).
 */
export function splitIdentities(entries: readonly string[]): string[] {
  const keys: string[] = [];
  for (const entry of entries) {
    if (typeof entry !== "string") throw ageError("E_CONFIG", "identities must be AGE-SECRET-KEY-1… strings");
    for (const line of entry.split(/\r?\n/)) {
      const t = line.trim();
      if (t !== "" && !t.startsWith("#")) keys.push(t);
    }
  }
  return keys;
}
