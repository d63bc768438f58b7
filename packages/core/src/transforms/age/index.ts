/**
 * `encrypt()`: the age v1 file format (https://age-encryption.org/v1) as a streaming transform,
 * built on node:crypto only. Every artifact it writes opens with `age -d`; every age file made for
 * an X25519 recipient or a passphrase opens with it. See README.md in this folder.
 */
import { type Duplex, Transform as StreamTransform } from "node:stream";
import type { Transform, TransformRecord } from "../../contracts/transform.js";
import { registerSecret } from "../../errors.js";
import { AgeDecoder } from "./decoder.js";
import { AgeEncoder } from "./encoder.js";
import { ageError } from "./errors.js";
import { identityKey, parseRecipientKey, splitIdentities, type X25519Identity } from "./keys.js";

export { generateIdentity, identityToRecipient, parseIdentity, parseRecipient } from "./keys.js";

/** Options of {@link encrypt}. Encoding needs `recipients` or `passphrase`; decoding needs `identities` or `passphrase`. */
export interface EncryptOptions {
  /**
   * X25519 recipients (`age1…` public keys, as printed by `age-keygen`) the backups are encrypted
   * to. Any one of their identities can decrypt. The host that writes backups needs no secret.
   * Cannot be combined with `passphrase` (age forbids mixing scrypt with other recipients).
   * @default []
   */
  recipients?: string[];
  /**
   * Passphrase for age's scrypt recipient (`age -p`). Used to encrypt when there are no
   * `recipients`, and to decrypt passphrase-encrypted files. Never written anywhere.
   * @default undefined
   */
  passphrase?: string;
  /**
   * Identities (`AGE-SECRET-KEY-1…`) used to decrypt. Each entry may also be the whole text of an
   * age identity file (`age-keygen` output: `#` comments and one key per line).
   * @default []
   */
  identities?: string[];
  /**
   * scrypt work factor as log2(N) for passphrase encryption (`age -p` uses 18: ~256 MiB and about
   * a second per file). When decrypting, files with a work factor up to max(22, this) are accepted.
   * @default 18
   */
  workFactor?: number;
}

/** What {@link encrypt}'s `describe()` records in the manifest: public information only. */
export interface AgeTransformRecord extends TransformRecord {
  id: "age";
  /** The `age1…` recipients the artifact was encrypted to. */
  recipients: string[];
  /** Whether the artifact was encrypted with a passphrase (scrypt) instead. */
  passphrase: boolean;
}

const DEFAULT_WORK_FACTOR = 18;
/** age's own default upper limit for scrypt work factors read from a file. */
const DEFAULT_MAX_WORK_FACTOR = 22;

/**
 * age encryption transform (`.age`). Encrypts to X25519 recipients or a passphrase, decrypts with
 * identities or the passphrase, streaming in 64 KiB chunks with bounded memory.
 *
 * ```ts
 * const { identity, recipient } = generateIdentity();
 * encrypt({ recipients: [recipient] })               // backup host: public key only
 * encrypt({ recipients: [recipient], identities: [identity] }) // can also restore
 * ```
 *
 * Decoding fails the stream with `E_DECRYPT` (wrong key or passphrase, none given), `E_INTEGRITY`
 * (modified data, header MAC mismatch, trailing data), `E_TRUNCATED` (input ended early) or
 * `E_FORMAT` (not an age v1 file, malformed or oversized header, unsupported recipient types).
 * @throws StrongboxError `E_CONFIG` for malformed keys, a passphrase mixed with recipients, or no key at all.
 */
export function encrypt(options: EncryptOptions): Transform {
  if (!options || typeof options !== "object") {
    throw ageError("E_CONFIG", "encrypt() needs options: { recipients } or { passphrase } (and identities to decrypt)");
  }
  const { passphrase } = options;
  if (passphrase !== undefined && (typeof passphrase !== "string" || passphrase.length === 0)) {
    throw ageError("E_CONFIG", "passphrase must be a non-empty string");
  }
  registerSecret(passphrase);
  // A single string (one key, or an identity file's text) is accepted as well as an array.
  const identityInput: unknown = options.identities ?? [];
  if (typeof identityInput !== "string" && !Array.isArray(identityInput)) {
    throw ageError("E_CONFIG", "identities must be an array of AGE-SECRET-KEY-1… strings");
  }
  const identityTexts = splitIdentities(typeof identityInput === "string" ? [identityInput] : identityInput);
  for (const text of identityTexts) registerSecret(text);
  if (options.recipients !== undefined && !Array.isArray(options.recipients)) {
    throw ageError("E_CONFIG", "recipients must be an array of age1… strings");
  }
  const recipients = (options.recipients ?? []).map((r) => parseRecipientKey(r));
  const identities: X25519Identity[] = identityTexts.map((text) => identityKey(text));
  const workFactor = options.workFactor ?? DEFAULT_WORK_FACTOR;
  if (!Number.isInteger(workFactor) || workFactor < 1 || workFactor > 30) {
    throw ageError(
      "E_CONFIG",
      `workFactor must be an integer from 1 to 30 (log2 of scrypt's N), got ${String(workFactor)}`,
    );
  }
  if (passphrase !== undefined && recipients.length > 0) {
    throw ageError(
      "E_CONFIG",
      "give either recipients or a passphrase, not both: age forbids mixing a passphrase (scrypt) with other recipients in one file",
    );
  }
  if (passphrase === undefined && recipients.length === 0 && identities.length === 0) {
    throw ageError(
      "E_CONFIG",
      "encrypt() needs recipients (age1…) or a passphrase to encrypt, and identities or the passphrase to decrypt",
    );
  }
  const maxWorkFactor = Math.max(DEFAULT_MAX_WORK_FACTOR, workFactor);

  return {
    id: "age",
    extension: ".age",
    encode(): Duplex {
      if (passphrase === undefined && recipients.length === 0) {
        // Reported through the stream (first write or end), not thrown: callers build pipelines
        // from encode() calls, and a throw there would leave the other stages waiting.
        return failing(
          ageError(
            "E_CONFIG",
            "cannot encrypt: this transform has identities only; give recipients (age1…) or a passphrase",
          ),
        );
      }
      return new AgeEncoder({ recipients, passphrase, workFactor });
    },
    decode(record: TransformRecord): Duplex {
      if (record && record.id !== undefined && record.id !== "age") {
        return failing(ageError("E_CONFIG", `cannot decode a "${String(record.id)}" artifact with the age transform`));
      }
      return new AgeDecoder({ identities, passphrase, maxWorkFactor });
    },
    describe(): AgeTransformRecord {
      return { id: "age", recipients: recipients.map((r) => r.text), passphrase: passphrase !== undefined };
    },
  };
}

/** A stream that fails with `err` as soon as it is written to or ended. */
function failing(err: Error): Duplex {
  return new StreamTransform({
    transform(_chunk, _encoding, callback) {
      callback(err);
    },
    flush(callback) {
      callback(err);
    },
  });
}
