/**
 * The two native age recipient types implemented here: X25519 (public keys) and scrypt
 * (passphrase). Each wraps the 16-byte file key in a stanza; unwrapping returns `null` when the
 * stanza is not for this identity, and throws E_FORMAT when it is malformed, as the spec requires.
 */
import { diffieHellman, generateKeyPairSync, randomBytes } from "node:crypto";
import { ageError } from "./errors.js";
import { b64, type Stanza, unb64 } from "./header.js";
import { publicKeyObject, rawPublicKey, type X25519Identity, type X25519Recipient } from "./keys.js";
import { hkdf, openSmall, scryptKey, sealSmall } from "./primitives.js";

const X25519_INFO = "age-encryption.org/v1/X25519";
const SCRYPT_LABEL = Buffer.from("age-encryption.org/v1/scrypt", "latin1");
const WRAPPED_KEY_BYTES = 32; // 16-byte file key + 16-byte tag

export function wrapX25519(fileKey: Uint8Array, recipient: X25519Recipient): Stanza {
  // A fresh ephemeral key per stanza and per file, as the spec requires.
  const ephemeral = generateKeyPairSync("x25519");
  const share = rawPublicKey(ephemeral.publicKey);
  const secret = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient.keyObject });
  const wrapKey = hkdf(secret, Buffer.concat([share, recipient.publicKey]), X25519_INFO);
  return { args: ["X25519", b64(share)], body: sealSmall(wrapKey, fileKey) };
}

/** A validated X25519 stanza, parsed once and tried against every identity. */
export interface X25519Stanza {
  share: Buffer;
  body: Buffer;
}

export function parseX25519Stanza(stanza: Stanza, index: number): X25519Stanza {
  const share = stanza.args.length === 2 ? unb64(stanza.args[1]!) : undefined;
  if (share?.length !== 32 || stanza.body.length !== WRAPPED_KEY_BYTES) {
    throw ageError("E_FORMAT", `malformed X25519 stanza #${index + 1} in the age header`);
  }
  return { share, body: stanza.body };
}

export function unwrapX25519(stanza: X25519Stanza, identity: X25519Identity): Buffer | null {
  let secret: Buffer;
  try {
    secret = diffieHellman({ privateKey: identity.privateKey, publicKey: publicKeyObject(stanza.share) });
  } catch (err) {
    // OpenSSL refuses an all-zero shared secret (a low-order share): the spec says abort.
    throw ageError("E_FORMAT", "X25519 stanza has an invalid (low-order) ephemeral share", err);
  }
  if (secret.every((b) => b === 0))
    throw ageError("E_FORMAT", "X25519 stanza has an invalid (low-order) ephemeral share");
  const wrapKey = hkdf(secret, Buffer.concat([stanza.share, identity.publicKey]), X25519_INFO);
  const fileKey = openSmall(wrapKey, stanza.body);
  return fileKey && fileKey.length === 16 ? fileKey : null;
}

export async function wrapScrypt(fileKey: Uint8Array, passphrase: string, logN: number): Promise<Stanza> {
  const salt = randomBytes(16);
  const wrapKey = await scryptKey(passphrase, Buffer.concat([SCRYPT_LABEL, salt]), logN);
  return { args: ["scrypt", b64(salt), String(logN)], body: sealSmall(wrapKey, fileKey) };
}

export interface ScryptStanza {
  salt: Buffer;
  logN: number;
  body: Buffer;
}

export function parseScryptStanza(stanza: Stanza): ScryptStanza {
  const bad = () => ageError("E_FORMAT", "malformed scrypt stanza in the age header");
  if (stanza.args.length !== 3) throw bad();
  const salt = unb64(stanza.args[1]!);
  const logText = stanza.args[2]!;
  if (salt?.length !== 16 || !/^[1-9][0-9]?$/.test(logText) || stanza.body.length !== WRAPPED_KEY_BYTES) {
    throw bad();
  }
  return { salt, logN: Number(logText), body: stanza.body };
}

export async function unwrapScrypt(stanza: ScryptStanza, passphrase: string): Promise<Buffer | null> {
  const wrapKey = await scryptKey(passphrase, Buffer.concat([SCRYPT_LABEL, stanza.salt]), stanza.logN);
  const fileKey = openSmall(wrapKey, stanza.body);
  return fileKey && fileKey.length === 16 ? fileKey : null;
}
