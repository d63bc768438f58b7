/**
 * The textual age v1 header: version line, recipient stanzas, MAC line.
 *
 *     age-encryption.org/v1
 *     -> X25519 <base64 share>
 *     <base64 body, wrapped at 64 columns, ending with a line shorter than 64 (maybe empty)>
 *     --- <base64 HMAC-SHA-256 of everything up to and including "---">
 *
 * Parsing is strict, as the spec asks (canonical unpadded base64, LF only, VCHAR arguments), so
 * that a header has exactly one encoding and the MAC covers what was parsed.
 */
import { base64nopad } from "@scure/base";
import { ageError } from "./errors.js";
import { hkdf, hmacSha256 } from "./primitives.js";

export const VERSION_LINE = "age-encryption.org/v1";
const VERSION_PREFIX = Buffer.from(`${VERSION_LINE}\n`, "latin1");
const ARMOR_PREFIX = Buffer.from("-----BEGIN AGE ENCRYPTED FILE-----", "latin1");
/** A header larger than this is refused: real ones are a few hundred bytes per recipient. */
export const MAX_HEADER_BYTES = 64 * 1024;
/** Bounds the work a hostile header can cause (one X25519 per stanza and identity). */
export const MAX_STANZAS = 1000;

export interface Stanza {
  args: string[];
  body: Buffer;
}

export interface ParsedHeader {
  stanzas: Stanza[];
  /** Header bytes covered by the MAC: up to and including "---". */
  macInput: Buffer;
  mac: Buffer;
}

const ARG = /^[\x21-\x7e]+$/;
const B64_LINE = /^[A-Za-z0-9+/]*$/;

export function b64(bytes: Uint8Array): string {
  return base64nopad.encode(bytes);
}

/** Strict, canonical unpadded base64; `undefined` when not. */
export function unb64(text: string): Buffer | undefined {
  if (!B64_LINE.test(text)) return undefined;
  try {
    return Buffer.from(base64nopad.decode(text));
  } catch {
    return undefined;
  }
}

export function headerMac(fileKey: Uint8Array, macInput: Uint8Array): Buffer {
  return hmacSha256(hkdf(fileKey, Buffer.alloc(0), "header"), macInput);
}

/** The complete header, MAC line included. */
export function encodeHeader(stanzas: Stanza[], fileKey: Uint8Array): Buffer {
  let text = `${VERSION_LINE}\n`;
  for (const stanza of stanzas) {
    text += `-> ${stanza.args.join(" ")}\n`;
    const body = b64(stanza.body);
    for (let i = 0; i < body.length; i += 64) text += `${body.slice(i, i + 64)}\n`;
    // The body ends with a line shorter than 64 columns: an empty one when the last was full.
    if (body.length % 64 === 0) text += "\n";
  }
  text += "---";
  const macInput = Buffer.from(text, "latin1");
  return Buffer.concat([macInput, Buffer.from(` ${b64(headerMac(fileKey, macInput))}\n`, "latin1")]);
}

/**
 * Checks the first bytes of the input as soon as they arrive, so a file that is not age at all
 * fails at once instead of after 64 KiB.
 */
export function checkMagic(start: Buffer): void {
  const n = Math.min(start.length, VERSION_PREFIX.length);
  if (start.subarray(0, n).equals(VERSION_PREFIX.subarray(0, n))) return;
  const a = Math.min(start.length, ARMOR_PREFIX.length);
  if (start.subarray(0, a).equals(ARMOR_PREFIX.subarray(0, a))) {
    throw ageError(
      "E_FORMAT",
      "ASCII-armored age files are not supported; decrypt with `age -d` or store binary age files",
    );
  }
  if (start.length >= 19 && start.subarray(0, 19).toString("latin1") === "age-encryption.org/") {
    throw ageError("E_FORMAT", "unsupported age format version (only age-encryption.org/v1 is supported)");
  }
  throw ageError("E_FORMAT", "not an age file (it does not start with age-encryption.org/v1)");
}

/**
 * Finds the end of the header (the LF ending the "---" line) in `buf`, searching from `from`.
 * Returns the header length, or -1 and where the next search must start when it is not complete.
 */
export function findHeaderEnd(buf: Buffer, from: number): { end: number; next: number } {
  const mark = buf.indexOf("\n---", Math.max(0, from), "latin1");
  // Without a mark, the last 3 bytes may still be the start of one.
  if (mark < 0) return { end: -1, next: Math.max(0, buf.length - 3) };
  const lf = buf.indexOf(10, mark + 4);
  return lf < 0 ? { end: -1, next: mark } : { end: lf + 1, next: mark };
}

/**
 * Parses header lines. With `complete` the buffer is a whole header ending with the MAC line;
 * without, it is what arrived before the input ended (or overflowed), and the function throws
 * E_FORMAT for the first malformed line or returns `undefined` when all seen lines are valid.
 */
export function parseHeader(buf: Buffer, complete: true): ParsedHeader;
export function parseHeader(buf: Buffer, complete: false): undefined;
export function parseHeader(buf: Buffer, complete: boolean): ParsedHeader | undefined {
  const text = buf.toString("latin1");
  const lines = text.split("\n");
  // The piece after the last LF is an unfinished line: ignore it.
  lines.pop();
  const bad = (why: string) => ageError("E_FORMAT", `malformed age header: ${why}`);
  if (lines.length === 0) return undefined;
  if (lines[0] !== VERSION_LINE) throw bad("bad version line");
  const stanzas: Stanza[] = [];
  let i = 1;
  let offset = lines[0].length + 1;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.startsWith("-> ")) {
      if (stanzas.length >= MAX_STANZAS) throw ageError("E_FORMAT", `age header has more than ${MAX_STANZAS} stanzas`);
      const args = line.slice(3).split(" ");
      if (!args.every((a) => ARG.test(a))) throw bad(`stanza ${stanzas.length + 1} has an empty or invalid argument`);
      offset += line.length + 1;
      i++;
      let bodyText = "";
      let ended = false;
      while (i < lines.length) {
        const bodyLine = lines[i]!;
        if (bodyLine.length > 64 || !B64_LINE.test(bodyLine))
          throw bad(`stanza ${stanzas.length + 1} has an invalid body line`);
        bodyText += bodyLine;
        offset += bodyLine.length + 1;
        i++;
        if (bodyLine.length < 64) {
          ended = true;
          break;
        }
      }
      if (!ended) {
        if (complete) throw bad(`stanza ${stanzas.length + 1} body does not end`);
        return undefined;
      }
      const body = unb64(bodyText);
      if (!body) throw bad(`stanza ${stanzas.length + 1} body is not canonical base64`);
      stanzas.push({ args, body });
      continue;
    }
    if (line.startsWith("---")) {
      if (i !== lines.length - 1) throw bad("data after the MAC line inside the header");
      const mac = line.startsWith("--- ") ? unb64(line.slice(4)) : undefined;
      if (mac?.length !== 32) throw bad("bad MAC line");
      if (stanzas.length === 0) throw bad("no recipient stanza");
      return complete ? { stanzas, macInput: buf.subarray(0, offset + 3), mac } : undefined;
    }
    throw bad(`unexpected line ${i + 1}`);
  }
  if (complete) throw bad("no MAC line");
  return undefined;
}
